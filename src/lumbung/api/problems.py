"""Errors as RFC 9457 problem details (`application/problem+json`), in one place.

Every `LumbungError` carries its HTTP status and its code (`errors.py`), the same code the CLI
prints with `--json`; the body says it in the operator's words (`detail`) and, for errors of
rows or fields, lists each one (`errors`). Nothing else goes out: an unexpected error is logged
with its traceback on the server and answered with a plain 500 that names no file, query or
value.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from lumbung.errors import LumbungError

log = logging.getLogger("lumbung.api")

PROBLEM_JSON = "application/problem+json"

# Titles by status, in Indonesian like every message (`detail` says what happened).
TITLES = {
    400: "Permintaan tidak bisa diproses",
    401: "Belum masuk",
    403: "Tidak berwenang",
    404: "Tidak ditemukan",
    405: "Metode tidak diizinkan",
    409: "Bentrok dengan data terbaru",
    413: "Berkas terlalu besar",
    415: "Jenis isi tidak didukung",
    422: "Data tidak sah",
    429: "Terlalu banyak percobaan",
    500: "Galat di server",
    503: "Layanan belum siap",
}


class Unauthenticated(LumbungError):
    """No credentials, or credentials that do not (or no longer) identify anyone."""

    status_code = 401
    code = "unauthenticated"


class RateLimited(LumbungError):
    """Too many failed attempts from one address; try again after `retry_after` seconds."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Problem(BaseModel):
    """An error (RFC 9457). `code` is the machine-readable reason, as the CLI's `--json`."""

    type: str = Field(description="A URI naming the kind of problem (about:blank: see title).")
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="One entry per row or field that failed, if any."
    )


def problem_type(code: str) -> str:
    return f"https://lumbung.kemensos.go.id/problems/{code}" if code else "about:blank"


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=problem_type(code),
        title=TITLES.get(status, "Galat"),
        status=status,
        detail=detail,
        code=code,
        errors=errors or [],
    )
    return JSONResponse(
        body.model_dump(), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def status_of(exc: LumbungError) -> int:
    """The HTTP status of a domain error; a refusal that says when to try again is a 429."""
    if getattr(exc, "retry_after", None) is not None:
        return 429
    return exc.status_code


def from_domain(exc: LumbungError) -> JSONResponse:
    status = status_of(exc)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="lumbung"'
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, int(retry_after)))
    code = "rate_limited" if status == 429 else exc.code
    return problem(status, code, exc.message, errors=exc.details, headers=headers)


# The web application (when installed) sets `app.state.html_error(request, status, message)`:
# errors of paths outside the API are then answered as pages in its layout.
HtmlError = Callable[[Request, int, str], Awaitable[Response]]


def _as_page(request: Request) -> HtmlError | None:
    if request.url.path == "/api" or request.url.path.startswith("/api/"):
        return None
    found = getattr(request.app.state, "html_error", None)
    return found if callable(found) else None


async def _domain(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LumbungError)
    html = _as_page(request)
    if html is not None:
        return await html(request, status_of(exc), exc.message)
    return from_domain(exc)


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("query", "limit")` → "query.limit": where in the request a value was wrong."""
    return ".".join(str(part) for part in loc)


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _where(e.get("loc", ())), "code": e.get("type", "invalid"), "message": e["msg"]}
        for e in exc.errors()
    ]
    fields = ", ".join(e["field"] for e in errors) or "permintaan"
    return problem(422, "validation_failed", f"Isian tidak sah: {fields}.", errors=errors)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    html = _as_page(request)
    if html is not None:
        pages = {404: "Halaman ini tidak ada.", 405: "Metode ini tidak berlaku untuk halaman ini."}
        return await html(request, exc.status_code, pages.get(exc.status_code, str(exc.detail)))
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}
    details = {
        404: "Alamat ini tidak ada di API.",
        405: "Metode ini tidak berlaku untuk alamat ini.",
    }
    detail = details.get(exc.status_code) or str(exc.detail)
    return problem(
        exc.status_code,
        codes.get(exc.status_code, "error"),
        detail,
        headers=dict(exc.headers or {}),
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    # This answer comes from Starlette's outermost middleware, outside SecurityHeaders: it
    # carries the same headers itself (a page as well as a problem).
    from lumbung.api.headers import ALWAYS

    html = _as_page(request)
    if html is not None:
        page = await html(
            request, 500, "Terjadi galat di server; sudah dicatat. Coba lagi atau hubungi admin."
        )
        page.headers.update({**ALWAYS, "Cache-Control": "no-store"})
        return page
    return problem(
        500,
        "server_error",
        "Terjadi galat di server; sudah dicatat. Coba lagi atau hubungi admin.",
        headers={**ALWAYS, "Cache-Control": "no-store"},
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(LumbungError, _domain)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
