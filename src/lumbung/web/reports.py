"""The realisation report's page (table, inline chart, download links) and its downloads."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi.responses import Response
from starlette.routing import Route

from lumbung.errors import LumbungError
from lumbung.web import i18n
from lumbung.web.charts import bar_chart
from lumbung.web.context import Page, page

if TYPE_CHECKING:
    from lumbung.reports.realisation import RealisationReport

LEVELS = ("province", "regency", "district", "village")
DOWNLOADS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "svg": "image/svg+xml",
}


def _choices(ctx: Page) -> dict[str, str | list[str] | None]:
    """What the reader asked for, from the query: program, cycles, region, level."""
    level = ctx.query("tingkat")
    return {
        "program": ctx.query("program"),
        "cycles": [c for c in ctx.request.query_params.getlist("siklus") if c][:60],
        "region": ctx.query("wilayah") or None,
        "level": level if level in LEVELS else None,
    }


def _report(ctx: Page, choices: dict[str, str | list[str] | None]) -> RealisationReport:
    from lumbung.reports.realisation import realisation

    cycles = choices["cycles"]
    return realisation(
        ctx.db,
        actor=ctx.actor,
        program=str(choices["program"]),
        cycles=list(cycles) if isinstance(cycles, list) else [],
        region=choices["region"] if isinstance(choices["region"], str) else None,
        level=choices["level"] if isinstance(choices["level"], str) else None,
    )


def _query(choices: dict[str, str | list[str] | None]) -> str:
    pairs: list[tuple[str, str]] = [("program", str(choices["program"]))]
    cycles = choices["cycles"]
    pairs += [("siklus", c) for c in (cycles if isinstance(cycles, list) else [])]
    for key, name in (("region", "wilayah"), ("level", "tingkat")):
        value = choices[key]
        if isinstance(value, str):
            pairs.append((name, value))
    return urlencode(pairs)


@page("read")
def realisation_page(ctx: Page) -> Response:
    from lumbung.reports.realisation import programs_with_cycles

    programs = programs_with_cycles(ctx.db, actor=ctx.actor)
    choices = _choices(ctx)
    # Only what was asked for is read: a national report of every cycle of a program reads
    # each cycle's millions of entitlements, not something to run by opening the page.
    report = error = None
    status = 200
    if choices["program"]:
        try:
            report = _report(ctx, choices)
        except LumbungError as refused:
            error, status = refused.message, refused.status_code
    chart = None
    if report is not None:
        chart = _chart(ctx, report)
    codes = [r.code for c in (report.cycles if report else []) for r in [*c.rows, c.total]]
    return ctx.render(
        "report_realisation.html",
        status=status,
        error=error,
        programs=programs,
        choices=choices,
        levels=LEVELS,
        report=report,
        chart=chart,
        query=_query(choices) if choices["program"] else "",
        regions=ctx.region_names(codes),
    )


def _chart(ctx: Page, report: RealisationReport) -> object:
    """Realisation in percent: by region for one cycle, per cycle for several (inline SVG
    drawn with presentation attributes only, as the site's CSP allows)."""
    from lumbung.reports.realisation import percent

    def shown(basis_points: int) -> str:
        return i18n.number(ctx.lang, basis_points / 100) + "%"

    def points(entitled: int, paid: int) -> int:
        """Basis points, rounded as the table's percent is (half up), so the two agree."""
        share = percent(paid, entitled)
        return int(share * 100) if share is not None else 0

    if len(report.cycles) > 1:
        rows = [(c.cycle, points(c.total.entitled_idr, c.total.paid_idr)) for c in report.cycles]
        title = ctx.t("report.chart.trend", program=report.program)
        return bar_chart(rows, title=title, amount=shown, ordered=True, scale=10_000)
    (one,) = report.cycles
    rows = [(r.name or r.code, points(r.entitled_idr, r.paid_idr)) for r in one.rows]
    title = ctx.t(
        "report.chart.region",
        cycle=one.cycle,
        level=ctx.t("report.level." + report.level).lower(),
    )
    return bar_chart(rows, title=title, amount=shown, scale=10_000)


def _download(ctx: Page, fmt: str) -> Response:
    from lumbung.reports import charts, exports

    choices = _choices(ctx)
    report = _report(ctx, choices)
    name = f"realisasi-{report.program}.{fmt}"
    body: bytes | str
    if fmt == "csv":
        body = exports.to_csv(report)
    elif fmt == "xlsx":
        body = exports.to_xlsx(report)
    else:
        kind = ctx.query("jenis")
        body = charts.chart(report, fmt=fmt, kind=kind if kind in charts.KINDS else None)
    disposition = "attachment" if fmt in ("csv", "xlsx") else "inline"
    return Response(
        body,
        media_type=DOWNLOADS[fmt],
        headers={
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@page("read")
def realisation_download(ctx: Page) -> Response:
    fmt = ctx.request.path_params["fmt"]
    if fmt not in DOWNLOADS:
        from lumbung.errors import NotFound

        raise NotFound(f"Format {fmt!r} tidak ada: csv, xlsx, png atau svg.")
    return _download(ctx, fmt)


ROUTES = [
    Route("/laporan/realisasi", realisation_page, methods=["GET"]),
    Route("/laporan/realisasi.{fmt}", realisation_download, methods=["GET"]),
]
