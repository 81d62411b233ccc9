"""The web server's application: the HTTP API under /api/v1 and, when installed, the pages.

`create_app(settings)` builds it without connecting anywhere (the database is opened on the
first request); `lumbung serve` runs it under uvicorn."""

from __future__ import annotations

import gc
import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from lumbung.api import PREFIX, api_router, problems, problems_as_problem_json
from lumbung.api.deps import Database
from lumbung.api.headers import SecurityHeaders
from lumbung.api.limits import DEFAULT_LIMIT, BodyLimit
from lumbung.config import Settings, get_settings

VERSION = "1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI application for `settings` (default: from LUMBUNG_* variables)."""
    settings = settings or get_settings()
    database = Database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Requests run their database work on threads (sync services); as many at once as the
        # pool has connections (Database.engine).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.server_threads
        # What the process loaded to start (the application, Ibis, DuckDB) never becomes
        # garbage: kept out of the collector's full passes, which then look at what requests
        # made only, and collected less often (a request makes thousands of objects).
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        yield
        database.dispose()

    app = FastAPI(
        title="Lumbung API",
        version=VERSION,
        description=(
            "The social registry and benefits delivery over HTTP. Every request carries an API "
            "token (`Authorization: Bearer lmb_…`); every error is problem+json with a `code`."
        ),
        openapi_url=f"{PREFIX}/openapi.json",
        # The interactive pages load scripts from a CDN, which the Content-Security-Policy
        # forbids: the OpenAPI document is served, read it with a tool of your choice.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.add_middleware(SecurityHeaders)
    # A batch is at most two tables (households and members) or one workbook, plus the form.
    app.add_middleware(BodyLimit, uploads=2 * settings.upload_max_bytes + DEFAULT_LIMIT)
    problems.install(app)
    app.include_router(api_router())

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems_as_problem_json(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if importlib.util.find_spec("lumbung.web") is not None:
        importlib.import_module("lumbung.web").install(app)
    return app
