"""A limit on the size of every request's body, as a plain ASGI middleware.

A request's body is read before any endpoint sees it (a form parsed, a file spooled to disk),
so without a limit one request could fill the memory or the disk. Every path may send at most
`default` bytes (JSON and forms: 1 MiB is generous), the upload paths (an import's batch: its
two tables, or one workbook) `uploads` bytes. A body that declares a larger size
(Content-Length) is refused before a byte of it is read; a body sent in chunks is counted as
it arrives and refused when it passes the limit. The refusal is a 413, as problem+json on the
API and an error page on the web (the app's handler for HTTP errors, api/problems.py).

FastAPI's own `max_body_size` was not taken: its 413 is rendered by FastAPI's default handler
(plain `{"detail": …}`), past the app's handlers, so neither problem+json nor a page; and
its limit is fixed where a route is declared, before the settings are read.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_LIMIT = 1024 * 1024
UPLOAD_PATHS = frozenset(
    {
        "/api/v1/imports",
        "/impor",
        "/api/v1/aid/imports",  # in-kind aid
        "/bantuan/impor",
        "/api/v1/delivery/statuses",  # a partner's status file
    }
)
# Upload paths with an id in them: a bank's answer to an opening; a cycle's delivery page
# (its forms take the banks' answers and status files).
UPLOAD_PATTERNS = (
    re.compile(r"/api/v1/delivery/openings/\d+/answers"),
    re.compile(r"/siklus/[^/]+/penyaluran"),
)


def is_upload(path: str) -> bool:
    return path in UPLOAD_PATHS or any(p.fullmatch(path) for p in UPLOAD_PATTERNS)


def too_large(limit: int) -> HTTPException:
    return HTTPException(
        413, f"Isi permintaan terlalu besar: paling banyak {limit:,} bita.".replace(",", ".")
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, *, uploads: int, default: int = DEFAULT_LIMIT) -> None:
        self.app = app
        self.uploads = uploads
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.uploads if is_upload(str(scope.get("path", ""))) else self.default
        declared = _content_length(scope)
        received = 0

        async def counted() -> Message:
            nonlocal received
            # Raised where the body is read (FastAPI passes an HTTPException through as it is,
            # and the app's handler renders it).
            if declared is not None and declared > limit:
                raise too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large(limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() else None
    return None
