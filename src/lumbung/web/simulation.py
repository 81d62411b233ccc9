"""The policy simulation pages: the list (and a form that runs a scenario as a job), one
simulation, its XLSX. Thin: every figure comes from simulation/service.py."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from lumbung.errors import LumbungError
from lumbung.web.charts import bar_chart
from lumbung.web.context import Page, page
from lumbung.web.work import _programs, _submit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    return Response(
        body,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


ROUTES = [
    Route("/simulasi", simulations_page, methods=["GET", "POST"]),
    Route("/simulasi/{label}", simulation_page, methods=["GET", "POST"]),
    Route("/simulasi/{label}/xlsx", simulation_xlsx, methods=["GET"]),
]
