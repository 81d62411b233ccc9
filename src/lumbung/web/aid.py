"""In-kind aid pages: the realisation report (with CSV and XLSX downloads), importing a file
of handovers (answered on the same page, as the API answers), the item catalogue and the
distributions. Each page calls the `lumbung.aid` services and renders what they return."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi.responses import FileResponse, Response
from starlette.routing import Route

from lumbung.errors import LumbungError, ValidationFailed
from lumbung.web import i18n
from lumbung.web.charts import bar_chart
from lumbung.web.context import Page, page, table_download

LEVELS = ("province", "regency", "district", "village")
PAGE_SIZE = 50


def _filters(ctx: Page) -> tuple[str | None, str | None, str | None]:
    level = ctx.query("tingkat")
    return (
        ctx.query("program") or None,
        ctx.query("wilayah") or None,
        (level if level in LEVELS else None),
    )


def _query(**values: str | None) -> str:
    return urlencode({k: v for k, v in values.items() if v})


@page("read")
def report_page(ctx: Page) -> Response:
    from lumbung.aid import catalog, report

    program, region, level = _filters(ctx)
    found = report.realisation(ctx.db, ctx.actor, program=program, region=region, level=level)
    by_region: dict[str, int] = {}
    for row in found.rows:
        name = row.region_name or row.region_code
        by_region[name] = by_region.get(name, 0) + row.value_idr
    chart = bar_chart(
        list(by_region.items()),
        title=ctx.t("aid.chart", level=ctx.t("level." + found.level)),
        amount=lambda value: i18n.rupiah(ctx.lang, value),
    )
    return ctx.render(
        "aid_report.html",
        report=found,
        programs=catalog.list_programs(ctx.db, ctx.actor),
        program=program or "",
        region=region or "",
        level=level or "",
        levels=LEVELS,
        chart=chart,
        query=_query(program=program, wilayah=region, tingkat=level),
        regions=ctx.region_names([found.region]),
    )


def _download(ctx: Page, kind: str) -> Response:
    from lumbung.aid import export, report

    program, region, level = _filters(ctx)
    found = report.realisation(ctx.db, ctx.actor, program=program, region=region, level=level)
    return table_download(
        "realisasi-bantuan-barang",
        kind,
        lambda: export.report_csv(found),
        lambda: export.report_xlsx(found),
    )


@page("read")
def report_csv(ctx: Page) -> Response:
    return _download(ctx, "csv")


@page("read")
def report_xlsx(ctx: Page) -> Response:
    return _download(ctx, "xlsx")


@page("import")
def import_page(ctx: Page) -> Response:
    """A file of handovers checked and loaded at once; its problems shown row by row, and the
    reject file offered."""
    from lumbung.aid.importer import import_distributions
    from lumbung.aid.rows import HEADER

    error = None
    problems: list[dict[str, object]] = []
    summary = None
    if ctx.form is not None:
        try:
            with ctx.upload("file", "aid.import.choose") as saved:
                dry_run = ctx.field("dry_run") == "1"
                with ctx.db.begin_nested() as step:
                    summary = import_distributions(
                        ctx.db,
                        actor=ctx.actor,
                        path=saved,
                        file_name=saved.name,
                        rejects_dir=ctx.settings.rejects_dir,
                        dry_run=dry_run,
                    )
                    if dry_run:
                        step.rollback()
            if summary.refused:
                error, problems, summary = summary.message, summary.errors, None
            else:  # POST/redirect/GET: a reload does not send the file again
                rejects = Path(summary.reject_file).name if summary.reject_file else None
                shown = {**summary.as_dict(), "reject_file": None}  # no server path in it
                return ctx.done("/bantuan/impor", summary=shown, rejects=rejects)
        except LumbungError as refused:
            error = refused.message
            problems = refused.details
    return ctx.render(
        "aid_import.html",
        status=422 if error else 200,
        error=error,
        problems=problems,
        summary=summary,
        rejects=None,
        header=",".join(HEADER),
    )


@page("import")
def reject_page(ctx: Page) -> Response:
    from lumbung.aid.rejects import reject_file

    path = reject_file(
        ctx.actor, name=ctx.request.path_params["name"], rejects_dir=ctx.settings.rejects_dir
    )
    return FileResponse(
        path, media_type="text/csv", filename=path.name, headers={"Cache-Control": "no-store"}
    )


@page("read")
def items_page(ctx: Page) -> Response:
    """The catalogue; a national admin adds an item."""
    from lumbung.aid import catalog

    error = None
    if ctx.form is not None:
        try:
            value = ctx.field("unit_value_idr")
            if not value.isascii() or not value.isdigit() or len(value) > 11:
                raise ValidationFailed(ctx.t("aid.items.bad_value"))
            with ctx.db.begin_nested():
                item = catalog.add_item(
                    ctx.db,
                    actor=ctx.actor,
                    code=ctx.field("code"),
                    label=ctx.field("label"),
                    unit=ctx.field("unit"),
                    unit_value_idr=int(value),
                    programs=ctx.fields("programs"),
                )
            return ctx.done("/bantuan/barang", notice=ctx.t("aid.items.added", code=item.code))
        except LumbungError as refused:
            error = refused.message
    return ctx.render(
        "aid_items.html",
        status=422 if error else 200,
        error=error,
        notice=None,  # a flash of the form that added one (Page.done)
        items=catalog.list_items(ctx.db, ctx.actor),
        programs=catalog.list_programs(ctx.db, ctx.actor),
    )


@page("read")
def distributions_page(ctx: Page) -> Response:
    from lumbung.aid import views

    program, region, _ = _filters(ctx)
    nik = ctx.query("nik") or None
    found = views.list_distributions(
        ctx.db,
        ctx.actor,
        program=program,
        region=region,
        nik=nik,
        limit=PAGE_SIZE,
        offset=ctx.int_query("offset", 0),
    )
    return ctx.render(
        "aid_list.html",
        found=found,
        page=found,
        program=program or "",
        region=region or "",
        nik=nik or "",
        query=_query(program=program, wilayah=region, nik=nik),
        regions=ctx.region_names(d.village_code for d in found.items),
    )


ROUTES = [
    Route("/bantuan", report_page, methods=["GET"]),
    Route("/bantuan/laporan.csv", report_csv, methods=["GET"]),
    Route("/bantuan/laporan.xlsx", report_xlsx, methods=["GET"]),
    Route("/bantuan/impor", import_page, methods=["GET", "POST"]),
    Route("/bantuan/tolakan/{name}", reject_page, methods=["GET"]),
    Route("/bantuan/barang", items_page, methods=["GET", "POST"]),
    Route("/bantuan/penyerahan", distributions_page, methods=["GET"]),
]
