"""The policy simulation pages: the list (and a form that runs a scenario as a job, and
checkboxes that open two to four side by side), one simulation with its map of provinces,
its XLSX and map PNG, the side-by-side page with its XLSX and CSV. Thin: every figure comes
from simulation/service.py and simulation/compare.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from lumbung.errors import LumbungError, NotFound
from lumbung.web.charts import bar_chart, province_map
from lumbung.web.context import Page, page
from lumbung.web.work import _programs, _submit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COMPARE = "/simulasi/_banding"  # no label starts with "_" (cycles.service.LABEL_PATTERN)


def _download(body: bytes, media: str, name: str) -> Response:
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@page("read")
def simulations_page(ctx: Page) -> Response:
    from lumbung.releases.service import list_releases
    from lumbung.simulation.scenario import changes_from_options
    from lumbung.simulation.service import list_simulations

    found = list_simulations(ctx.db, actor=ctx.actor)
    error = None
    if ctx.form is not None:
        try:
            lines = [x.strip() for x in ctx.field("changes").splitlines() if x.strip()]
            program = ctx.field("program")
            scenario = {
                "title": f"{program}: " + (", ".join(lines) or "tanpa perubahan"),
                "programs": [{"program": program, "changes": changes_from_options(lines)}],
            }
            with ctx.db.begin_nested():
                return _submit(
                    ctx,
                    "simulation_run",
                    {
                        "label": ctx.field("label"),
                        "release": ctx.field("release"),
                        "scenario": scenario,
                    },
                )
        except LumbungError as refused:
            error = refused.message
    return ctx.render(
        "simulations.html",
        status=422 if error else 200,
        error=error,
        simulations=found,
        releases=list_releases(ctx.db, ctx.actor),
        programs=_programs(),
        values={k: ctx.field(k) for k in ("program", "release", "label", "changes")},
    )


@page("read")
def simulation_page(ctx: Page) -> Response:
    from lumbung.simulation.compare import differences_by_province
    from lumbung.simulation.service import delete_simulation, show_simulation

    label = ctx.request.path_params["label"]
    if ctx.form is not None:
        delete_simulation(ctx.db, actor=ctx.actor, label=label, data_dir=ctx.settings.data_dir)
        return ctx.redirect("/simulasi")
    found: dict[str, Any] = show_simulation(ctx.db, actor=ctx.actor, label=label)
    names: dict[str, str] = found.get("region_names", {})
    charts = {}
    for code, program in found["programs"].items():
        provinces = program["by"]["province"]
        gains = [(names.get(g["key"], g["key"]), g["difference_year_idr"]) for g in provinces]
        charts[code] = {
            # The difference by province where it goes one way (bars do not go below zero),
            # else the scenario's budget by province; and the budget by desil.
            "province": bar_chart(
                gains
                if gains and all(v >= 0 for _, v in gains) and any(v for _, v in gains)
                else [(names.get(g["key"], g["key"]), g["scenario_year_idr"]) for g in provinces],
                title=f"{code} {ctx.t('sim.by_province')}",
            ),
            "map": province_map(
                differences_by_province(program), title=f"{code} {ctx.t('sim.map')}"
            ),
            "decile": bar_chart(
                [(f"desil {g['key']}", g["scenario_year_idr"]) for g in program["by"]["decile"]],
                title=f"{code} {ctx.t('sim.by_decile')}",
                ordered=True,
            ),
        }
    return ctx.render("simulation.html", sim=found, regions=names, charts=charts)


@page("read")
def simulation_xlsx(ctx: Page) -> Response:
    from lumbung.simulation.export import export_simulations

    label = ctx.request.path_params["label"]
    name, body = export_simulations(ctx.db, actor=ctx.actor, labels=[label], fmt="xlsx")
    return _download(body, XLSX, name)


@page("read")
def simulation_map_png(ctx: Page) -> Response:
    from lumbung.reports.province_map import png
    from lumbung.simulation.compare import differences_by_province
    from lumbung.simulation.service import show_simulation

    label = ctx.request.path_params["label"]
    code = ctx.request.path_params["program"]
    found = show_simulation(ctx.db, actor=ctx.actor, label=label)
    program = found["programs"].get(code)
    if program is None:
        raise NotFound(f"Program {code} tidak ada di simulasi {label}.")
    title = f"{code} {label}: {ctx.t('sim.map')} (SIMULASI)"
    picture = png(differences_by_province(program), title=title)
    return _download(picture, "image/png", f"peta-{label}-{code}.png")


@page("read")
def compare_page(ctx: Page) -> Response:
    from lumbung.simulation.compare import pooled, province_differences, side_by_side

    labels = ctx.request.query_params.getlist("label")
    found = side_by_side(ctx.db, actor=ctx.actor, labels=labels)
    maps: dict[str, list[Any]] = {}
    for program in found["programs"]:
        pool = pooled(program)
        maps[program["code"]] = [
            None
            if program["totals"][i] is None
            else province_map(
                province_differences(program, i),
                title=f"{program['code']} {s['label']}: {ctx.t('sim.map')}",
                pool=pool,
            )
            for i, s in enumerate(found["simulations"])
        ]
    query = urlencode([("label", s["label"]) for s in found["simulations"]])
    return ctx.render(
        "simulation_compare.html", cmp=found, maps=maps, query=query, regions=found["region_names"]
    )


@page("read")
def compare_xlsx(ctx: Page) -> Response:
    from lumbung.simulation.compare import side_by_side, workbook

    found = side_by_side(ctx.db, actor=ctx.actor, labels=ctx.request.query_params.getlist("label"))
    name = "banding-" + "-".join(s["label"] for s in found["simulations"])[:80] + ".xlsx"
    return _download(workbook(found), XLSX, name)


@page("read")
def compare_csv(ctx: Page) -> Response:
    from lumbung.simulation.compare import checked_labels
    from lumbung.simulation.export import export_simulations

    labels = checked_labels(ctx.request.query_params.getlist("label"))
    name, body = export_simulations(ctx.db, actor=ctx.actor, labels=labels, fmt="csv")
    return _download(body, "text/csv; charset=utf-8", name)


ROUTES = [
    Route("/simulasi", simulations_page, methods=["GET", "POST"]),
    Route(COMPARE, compare_page, methods=["GET"]),
    Route(COMPARE + ".xlsx", compare_xlsx, methods=["GET"]),
    Route(COMPARE + ".csv", compare_csv, methods=["GET"]),
    Route("/simulasi/{label}", simulation_page, methods=["GET", "POST"]),
    Route("/simulasi/{label}/xlsx", simulation_xlsx, methods=["GET"]),
    Route("/simulasi/{label}/peta/{program}.png", simulation_map_png, methods=["GET"]),
]
