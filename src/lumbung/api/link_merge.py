"""Merging another registry over HTTP: an export uploaded and merged as a job (202, followed at
`GET /jobs/{id}`), the merges, and what each source added per region (JSON, CSV, XLSX)."""

from __future__ import annotations

import shutil
from typing import Annotated, Literal

from fastapi import File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response

from lumbung.api.deps import Paging, Read, Write, routes
from lumbung.api.jobs import _submit
from lumbung.api.schemas import REGION
from lumbung.jobs import service as jobs
from lumbung.jobs import uploads
from lumbung.linkage import merge_report
from lumbung.paging import Page

router = routes(tags=["linkage"])

SOURCE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Level = Literal["province", "regency"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post(
    "/link/merges",
    status_code=202,
    summary="Merge another registry's export (a job; the result at GET /jobs/{id})",
)
def merge(
    ctx: Write,
    request: Request,
    files: Annotated[
        list[UploadFile],
        File(min_length=1, description="households.csv and members.csv, or one XLSX."),
    ],
    source: Annotated[str, Form(pattern=SOURCE, description="The source's name.")],
) -> jobs.JobView:
    saved = []
    try:
        for upload in files:
            saved.append(
                uploads.save(
                    ctx.settings.data_dir,
                    upload.filename or "members.csv",
                    upload.file,
                    max_bytes=ctx.settings.upload_max_bytes,
                )
            )
        return _submit(
            ctx, request, "link_merge", {"files": [str(p) for p in saved], "source": source}
        )
    except BaseException:
        for path in saved:  # a refused job keeps no file of the asker's
            shutil.rmtree(path.parent, ignore_errors=True)
        raise


@router.get("/link/merges", summary="The merges, newest first (counts only)")
def merges(
    ctx: Read,
    source: Annotated[str | None, Query(pattern=SOURCE, description="One source's.")] = None,
) -> list[merge_report.MergeView]:
    return merge_report.list_merges(ctx.session, ctx.actor, source=source)


@router.get("/link/merges/{merge_id}/records", summary="A merge's records, within your region")
def records(
    ctx: Read,
    merge_id: Annotated[int, Path(ge=1, le=2**62, description="The merge's number.")],
    page: Paging,
    outcome: Literal["matched", "new", "conflicting"] | None = None,
    region: Annotated[REGION | None, Query()] = None,
) -> Page[merge_report.MergeRecordView]:
    return merge_report.merge_records(
        ctx.session,
        ctx.actor,
        merge_id=merge_id,
        outcome=outcome,
        region=region,
        limit=page.limit,
        offset=page.offset,
    )


def _report(
    ctx: Read, region: str | None, level: str | None, merge_id: int | None, source: str | None
) -> merge_report.MergeReport:
    return merge_report.merge_report(
        ctx.session, ctx.actor, region=region, level=level, merge_id=merge_id, source=source
    )


Region = Annotated[REGION | None, Query(description="Within a region.")]
LevelQuery = Annotated[Level | None, Query(description="The rows' level.")]
MergeQuery = Annotated[int | None, Query(ge=1, le=2**62, description="One merge only.")]
SourceQuery = Annotated[str | None, Query(pattern=SOURCE, description="One source's latest.")]


@router.get("/link/merges/report", summary="What each source added, per region")
def report(
    ctx: Read,
    region: Region = None,
    level: LevelQuery = None,
    merge: MergeQuery = None,
    source: SourceQuery = None,
) -> merge_report.MergeReport:
    return _report(ctx, region, level, merge, source)


@router.get(
    "/link/merges/report.csv",
    summary="What each source added, as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The report."}},
)
def report_csv(
    ctx: Read,
    region: Region = None,
    level: LevelQuery = None,
    merge: MergeQuery = None,
    source: SourceQuery = None,
) -> Response:
    return Response(
        merge_report.report_csv(_report(ctx, region, level, merge, source)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="gabung-registry.csv"'},
    )


@router.get(
    "/link/merges/report.xlsx",
    summary="What each source added, as XLSX",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The report."}},
)
def report_xlsx(
    ctx: Read,
    region: Region = None,
    level: LevelQuery = None,
    merge: MergeQuery = None,
    source: SourceQuery = None,
) -> Response:
    return Response(
        merge_report.report_xlsx(_report(ctx, region, level, merge, source)),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="gabung-registry.xlsx"'},
    )
