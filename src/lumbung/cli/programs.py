"""`lumbung program …`: check program definition files, list the shipped programs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lumbung import driver_errors
from lumbung.cli.common import JsonOption, console, emit, handled, out, table, unit_of_work
from lumbung.db import DbSession
from lumbung.errors import NotFound

if TYPE_CHECKING:
    from lumbung.programs.definition import ProgramDefinition

program_app = typer.Typer(
    help="Program definitions (YAML files) and their rule language.", no_args_is_help=True
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
    from lokal.rupiah import format_rupiah

    from lumbung.programs.definition import ComponentsBenefit, InKindBenefit, PerPersonBenefit

    benefit = definition.benefit
    if isinstance(benefit, ComponentsBenefit):
        return f"{len(benefit.components)} komponen"
    if isinstance(benefit, InKindBenefit):
        return f"{len(benefit.items)} jenis barang"
    per = "/orang" if isinstance(benefit, PerPersonBenefit) else ""
    return f"{format_rupiah(benefit.monthly_idr)}{per}/bulan"


@program_app.command("validate")
@handled
def program_validate(
    files: list[Path] = typer.Argument(..., help="Program definition files (YAML)."),
    as_json: bool = JsonOption,
) -> None:
    """Check definition files: every problem as FILE:LINE:COL: message (exit code 1)."""
    # What `cycle run` accepts: enrolled("CODE") of a shipped program or of one that has run
    # (from the database, when there is one), a code and version that keep their content;
    # and, for checking new programs together, enrolled() of a file checked in the same call.
    try:
        with unit_of_work() as session:
            results, loaded = _validate(files, session)
        database = True
    except Exception as exc:  # no database here: what can be checked without one
        if not (isinstance(exc, NotFound) or driver_errors.is_database_error(exc)):
            raise
        results, loaded = _validate(files, None)
        database = False

    def human() -> None:
        for i, result in enumerate(results):
            if i in loaded:
                definition = loaded[i]
                out.print(
                    f"OK {result['file']}: {definition.code} ({definition.name}) versi "
                    f"{definition.version}, per {UNITS[definition.unit]}, "
                    f"{benefit_text(definition)}, {schedule_text(definition)}, "
                    f"{definition.channel}; sha256 {result['sha256']}",
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
    unknown = any(p["code"] == "unknown_program" for r in results for p in r["problems"])
    if unknown and not database:
        console.print(
            "Catatan: database tidak terjangkau (LUMBUNG_DATABASE_URL); enrolled() hanya "
            "mengenal program bawaan dan berkas yang diperiksa bersama.",
            highlight=False,
        )
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


def _validate(
    files: list[Path], session: DbSession | None
) -> tuple[list[dict[str, Any]], dict[int, ProgramDefinition]]:
    """Each file's result (`{file, ok, problems, …}`), and the definitions that passed."""
    from lumbung.cycles.programs import identity_problems
    from lumbung.programs.catalog import known_programs, loaded
    from lumbung.programs.definition import (
        ProgramDefinitionError,
        declared_code,
        load_program,
        shipped_programs,
    )
    from lumbung.programs.service import ProgramSummary
    from lumbung.programs.source import Problem

    ran = frozenset(known_programs(session)) if session is not None else frozenset()
    codes = {declared_code(path) for path in files}
    known = frozenset(shipped_programs()) | ran | {c for c in codes if c}
    results: list[dict[str, Any]] = []
    passed: dict[int, ProgramDefinition] = {}
    for i, path in enumerate(files):
        try:
            definition = load_program(path, programs=known)
        except ProgramDefinitionError as exc:
            problems = [p.as_dict() for p in exc.problems]
            results.append({"file": str(path), "ok": False, "problems": problems})
            continue
        found = loaded(definition, path)
        taken = [
            Problem(str(path), *_position(path, p.key), p.code, p.message).as_dict()
            for p in identity_problems(session, found)
        ]
        if taken:
            results.append({"file": str(path), "ok": False, "problems": taken})
            continue
        passed[i] = definition
        results.append(
            {
                "file": str(path),
                "ok": True,
                **ProgramSummary(definition).as_dict(),
                "sha256": found.sha256,
                "problems": [],
            }
        )
    return results, passed


def _position(path: Path, key: str) -> tuple[int, int]:
    """Line and column of a top-level key's value in a definition file (1, 1 if not found)."""
    text = path.read_text(encoding="utf-8")
    found = re.search(rf"^{re.escape(key)}[ \t]*:[ \t]*", text, re.MULTILINE)
    if found is None:
        return 1, 1
    line = text.count("\n", 0, found.start()) + 1
    return line, found.end() - found.start() + 1


@program_app.command("list")
@handled
def program_list(as_json: bool = JsonOption) -> None:
    """The programs shipped with Lumbung."""
    from lumbung.programs.service import list_programs

    programs = list_programs()
    rows = [p.as_dict() for p in programs]
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
                    for d in (p.definition for p in programs)
                ],
            )
        ),
    )
