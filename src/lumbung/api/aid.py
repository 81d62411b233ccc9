"""In-kind aid over HTTP: the catalogue, importing handovers (an upload, answered at once:
see below), the realisation report (JSON, CSV, XLSX) and the distributions.

An import runs inside the request rather than as a job: a file of handovers is small (at most
`aid.rows.MAX_ROWS` rows and `LUMBUNG_UPLOAD_MAX_BYTES`; 10,000 rows check and load in about a
second), its answer is what the caller needs next (the rows refused and why), and the request's
transaction is the import's. The reject file is fetched by the name the answer gives."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import File, Form, Path, Query, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from lumbung.aid import catalog, export, rejects, report, views
from lumbung.aid.importer import AidImportSummary, import_distributions
from lumbung.api.deps import Paging, Read, Write, routes
from lumbung.api.schemas import NIK, REGION
from lumbung.jobs import uploads
from lumbung.paging import Page

router = routes(tags=["aid"])

Code = Annotated[str, Query(pattern=r"^[A-Za-z0-9_]{1,40}$", description="A program's code.")]
Level = Literal["province", "regency", "district", "village"]


# Text an operator reads back: no control character, line break or bidirectional mark, and not
# blank (the service refuses them; said in the schema, a request it describes is never refused).
_NOT_TEXT = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
PLAIN = rf"^[^{_NOT_TEXT}]*[^\s{_NOT_TEXT}][^{_NOT_TEXT}]*$"


class NewItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
    label: Annotated[str, Field(min_length=1, max_length=200, pattern=PLAIN)]
    unit: Annotated[str, Field(min_length=1, max_length=40, pattern=PLAIN)]
    unit_value_idr: Annotated[int, Field(ge=0, le=10_000_000_000)]
    programs: Annotated[
        list[Annotated[str, Field(pattern=r"^[A-Z0-9_]{1,40}$")]], Field(min_length=1)
    ]


@router.get("/aid/programs", summary="In-kind programs and the items each gives")
def programs(ctx: Read) -> list[catalog.ProgramView]:
    return catalog.list_programs(ctx.session, ctx.actor)


@router.get("/aid/items", summary="The item catalogue")
def items(ctx: Read, program: Code | None = None) -> list[catalog.ItemView]:
    return catalog.list_items(ctx.session, ctx.actor, program=program)


@router.post("/aid/items", status_code=201, summary="Add an item to the catalogue (admin)")
def add_item(ctx: Write, body: NewItem) -> catalog.ItemView:
    return catalog.add_item(
        ctx.session,
        actor=ctx.actor,
        code=body.code,
        label=body.label,
        unit=body.unit,
        unit_value_idr=body.unit_value_idr,
        programs=body.programs,
    )


@router.post(
    "/aid/imports",
    summary="Import a CSV of handovers (answered when done; a file refused whole: `refused`)",
)
def import_file(
    ctx: Write,
    file: Annotated[UploadFile, File(description="program,nik,name,item,quantity,…")],
    dry_run: Annotated[bool, Form()] = False,
) -> AidImportSummary:
    saved = uploads.save(
        ctx.settings.data_dir,
        file.filename or "bantuan.csv",
        file.file,
        max_bytes=ctx.settings.upload_max_bytes,
    )
    try:
        summary = import_distributions(
            ctx.session,
            actor=ctx.actor,
            path=saved,
            file_name=saved.name,
            rejects_dir=ctx.settings.rejects_dir,
            dry_run=dry_run,
        )
        if dry_run:
            ctx.session.rollback()
    finally:  # the upload holds NIKs and names: kept no longer than the request
        shutil.rmtree(saved.parent, ignore_errors=True)
    # The reject file by its name (`GET /aid/rejects/{name}`), never the server's path.
    shown = FilePath(summary.reject_file).name if summary.reject_file else None
    return dataclasses.replace(summary, reject_file=shown)


@router.get(
    "/aid/rejects/{name}",
    summary="An in-kind import's reject file (CSV)",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The reject file."}},
)
def reject_file(
    ctx: Read, name: Annotated[str, Path(pattern=r"^aid-[0-9a-z-]{1,80}\.csv$")]
) -> FileResponse:
    path = rejects.reject_file(ctx.actor, name=name, rejects_dir=ctx.settings.rejects_dir)
    return FileResponse(path, media_type="text/csv", filename=path.name)


def _report(
    ctx: Read, program: str | None, region: str | None, level: str | None
) -> report.InkindReport:
    return report.realisation(ctx.session, ctx.actor, program=program, region=region, level=level)


@router.get("/aid/report", summary="Realisation of in-kind aid per program and region")
def realisation(
    ctx: Read,
    program: Code | None = None,
    region: Annotated[REGION | None, Query(description="Within a region.")] = None,
    level: Annotated[Level | None, Query(description="The rows' level.")] = None,
) -> report.InkindReport:
    return _report(ctx, program, region, level)


@router.get(
    "/aid/report.csv",
    summary="The realisation report as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The report."}},
)
def realisation_csv(
    ctx: Read,
    program: Code | None = None,
    region: Annotated[REGION | None, Query()] = None,
    level: Annotated[Level | None, Query()] = None,
) -> Response:
    body = export.report_csv(_report(ctx, program, region, level))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="realisasi-bantuan-barang.csv"'},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/aid/report.xlsx",
    summary="The realisation report as XLSX",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The report."}},
)
def realisation_xlsx(
    ctx: Read,
    program: Code | None = None,
    region: Annotated[REGION | None, Query()] = None,
    level: Annotated[Level | None, Query()] = None,
) -> Response:
    body = export.report_xlsx(_report(ctx, program, region, level))
    return Response(
        body,
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="realisasi-bantuan-barang.xlsx"'},
    )


@router.get("/aid/distributions", summary="Distributions within your region (NIKs masked)")
def distributions(
    ctx: Read,
    page: Paging,
    program: Code | None = None,
    region: Annotated[REGION | None, Query()] = None,
    nik: Annotated[NIK | None, Query(description="One person's distributions.")] = None,
) -> Page[views.DistributionView]:
    return views.list_distributions(
        ctx.session,
        ctx.actor,
        program=program,
        region=region,
        nik=nik,
        limit=page.limit,
        offset=page.offset,
    )
