"""Families, their history, counts and change requests: `registry show|history|search|stats`
and `request propose|list|show|verify|reject|determine` over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path, Query, Response

from lumbung.api.deps import Paging, Read, Write, answer, routes
from lumbung.api.schemas import KK, NIK, REGION, TEXT, NewRequest, Reason
from lumbung.cycles.listing import FamilyBenefits, family_entitlements
from lumbung.paging import Page
from lumbung.registry import proposals, views, workflow
from lumbung.registry.history import FamilyHistory
from lumbung.registry.vocab import REQUEST_STATES

router = routes(tags=["registry"])


@router.get(
    "/families",
    summary="Search families by a member's name, within your region",
    response_model=Page[views.FamilySummary],
)
def search_families(
    ctx: Read,
    page: Paging,
    name: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            pattern=TEXT,
            description="The start of a member's name (titles and punctuation ignored).",
        ),
    ],
    region: Annotated[REGION | None, Query(description="Narrow to a region.")] = None,
) -> Response:
    found = views.search_families(
        ctx.session, ctx.actor, name=name, region=region, limit=page.limit, offset=page.offset
    )
    return answer(found, Page[views.FamilySummary])


@router.get(
    "/families/by-nik/{nik}",
    summary="The family of a person, by NIK",
    response_model=views.FamilyView,
)
def family_by_nik(ctx: Read, nik: NIK) -> Response:
    return answer(views.family_by_nik(ctx.session, ctx.actor, nik=nik), views.FamilyView)


@router.get("/families/{kk}", summary="One family, by KK number", response_model=views.FamilyView)
def family(ctx: Read, kk: KK) -> Response:
    return answer(views.family(ctx.session, ctx.actor, kk=kk), views.FamilyView)


@router.get(
    "/families/{kk}/benefits",
    summary="A family's PMT desil per scoring and entitlements per cycle, latest first",
)
def benefits(ctx: Read, kk: KK) -> FamilyBenefits:
    return family_entitlements(ctx.session, ctx.actor, kk=kk)


@router.get("/families/{kk}/history", summary="A family's history from the audit chain")
def history(ctx: Read, kk: KK) -> FamilyHistory:
    return views.history(ctx.session, ctx.actor, kk=kk)


@router.get("/stats", summary="Families and members by status, within your region")
def stats(ctx: Read) -> views.RegistryStats:
    return views.stats(ctx.session, ctx.actor)


State = Annotated[str, Query(description=f"One of {', '.join(REQUEST_STATES)}.")]


@router.get("/requests", summary="Change requests in one state, within your region")
def list_requests(
    ctx: Read,
    page: Paging,
    status: State = "proposed",
    region: Annotated[REGION | None, Query(description="Narrow to a region.")] = None,
) -> Page[views.RequestRow]:
    return views.requests(
        ctx.session,
        ctx.actor,
        status=status,
        region=region,
        limit=page.limit,
        offset=page.offset,
    )


@dataclass(frozen=True, slots=True)
class Proposed:
    """A recorded proposal, and what the checks noted without refusing it."""

    request: views.RequestRow
    warnings: list[dict[str, Any]]


@router.post("/requests", status_code=201, summary="Propose a change (operator)")
def propose(ctx: Write, body: NewRequest) -> Proposed:
    proposal = proposals.propose(
        ctx.session,
        actor=ctx.actor,
        kind=body.kind,
        payload=body.payload,
        kk_number=body.kk_number,
        base_version=body.base_version,
    )
    return Proposed(views.request_row(ctx.session, proposal.request), proposal.warnings)


RequestId = Annotated[int, Path(ge=1, le=2**53, description="The request's number.")]


@router.get("/requests/{request_id}", summary="One change request in full")
def request_detail(ctx: Read, request_id: RequestId) -> views.RequestDetail:
    return views.request_detail(ctx.session, ctx.actor, request_id=request_id)


@router.post("/requests/{request_id}/verify", summary="Verify a proposal (verifier)")
def verify(ctx: Write, request_id: RequestId) -> views.RequestRow:
    done = workflow.verify(ctx.session, actor=ctx.actor, request_id=request_id)
    return views.request_row(ctx.session, done)


@router.post("/requests/{request_id}/reject", summary="Reject a request, with a reason")
def reject(ctx: Write, request_id: RequestId, body: Reason) -> views.RequestRow:
    done = workflow.reject(ctx.session, actor=ctx.actor, request_id=request_id, reason=body.reason)
    return views.request_row(ctx.session, done)


@router.post("/requests/{request_id}/determine", summary="Determine a request (determiner)")
def determine(ctx: Write, request_id: RequestId) -> views.RequestRow:
    done = workflow.determine(ctx.session, actor=ctx.actor, request_id=request_id)
    return views.request_row(ctx.session, done)
