"""Policy simulation: what changed program definitions would do, before anyone decides.

A simulation runs each program of a scenario (simulation/scenario.py) through the cycle engine
(`cycles.service.compute_entitlements`, the same query a cycle runs) against a release and its
PMT scores, and the same program unchanged (or an approved cycle) as the baseline. It writes
one Parquet file per program and side into its own folder, `simulations/LABEL/run-…`, and one
`simulation` row with the aggregates (simulation/results.py). Nothing goes to `cycle`,
`entitlement`, `enrollment` or `program`: a simulation is not a decision, and is labelled as
one everywhere it is shown. Deleting it removes the row and the folder.

Who: running, solving and deleting is a national determiner's (Action.SIMULATE); reading
(list, show, compare, export) a national determiner's, admin's or auditor's (access.py).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung import locks
from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.cycles import compute
from lumbung.cycles.enrollment import enrolled_households
from lumbung.cycles.files import ENTITLEMENTS, cycle_folder, save_enrollment
from lumbung.cycles.models import Cycle
from lumbung.cycles.service import LABEL_PATTERN, compute_entitlements
from lumbung.db import utcnow
from lumbung.engine.backend import Engine, open_engine
from lumbung.engine.names import EngineName
from lumbung.errors import Conflict, NotFound, ValidationFailed
from lumbung.installation.datafolder import owned
from lumbung.programs.catalog import (
    LoadedProgram,
    find_definition,
    is_file,
    known_programs,
)
from lumbung.programs.definition import ProgramDefinition, shipped_programs
from lumbung.regions.service import region_names
from lumbung.releases.hashing import sha256_file
from lumbung.releases.lookup import get_release
from lumbung.releases.models import Release
from lumbung.releases.service import checked_release_dir
from lumbung.simulation.access import masked, require_reader
from lumbung.simulation.models import Simulation
from lumbung.simulation.results import ROW_COLUMNS, cycles_per_year, program_results
from lumbung.simulation.scenario import ChangedProgram, Scenario, apply_changes
from lumbung.targeting.models import PmtModelRecord, Scoring
from lumbung.targeting.service import checked_scores_file, latest_scoring

FOLDER = "simulations"
RUN_NAME = re.compile(r"(\.staging-)?run-[0-9a-f]{12}")
LABEL_WORDS = "SIMULASI (bukan keputusan; tidak ada penetapan atau pembayaran)"


@dataclass(frozen=True, slots=True)
class Prepared:
    """One program of a scenario, ready to compute: what runs and what it is compared with."""

    changed: ChangedProgram
    baseline: LoadedProgram | None  # None: a baseline cycle, or a program new to the registry
    baseline_cycle: Cycle | None


@dataclass(frozen=True, slots=True)
class Context:
    """What every program of a run shares: release, scores, reference date."""

    release: Release
    scoring: Scoring
    model: PmtModelRecord
    release_dir: Path
    scores_file: Path
    reference: date


def scenario_rows(
    batch: Engine,
    session: Session,
    context: Context,
    definition: ProgramDefinition,
    regions: Sequence[str] = (),
    enrolled: dict[str, Any] | None = None,
) -> ir.Table:
    """The program's beneficiaries as a cycle would compute them (not yet executed), only
    in `regions` (provinces or regencies) when given."""
    if enrolled is None:
        enrolled = enrolled_households(session, compute.eligibility(definition).programs)
    rows = compute_entitlements(
        batch,
        definition=definition,
        release_dir=context.release_dir,
        scores_file=context.scores_file,
        reference=context.reference,
        enrolled=enrolled,
    )
    if regions:
        provinces = [c for c in regions if len(c) == 2]
        regencies = [c for c in regions if len(c) == 5]
        rows = rows.filter(
            rows.province_code.isin(provinces or [""]) | rows.regency_code.isin(regencies or [""])
        )
    return rows


def _kept_columns(rows: ir.Table) -> ir.Table:
    return rows.select(*ROW_COLUMNS, *[c for c in rows.columns if c.startswith("c__")])


def context_for(
    session: Session, release_label: str, model: str | None, data_dir: Path, as_of: date | None
) -> Context:
    release = get_release(session, release_label)
    scoring = latest_scoring(session, release, model)
    record = session.get(PmtModelRecord, scoring.model_id)
    assert record is not None
    return Context(
        release,
        scoring,
        record,
        checked_release_dir(session, release, data_dir / "releases"),
        checked_scores_file(scoring, data_dir),
        as_of or release.created_at.date(),
    )


def prepare(session: Session, scenario: Scenario, data_dir: Path) -> list[Prepared]:
    """Each program of the scenario changed, with its baseline, every problem named."""
    ran = known_programs(session)
    known = frozenset(shipped_programs()) | frozenset(ran)
    found: list[Prepared] = []
    codes: set[str] = set()
    for i, entry in enumerate(scenario.programs):
        where = f"programs[{i}] ({entry.program})"
        original = find_definition(session, entry.program)
        code = original.definition.code
        if code in codes:
            raise ValidationFailed(f"{where}: program {code} sudah ada di skenario ini.")
        codes.add(code)
        changed = apply_changes(original, entry.changes, where, known)
        baseline: LoadedProgram | None = original
        if is_file(entry.program):
            # A changed file is compared with the program its code names, if there is one.
            baseline = find_definition(session, code) if code in known else None
        cycle = None
        if entry.baseline_cycle is not None:
            cycle = session.execute(
                select(Cycle).where(Cycle.label == entry.baseline_cycle)
            ).scalar_one_or_none()
            if cycle is None:
                raise NotFound(f"{where}: siklus pembanding {entry.baseline_cycle} tidak ada.")
            if cycle.state != "approved":
                raise ValidationFailed(
                    f"{where}: siklus pembanding {cycle.label} belum disetujui; pembanding "
                    "adalah siklus yang disetujui, atau definisi yang tidak diubah."
                )
            if cycle.program_code != code:
                raise ValidationFailed(
                    f"{where}: siklus {cycle.label} milik program {cycle.program_code}, "
                    f"bukan {code}."
                )
            cycle_folder(cycle, data_dir)  # its files whole
            baseline = None
        found.append(Prepared(changed, baseline, cycle))
    return found


def run_simulation(
    session: Session,
    *,
    actor: User,
    label: str,
    scenario: Scenario,
    release_label: str,
    data_dir: Path,
    engine: EngineName = EngineName.DUCKDB,
    as_of: date | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Run `scenario` and store it as simulation `label` (module docstring)."""
    authorize(actor, Action.SIMULATE)
    require_national(actor, "menjalankan simulasi")
    if not re.fullmatch(LABEL_PATTERN, label):
        raise ValidationFailed(
            "Label simulasi hanya huruf, angka, titik, garis bawah dan strip (maks. 64)."
        )
    owned(session, data_dir)
    locks.hold(session, "simulation", label, data_dir)
    if session.execute(select(Simulation.id).where(Simulation.label == label)).first():
        raise Conflict(
            f"Simulasi {label} sudah ada; hapus dulu atau pakai label lain.",
            command=f"lumbung simulate delete {label}",
        )
    context = context_for(session, release_label, model, data_dir, as_of)
    programs = prepare(session, scenario, data_dir)
    with open_engine(engine) as batch:
        staging, folder = _new_folder(data_dir, label)
        try:
            results = _compute(batch, session, context, programs, staging, data_dir, folder)
            staging.rename(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                staging.parent.rmdir()
            raise
    try:
        return _store(
            session, actor, label, scenario, context, programs, results, folder, data_dir, engine
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()
        raise


def _new_folder(data_dir: Path, label: str) -> tuple[Path, Path]:
    """`simulations/LABEL/run-…` (staged first); leftovers of killed runs removed."""
    parent = data_dir / FOLDER / label
    parent.mkdir(parents=True, exist_ok=True)
    for leftover in parent.iterdir():
        if RUN_NAME.fullmatch(leftover.name):
            shutil.rmtree(leftover, ignore_errors=True)
    name = f"run-{uuid.uuid4().hex[:12]}"
    staging = parent / f".staging-{name}"
    staging.mkdir()
    return staging, parent / name


def scenario_file(code: str) -> str:
    return f"{code}.scenario.parquet"


def baseline_file(code: str) -> str:
    return f"{code}.baseline.parquet"


def families_file(code: str) -> str:
    """One row per family paid on either side, with its yearly amount on each and its move."""
    return f"{code}.families.parquet"


def _compute(
    batch: Engine,
    session: Session,
    context: Context,
    programs: list[Prepared],
    staging: Path,
    data_dir: Path,
    folder: Path,
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for prepared in programs:
        definition = prepared.changed.definition
        code = definition.code
        enrolled = enrolled_households(session, compute.eligibility(definition).programs)
        save_enrollment(enrolled, staging)  # for `simulate explain`
        rows = scenario_rows(
            batch, session, context, definition, prepared.changed.regions, enrolled
        )
        batch.write_parquet(_kept_columns(rows), staging / scenario_file(code))
        base_path: Path | None = None
        base_cycles = cycles_per_year(definition)
        base_source: dict[str, Any] = {"kind": "none"}
        if prepared.baseline_cycle is not None:
            cycle = prepared.baseline_cycle
            base_path = cycle_folder(cycle, data_dir) / ENTITLEMENTS
            base_cycles = cycles_per_year(ProgramDefinition.model_validate(cycle.definition))
            base_source = {"kind": "cycle", "cycle": cycle.label}
        elif prepared.baseline is not None:
            base = prepared.baseline.definition
            base_rows = scenario_rows(batch, session, context, base)
            base_path = staging / baseline_file(code)
            batch.write_parquet(_kept_columns(base_rows), base_path)
            base_cycles = cycles_per_year(base)
            base_source = {
                "kind": "definitions",
                "version": base.version,
                "definition_sha256": prepared.baseline.sha256,
            }
        found = program_results(
            batch,
            staging / scenario_file(code),
            base_path,
            staging / families_file(code),
            scenario_cycles=cycles_per_year(definition),
            baseline_cycles=base_cycles,
        )
        results[code] = {
            "name": definition.name,
            "unit": definition.unit,
            "cycles_per_year": cycles_per_year(definition),
            "changes": prepared.changed.changes,
            "regions": list(prepared.changed.regions),
            "definition": prepared.changed.content,
            "definition_sha256": prepared.changed.sha256,
            "original_sha256": prepared.changed.original.sha256,
            "baseline_source": base_source,
            "components": {p.name: p.amount_idr for p in compute.components(definition)},
            "labels": {p.name: p.label for p in compute.components(definition)},
            **found,
        }
    return results


def _store(
    session: Session,
    actor: User,
    label: str,
    scenario: Scenario,
    context: Context,
    programs: list[Prepared],
    results: dict[str, dict[str, Any]],
    folder: Path,
    data_dir: Path,
    engine: EngineName,
) -> dict[str, Any]:
    cycles = [p.baseline_cycle for p in programs if p.baseline_cycle is not None]
    row = Simulation(
        label=label,
        title=scenario.title,
        release_id=context.release.id,
        scoring_id=context.scoring.id,
        reference_date=context.reference,
        engine=engine.value,
        baseline="cycle" if cycles else "definitions",
        baseline_cycle_id=cycles[0].id if len(cycles) == 1 else None,
        scenario=scenario.as_dict(),
        beneficiaries=sum(r["scenario"]["beneficiaries"] for r in results.values()),
        total_year_idr=sum(r["scenario"]["per_year_idr"] for r in results.values()),
        baseline_year_idr=sum(r["baseline"]["per_year_idr"] for r in results.values()),
        summary={
            "folder": str(folder.relative_to(data_dir)),
            "files": {p.name: sha256_file(p) for p in sorted(folder.iterdir())},
            "model": context.model.name + "@" + context.model.version,
            "model_sha256": context.model.sha256,
            "programs": results,
        },
        created_at=utcnow(),
        created_by=actor.username,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        action="simulation.run",
        entity="simulation",
        entity_id=label,
        diff={
            "title": scenario.title,
            "release": context.release.label,
            "model": row.summary["model"],
            "programs": sorted(results),
            "total_year_idr": row.total_year_idr,
            "baseline_year_idr": row.baseline_year_idr,
        },
    )
    return with_names(session, actor, describe(row, context.release.label))


def describe(row: Simulation, release_label: str) -> dict[str, Any]:
    """A simulation as data, labelled as one (JSON-ready)."""
    return {
        "kind": "simulation",
        "notice": LABEL_WORDS,
        "label": row.label,
        "title": row.title,
        "release": release_label,
        "model": row.summary.get("model", ""),
        "reference_date": row.reference_date.isoformat(),
        "engine": row.engine,
        "baseline": row.baseline,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "beneficiaries": row.beneficiaries,
        "total_year_idr": row.total_year_idr,
        "baseline_year_idr": row.baseline_year_idr,
        "difference_year_idr": row.total_year_idr - row.baseline_year_idr,
        "scenario": row.scenario,
        "folder": row.summary.get("folder", ""),
        "programs": row.summary.get("programs", {}),
    }


def _get(session: Session, label: str) -> Simulation:
    row = session.execute(select(Simulation).where(Simulation.label == label)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Simulasi {label} tidak ada.", command="lumbung simulate list")
    return row


def _release_label(session: Session, row: Simulation) -> str:
    release = session.get(Release, row.release_id)
    return release.label if release is not None else ""


def list_simulations(session: Session, *, actor: User) -> list[dict[str, Any]]:
    """Every simulation, newest first: label, title, release, totals."""
    require_reader(actor)
    rows = session.execute(select(Simulation).order_by(Simulation.id.desc())).scalars().all()
    return [
        {
            "kind": "simulation",
            "label": r.label,
            "title": r.title,
            "release": _release_label(session, r),
            "programs": sorted(r.summary.get("programs", {})),
            "beneficiaries": r.beneficiaries,
            "total_year_idr": r.total_year_idr,
            "baseline_year_idr": r.baseline_year_idr,
            "difference_year_idr": r.total_year_idr - r.baseline_year_idr,
            "created_at": r.created_at.isoformat(),
            "created_by": r.created_by,
        }
        for r in rows
    ]


def show_simulation(session: Session, *, actor: User, label: str) -> dict[str, Any]:
    """One simulation whole (its aggregates; the sample's KK numbers masked for a reader
    who does not see identities)."""
    require_reader(actor)
    row = _get(session, label)
    return with_names(session, actor, masked(actor, describe(row, _release_label(session, row))))


def with_names(session: Session, actor: User, found: dict[str, Any]) -> dict[str, Any]:
    """The simulation with `region_names`: code → name of every province and regency."""
    codes = {
        str(g["key"])
        for p in found["programs"].values()
        for level in ("province", "regency")
        for g in p["by"][level]
        if g["key"] is not None
    }
    return {**found, "region_names": region_names(session, actor, codes=codes)}


def compare_simulations(
    session: Session, *, actor: User, labels: Sequence[str]
) -> list[dict[str, Any]]:
    """Several simulations side by side (each as `show_simulation` gives it)."""
    require_reader(actor)
    if not labels:
        raise ValidationFailed("Sebutkan minimal satu simulasi untuk dibandingkan.")
    return [show_simulation(session, actor=actor, label=label) for label in labels]


def delete_simulation(session: Session, *, actor: User, label: str, data_dir: Path) -> None:
    """Remove the simulation's row and its folder (nothing else refers to either)."""
    authorize(actor, Action.SIMULATE)
    require_national(actor, "menghapus simulasi")
    owned(session, data_dir)
    locks.hold(session, "simulation", label, data_dir)
    row = _get(session, label)
    folder = data_dir / FOLDER / label
    session.delete(row)
    audit.record(
        session,
        actor=actor.username,
        action="simulation.delete",
        entity="simulation",
        entity_id=label,
        diff={"title": row.title, "folder": row.summary.get("folder", "")},
    )
    session.flush()
    # The files last: a failed delete of the row leaves them (and the row) as they were.
    shutil.rmtree(folder, ignore_errors=True)


def simulation_folder(session: Session, row: Simulation, data_dir: Path) -> Path:
    """The simulation's run folder, after every file matched its recorded hash."""
    folder = data_dir / str(row.summary.get("folder", ""))
    files: dict[str, str] = row.summary.get("files", {})
    bad = [n for n, d in files.items() if not (folder / n).exists() or sha256_file(folder / n) != d]
    if not files or bad:
        raise Conflict(
            f"Berkas simulasi {row.label} di {folder} hilang atau berubah"
            + (f": {', '.join(bad)}" if bad else "")
            + "; hapus simulasi ini dan jalankan lagi."
        )
    return folder


def get_simulation(session: Session, *, actor: User, label: str) -> Simulation:
    require_reader(actor)
    return _get(session, label)
