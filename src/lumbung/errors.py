"""Domain errors; each carries the HTTP status an API answers with, translated in one place."""

from __future__ import annotations

from typing import Any


class LumbungError(Exception):
    status_code = 400
    code = "error"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        cause: str | None = None,
        command: str | None = None,
    ) -> None:
        super().__init__(message)
        # What happened and what to do, in words that fit every front end (a page, the API,
        # the command line): never a command to type.
        self.message = message
        # Machine-readable problems behind the message, e.g. one per failed check.
        self.details = details or []
        # A finer reason than `code`, by which a front end may choose its own words
        # ("family_changed"); None: the code says it all.
        self.cause = cause
        # The command that acts on it on the command line (`lumbung request reject 7 …`): the
        # command line adds it to the message (`for_command_line`); pages and the API do not,
        # their users have no shell.
        self.command = command

    def for_command_line(self) -> str:
        """The message as the command line says it: with its command, when it has one."""
        if self.command is None:
            return self.message
        return f"{self.message} Di baris perintah: `{self.command}`."


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


class Busy(LumbungError):
    """The database could not be had in time (SQLite's single writer lock held by another
    writer): nothing was done; the same request may be sent again in a moment."""

    status_code = 503
    code = "busy"
