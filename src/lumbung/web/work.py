"""Imports by upload, jobs and their progress, releases, scoring, cycles, explain."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import FileResponse, Response
from starlette.datastructures import UploadFile
from starlette.routing import Route

from lumbung.errors import LumbungError, NotFound, ValidationFailed
from lumbung.web import i18n
from lumbung.web.charts import bar_chart
from lumbung.web.context import Page, page

UPLOAD_SUFFIXES = (".csv", ".xlsx")
# What a rejected row says (importer.RowError), in the order the table shows it.
REJECT_COLUMNS = ("file", "row", "column", "code", "message")


def _submit(ctx: Page, kind: str, params: dict[str, Any]) -> Response:
    from lumbung.jobs import service as jobs

    job = jobs.submit(ctx.db, ctx.actor, kind=kind, params=params, channel="web")
    return ctx.redirect(f"/pekerjaan/{job.id}")


def _without_paths(message: str, saved: list[Path], data_dir: Path) -> str:
    """`message` with the server's paths of the uploads (and of the data folder) taken out."""
    for path in saved:
        message = message.replace(str(path), path.name)
    for folder in {str(data_dir.resolve()), str(data_dir)}:
        message = message.replace(folder + "/", "").replace(folder, "")
    return message


@page("import")
def import_page(ctx: Page) -> Response:
    from lumbung.jobs import service as jobs
    from lumbung.jobs import uploads

    error = None
    if ctx.form is not None:
        files = [f for f in ctx.form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        saved: list[Path] = []
        try:
            if len(files) != 2:
                raise ValidationFailed(ctx.t("import.two_files"))
            for upload in files:
                name = Path(upload.filename or "").name
                if not name.lower().endswith(UPLOAD_SUFFIXES):
                    raise ValidationFailed(ctx.t("import.file_type", name=name))
                saved.append(
                    uploads.save(
                        ctx.settings.data_dir,
                        name,
                        upload.file,
                        max_bytes=ctx.settings.upload_max_bytes,
                    )
                )
            with ctx.db.begin_nested():
                return _submit(
                    ctx,
                    "import",
                    {"files": [str(p) for p in saved], "link": ctx.field("link") == "1"},
                )
        except BaseException as failed:
            # A refused upload keeps no file (as the API), and its message names the file as
            # the user gave it, never where the server kept it.
            for path in saved:
                shutil.rmtree(path.parent, ignore_errors=True)
            if not isinstance(failed, LumbungError):
                raise
            error = _without_paths(failed.message, saved, ctx.settings.data_dir)
    recent = jobs.list_jobs(ctx.db, ctx.actor, limit=20, offset=0)
    return ctx.render(
        "import.html",
        status=422 if error else 200,
        error=error,
        jobs=[j for j in recent.items if j.kind == "import"],
    )


@page("any")
def job_page(ctx: Page) -> Response:
    from lumbung.jobs import service as jobs

    job = jobs.get(ctx.db, ctx.actor, job_id=ctx.request.path_params["job_id"])
    result = job.result or {}
    rejected_rows = result.get("errors") or []
    columns = [c for c in REJECT_COLUMNS if rejected_rows and c in rejected_rows[0]]
    template = (
        "partials/job.html" if ctx.request.headers.get("HX-Request") == "true" else "job.html"
    )
    return ctx.render(
        template,
        job=job,
        running=job.state in ("queued", "running"),
        percent=int(100 * job.done / job.total) if job.total else None,
        result=result,
        rejected_rows=rejected_rows,
        # An import linked against the latest release (`link`): its probable duplicates.
        probable_rows=[
            w for w in result.get("warnings") or [] if w.get("code") == "probable_duplicate"
        ],
        columns=columns,
        error_message=_without_paths(
            str((job.error or {}).get("message", "")),
            [Path(str(f)) for f in (job.params or {}).get("files", [])],
            ctx.settings.data_dir,
        ),
    )


@page("any")
def reject_file(ctx: Page) -> Response:
    """The import job's reject file, when the job is the reader's (jobs.get checks it) and
    the file lies in this registry's reject folder."""
    from lumbung.jobs import service as jobs

    path = jobs.reject_file(
        ctx.db,
        ctx.actor,
        job_id=ctx.request.path_params["job_id"],
        data_dir=ctx.settings.data_dir,
    )
    return FileResponse(path, filename=path.name, media_type="text/csv")


@page("read")
def releases_page(ctx: Page) -> Response:
    from lumbung.releases.service import list_releases

    error = None
    if ctx.form is not None:
        try:
            with ctx.db.begin_nested():
                kind = ctx.field("action")
                if kind == "score":
                    return _submit(
                        ctx,
                        "score",
                        {"release": ctx.field("release")},
                    )
                return _submit(
                    ctx,
                    "release",
                    {"label": ctx.field("label"), "decree": ctx.field("decree") or None},
                )
        except LumbungError as refused:
            error = refused.message
    return ctx.render(
        "releases.html",
        status=422 if error else 200,
        error=error,
        releases=list_releases(ctx.db, ctx.actor),
        values={k: ctx.field(k) for k in ("label", "decree")},
    )


@page("read")
def cycles_page(ctx: Page) -> Response:
    from lumbung.cycles.listing import list_cycles
    from lumbung.releases.service import list_releases

    error = None
    if ctx.form is not None:
        try:
            with ctx.db.begin_nested():
                return _submit(
                    ctx,
                    "cycle_run",
                    {
                        "program": ctx.field("program"),
                        "release": ctx.field("release"),
                        "label": ctx.field("label"),
                        "replace": ctx.field("replace") == "1",
                    },
                )
        except LumbungError as refused:
            error = refused.message
    return ctx.render(
        "cycles.html",
        status=422 if error else 200,
        error=error,
        cycles=list_cycles(ctx.db, ctx.actor),
        releases=list_releases(ctx.db, ctx.actor),
        programs=_programs(),
        values={k: ctx.field(k) for k in ("program", "release", "label", "replace")},
    )


def _programs() -> list[str]:
    from lumbung.programs.service import list_programs

    return sorted(p.definition.code for p in list_programs())


LEVELS = ("province", "regency")


@page("read")
def cycle_page(ctx: Page) -> Response:
    from lumbung.cycles.listing import cycle_totals, list_beneficiaries, list_cycles
    from lumbung.cycles.service import approve_cycle

    label = ctx.request.path_params["label"]
    error = None
    approved = False
    if ctx.form is not None:
        try:
            with ctx.db.begin_nested():
                approve_cycle(ctx.db, actor=ctx.actor, label=label, data_dir=ctx.settings.data_dir)
            approved = True
        except LumbungError as refused:
            error = refused.message
        if approved:
            return ctx.redirect(f"/siklus/{label}?disetujui=1")
    cycle = next((c for c in list_cycles(ctx.db, ctx.actor) if c.cycle == label), None)
    if cycle is None:
        raise NotFound(f"Siklus {label} tidak ada.")
    level = ctx.query("tingkat", "province")
    level = level if level in LEVELS else "province"
    totals = cycle_totals(ctx.db, ctx.actor, label=label, level=level)
    offset = ctx.int_query("offset", 0)
    beneficiaries = list_beneficiaries(
        ctx.db, actor=ctx.actor, cycle_label=label, limit=25, offset=offset
    )
    chart = bar_chart(
        [(a.name or a.code, a.total_idr) for a in totals.areas],
        title=ctx.t("cycle.chart", level=ctx.t("level." + level)),
        amount=lambda value: i18n.rupiah(ctx.lang, value),
    )
    pager = _Window(beneficiaries["total"], 25, offset)
    from lumbung.delivery.ledger import check_cycle

    check = check_cycle(ctx.db, actor=ctx.actor, label=label) if cycle.state == "approved" else None
    return ctx.render(
        "cycle.html",
        check=check,
        status=422 if error else 200,
        cycle=cycle,
        totals=totals,
        level=level,
        chart=chart,
        beneficiaries=beneficiaries,
        page=pager,
        query=urlencode({"tingkat": level}),
        error=error,
        approved=ctx.query("disetujui") == "1",
        regions=ctx.region_names(b["regency_code"] for b in beneficiaries["beneficiaries"]),
    )


class _Window:
    def __init__(self, total: int, limit: int, offset: int) -> None:
        self.total, self.limit, self.offset = total, limit, offset


KK = re.compile(r"\d{16}")


@page("read")
def explain_page(ctx: Page) -> Response:
    from lumbung.cycles.explain import explain

    label = ctx.request.path_params["label"]
    kk = ctx.request.path_params["kk"]
    if not KK.fullmatch(kk):
        raise NotFound(f"KK {kk!r} tidak berbentuk 16 angka.")
    explained = explain(
        ctx.db, actor=ctx.actor, cycle_label=label, kk_number=kk, data_dir=ctx.settings.data_dir
    )
    return ctx.render(
        "explain.html",
        label=label,
        kk=kk,
        explained=explained,
        clause_features=[_named(c["rule"], explained) for c in explained.get("clauses", [])],
        regions=ctx.region_names(
            (explained.get("regency_code"), explained.get("features", {}).get("province_code"))
        ),
    )


NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _named(rule: str, explained: dict[str, Any]) -> list[tuple[str, Any]]:
    """The family's features a clause names, each once and with its value (the desil and the
    score among them): what the reader checks the clause against."""
    values = {**explained.get("features", {}), "score": explained.get("score")}
    values["decile"] = explained.get("decile")
    names = dict.fromkeys(n for n in NAME.findall(rule) if n in values)
    return [(n, values[n]) for n in names]


ROUTES = [
    Route("/impor", import_page, methods=["GET", "POST"]),
    Route("/pekerjaan/{job_id}", job_page, methods=["GET"]),
    Route("/pekerjaan/{job_id}/tolakan", reject_file, methods=["GET"]),
    Route("/rilis", releases_page, methods=["GET", "POST"]),
    Route("/siklus", cycles_page, methods=["GET", "POST"]),
    Route("/siklus/{label}", cycle_page, methods=["GET", "POST"]),
    Route("/siklus/{label}/jelaskan/{kk}", explain_page, methods=["GET"]),
]
