"""The client library's signer (registry_client.signing), with claims a test may
override to make expired, replayed or tampered tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry_client.signing import Signer as ClientSigner
from registry_client.signing import b64url, body_hash

__all__ = ["Signer", "b64url", "body_hash"]


@dataclass
class Signer(ClientSigner):
    def claims(self, method: str, target: str, body: bytes = b"", **overrides: Any
               ) -> dict[str, Any]:
        claims = {**super().claims(method, target, body), **overrides}
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, method: str, target: str, body: bytes = b"", **overrides: Any) -> str:
        return self.sign(self.claims(method, target, body, **overrides))

    def headers(
        self, method: str, target: str, body: bytes = b"", **overrides: Any
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(method, target, body, **overrides)}",
                "Content-Type": "application/json"}
