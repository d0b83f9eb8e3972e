"""One exception hierarchy for every domain failure; the API maps each to an RFC 9457 answer.

Each error carries the stable contract `code` (API.md §1, §2) so that no layer has to
guess it from a message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class RegistryError(Exception):
    status: int = 400
    title: str = "Bad Request"
    code: str = "bad_request"

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class Invalid(RegistryError):
    status = 422
    title = "Unprocessable Content"
    code = "invalid"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        return cls([FieldError(field, message)])


class Unauthorized(RegistryError):
    status = 401
    title = "Unauthorized"
    code = "token_invalid"


class Forbidden(RegistryError):
    status = 403
    title = "Forbidden"
    code = "forbidden"


class NotFound(RegistryError):
    status = 404
    title = "Not Found"
    code = "not_found"


class Conflict(RegistryError):
    status = 409
    title = "Conflict"
    code = "conflict"


class RateLimited(RegistryError):
    status = 429
    title = "Too Many Requests"
    code = "rate_limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
