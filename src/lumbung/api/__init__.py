"""The HTTP API under /api/v1: one router module per domain, each endpoint parsing its
request, calling one service with the request's session and the authenticated user, and
returning the service's typed result (described in the OpenAPI by its fields).

No module here imports SQLAlchemy or builds a query (the architecture rule for front ends)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lumbung.api import (
    aid,
    civil,
    cycles,
    delivery,
    jobs,
    link_merge,
    linkage,
    records,
    reference,
    registry,
    reports,
    simulations,
    vouchers,
)
from lumbung.api.deps import UnitOfWorkRoute
from lumbung.api.problems import PROBLEM_JSON, Problem

PREFIX = "/api/v1"

# Every endpoint may answer with these; described once for the OpenAPI.
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": Problem, "description": why}
    for status, why in (
        (401, "No valid token (WWW-Authenticate: Bearer)."),
        (403, "Your role may not do this."),
        (404, "Not found, or outside your region."),
        (409, "Conflicts with the record as it is now."),
        (422, "The request's values are not valid."),
        (429, "Too many failed tokens from your address (Retry-After)."),
    )
}


def problems_as_problem_json(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with every error answer described as what it is: a `Problem` in
    `application/problem+json` (FastAPI describes error models as application/json, and its
    own validation error with a shape this API does not send)."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    # The API's own paths only (the pages, when installed, are not part of it).
    document["paths"] = {
        path: item for path, item in document.get("paths", {}).items() if path.startswith(PREFIX)
    }
    for operation in (op for path in document.get("paths", {}).values() for op in path.values()):
        for status, response in operation.get("responses", {}).items():
            if status.isdigit() and int(status) >= 400:
                response["content"] = {PROBLEM_JSON: problem}
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def api_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, responses=ERRORS)
    # The counters' routes first: Starlette tries routes in order, and a redemption (the API's
    # busiest write) matched after every other route spent ~1 ms on matching alone.
    for module in (
        vouchers,
        reference,
        registry,
        cycles,
        delivery,
        records,
        jobs,
        aid,
        civil,
        reports,
        linkage,
        link_merge,
        simulations,
    ):
        outside = [str(r) for r in module.router.routes if not isinstance(r, UnitOfWorkRoute)]
        if outside:  # an endpoint whose transaction the event loop would close (deps.py)
            raise TypeError(f"{module.__name__}: routes not made by deps.routes(): {outside}")
        router.include_router(module.router)
    return router
