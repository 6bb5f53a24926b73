"""Domain errors raised by services; views turn them into pages or JSON errors.

Messages are Chinese because they are shown to staff and customers as they are.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no. ``field`` names the offending input when there is one."""

    http_status = 400
    code = "error"  # stable machine-readable name for JSON error bodies

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    """Input that cannot be accepted; nothing was changed."""

    code = "invalid"


class NotFound(DomainError):
    """No such record, or one outside the actor's scope (the two are indistinguishable)."""

    http_status = 404
    code = "not_found"

    def __init__(self, message: str = "记录不存在", field: str | None = None):
        super().__init__(message, field)


class Forbidden(DomainError):
    """The record is visible to the actor but the action is not theirs to take."""

    http_status = 403
    code = "forbidden"

    def __init__(self, message: str = "没有权限执行此操作", field: str | None = None):
        super().__init__(message, field)


class Conflict(DomainError):
    """The request collides with the current state (duplicate, already claimed...)."""

    http_status = 409
    code = "conflict"
