"""The web application for operators: server-rendered pages (Jinja2, autoescaped), a small
stylesheet and htmx as static files, Indonesian by default with an English switch.

`install(app)` adds the pages and the static files to the FastAPI app that
`lumbung.app.create_app` builds. Pages call service functions only (docs/ARCHITECTURE.md,
"Web application")."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.routing import BaseRoute
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def routes() -> list[BaseRoute]:
    from lumbung.web import (
        admin,
        aid,
        civil,
        delivery,
        linkage,
        merge,
        registry,
        reports,
        signin,
        simulation,
        vouchers,
        work,
    )

    return [
        *signin.ROUTES,
        *registry.ROUTES,
        *work.ROUTES,
        *delivery.ROUTES,
        *vouchers.ROUTES,
        *reports.ROUTES,
        *admin.ROUTES,
        *aid.ROUTES,
        *civil.ROUTES,
        *linkage.ROUTES,
        *merge.ROUTES,
        *simulation.ROUTES,
    ]


def install(app: FastAPI) -> None:
    """Add the web pages (at `/`, `/masuk`, …) and `/static` to `app`."""
    from lumbung.web.context import html_error

    app.router.routes.extend(routes())
    # Errors of paths outside /api/ answered as pages (api/problems.py asks for this).
    app.state.html_error = html_error
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
