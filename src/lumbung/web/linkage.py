"""Record linkage pages: the review queue and the runs (a determiner starts a run as a job),
one pair with both records side by side, its waterfall and the decision form, and a run's
quality report. Each page calls the `lumbung.linkage` services and renders what they return."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.responses import Response
from starlette.routing import Route

from lumbung.errors import LumbungError
from lumbung.web.context import Page, page

PAGE_SIZE = 50
STATES = ("pending", "field_visit", "same_person", "not_same")
STEPS = 20  # a waterfall bar's width in steps of 5 % of its half (CSS classes wf-w0…wf-w20)


def _submit(ctx: Page, params: dict[str, Any]) -> Response:
    from lumbung.jobs import service as jobs

    job = jobs.submit(ctx.db, ctx.actor, kind="link", params=params, channel="web")
    return ctx.redirect(f"/pekerjaan/{job.id}")


@page("read")
def queue_page(ctx: Page) -> Response:
    from lumbung.linkage import review, service

    error = None
    if ctx.form is not None:
        try:
            with ctx.db.begin_nested():
                return _submit(ctx, {"release": ctx.field("release")})
        except LumbungError as refused:
            error = refused.message
    state = ctx.query("status") or "pending"
    state = state if state in STATES else "pending"
    region = ctx.query("wilayah") or None
    run_text = ctx.query("run")
    run_id = ctx.int_query("run", 0) or None
    found = review.review_queue(
        ctx.db,
        ctx.actor,
        state=state,
        run_id=run_id,
        region=region,
        limit=PAGE_SIZE,
        offset=ctx.int_query("offset", 0),
    )
    runs = service.list_runs(ctx.db, ctx.actor, limit=10, offset=0)
    releases: list[Any] = []
    if ctx.may("release") and ctx.actor.region_code is None:
        from lumbung.releases.service import list_releases

        releases = list_releases(ctx.db, ctx.actor)
    return ctx.render(
        "link_queue.html",
        status=422 if error else 200,
        error=error,
        found=found,
        page=found,
        state=state,
        states=STATES,
        region=region or "",
        run=run_text,
        runs=runs.items,
        releases=releases,
        query=urlencode(
            {k: v for k, v in {"status": state, "wilayah": region, "run": run_text}.items() if v}
        ),
        regions=ctx.region_names(p.region_code for p in found.items),
    )


def waterfall_rows(view: Any) -> list[dict[str, Any]]:
    """The waterfall as rows of bars: each comparison's weight, its bar's side and width (in
    steps of a twentieth of the largest weight), and the running total after it."""
    items = [("prior", "", view.prior_weight)] + [
        (c.name, c.level, c.weight) for c in view.waterfall
    ]
    top = max((abs(w) for _, _, w in items), default=0.0) or 1.0
    rows, total = [], 0.0
    for name, level, weight in items:
        total += weight
        rows.append(
            {
                "name": name,
                "level": level,
                "weight": weight,
                "negative": weight < 0,
                "steps": min(STEPS, max(1 if weight else 0, round(abs(weight) / top * STEPS))),
                "total": total,
            }
        )
    return rows


@page("read")
def pair_page(ctx: Page) -> Response:
    from lumbung.linkage import review

    pair_id = ctx.request.path_params["pair_id"]
    error = None
    notice = None
    decided = None
    if ctx.form is not None:
        try:
            with ctx.db.begin_nested():
                decided = review.decide(
                    ctx.db,
                    actor=ctx.actor,
                    pair_id=pair_id,
                    decision=ctx.field("decision"),
                    keep=ctx.field("keep") or "left",
                    new_head=ctx.field("new_head") or None,
                )
            return ctx.done(
                f"/kemiripan/pasangan/{pair_id}",
                notice=ctx.t("link.decided." + decided.decision),
                decided=decided,
            )
        except LumbungError as refused:
            error = refused.message
    view = review.get_pair(ctx.db, ctx.actor, pair_id=pair_id)
    left, right = view.pair.left, view.pair.right
    return ctx.render(
        "link_pair.html",
        status=422 if error else 200,
        error=error,
        notice=notice,
        decided=decided,
        view=view,
        pair=view.pair,
        compared=[
            (column, left.value(column), right.value(column), column in view.differs)
            for column in review.COMPARED
        ],
        waterfall=waterfall_rows(view),
        may_decide=ctx.may("verify") and view.pair.state in ("pending", "field_visit"),
        regions=ctx.region_names([view.pair.region_code, left.village_code, right.village_code]),
    )


@page("read")
def report_page(ctx: Page) -> Response:
    from lumbung.linkage import quality

    found = quality.quality_report(
        ctx.db, ctx.actor, run_id=ctx.request.path_params["run_id"], data_dir=ctx.settings.data_dir
    )
    return ctx.render("link_report.html", report=found, run=found.run)


ROUTES = [
    Route("/kemiripan", queue_page, methods=["GET", "POST"]),
    Route("/kemiripan/pasangan/{pair_id:int}", pair_page, methods=["GET", "POST"]),
    Route("/kemiripan/run/{run_id:int}", report_page, methods=["GET"]),
]
