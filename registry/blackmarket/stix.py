"""The green intelligence as a STIX 2.1 bundle, the convention threat-intel tools exchange.

Groups become threat actors, indicators STIX patterns that `indicate` them, and members'
sightings aggregated STIX sightings (counts only: who saw what stays here). Object ids are
UUIDv5 of the registry ids, so the same record has the same STIX id in every export.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from registry.db import Connection

# The OASIS-defined TLP:GREEN marking, reproduced exactly as STIX 2.1 fixes it.
TLP_GREEN: dict[str, Any] = {
    "type": "marking-definition", "spec_version": "2.1",
    "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "name": "TLP:GREEN",
    "definition": {"tlp": "green"},
}
_NAMESPACE = uuid.UUID("6f1d3c1e-2b7a-5c55-9a39-4d1f0e1c7a11")
MEDIA_TYPE = "application/stix+json;version=2.1"


def stix_id(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(_NAMESPACE, f'{kind}:{key}')}"


def timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern(type: str, value: str) -> str:
    """A STIX 2.1 pattern for one normalised indicator."""
    v = _quote(value)
    if type in ("wechat", "qq", "payment_account"):
        account = "payment" if type == "payment_account" else type
        return f"[user-account:account_type = '{account}' AND user-account:account_login = {v}]"
    return {
        "domain": f"[domain-name:value = {v}]",
        "url": f"[url:value = {v}]",
        "app": f"[software:name = {v}]",
        "text_fingerprint": f"[artifact:hashes.'SHA-256' = {v}]",
        # STIX has no phone-number object; a custom one keeps the E.164 value matchable.
        "phone": f"[x-registry-phone:value = {v}]",
    }[type]


def bundle(
    node_id: str, now: datetime, groups: list[dict[str, Any]],
    sightings: list[dict[str, Any]],
) -> dict[str, Any]:
    """groups: id, name, category, aliases, description, created_at, updated_at, indicators
    [(type, value)]; sightings: type, value, count, first_seen, last_seen."""
    identity = {
        "type": "identity", "spec_version": "2.1", "id": stix_id("identity", node_id),
        "created": timestamp(now), "modified": timestamp(now),
        "name": f"Collection registry {node_id}", "identity_class": "organization",
    }
    common = {"spec_version": "2.1", "created_by_ref": identity["id"],
              "object_marking_refs": [TLP_GREEN["id"]]}
    objects: list[dict[str, Any]] = [TLP_GREEN, identity]
    indicators: dict[tuple[str, str], dict[str, Any]] = {}
    for group in groups:
        actor: dict[str, Any] = {
            "type": "threat-actor", "id": stix_id("threat-actor", group["id"]), **common,
            "created": timestamp(group["created_at"]),
            "modified": timestamp(group["updated_at"]), "name": group["name"],
            "threat_actor_types": ["crime-syndicate"], "labels": [group["category"]],
        }
        if group["aliases"]:
            actor["aliases"] = group["aliases"]
        if group["description"]:
            actor["description"] = group["description"]
        objects.append(actor)
        for type, value in group["indicators"]:
            key = f"{type}:{value}"
            indicator = indicators.get((type, value))
            if indicator is None:
                indicator = {
                    "type": "indicator", "id": stix_id("indicator", key), **common,
                    "created": actor["created"], "modified": actor["created"],
                    "name": key, "indicator_types": ["malicious-activity"],
                    "pattern": pattern(type, value), "pattern_type": "stix",
                    "pattern_version": "2.1", "valid_from": actor["created"],
                }
                indicators[(type, value)] = indicator
                objects.append(indicator)
            objects.append({
                "type": "relationship", "id": stix_id("relationship", f"{key}>{group['id']}"),
                **common, "created": actor["created"], "modified": actor["created"],
                "relationship_type": "indicates", "source_ref": indicator["id"],
                "target_ref": actor["id"],
            })
    for seen in sightings:
        indicator = indicators.get((seen["type"], seen["value"]))
        if indicator is None:
            continue
        objects.append({
            "type": "sighting", "id": stix_id("sighting", f"{seen['type']}:{seen['value']}"),
            **common, "created": timestamp(now), "modified": timestamp(now),
            "sighting_of_ref": indicator["id"], "count": seen["count"],
            "first_seen": timestamp(seen["first_seen"]),
            "last_seen": timestamp(seen["last_seen"]),
        })
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


async def green_bundle(conn: Connection, node_id: str) -> dict[str, Any]:
    """Every green group and green sighting this node holds (its own and its peers')."""
    now: datetime = await conn.fetchval("SELECT now()")
    rows = await conn.fetch(
        """SELECT g.id, g.name, g.category, g.aliases, g.description, g.created_at,
                  g.updated_at,
                  coalesce(array_agg(i.type ORDER BY i.type, i.value)
                           FILTER (WHERE i.type IS NOT NULL), '{}') AS types,
                  coalesce(array_agg(i.value ORDER BY i.type, i.value)
                           FILTER (WHERE i.type IS NOT NULL), '{}') AS vals
           FROM blackmarket_groups g
           LEFT JOIN blackmarket_indicators i ON i.group_id = g.id
           WHERE g.tlp = 'green' GROUP BY g.id ORDER BY g.created_at, g.id"""
    )
    groups = [
        {**{k: r[k] for k in ("id", "name", "category", "description", "created_at",
                              "updated_at")},
         "aliases": list(r["aliases"]), "indicators": list(zip(r["types"], r["vals"], strict=True))}
        for r in rows
    ]
    sightings = [dict(r) for r in await conn.fetch(
        """SELECT type, value, count(*) AS count, min(seen_at) AS first_seen,
                  max(seen_at) AS last_seen
           FROM blackmarket_sightings WHERE tlp = 'green' GROUP BY type, value"""
    )]
    return bundle(node_id, now, groups, sightings)
