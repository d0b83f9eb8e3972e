"""Problem answers (RFC 9457, API.md §1) as the client raises them."""

from __future__ import annotations

import msgspec


class FieldProblem(msgspec.Struct, frozen=True):
    field: str
    message: str


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    title: str = ""
    detail: str = ""
    code: str | None = None
    type: str = "about:blank"
    errors: list[FieldProblem] = msgspec.field(default_factory=list)


class ProblemError(Exception):
    """A 4xx/5xx answer; `problem.code` is the contract's stable code."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.status} {problem.code or problem.title}: {problem.detail}")
        self.problem = problem

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def code(self) -> str | None:
        return self.problem.code


def problem_of(status: int, reason: str, content: bytes) -> Problem:
    """The problem a node answered; a proxy's HTML or an empty body becomes one too."""
    try:
        found = msgspec.json.decode(content, type=Problem)
    except (msgspec.DecodeError, msgspec.ValidationError):
        text = content.decode("utf-8", errors="replace").strip()[:300]
        return Problem(status=status, title=reason, detail=text)
    return found if found.status == status else msgspec.structs.replace(found, status=status)
