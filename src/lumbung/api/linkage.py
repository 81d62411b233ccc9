"""Record linkage over HTTP: runs (started as jobs), the review queue, one pair with its
waterfall, decisions, and a run's quality report."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from lumbung.api.deps import Paging, Read, Write, routes
from lumbung.api.jobs import _submit
from lumbung.api.schemas import LABEL, REGION
from lumbung.jobs import service as jobs
from lumbung.linkage import quality, review, service
from lumbung.paging import Page

router = routes(tags=["linkage"])

RunId = Annotated[int, Path(ge=1, le=2**62, description="The run's number.")]
PairId = Annotated[int, Path(ge=1, le=2**62, description="The pair's number.")]
State = Literal["pending", "same_person", "not_same", "field_visit"]
NIK_TEXT = r"^[0-9]{16}$"


class NewRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release: LABEL
    review_weight: Annotated[float, Field(ge=-50, le=100)] = service.DEFAULT_REVIEW_WEIGHT


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["same_person", "not_same", "field_visit"]
    keep: Literal["left", "right"] = "left"
    new_head: Annotated[str | None, Field(pattern=NIK_TEXT)] = None


@router.post(
    "/link/runs",
    status_code=202,
    summary="Deduplicate a release's members (a job); pairs above the review weight to review",
)
def start_run(ctx: Write, request: Request, body: NewRun) -> jobs.JobView:
    return _submit(ctx, request, "link", body.model_dump())


@router.get("/link/runs", summary="Linkage runs, newest first")
def runs(ctx: Read, page: Paging) -> Page[service.RunView]:
    return service.list_runs(ctx.session, ctx.actor, limit=page.limit, offset=page.offset)


@router.get("/link/runs/{run_id}", summary="One linkage run")
def run(ctx: Read, run_id: RunId) -> service.RunView:
    return service.get_run(ctx.session, ctx.actor, run_id=run_id)


@router.get(
    "/link/runs/{run_id}/quality",
    summary="A run's quality: pairs and clusters by band, estimated precision, review agreement",
)
def run_quality(ctx: Read, run_id: RunId) -> quality.QualityReport:
    return quality.quality_report(
        ctx.session, ctx.actor, run_id=run_id, data_dir=ctx.settings.data_dir
    )


@router.get("/link/pairs", summary="The review queue in your region (names and NIKs masked)")
def pairs(
    ctx: Read,
    page: Paging,
    state: State = "pending",
    run_id: Annotated[int | None, Query(alias="run", ge=1, le=2**62)] = None,
    region: Annotated[REGION | None, Query(description="Within a region.")] = None,
) -> Page[review.PairRow]:
    return review.review_queue(
        ctx.session,
        ctx.actor,
        state=state,
        run_id=run_id,
        region=region,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/link/pairs/{pair_id}", summary="One pair: both records and the waterfall")
def pair(ctx: Read, pair_id: PairId) -> review.PairView:
    return review.get_pair(ctx.session, ctx.actor, pair_id=pair_id)


@router.post(
    "/link/pairs/{pair_id}/decision",
    summary="Decide a pair (a verifier of its region); same person opens a change request",
)
def decide(ctx: Write, pair_id: PairId, body: Decision) -> review.Decided:
    return review.decide(
        ctx.session,
        actor=ctx.actor,
        pair_id=pair_id,
        decision=body.decision,
        keep=body.keep,
        new_head=body.new_head,
    )
