"""The node as `registry serve` runs it: request heads are bounded (431), client addresses
come from trusted proxies only, and its log is JSON throughout."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api.client_address import client_address, parse_trusted_proxies
from tests.support.served import ServedNode, served_registry

PROXY = "127.0.0.2"  # the trusted proxy; loopback's other addresses are clients
BUDGET = 3
PUBLIC = "/v1/public/lenders/m_nobody/agencies"


@pytest.fixture(scope="module")
def node(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    workdir = tmp_path_factory.mktemp("served-boundaries")
    environment = {"REGISTRY_TRUSTED_PROXIES": f"{PROXY}/32",
                   "REGISTRY_PUBLIC_RATE_PER_MINUTE": str(BUDGET), "REGISTRY_SYNC": "off"}
    with served_registry(workdir, database_url=database_url, node_id="node-served",
                         env=environment) as served:
        yield served


def _client(source: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10)


def _statuses(node: ServedNode, source: str, forwarded: list[str | None]) -> list[int]:
    with _client(source) as client:
        return [client.get(node.base + PUBLIC, headers={} if xff is None else
                           {"X-Forwarded-For": xff}).status_code for xff in forwarded]


def _raw_request(node: ServedNode, head: bytes, total: int) -> tuple[bytes, int]:
    """Send a request head of `total` bytes in 64 KiB writes; the answer and bytes sent."""
    address = urlsplit(node.base)
    sent = 0
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head)
        sent = len(head)
        chunk = b"a" * 65536
        try:
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while part := sock.recv(65536):
                answer += part
        except ConnectionResetError:
            pass
    return answer, sent


def test_an_endless_header_is_431_without_being_read_whole(node: ServedNode) -> None:
    started = time.monotonic()
    answer, sent = _raw_request(
        node, b"GET /v1/members HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ", 50 * 2**20)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"code":"headers_too_large"' in answer
    assert b"x-request-id: " in answer.lower()
    assert sent < 50 * 2**20  # the node hung up long before the end
    assert time.monotonic() - started < 30


async def test_eight_endless_headers_at_once_leave_the_node_serving(node: ServedNode) -> None:
    head = b"GET /v1/members HTTP/1.1\r\nHost: x\r\nX-Padding: "
    answers = await asyncio.gather(*(asyncio.to_thread(_raw_request, node, head, 50 * 2**20)
                                     for _ in range(8)))
    assert all(answer.startswith(b"HTTP/1.1 431 ") for answer, _ in answers)
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(node.base + "/healthz")).status_code == 200


def test_many_headers_over_the_bound_are_431(node: ServedNode) -> None:
    headers = {f"x-h{i}": "v" * 1000 for i in range(40)}
    answer = httpx.get(node.base + "/healthz", headers=headers, timeout=10)
    assert answer.status_code == 431
    assert answer.json()["code"] == "headers_too_large"


def test_an_oversized_token_under_the_head_bound_is_token_malformed(node: ServedNode) -> None:
    answer = httpx.get(node.base + "/v1/members",
                       headers={"Authorization": "Bearer " + "a" * 20000}, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["code"] == "token_malformed"
    assert answer.headers["x-request-id"]


def test_forwarded_addresses_from_an_untrusted_peer_change_nothing(node: ServedNode) -> None:
    # 127.0.0.1 is not trusted here (uvicorn would trust it by default).
    spoofed = _statuses(node, "127.0.0.1", [f"198.51.100.{i}" for i in range(BUDGET + 1)])
    assert spoofed == [404] * BUDGET + [429]


def test_behind_a_trusted_proxy_each_client_has_its_own_budget(node: ServedNode) -> None:
    first = _statuses(node, PROXY, ["203.0.113.1"] * (BUDGET + 1))
    assert first == [404] * BUDGET + [429]
    # Another client behind the proxy; and one that writes the first's address on the
    # left, which the rightmost-untrusted rule ignores.
    assert _statuses(node, PROXY, ["203.0.113.2", "203.0.113.1, 203.0.113.3"]) == [404, 404]
    # Writing a fresh address on the left does not escape the budget either.
    assert _statuses(node, PROXY, ["192.0.2.99, 203.0.113.1"]) == [429]


def test_the_node_log_is_json_lines_with_real_statuses(node: ServedNode) -> None:
    httpx.get(node.base + "/v1/members", timeout=10)
    time.sleep(0.3)
    # The log holds stderr too, where `serve` prints its banner for people to read.
    lines = [line for line in Path(node.log).read_text().splitlines()
             if line.strip() and not line.startswith(("registry ", "  "))]
    parsed = [json.loads(line) for line in lines]  # uvicorn's warnings included
    assert any(p.get("logger") == "uvicorn.error" for p in parsed)
    refused = [p for p in parsed if p.get("event") == "request" and p["status"] == 401]
    assert refused
    assert refused[-1]["code"] == "token_missing"


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        ("", "192.0.2.1", ["10.0.0.1"], "192.0.2.1"),
        ("10.0.0.0/8", "192.0.2.1", ["10.0.0.1"], "192.0.2.1"),
        ("10.0.0.0/8", "10.1.1.1", [], "10.1.1.1"),
        ("10.0.0.0/8", "10.1.1.1", ["198.51.100.7"], "198.51.100.7"),
        ("10.0.0.0/8", "10.1.1.1", ["1.1.1.1, 198.51.100.7, 10.2.2.2"], "198.51.100.7"),
        ("10.0.0.0/8", "10.1.1.1", ["1.1.1.1", "198.51.100.7"], "198.51.100.7"),
        ("10.0.0.0/8", "10.1.1.1", ["10.3.3.3, 10.2.2.2"], "10.3.3.3"),
        ("10.0.0.0/8", "10.1.1.1", ["198.51.100.7:5555"], "198.51.100.7"),
        ("10.0.0.0/8 2001:db8::/32", "2001:db8::1", ["[2001:db9::5]:443"], "2001:db9::5"),
        ("10.0.0.0/8", "::ffff:10.1.1.1", ["198.51.100.8"], "198.51.100.8"),
        ("10.0.0.0/8", "10.1.1.1", ["garbage, 10.2.2.2"], "garbage"),
        ("10.0.0.0/8", "10.1.1.1", [" , "], "unknown"),
    ],
)
def test_client_address_rule(trusted: str, peer: str, forwarded: list[str], client: str) -> None:
    scope = {"client": (peer, 1234),
             "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]}
    assert client_address(scope, parse_trusted_proxies(trusted)) == client


def test_a_wrong_trusted_proxy_setting_fails_at_start() -> None:
    with pytest.raises(ValueError, match="REGISTRY_TRUSTED_PROXIES"):
        parse_trusted_proxies("10.0.0.0/8, proxy.example")
