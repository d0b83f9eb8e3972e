"""Made-up collectors: PRC id numbers with real check characters, computed independently."""

from __future__ import annotations

import secrets
from typing import Any

_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]


def prc_check(first17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def make_prc_id(birth: str = "19900307", region: str = "110101", *, x: bool | None = None) -> str:
    """A valid id number; x=True forces the check character X, x=False forbids it."""
    while True:
        first17 = region + birth + f"{secrets.randbelow(1000):03d}"
        number = first17 + prc_check(first17)
        if x is None or (number.endswith("X") == x):
            return number


def filing_body(number: str, name: str = "张三", **fields: Any) -> dict[str, Any]:
    body = {"id_type": "prc_id", "id_number": number, "name": name,
            "violations": ["violence", "third_party_contact"], "incident_on": "2026-05-01",
            "dismissed_on": "2026-05-03", "summary": "多次以暴力相威胁并联系债务人同事",
            "evidence_sha256": ["AB" * 32]}
    body.update(fields)
    return body
