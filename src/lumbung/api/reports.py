"""Reports: a program's realisation per cycle and region, as JSON, CSV, XLSX and charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from lumbung.api.deps import Context, Read, routes
from lumbung.api.schemas import LABEL, REGION
from lumbung.reports import charts, exports
from lumbung.reports.realisation import MAX_CYCLES, RealisationReport, realisation

router = routes(tags=["reports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEVEL = "^(province|regency|district|village)$"

Program = Annotated[LABEL, Query(description="The program's code, e.g. PKH.")]
Cycles = Annotated[
    list[LABEL] | None,
    Query(
        max_length=MAX_CYCLES,
        description="Cycle labels (repeat); default: every approved cycle of the program.",
    ),
]
Region = Annotated[
    REGION | None, Query(description="A region within yours (default: your region).")
]
Level = Annotated[
    str | None,
    Query(pattern=LEVEL, description="province, regency, district or village (default: below)."),
]


def _report(
    ctx: Context, program: str, cycle: list[str] | None, region: str | None, level: str | None
) -> RealisationReport:
    return realisation(
        ctx.session,
        actor=ctx.actor,
        program=program,
        cycles=list(cycle or []),
        region=region,
        level=level,
    )


def _download(body: bytes | str, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/reports/realisation",
    summary="A program's realisation per cycle and region, within your region",
)
def realisation_json(
    ctx: Read,
    program: Program,
    cycle: Cycles = None,
    region: Region = None,
    level: Level = None,
) -> RealisationReport:
    return _report(ctx, program, cycle, region, level)


@router.get(
    "/reports/realisation.csv",
    summary="The realisation report as CSV (Indonesian headings)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The report as CSV."}},
)
def realisation_csv(
    ctx: Read,
    program: Program,
    cycle: Cycles = None,
    region: Region = None,
    level: Level = None,
) -> Response:
    report = _report(ctx, program, cycle, region, level)
    return _download(exports.to_csv(report), "text/csv", f"realisasi-{program}.csv")


@router.get(
    "/reports/realisation.xlsx",
    summary="The realisation report as an XLSX workbook",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The report as a workbook."}},
)
def realisation_xlsx(
    ctx: Read,
    program: Program,
    cycle: Cycles = None,
    region: Region = None,
    level: Level = None,
) -> Response:
    report = _report(ctx, program, cycle, region, level)
    return _download(exports.to_xlsx(report), XLSX, f"realisasi-{program}.xlsx")


ChartKind = Annotated[
    str | None,
    Query(
        pattern="^(region|trend)$",
        description="region (the last cycle by region) or trend (over cycles); "
        "default: trend for several cycles.",
    ),
]


@router.get(
    "/reports/realisation/chart.png",
    summary="The realisation chart as PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The chart."}},
)
def realisation_png(
    ctx: Read,
    program: Program,
    cycle: Cycles = None,
    region: Region = None,
    level: Level = None,
    kind: ChartKind = None,
) -> Response:
    report = _report(ctx, program, cycle, region, level)
    return Response(charts.chart(report, fmt="png", kind=kind), media_type="image/png")


@router.get(
    "/reports/realisation/chart.svg",
    summary="The realisation chart as SVG",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The chart."}},
)
def realisation_svg(
    ctx: Read,
    program: Program,
    cycle: Cycles = None,
    region: Region = None,
    level: Level = None,
    kind: ChartKind = None,
) -> Response:
    report = _report(ctx, program, cycle, region, level)
    return Response(charts.chart(report, fmt="svg", kind=kind), media_type="image/svg+xml")
