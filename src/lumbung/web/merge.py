"""The page for merging another registry: what each source added per region (with CSV and
XLSX downloads) and, for those who may merge, the export's upload (a background job followed on
the job's page). It calls the `lumbung.linkage` merge services and renders what they return."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.responses import Response
from starlette.datastructures import UploadFile
from starlette.routing import Route

from lumbung.auth.roles import Action, may
from lumbung.errors import LumbungError, PermissionDenied, ValidationFailed
from lumbung.web.context import Page, page

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEASURES = (
    "records",
    "matched",
    "matched_differing",
    "new",
    "conflicting",
    "proposed",
    "proposals_open",
    "outside",
)


def _submit(ctx: Page) -> Response | str:
    """Save the upload and ask for the merge job: a redirect to the job, or the refusal."""
    from lumbung.jobs import service as jobs
    from lumbung.jobs import uploads

    assert ctx.form is not None
    files = [f for f in ctx.form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    saved: list[Path] = []
    try:
        if not files:
            raise ValidationFailed(ctx.t("merge.choose"))
        for upload in files:
            saved.append(
                uploads.save(
                    ctx.settings.data_dir,
                    Path(str(upload.filename)).name,
                    upload.file,
                    max_bytes=ctx.settings.upload_max_bytes,
                )
            )
        with ctx.db.begin_nested():
            job = jobs.submit(
                ctx.db,
                ctx.actor,
                kind="link_merge",
                params={"files": [str(p) for p in saved], "source": ctx.field("source")},
                channel="web",
            )
    except LumbungError as refused:
        for path in saved:  # a refused job keeps no file (it holds NIKs and names)
            shutil.rmtree(path.parent, ignore_errors=True)
        return refused.message
    return ctx.redirect(f"/pekerjaan/{job.id}")


@page("read")
def merge_page(ctx: Page) -> Response:
    from lumbung.linkage import merge_report

    error = None
    if ctx.form is not None:
        if not may(ctx.actor.role, Action.MERGE_REGISTRY):
            raise PermissionDenied(ctx.t("error.role", role=ctx.actor.role.value))
        answer = _submit(ctx)
        if not isinstance(answer, str):
            return answer
        error = answer
    found = merge_report.merge_report(ctx.db, ctx.actor)
    return ctx.render(
        "link_merge.html",
        status=422 if error else 200,
        error=error,
        report=found,
        measures=MEASURES,
        may_merge=may(ctx.actor.role, Action.MERGE_REGISTRY),
        source=ctx.field("source") if ctx.form is not None else "",
        merges=merge_report.list_merges(ctx.db, ctx.actor)[:20],
    )


def _download(ctx: Page, kind: str) -> Response:
    from lumbung.linkage import merge_report

    found = merge_report.merge_report(ctx.db, ctx.actor)
    name = f"gabung-registry.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    if kind == "csv":
        body = merge_report.report_csv(found)
        return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
    return Response(merge_report.report_xlsx(found), media_type=XLSX, headers=headers)


@page("read")
def report_csv(ctx: Page) -> Response:
    return _download(ctx, "csv")


@page("read")
def report_xlsx(ctx: Page) -> Response:
    return _download(ctx, "xlsx")


ROUTES = [
    Route("/kemiripan/gabung", merge_page, methods=["GET", "POST"]),
    Route("/kemiripan/gabung/laporan.csv", report_csv, methods=["GET"]),
    Route("/kemiripan/gabung/laporan.xlsx", report_xlsx, methods=["GET"]),
]
