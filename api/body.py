"""Every request body the API reads: declared as JSON, decoded one strict way (API.md §1).

Litestar would take any Content-Type as JSON and decode it leniently; the app's request
class reads bodies here instead, so every handler's `data` has passed
registry.untrusted_json, and the signed-request middleware applies the same media-type
rule to the bodies it reads for handlers that take none.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.types import Empty

from registry.errors import Invalid, RegistryError
from registry.untrusted_json import RefusedJSON, decode


class MalformedBody(RegistryError):
    status = 400
    title = "Bad Request"
    code = "malformed_body"


class UnsupportedMediaType(RegistryError):
    status = 415
    title = "Unsupported Media Type"
    code = "unsupported_media_type"


def require_json(content_type: bytes | str | None) -> None:
    """A body must say it is JSON: `application/json`, parameters (charset) allowed."""
    text = content_type.decode("latin-1") if isinstance(content_type, bytes) else content_type
    if (text or "").partition(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType("send the body as Content-Type: application/json")


def decode_body(raw: bytes) -> Any:
    try:
        return decode(raw)
    except RefusedJSON as refused:
        if refused.field is not None:
            raise Invalid.field(refused.field, refused.reason) from None
        raise MalformedBody(f"the body is not acceptable JSON: {refused.reason}") from None


class JSONRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        if self._json is Empty:
            if (known := self._connection_state.json) is not Empty:
                self._json = known
            else:
                body = await self.body()
                require_json(self.headers.get("content-type"))
                self._json = self._connection_state.json = decode_body(body)
        return self._json
