"""Policy simulations (issue 18): run one as a job, list, show, compare, export, solve a
budget, explain a family, delete. Everything answered is labelled `"kind": "simulation"`:
nothing here is a cycle or a decision (simulation/service.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from lumbung.api.deps import Read, Write, routes
from lumbung.api.jobs import _submit
from lumbung.api.schemas import KK, LABEL
from lumbung.errors import NotFound
from lumbung.jobs import service as jobs
from lumbung.reports.province_map import png
from lumbung.simulation import compare as side
from lumbung.simulation import service
from lumbung.simulation.explain import explain_simulated
from lumbung.simulation.export import export_simulations
from lumbung.simulation.scenario import changes_from_options
from lumbung.simulation.solve import solve_budget

router = routes(tags=["simulations"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Engine = Literal["duckdb", "spark"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScenarioProgram(Strict):
    program: LABEL = Field(description="A program code (PKH, SEMBAKO, …); files: command line.")
    changes: dict[str, Any] = Field(
        default_factory=dict,
        description="decile, eligibility, amounts, monthly_idr, max_persons, caps, quota, "
        "regions (docs/CLI.md, 'Policy simulation').",
    )
    baseline_cycle: LABEL | None = Field(None, description="An approved cycle as the baseline.")


class NewSimulation(Strict):
    label: LABEL
    release: LABEL
    title: Annotated[str, Field(min_length=1, max_length=200)]
    programs: Annotated[list[ScenarioProgram], Field(min_length=1, max_length=20)]
    engine: Engine = "duckdb"
    as_of: date | None = None
    model: str | None = None


class BudgetQuestion(Strict):
    program: LABEL
    release: LABEL
    budget_year_idr: Annotated[int, Field(gt=0, description="Yearly budget, whole rupiah.")]
    method: Literal["decile", "percentile", "scale"] = "decile"
    changes: Annotated[list[str], Field(max_length=20)] = Field(
        default_factory=list, description="Other changes first, as KEY=VALUE."
    )
    save_as: LABEL | None = None
    as_of: date | None = None
    model: str | None = None


@router.post("/simulations", status_code=202, summary="Run a policy scenario (a job)")
def run(ctx: Write, request: Request, body: NewSimulation) -> jobs.JobView:
    params: dict[str, object] = {
        "label": body.label,
        "release": body.release,
        "scenario": {
            "title": body.title,
            "programs": [p.model_dump() for p in body.programs],
        },
        "engine": body.engine,
        "as_of": body.as_of.isoformat() if body.as_of else None,
        "model": body.model,
    }
    return _submit(ctx, request, "simulation_run", params)


@router.get("/simulations", summary="Every simulation, newest first (national readers)")
def list_all(ctx: Read) -> list[dict[str, Any]]:
    return service.list_simulations(ctx.session, actor=ctx.actor)


@router.get("/simulations/compare", summary="Several simulations side by side")
def compare(
    ctx: Read, label: Annotated[list[LABEL], Query(min_length=1, max_length=10)]
) -> list[dict[str, Any]]:
    return service.compare_simulations(ctx.session, actor=ctx.actor, labels=label)


@router.get(
    "/simulations/export",
    summary="Several simulations side by side as XLSX or CSV",
    response_class=Response,
    responses={200: {"content": {XLSX: {}, "text/csv": {}}, "description": "The file."}},
)
def export(
    ctx: Read,
    label: Annotated[list[LABEL], Query(min_length=1, max_length=10)],
    format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "xlsx",
) -> Response:
    name, body = export_simulations(ctx.session, actor=ctx.actor, labels=label, fmt=format)
    return Response(
        body,
        media_type=XLSX if format == "xlsx" else "text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/simulations/side-by-side",
    summary="Two to four simulations side by side (per program, province and desil)",
)
def side_by_side(
    ctx: Read, label: Annotated[list[LABEL], Query(min_length=2, max_length=4)]
) -> dict[str, Any]:
    return side.side_by_side(ctx.session, actor=ctx.actor, labels=label)


@router.get(
    "/simulations/side-by-side/xlsx",
    summary="The side-by-side comparison as XLSX (a sheet per part, a map per simulation)",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The workbook."}},
)
def side_by_side_xlsx(
    ctx: Read, label: Annotated[list[LABEL], Query(min_length=2, max_length=4)]
) -> Response:
    found = side.side_by_side(ctx.session, actor=ctx.actor, labels=label)
    name = "banding-" + "-".join(s["label"] for s in found["simulations"])[:80] + ".xlsx"
    return Response(
        side.workbook(found),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/simulations/solve", summary="The threshold or amounts that fit a budget")
def solve(ctx: Write, body: BudgetQuestion) -> dict[str, Any]:
    return solve_budget(
        ctx.session,
        actor=ctx.actor,
        program=body.program,
        budget_year_idr=body.budget_year_idr,
        method=body.method,
        release_label=body.release,
        data_dir=ctx.settings.data_dir,
        changes=changes_from_options(body.changes),
        as_of=body.as_of,
        model=body.model,
        save_as=body.save_as,
    )


@router.get("/simulations/{label}", summary="One simulation whole")
def show(ctx: Read, label: LABEL) -> dict[str, Any]:
    return service.show_simulation(ctx.session, actor=ctx.actor, label=label)


@router.get(
    "/simulations/{label}/map.png",
    summary="A program's yearly difference by province on a map of provinces (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The map."}},
)
def province_map(
    ctx: Read, label: LABEL, program: Annotated[LABEL, Query(description="The program's code.")]
) -> Response:
    found = service.show_simulation(ctx.session, actor=ctx.actor, label=label)
    result = found["programs"].get(program)
    if result is None:
        raise NotFound(f"Program {program} tidak ada di simulasi {label}.")
    title = f"{program} {label}: selisih anggaran setahun per provinsi (SIMULASI)"
    return Response(png(side.differences_by_province(result), title=title), media_type="image/png")


@router.get("/simulations/{label}/explain", summary="Why a family gets what it gets in it")
def explain(
    ctx: Read,
    label: LABEL,
    program: Annotated[LABEL, Query(description="The program's code.")],
    kk: Annotated[KK, Query(description="The family's KK number.")],
) -> dict[str, Any]:
    return explain_simulated(
        ctx.session,
        actor=ctx.actor,
        label=label,
        program=program,
        kk_number=kk,
        data_dir=ctx.settings.data_dir,
    )


@router.delete("/simulations/{label}", summary="Delete a simulation: its row and its files")
def delete(ctx: Write, label: LABEL) -> dict[str, str]:
    service.delete_simulation(
        ctx.session, actor=ctx.actor, label=label, data_dir=ctx.settings.data_dir
    )
    return {"deleted": label}
