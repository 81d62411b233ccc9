"""Civil registry (Dukcapil) matching over HTTP: an extract uploaded and imported as a job
(202, followed at `GET /jobs/{id}`: an extract may hold millions of rows), the imports, the
members an import marked (NIKs and names masked for readers not entitled), an import's reject
file, and the match rate per region (JSON, CSV, XLSX)."""

from __future__ import annotations

import shutil
from typing import Annotated, Literal

from fastapi import File, Form, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response

from lumbung.api.deps import Paging, Read, Write, routes
from lumbung.api.jobs import queue_of
from lumbung.api.schemas import REGION
from lumbung.civil import export, report, service
from lumbung.jobs import service as jobs
from lumbung.jobs import uploads
from lumbung.paging import Page

router = routes(tags=["civil"])

ImportId = Annotated[int, Path(ge=1, description="The import's id.")]
Level = Literal["province", "regency", "district"]
Outcome = Literal["matched", "mismatched", "deceased", "not_found"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post(
    "/civil/imports",
    status_code=202,
    summary="Import a Dukcapil extract (a job; the result at GET /jobs/{id})",
)
def import_extract(
    ctx: Write,
    request: Request,
    file: Annotated[
        UploadFile, File(description="nik,kk_number,name,birth_place,birth_date,sex,death_date")
    ],
    # A form field is text (a multipart "null" is the word null): empty means your own region.
    region: Annotated[
        str,
        Form(
            pattern=r"^(\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?)?$",
            description="The area it covers (a region code; empty: your own region).",
        ),
    ] = "",
    force: Annotated[bool, Form()] = False,
    # Digits as text for the same reason (a nullable integer would take "null" and refuse it).
    confirm_removals: Annotated[
        str,
        Form(
            pattern=r"^\d{0,9}$",
            description="The members not found (each proposed for removal) that a first job "
            "without it counted (its result's `removals`): required when there are any; "
            "empty or left out, the job's result has `needs_confirmation` and nothing is "
            "imported.",
        ),
    ] = "",
) -> jobs.JobView:
    saved = uploads.save(
        ctx.settings.data_dir,
        file.filename or "dukcapil.csv",
        file.file,
        max_bytes=ctx.settings.upload_max_bytes,
        accepted=(".csv",),
    )
    try:
        queue = queue_of(request)
        job = jobs.submit(
            ctx.session,
            ctx.actor,
            kind="civil_import",
            params={
                "files": [str(saved)],
                "region": region or None,
                "force": force,
                "confirm_removals": int(confirm_removals) if confirm_removals else None,
            },
            channel="api",
            queue=queue,
        )
        return jobs.get(ctx.session, ctx.actor, job_id=job.id, queue=queue)
    except BaseException:
        shutil.rmtree(saved.parent, ignore_errors=True)  # a refused job keeps no file
        raise


@router.get("/civil/imports", summary="The extracts imported within your region")
def imports(ctx: Read) -> list[service.ImportView]:
    return service.list_imports(ctx.session, ctx.actor)


@router.get("/civil/imports/{import_id}", summary="One import: counts and the file's problems")
def one_import(ctx: Read, import_id: ImportId) -> service.ImportView:
    return service.get_import(ctx.session, ctx.actor, import_id=import_id)


@router.get(
    "/civil/imports/{import_id}/members",
    summary="The members an import marked, within your region",
)
def members(
    ctx: Read,
    import_id: ImportId,
    page: Paging,
    outcome: Outcome | None = None,
    region: Annotated[REGION | None, Query()] = None,
) -> Page[service.MemberResult]:
    return service.list_results(
        ctx.session,
        ctx.actor,
        import_id=import_id,
        outcome=outcome,
        region=region,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/civil/imports/{import_id}/rejects",
    summary="An import's reject file (CSV)",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The reject file."}},
)
def rejects(ctx: Read, import_id: ImportId) -> FileResponse:
    path = service.import_rejects(
        ctx.session, ctx.actor, import_id=import_id, rejects_dir=ctx.settings.rejects_dir
    )
    return FileResponse(path, media_type="text/csv", filename=path.name)


def _report(
    ctx: Read, region: str | None, level: str | None, import_id: int | None
) -> report.CivilReport:
    return report.match_rate(
        ctx.session, ctx.actor, region=region, level=level, import_id=import_id
    )


@router.get("/civil/report", summary="The match rate per region")
def match_rate(
    ctx: Read,
    region: Annotated[REGION | None, Query(description="Within a region.")] = None,
    level: Annotated[Level | None, Query(description="The rows' level.")] = None,
    import_id: Annotated[int | None, Query(ge=1, description="One import only.")] = None,
) -> report.CivilReport:
    return _report(ctx, region, level, import_id)


@router.get(
    "/civil/report.csv",
    summary="The match rate as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The report."}},
)
def match_rate_csv(
    ctx: Read,
    region: Annotated[REGION | None, Query()] = None,
    level: Annotated[Level | None, Query()] = None,
    import_id: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    return Response(
        export.report_csv(_report(ctx, region, level, import_id)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="padan-dukcapil.csv"'},
    )


@router.get(
    "/civil/report.xlsx",
    summary="The match rate as XLSX",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The report."}},
)
def match_rate_xlsx(
    ctx: Read,
    region: Annotated[REGION | None, Query()] = None,
    level: Annotated[Level | None, Query()] = None,
    import_id: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    return Response(
        export.report_xlsx(_report(ctx, region, level, import_id)),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="padan-dukcapil.xlsx"'},
    )
