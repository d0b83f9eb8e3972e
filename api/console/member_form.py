"""Admitting a new member from the console: the form, its checks shown in the page's own
language, and the public key pasted (JWK or PEM) or uploaded as a file."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile

from api.console.members import KINDS
from api.console.session import operator_actor, signed_in
from api.console.web import page, see_other
from api.deps import Db
from registry.console import audit, staff
from registry.errors import Conflict, FieldError, Invalid
from registry.members import store
from registry.members.model import SUBTYPES, Complaints, Contact, MemberCreate
from registry.signing_keys import thumbprint
from registry_client.signing import b64url

MAX_KEY_BYTES = 8192
_TEXT_FIELDS = ("kind", "subtype", "name", "uscc", "contact_phone", "contact_email",
                "contact_address", "complaints_phone", "complaints_email",
                "complaints_address", "complaints_process", "key")


def _jwk_of_public_key(key: object) -> dict[str, Any]:
    if isinstance(key, Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk: dict[str, Any] = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        return {**jwk, "kid": thumbprint(jwk)}
    if isinstance(key, EllipticCurvePublicKey) and isinstance(key.curve, SECP256R1):
        numbers = key.public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
                "y": b64url(numbers.y.to_bytes(32, "big")), "kid": "p256-1"}
    raise Invalid.field("keys", "only Ed25519 and P-256 keys are accepted")


def keys_from_text(text: str) -> list[dict[str, Any]]:
    """A JWK (as `registry keygen` prints it), a JWK set, or a PEM public key."""
    text = text.strip()
    if not text:
        return []
    if "PRIVATE KEY" in text:
        raise Invalid.field("keys", "a private key was given; give the public key only")
    if text.startswith("-----BEGIN"):
        try:
            public = serialization.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise Invalid.field("keys", "not a PEM public key") from exc
        return [_jwk_of_public_key(public)]
    try:
        found = json.loads(text)
    except ValueError as exc:
        raise Invalid.field("keys", "neither a JWK nor a PEM public key") from exc
    if isinstance(found, dict) and isinstance(found.get("keys"), list):
        found = found["keys"]
    return found if isinstance(found, list) else [found]


async def _form_values(request: Request[Any, Any, Any]) -> tuple[dict[str, str], str]:
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in _TEXT_FIELDS}
    upload = form.get("key_file")
    uploaded = ""
    if isinstance(upload, UploadFile):
        raw = await upload.read(MAX_KEY_BYTES + 1)
        if len(raw) > MAX_KEY_BYTES:
            raise Invalid.field("keys", f"a key file is at most {MAX_KEY_BYTES} bytes")
        uploaded = raw.decode("utf-8", errors="replace")
    return values, uploaded


def _member_of(values: dict[str, str], uploaded: str) -> MemberCreate:
    if values["kind"] not in KINDS:
        raise Invalid.field("kind", "choose a kind")
    keys = [*keys_from_text(values["key"]), *keys_from_text(uploaded)]
    return MemberCreate(
        kind=values["kind"], name=values["name"], uscc=values["uscc"].upper(),  # type: ignore[arg-type]
        subtype=values["subtype"] or None,
        contact=Contact(values["contact_phone"] or None, values["contact_email"] or None,
                        values["contact_address"] or None),
        complaints=Complaints(values["complaints_phone"] or None,
                              values["complaints_email"] or None,
                              values["complaints_address"] or None,
                              values["complaints_process"] or None),
        keys=keys)


def _form_page(request: Request[Any, Any, Any], values: dict[str, str] | None = None,
               errors: list[FieldError] | None = None, status_code: int = 200,
               conflict: str | None = None) -> Response[Any]:
    return page(request, "console/member_new.html", status_code=status_code,
                values=values or {}, kinds=KINDS, subtypes=SUBTYPES,
                errors={e.field.split(".")[0]: e.message for e in errors or []},
                conflict=conflict)


@get("/console/members/new", include_in_schema=False)
async def new_member_form(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    await staff.require_administrator(db, signed_in(request).operator_id)
    return _form_page(request)


@post("/console/members/new", include_in_schema=False)
async def add_member(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    session = signed_in(request)
    await staff.require_administrator(db, session.operator_id)
    values: dict[str, str] = {}
    try:
        values, uploaded = await _form_values(request)
        data = _member_of(values, uploaded)
        async with db.transaction():
            made = await store.create_member(db, data, operator_actor(request))
            await audit.record(db, session.operator_id, "member_add", "member", made.id,
                               {"kind": made.kind, "name": made.name})
    except Invalid as refused:
        return _form_page(request, values, refused.errors, 422)
    except Conflict as refused:
        return _form_page(request, values, status_code=409, conflict=refused.code)
    return see_other(f"/console/members/{made.id}?added=1")


ROUTES = [new_member_form, add_member]
