"""Civil registry (Dukcapil) matching pages: the match rate per region (with CSV and XLSX
downloads, drill-down by region), uploading an extract (a background job, followed on the
job's page), and an import's result (counts, the file's problems, the members it marked).
Each page calls the `lumbung.civil` services and renders what they return."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi.responses import FileResponse, Response
from starlette.routing import Route

from lumbung.errors import LumbungError, ValidationFailed
from lumbung.web.context import Page, page, table_download

LEVELS = ("province", "regency", "district")
OUTCOMES = ("matched", "mismatched", "deceased", "not_found")
FIELDS = ("nik", "name", "birth_date", "birth_date_swapped", "sex", "kk_number")
PAGE_SIZE = 50


def _filters(ctx: Page) -> tuple[str | None, str | None, int | None]:
    level = ctx.query("tingkat")
    chosen = ctx.query("impor")
    return (
        ctx.query("wilayah") or None,
        level if level in LEVELS else None,
        int(chosen) if chosen.isascii() and chosen.isdigit() else None,
    )


def _query(**values: str | int | None) -> str:
    return urlencode({k: v for k, v in values.items() if v})


def _next_level(level: str) -> str | None:
    at = LEVELS.index(level)
    return LEVELS[at + 1] if at + 1 < len(LEVELS) else None


@page("read")
def report_page(ctx: Page) -> Response:
    from lumbung.civil import report, service

    region, level, import_id = _filters(ctx)
    found = report.match_rate(ctx.db, ctx.actor, region=region, level=level, import_id=import_id)
    return ctx.render(
        "civil_report.html",
        report=found,
        region=region or "",
        level=level or "",
        levels=LEVELS,
        outcomes=OUTCOMES,
        fields=FIELDS,
        deeper=_next_level(found.level),
        query=_query(wilayah=region, tingkat=level, impor=import_id),
        imports=service.list_imports(ctx.db, ctx.actor)[:20],
        regions=ctx.region_names([found.region]),
    )


def _download(ctx: Page, kind: str) -> Response:
    from lumbung.civil import export, report

    region, level, import_id = _filters(ctx)
    found = report.match_rate(ctx.db, ctx.actor, region=region, level=level, import_id=import_id)
    return table_download(
        "padan-dukcapil", kind, lambda: export.report_csv(found), lambda: export.report_xlsx(found)
    )


@page("read")
def report_csv(ctx: Page) -> Response:
    return _download(ctx, "csv")


@page("read")
def report_xlsx(ctx: Page) -> Response:
    return _download(ctx, "xlsx")


@page("match_civil")
def import_page(ctx: Page) -> Response:
    """The upload: saved, then imported by a job whose page follows it."""
    from lumbung.civil.extract import HEADER
    from lumbung.jobs import service as jobs

    error = None
    if ctx.form is not None and ctx.field("action") == "confirm":
        # The removals a finished job counted, confirmed: a new job on the same upload.
        with ctx.db.begin_nested():
            job = jobs.confirm_removals(
                ctx.db,
                ctx.actor,
                ctx.field("job"),
                removals=ctx.int_field("confirm_removals", -1),
                channel="web",
            )
        return ctx.redirect(f"/pekerjaan/{job.id}")
    if ctx.form is not None:
        try:
            # A refused job keeps no file (it holds NIKs and names); a submitted one reads it.
            with (
                ctx.upload("file", "civil.import.choose", accepted=(".csv",), keep=True) as saved,
                ctx.db.begin_nested(),
            ):
                job = jobs.submit(
                    ctx.db,
                    ctx.actor,
                    kind="civil_import",
                    params={
                        "files": [str(saved)],
                        "region": ctx.field("region") or None,
                        "force": ctx.field("force") == "1",
                    },
                    channel="web",
                )
            return ctx.redirect(f"/pekerjaan/{job.id}")
        except LumbungError as refused:
            error = refused.message
    recent = jobs.list_jobs(ctx.db, ctx.actor, limit=20, offset=0)
    return ctx.render(
        "civil_import.html",
        status=422 if error else 200,
        error=error,
        header=",".join(HEADER),
        jobs=[j for j in recent.items if j.kind == "civil_import"],
        region=ctx.field("region") if ctx.form is not None else "",
    )


def _import_id(ctx: Page) -> int:
    text = ctx.request.path_params["import_id"]
    if not text.isascii() or not text.isdigit():
        raise ValidationFailed("Nomor impor harus angka.")
    return int(text)


@page("read")
def result_page(ctx: Page) -> Response:
    from lumbung.civil import service

    import_id = _import_id(ctx)
    found = service.get_import(ctx.db, ctx.actor, import_id=import_id)
    outcome = ctx.query("hasil")
    outcome = outcome if outcome in OUTCOMES else ""
    members = service.list_results(
        ctx.db,
        ctx.actor,
        import_id=import_id,
        outcome=outcome or None,
        limit=PAGE_SIZE,
        offset=ctx.int_query("offset", 0),
    )
    return ctx.render(
        "civil_result.html",
        record=found,
        members=members,
        page=members,
        outcome=outcome,
        outcomes=OUTCOMES,
        fields=FIELDS,
        query=_query(hasil=outcome),
        regions=ctx.region_names([found.region_code]),
    )


@page("match_civil")
def rejects_page(ctx: Page) -> Response:
    from lumbung.civil import service

    path = service.import_rejects(
        ctx.db, ctx.actor, import_id=_import_id(ctx), rejects_dir=ctx.settings.rejects_dir
    )
    return FileResponse(
        path, media_type="text/csv", filename=path.name, headers={"Cache-Control": "no-store"}
    )


ROUTES = [
    Route("/dukcapil", report_page, methods=["GET"]),
    Route("/dukcapil/laporan.csv", report_csv, methods=["GET"]),
    Route("/dukcapil/laporan.xlsx", report_xlsx, methods=["GET"]),
    Route("/dukcapil/impor", import_page, methods=["GET", "POST"]),
    Route("/dukcapil/impor/{import_id}", result_page, methods=["GET"]),
    Route("/dukcapil/impor/{import_id}/tolakan", rejects_page, methods=["GET"]),
]
