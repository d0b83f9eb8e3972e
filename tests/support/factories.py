"""Valid test data: USCCs with real check characters, members admitted through the API."""

from __future__ import annotations

import secrets
from typing import Any

from tests.support.client import SignedClient
from tests.support.signing import Signer

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def make_uscc() -> str:
    """A random code with a valid GB 32100-2015 check character (computed independently)."""
    body = "91" + "".join(secrets.choice("0123456789") for _ in range(6)) + "".join(
        secrets.choice(_ALPHABET) for _ in range(9)
    )
    total = sum(_ALPHABET.index(c) * w for c, w in zip(body, _WEIGHTS, strict=True))
    return body + _ALPHABET[(31 - total % 31) % 31]


def member_body(kind: str, signer: Signer | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": kind, "name": f"测试{kind}{secrets.token_hex(3)}", "uscc": make_uscc(),
        "contact": {"phone": "010-12345678", "email": "ops@example.cn", "address": "北京市"},
        "complaints": {"phone": "400-800-1234", "email": "complaints@example.cn",
                       "address": "北京市西城区", "process": "三个工作日内答复"},
        "keys": [signer.public_jwk] if signer else [],
    }
    body.update(fields)
    return body


async def admit_member(
    operator: SignedClient, kind: str, status: str = "active", **fields: Any
) -> SignedClient:
    """Create a member through the API with a fresh key, and bring it to `status`."""
    signer = Signer.new_ed25519("pending", operator.signer.audience)
    created = await operator.post("/v1/members", member_body(kind, signer, **fields))
    assert created.status_code == 201, created.text
    member_id = created.json()["id"]
    signer.principal_id = member_id
    path = [] if status == "pending" else ["active"]
    if status in ("suspended", "removed"):
        path.append(status)
    for step in path:
        answer = await operator.post(f"/v1/members/{member_id}/status",
                                     {"status": step, "reason": "test set-up"})
        assert answer.status_code == 200, answer.text
    return SignedClient(operator.client, signer)
