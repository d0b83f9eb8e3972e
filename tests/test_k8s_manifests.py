"""infra/k8s: each built-in resource validated offline against the Kubernetes API schema
(kubernetes-validate, strict: unknown fields fail); CloudNativePG's Cluster, a CRD without a
schema here, checked field by field; and across files what makes the node start: secrets
read-only but readable by the container's group, a writable runtime directory, the
database Secret the operator makes, the migration Job, TLS, the trusted proxies."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from registry.collectors.subject_hash import key_path

K8S = Path(__file__).parent.parent / "infra" / "k8s"
KUBERNETES = "1.30"
SETTINGS_SOURCE = (Path(__file__).parent.parent / "api" / "settings.py").read_text()
# Read by the node once the trusted-proxy setting lands (issue 9, another branch).
PENDING = {"REGISTRY_TRUSTED_PROXIES"}


def _documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


DOCUMENTS = _documents()


def _one(kind: str) -> dict[str, Any]:
    [doc] = [doc for _, doc in DOCUMENTS if doc["kind"] == kind]
    return doc


def _container(kind: str) -> dict[str, Any]:
    pod = _one(kind)["spec"]["template"]["spec"]
    [container] = pod["containers"]
    return dict(container)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


BUILT_IN = [(name, doc) for name, doc in DOCUMENTS if "cnpg" not in doc["apiVersion"]]


@pytest.mark.parametrize(("name", "doc"), BUILT_IN, ids=[d["kind"] for _, d in BUILT_IN])
def test_built_in_resources_validate_strictly(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_validator_refuses_a_wrong_manifest() -> None:
    deployment = _one("Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_postgres_comes_from_a_cloudnativepg_cluster() -> None:
    cluster = _one("Cluster")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert isinstance(spec["instances"], int)
    assert spec["instances"] >= 2  # a replica to fail over to
    assert spec["bootstrap"]["initdb"]["database"] == "registry"
    assert re.fullmatch(r"\d+[GMT]i", spec["storage"]["size"])
    # the operator takes parameters as a map of strings: a bare number is refused by its
    # admission webhook
    assert all(isinstance(v, str) for v in spec["postgresql"]["parameters"].values())
    assert not [d for _, d in DOCUMENTS if d["kind"] == "StatefulSet"]


def test_nodes_and_the_job_use_the_database_secret_the_operator_makes() -> None:
    made_by_operator = {"name": f"{_one('Cluster')['metadata']['name']}-app", "key": "uri"}
    for kind in ("Deployment", "Job"):
        url = _env(_container(kind))["DATABASE_URL"]
        assert url == {"secretKeyRef": made_by_operator}, kind
    assert _container("Job")["args"] == ["migrate"]
    assert _container("Job")["image"] == _container("Deployment")["image"]


def test_secrets_are_read_only_and_readable_while_the_runtime_dir_is_writable() -> None:
    deployment = _one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = _container("Deployment")
    env = _env(container)
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}

    secrets = mounts[env["REGISTRY_DATA_DIR"]]
    assert secrets["readOnly"] is True
    secret = volumes[secrets["name"]]["secret"]
    # the files belong to root; fsGroup makes them the container's group's, mode lets it read
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    assert secret["defaultMode"] & 0o040
    assert not secret["defaultMode"] & 0o222
    # the names the node reads (api/app.py, api/console, registry/collectors/subject_hash.py)
    paths = {item["path"] for item in secret["items"]}
    assert paths == {"node_key.pem", "console.key", str(key_path(Path("secrets"), 1))}

    runtime = mounts[env["REGISTRY_RUNTIME_DIR"]]
    assert not runtime.get("readOnly", False)
    assert "emptyDir" in volumes[runtime["name"]]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["replicas"] >= 2


def test_every_registry_setting_named_is_one_the_node_reads() -> None:
    for kind in ("Deployment", "Job"):
        for name in _env(_container(kind)):
            if name.startswith("REGISTRY_") and name not in {"REGISTRY_DATA_DIR", *PENDING}:
                assert f'"{name}"' in SETTINGS_SOURCE, name


def test_forwarded_addresses_are_believed_from_the_cluster_only() -> None:
    proxies = _env(_container("Deployment"))["REGISTRY_TRUSTED_PROXIES"]
    networks = [ipaddress.ip_network(e) for e in proxies.replace(",", " ").split()]
    assert networks
    assert all(n.prefixlen > 0 for n in networks)  # never "everyone"
    assert all(n.is_private for n in networks)


def test_the_ingress_serves_tls_to_the_node_service() -> None:
    ingress = _one("Ingress")["spec"]
    [tls] = ingress["tls"]
    [rule] = ingress["rules"]
    assert rule["host"] in tls["hosts"]
    assert tls["secretName"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    service = _one("Service")
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    probes = _container("Deployment")
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
