"""Console pages for staff management (administrators only): roles, disabling, new
passwords and new authenticator secrets, each kept in the audit trail."""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from api.console.session import signed_in
from api.console.web import page
from api.deps import Db, Node
from registry.console import audit, credentials
from registry.console import staff as store
from registry.console.sealing import load_or_create_key
from registry.errors import Conflict

# Shown once to the administrator, who passes it on; 16 characters of base32-like text
# (no look-alikes), above the 12-character minimum.
_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"  # noqa: S105


async def _staff_page(request: Request[Any, Any, Any], db: Db, *, status_code: int = 200,
                      **shown: Any) -> Response[Any]:
    context = {"done": None, "error": None, "password": None, "otpauth": None,
               "secret": None, **shown}
    return page(request, "console/staff.html", status_code=status_code,
                staff=await store.list_staff(db), roles=store.ROLES, **context)


async def _administrator(request: Request[Any, Any, Any], db: Db) -> str:
    operator_id = signed_in(request).operator_id
    await store.require_administrator(db, operator_id)
    return operator_id


@get("/console/staff", include_in_schema=False)
async def staff_list(request: Request[Any, Any, Any], db: Db) -> Response[Any]:
    await _administrator(request, db)
    return await _staff_page(request, db, done=request.query_params.get("done"))


@post("/console/staff/{operator_id:str}/{action:str}", include_in_schema=False)
async def staff_action(
    request: Request[Any, Any, Any], db: Db, node: Node, operator_id: FromPath[str],
    action: FromPath[str],
) -> Response[Any]:
    me = await _administrator(request, db)
    form = await request.form()
    shown: dict[str, Any] = {"done": action, "target": operator_id}
    try:
        async with db.transaction():
            if action == "role":
                role = str(form.get("role") or "")
                await store.set_role(db, operator_id, role)
                detail: dict[str, Any] = {"role": role}
            elif action == "disable":
                if operator_id == me:
                    raise Conflict("an administrator cannot disable itself", code="self")
                await store.disable(db, operator_id)
                detail = {}
            elif action == "enable":
                await store.enable(db, operator_id)
                detail = {}
            elif action == "password":
                password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(16))
                await credentials.set_password(db, operator_id, password)
                shown["password"] = password
                detail = {}
            elif action == "totp":
                key = load_or_create_key(node.settings.console_key_file)
                uri = await credentials.enroll_totp(db, key, operator_id)
                shown["otpauth"], shown["secret"] = uri, credentials.secret_of_uri(uri)
                detail = {}
            else:
                return await _staff_page(request, db, status_code=404, error="not_found")
            await audit.record(db, me, f"staff_{action}", "operator", operator_id, detail)
    except Conflict as refused:
        return await _staff_page(request, db, status_code=409, error=refused.code)
    return await _staff_page(request, db, **shown)


ROUTES = [staff_list, staff_action]
