"""`lumbung program …`: check program definition files, list the shipped programs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from lokal.rupiah import format_rupiah

from lumbung.cli.common import JsonOption, emit, handled, out, table
from lumbung.programs.definition import (
    ComponentsBenefit,
    InKindBenefit,
    PerPersonBenefit,
    ProgramDefinition,
    ProgramDefinitionError,
    declared_code,
    load_program,
    load_shipped_programs,
    shipped_programs,
)

program_app = typer.Typer(
    help="Definisi program bantuan (berkas YAML) dan bahasa aturannya.", no_args_is_help=True
)

UNITS = {"household": "keluarga", "person": "orang"}


def schedule_text(definition: ProgramDefinition) -> str:
    schedule = definition.schedule
    if schedule.kind == "monthly":
        return "bulanan"
    if schedule.kind == "quarterly":
        return "triwulanan"
    return f"{schedule.tranches} tahap untuk {schedule.months} bulan"


def benefit_text(definition: ProgramDefinition) -> str:
    benefit = definition.benefit
    if isinstance(benefit, ComponentsBenefit):
        return f"{len(benefit.components)} komponen"
    if isinstance(benefit, InKindBenefit):
        return f"{len(benefit.items)} jenis barang"
    per = "/orang" if isinstance(benefit, PerPersonBenefit) else ""
    return f"{format_rupiah(benefit.monthly_idr)}{per}/bulan"


def summary(definition: ProgramDefinition) -> dict[str, Any]:
    return {
        "code": definition.code,
        "name": definition.name,
        "version": definition.version,
        "unit": definition.unit,
        "channel": definition.channel,
        "schedule": definition.schedule.kind,
        "months_per_cycle": definition.months_per_cycle,
        "benefit": definition.benefit.kind,
        "amounts_per_cycle": definition.amounts_per_cycle(),
    }


@program_app.command("validate")
@handled
def program_validate(
    files: list[Path] = typer.Argument(..., help="Program definition files (YAML)."),
    as_json: bool = JsonOption,
) -> None:
    """Check definition files: every problem as FILE:LINE:COL: message (exit code 1)."""
    # enrolled("CODE") may name a shipped program or one of the files checked together.
    codes = {declared_code(path) for path in files}
    known = frozenset(shipped_programs()) | {c for c in codes if c}
    results: list[dict[str, Any]] = []
    loaded: dict[int, ProgramDefinition] = {}
    for i, path in enumerate(files):
        try:
            loaded[i] = definition = load_program(path, programs=known)
        except ProgramDefinitionError as exc:
            problems = [p.as_dict() for p in exc.problems]
            results.append({"file": str(path), "ok": False, "problems": problems})
            continue
        results.append({"file": str(path), "ok": True, **summary(definition), "problems": []})

    def human() -> None:
        for i, result in enumerate(results):
            if i in loaded:
                definition = loaded[i]
                out.print(
                    f"OK {result['file']}: {definition.code} ({definition.name}) versi "
                    f"{definition.version}, per {UNITS[definition.unit]}, "
                    f"{benefit_text(definition)}, {schedule_text(definition)}, "
                    f"{definition.channel}",
                    soft_wrap=True,
                    highlight=False,
                    markup=False,
                )
                continue
            for p in result["problems"]:
                out.print(
                    f"{p['file']}:{p['line']}:{p['column']}: {p['message']}",
                    soft_wrap=True,
                    highlight=False,
                    markup=False,
                )

    emit(as_json, results, human)
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


@program_app.command("list")
@handled
def program_list(as_json: bool = JsonOption) -> None:
    """The programs shipped with Lumbung."""
    definitions = load_shipped_programs()
    rows = [summary(d) for d in definitions.values()]
    emit(
        as_json,
        rows,
        lambda: out.print(
            table(
                "Program bawaan",
                ["kode", "nama", "unit", "manfaat", "jadwal", "saluran"],
                [
                    [
                        d.code,
                        d.name,
                        UNITS[d.unit],
                        benefit_text(d),
                        schedule_text(d),
                        d.channel,
                    ]
                    for d in definitions.values()
                ],
            )
        ),
    )
