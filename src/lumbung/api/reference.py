"""Who is asking, the regions, the users and the programs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from lumbung.api.deps import Paging, Read, Write, routes
from lumbung.api.schemas import REGION, Me, NewUser, paged
from lumbung.auth import service as users
from lumbung.paging import Page
from lumbung.programs.service import list_programs
from lumbung.regions.service import RegionRow, list_regions

router = routes()


@router.get("/me", tags=["users"], summary="The user your token acts for")
def me(ctx: Read) -> Me:
    actor = ctx.actor
    return Me(
        username=actor.username,
        full_name=actor.full_name,
        role=actor.role,
        region_code=actor.region_code,
    )


@router.get("/regions", tags=["reference"], summary="Regions: a region's children, or a level")
def regions(
    ctx: Read,
    page: Paging,
    parent: Annotated[REGION | None, Query(description="The region whose parts to list.")] = None,
    level: Annotated[
        int | None, Query(ge=1, le=4, description="1 province, 2 regency, 3 district, 4 village.")
    ] = None,
) -> Page[RegionRow]:
    return list_regions(
        ctx.session, parent=parent, level=level, limit=page.limit, offset=page.offset
    )


@router.get("/users", tags=["users"], summary="Users (within your region)")
def list_users(ctx: Read, page: Paging) -> Page[users.UserRow]:
    return paged(users.list_users(ctx.session, ctx.actor), page.limit, page.offset)


@router.post("/users", tags=["users"], status_code=201, summary="Create a user (admin)")
def create_user(ctx: Write, body: NewUser) -> users.UserRow:
    user = users.create_user(
        ctx.session,
        actor=ctx.actor,
        username=body.username,
        full_name=body.full_name,
        role=body.role,
        region_code=body.region_code,
    )
    return users.UserRow(
        user.username, user.full_name, user.role.value, user.region_code, user.active
    )


@router.get("/programs", tags=["cycles"], summary="The programs shipped with Lumbung")
def programs(_ctx: Read, page: Paging) -> Page[dict[str, object]]:
    return paged([p.as_dict() for p in list_programs()], page.limit, page.offset)
