"""Domain errors: each carries the HTTP status that one handler renders.

Services raise these; the API and views translate them. Another workspace's
object is always ``NotFound`` (never a 403 that would confirm it exists).
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str = "", *, field: str | None = None):
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.field = field


class NotFound(DomainError):
    """Not found."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"


class PolicyDenied(DomainError):
    """The action is not allowed by policy."""

    status = 403
    code = "policy_denied"


class NeedsApproval(DomainError):
    """The action exceeds the member's authority and awaits approval."""

    status = 202
    code = "needs_approval"


class InvalidInput(DomainError):
    """The input is invalid."""

    status = 422
    code = "invalid"
