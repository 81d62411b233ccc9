"""Domain errors; each carries the HTTP status an API answers with, translated in one place."""

from __future__ import annotations

from typing import Any


class LumbungError(Exception):
    status_code = 400
    code = "error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Machine-readable problems behind the message, e.g. one per failed check.
        self.details = details or []


class ValidationFailed(LumbungError):
    status_code = 422
    code = "validation_failed"


class NotFound(LumbungError):
    status_code = 404
    code = "not_found"


class PermissionDenied(LumbungError):
    status_code = 403
    code = "permission_denied"


class Conflict(LumbungError):
    """Someone else changed the record first (optimistic locking), or it exists already."""

    status_code = 409
    code = "conflict"


class SignInRefused(PermissionDenied):
    """A sign-in refused: wrong name or password (401), or too many attempts (429, with the
    seconds to wait in `retry_after`). The message never tells whether the user exists."""

    status_code = 401
    code = "sign_in_refused"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        if retry_after is not None:
            self.status_code = 429
            self.code = "too_many_attempts"
