"""What the OpenAPI document says beyond what Litestar generates: the token scheme, the
problem shape, the codes only some operations give, descriptions and request examples.
Words and tables only; api/openapi.py applies them."""

from __future__ import annotations

from typing import Any

# API.md §2, in the contract's order.
AUTH_CODES = (
    "token_missing", "token_malformed", "alg_not_allowed", "unknown_key", "key_revoked",
    "bad_signature", "token_expired", "token_not_yet_valid", "lifetime_too_long",
    "wrong_audience", "replay", "method_mismatch", "url_mismatch", "body_mismatch",
)

SECURITY_SCHEME: dict[str, Any] = {
    "type": "http", "scheme": "bearer", "bearerFormat": "JWS (Ed25519 or ES256)",
    "description": (
        "A compact JWS made by the caller with its own registered private key for each "
        "request (API.md §2). Header: `alg` `Ed25519` (or `EdDSA`) or `ES256`, `kid` one of "
        "the caller's keys. Claims, all required: `iss` (member or operator id), `aud` "
        "(the node id from /.well-known/registry-node), `iat`, `exp` (at most 300 s "
        "after iat), `jti` (16-128 chars, used once), `htm` (the method), `htu` (the path "
        "and query exactly as sent, e.g. `/v1/trace/%2B8613800138000?at=...`), `bh` "
        "(base64url SHA-256 of the body bytes). `registry call` and the `registry_client` "
        "package make these tokens."),
}

PROBLEM_SCHEMAS: dict[str, Any] = {
    "FieldProblem": {
        "type": "object", "required": ["field", "message"],
        "properties": {"field": {"type": "string", "examples": ["uscc"]},
                       "message": {"type": "string", "examples": ["check digit mismatch"]}},
    },
    "Problem": {
        "type": "object", "required": ["type", "title", "status", "detail", "code"],
        "description": "RFC 9457 problem details; `code` is stable and machine-readable.",
        "properties": {
            "type": {"type": "string", "examples": ["about:blank"]},
            "title": {"type": "string", "examples": ["Unauthorized"]},
            "status": {"type": "integer", "examples": [401]},
            "detail": {"type": "string", "examples": ["token expired 73 s ago"]},
            "code": {"type": "string", "examples": ["token_expired"]},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldProblem"},
                       "description": "422 `invalid` only: each bad field."},
        },
    },
}

# 409 codes by operation, as the stores raise them (registry/*/rules.py, store.py).
CONFLICTS: dict[str, tuple[str, ...]] = {
    "CreateMember": ("duplicate",),
    "SetMemberStatus": ("bad_transition",),
    "AddMemberKey": ("duplicate",),
    "SupplyResource": ("duplicate",),
    "SupplyResources": ("duplicate",),
    "FileResource": ("duplicate", "entrustment_ended"),
    "CreateEntrustment": ("resubcontracting", "subcontracting_not_allowed",
                          "entrustment_ended"),
    "EndEntrustment": ("already_ended",),
    "ReviewCollectorFiling": ("bad_transition",),
    "RevokeCollectorFiling": ("bad_transition",),
}
# A trace is answered 200 for any value (API.md §6): "unregistered" is an answer.
NEVER_NOT_FOUND = frozenset({"Trace", "PublicNumberCheck"})
# Rate limited besides the /v1/public/ paths.
RATE_LIMITED = frozenset({"CheckCollector"})

DESCRIPTIONS: dict[str, str] = {
    "CreateMember": "Add a member (operators). It starts `pending`; the answer has its `id`.",
    "ListMembers": "Members by kind, status or a name/USCC search, a page at a time.",
    "GetMember": "One member with its status `history` and keys.",
    "SetMemberStatus": (
        "Change a member's status (operators): pending→active, active↔suspended, "
        "any→removed (final). `reason` is required."),
    "AddMemberKey": "Register another public JWK (the member itself, or an operator).",
    "RevokeMemberKey": "Revoke a key: it signs nothing from then on.",
    "SupplyResource": "A carrier supplies a number, block or SMS code to a member.",
    "SupplyResources": "Supply up to 1000 resources at once, all or nothing.",
    "ConfirmResource": "The assignee confirms it uses the resource for collection.",
    "ConfirmResources": "Confirm up to 1000 resources at once, all or nothing.",
    "FileResource": "A lender files an agency's resource under an entrustment.",
    "Trace": (
        "Who stands behind a number at `at` (default now). Always 200: an untraceable "
        "number has `traceable: false` and the first failing `reason`. Encode the value "
        "in the path (`+` as `%2B`)."),
    "TraceBatch": "Trace up to 1000 values; one result per value, in order.",
    "FileCollector": "File a dismissed collector; the raw id number is never kept.",
    "CheckCollector": "Whether an id number is on the published list (rate limited).",
    "RegistryNode": "The node's id (the `aud` of every token) and its signing keys.",
}

REQUEST_EXAMPLES: dict[str, Any] = {
    "CreateMember": {
        "kind": "collection_agency", "name": "上海某某信息咨询有限公司",
        "uscc": "91310000MA1FL1234Q",
        "contact": {"phone": "021-12345678", "email": "ops@example.cn", "address": "上海市"},
        "complaints": {"phone": "400-800-1234", "email": "ts@example.cn",
                       "address": "上海市浦东新区", "process": "三个工作日内答复"},
        "keys": [{"kty": "OKP", "crv": "Ed25519",
                  "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "k1"}]},
    "SetMemberStatus": {"status": "active", "reason": "材料齐全，准予入库"},
    "SupplyResource": {"kind": "voice", "value": "+8613800138000", "assignee_id": "mem_...",
                       "valid_from": "2026-11-28T09:30:00+08:00"},
    "TraceBatch": {"values": ["+8613800138000", "13900001111"],
                   "at": "2026-11-28T09:30:00+08:00"},
    "FileResource": {"entrustment_id": "ent_..."},
}
