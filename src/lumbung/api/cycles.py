"""Cycles: their list, totals per region, beneficiaries, approval, and `explain`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from lumbung.api.deps import Paging, Read, Write, routes
from lumbung.api.schemas import KK, LABEL, REGION, Beneficiaries, paged
from lumbung.cycles import listing
from lumbung.cycles.explain import explain as explain_family
from lumbung.cycles.service import CycleResult, approve_cycle
from lumbung.paging import Page

router = routes(tags=["cycles"])


@router.get("/cycles", summary="Every cycle with its national totals")
def list_cycles(ctx: Read, page: Paging) -> Page[listing.CycleRow]:
    return paged(listing.list_cycles(ctx.session, ctx.actor), page.limit, page.offset)


@router.get("/cycles/{label}/totals", summary="A cycle's totals per region, within yours")
def totals(
    ctx: Read,
    label: LABEL,
    level: Annotated[str, Query(pattern="^(province|regency|district)$")] = "province",
) -> listing.CycleTotals:
    return listing.cycle_totals(ctx.session, ctx.actor, label=label, level=level)


@router.get("/cycles/{label}/beneficiaries", summary="A cycle's beneficiaries in your region")
def beneficiaries(
    ctx: Read,
    label: LABEL,
    page: Paging,
    regency: Annotated[REGION | None, Query(description="Narrow to a regency (31.71).")] = None,
) -> Beneficiaries:
    found = listing.list_beneficiaries(
        ctx.session,
        actor=ctx.actor,
        cycle_label=label,
        regency=regency,
        limit=page.limit,
        offset=page.offset,
    )
    return Beneficiaries(
        cycle=found["cycle"],
        program=found["program"],
        state=found["state"],
        labels=found["labels"],
        region=found["region"],
        regency=found["regency"],
        items=found["beneficiaries"],
        total=found["total"],
        limit=page.limit,
        offset=found["offset"],
    )


@router.post("/cycles/{label}/approve", summary="Approve a draft cycle (determiner)")
def approve(ctx: Write, label: LABEL) -> CycleResult:
    return approve_cycle(ctx.session, actor=ctx.actor, label=label, data_dir=ctx.settings.data_dir)


@router.get("/explain", summary="Why a family gets what it gets in a cycle, clause by clause")
def explain(
    ctx: Read,
    cycle: Annotated[LABEL, Query(description="The cycle's label.")],
    kk: Annotated[KK, Query(description="The family's KK number.")],
) -> dict[str, Any]:
    return explain_family(
        ctx.session,
        actor=ctx.actor,
        cycle_label=cycle,
        kk_number=kk,
        data_dir=ctx.settings.data_dir,
    )
