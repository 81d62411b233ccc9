"""Releases and the audit chain's events."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from lumbung.api.deps import Paging, Read, routes
from lumbung.api.schemas import TEXT, paged
from lumbung.audit import service as audit
from lumbung.paging import Page
from lumbung.releases.service import ReleaseRow, list_releases

router = routes()


@router.get("/releases", tags=["releases"], summary="Every release, oldest first")
def releases(ctx: Read, page: Paging) -> Page[ReleaseRow]:
    return paged(list_releases(ctx.session, ctx.actor), page.limit, page.offset)


@router.get("/audit/events", tags=["audit"], summary="Audit events, newest first (national)")
def audit_events(
    ctx: Read,
    page: Paging,
    entity: Annotated[str | None, Query(max_length=32, pattern=TEXT)] = None,
    entity_id: Annotated[str | None, Query(max_length=64, pattern=TEXT)] = None,
) -> Page[audit.LogEntry]:
    return audit.log(
        ctx.session,
        ctx.actor,
        limit=page.limit,
        offset=page.offset,
        entity=entity,
        entity_id=entity_id,
    )
