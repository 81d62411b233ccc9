"""Running, replacing and approving cycles: the program's entitlements for one release.

A run computes every entitlement in the engine, writes them once to Parquet beside the other
outputs, and loads them into the database in bulk in the caller's transaction. A draft cycle
may be rerun (replaced whole); an approved one never. Approval moves enrollment on: who
entered, stayed, graduated (still in the registry, no longer eligible) or exited (gone).
"""

from __future__ import annotations

import contextlib
import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lumbung import bulk, locks, partitions
from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.cycles import compute
from lumbung.cycles.enrollment import enrolled_households, move_enrollment
from lumbung.cycles.files import (
    ENTITLEMENTS,
    cycle_folder,
    new_run_folder,
    save_enrollment,
)
from lumbung.cycles.models import Cycle, component_labels
from lumbung.cycles.programs import resolve as resolve_program
from lumbung.cycles.store import load_entitlements
from lumbung.db import utcnow
from lumbung.engine.backend import Engine, open_engine
from lumbung.engine.names import EngineName
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.installation.datafolder import owned
from lumbung.programs.catalog import LoadedProgram, record_run
from lumbung.releases.hashing import sha256_file
from lumbung.releases.lookup import get_release, release_label_by_id
from lumbung.releases.models import Release
from lumbung.releases.service import checked_release_dir
from lumbung.targeting.features import household_features, member_features, read_release
from lumbung.targeting.models import PmtModelRecord, Scoring
from lumbung.targeting.service import checked_scores_file, latest_scoring
from lumbung.targeting.vocabulary import RANKING_FEATURES

LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


@dataclass(frozen=True, slots=True)
class CycleResult:
    program: str
    cycle: str
    release: str
    state: str
    beneficiaries: int
    total_idr: int
    by_component: dict[str, dict[str, int]]
    enrollment: dict[str, int]
    engine: str
    file: str
    version: str = ""  # the program's version, and its definition's content hash
    definition_sha256: str = ""
    model: str = ""  # the PMT model NAME@VERSION, and its hash
    model_sha256: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # component → the YAML's `label`

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "version": self.version,
            "definition_sha256": self.definition_sha256,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "cycle": self.cycle,
            "release": self.release,
            "state": self.state,
            "beneficiaries": self.beneficiaries,
            "total_idr": self.total_idr,
            "by_component": self.by_component,
            "enrollment": self.enrollment,
            "engine": self.engine,
            "file": self.file,
        }


def compute_entitlements(
    batch: Engine,
    *,
    definition: Any,
    release_dir: Path,
    scores_file: Path,
    reference: date,
    enrolled: dict[str, pa.Table],
    household_filter: str | None = None,
) -> Any:
    """The cycle's entitlements as an engine table (not yet executed)."""
    tables = read_release(batch, release_dir)
    if household_filter is not None:
        tables = type(tables)(
            tables.households.filter(tables.households.kk_number == household_filter),
            tables.members.filter(tables.members.kk_number == household_filter),
        )
    ranked = batch.read_parquet([scores_file])
    if household_filter is not None:
        ranked = ranked.filter(ranked.kk_number == household_filter)
    # The family's KK and regency come with its score (one small file), not the household file.
    ranking = ranked.select(
        "household_id",
        "kk_number",
        "regency_code",
        "score",
        "decile",
        province_code=ranked.regency_code.substr(0, 2),
    )
    used = compute.features_used(definition)
    if used <= RANKING_FEATURES.keys():
        # A rule on the score and desil alone (Sembako, PBI-JKN): the scored households are
        # the release's, and no member needs counting to decide who is eligible.
        households = ranking
    else:
        # The rule's features, and the KK, region, score and desil from the scores file.
        features = household_features(tables, reference, only=used)
        carried = [c for c in ranking.columns if c != "household_id" and c in features.columns]
        households = features.drop(*carried).inner_join(ranking, "household_id")
    # The members are read a second time rather than shared: a shared subquery is
    # materialised by DuckDB (3.5 M rows per million families), a second scan is cheaper.
    again = read_release(batch, release_dir).members
    if household_filter is not None:
        again = again.filter(again.kk_number == household_filter)
    members = member_features(again, reference)
    enrolled_tables = {code: batch.table(rows, "enrolled") for code, rows in enrolled.items()}
    quota = None
    if definition.quota is not None:
        quota = batch.table(
            pa.Table.from_pylist(
                compute.quota_rows(definition.quota),
                schema=pa.schema([("region_code", pa.string()), ("quota", pa.int64())]),
            ),
            "quota",
        )
    return compute.entitlements(
        definition,
        households,
        members,
        enrolled_tables,
        quota,
        ranking=ranking,
        reference=reference,
    )


def run_cycle(
    session: Session,
    *,
    actor: User,
    program: str,
    release_label: str,
    label: str,
    data_dir: Path,
    engine: EngineName = EngineName.DUCKDB,
    as_of: date | None = None,
    model: str | None = None,
    replace: bool = False,
) -> CycleResult:
    """Compute and store the entitlements of cycle `label`. A draft of that label is replaced
    whole only when `replace` says so; without it the run is refused in words."""
    authorize(actor, Action.RUN_CYCLE)
    require_national(actor, "menghitung siklus")
    if not re.fullmatch(LABEL_PATTERN, label):
        raise ValidationFailed(
            "Label siklus hanya huruf, angka, titik, garis bawah dan strip (maks. 64)."
        )
    owned(session, data_dir)  # the data folder is this registry's, or nothing is written
    # One run of a label at a time, before any file is touched: a second run meanwhile would
    # remove this one's folder as a leftover, or insert the same label (locks.py).
    locks.hold(session, "cycle", label, data_dir)
    existing = session.execute(
        select(Cycle).where(Cycle.label == label).with_for_update()
    ).scalar_one_or_none()
    refuse_existing(existing, label, replace=replace)
    # The definition, checked to be what its code and version have always meant.
    loaded = resolve_program(session, program, replacing=existing)
    definition = loaded.definition
    if existing is not None and existing.program_code != definition.code:
        raise Conflict(f"Siklus {label} milik program {existing.program_code}.")
    release = get_release(session, release_label)
    scoring = latest_scoring(session, release, model)
    release_dir = checked_release_dir(session, release, data_dir / "releases")
    scores_file = checked_scores_file(scoring, data_dir)
    reference = as_of or release.created_at.date()
    rule = compute.eligibility(definition)
    enrolled = enrolled_households(session, rule.programs)
    # The engine first: a Spark that cannot start says why before any folder is made.
    with open_engine(engine) as batch:
        run = new_run_folder(data_dir, label, keep=existing)
        try:
            save_enrollment(enrolled, run.staging)
            rows = compute_entitlements(
                batch,
                definition=definition,
                release_dir=release_dir,
                scores_file=scores_file,
                reference=reference,
                enrolled=enrolled,
            )
            # In the engine's order: a national file of 95 M rows is not sorted for nothing
            # (rows are identified by beneficiary; readers order what they show).
            batch.write_parquet(rows, run.staging / ENTITLEMENTS)
            run.staging.rename(run.folder)
        except BaseException:
            shutil.rmtree(run.staging, ignore_errors=True)
            with contextlib.suppress(OSError):  # the label's folder, if nothing else is in it
                run.staging.parent.rmdir()
            raise
    try:
        return _store(
            session,
            actor=actor,
            label=label,
            loaded=loaded,
            existing=existing,
            release=release,
            scoring=scoring,
            reference=reference,
            engine=engine,
            folder=run.folder,
            data_dir=data_dir,
        )
    except BaseException:
        # This run's own folder, and only it: the draft it would have replaced keeps its own.
        shutil.rmtree(run.folder, ignore_errors=True)
        raise


def refuse_existing(existing: Cycle | None, label: str, *, replace: bool) -> None:
    """Raise Conflict when cycle `label` exists and may not be replaced now: approved (never
    replaced), or a draft that the asker did not say to replace (a label typed again by
    mistake would otherwise overwrite another run's draft without a word)."""
    if existing is None:
        return
    if existing.state != "draft":
        raise Conflict(f"Siklus {label} sudah disetujui; tidak bisa dihitung ulang.")
    if not replace:
        raise Conflict(
            f"Label {label} sudah dipakai oleh draf siklus program {existing.program_code} "
            f"(dihitung {existing.created_at:%Y-%m-%d %H:%M} oleh {existing.created_by}). "
            "Pakai label lain, atau hitung lagi dengan pilihan ganti draf (replace) bila memang "
            "draf itu yang hendak diganti.",
            cause="cycle_exists",
            command=f"lumbung cycle run --label {label} --replace …",
        )


def check_label(session: Session, actor: User, *, label: str, replace: bool) -> None:
    """Refuse now (before a job is queued) a run whose label is taken: see refuse_existing."""
    authorize(actor, Action.RUN_CYCLE)
    existing = session.execute(select(Cycle).where(Cycle.label == label)).scalar_one_or_none()
    refuse_existing(existing, label, replace=replace)


def _store(
    session: Session,
    *,
    actor: User,
    label: str,
    loaded: LoadedProgram,
    existing: Cycle | None,
    release: Release,
    scoring: Scoring,
    reference: date,
    engine: EngineName,
    folder: Path,
    data_dir: Path,
) -> CycleResult:
    """The run's files into the database, in the caller's transaction."""
    definition = loaded.definition
    model = session.get(PmtModelRecord, scoring.model_id)
    assert model is not None
    # Nothing in the database changed until here; from here on, one transaction. One cycle
    # run writes at a time, and it waits here, before it inserts its cycle (partitions.py).
    bulk.lock_for_writing(session, ("entitlement",))
    if existing is not None:
        partitions.empty(session, "entitlement", existing.id)
        session.delete(existing)
        session.flush()
    record_run(session, loaded)
    target = folder / ENTITLEMENTS
    parts = compute.components(definition)
    cycle = Cycle(
        label=label,
        program_code=definition.code,
        definition=loaded.content,
        definition_sha256=loaded.sha256,
        release_id=release.id,
        scoring_id=scoring.id,
        reference_date=reference,
        engine=engine.value,
        state="draft",
        beneficiaries=0,
        total_idr=0,
        summary={},
        created_at=utcnow(),
        created_by=actor.username,
    )
    session.add(cycle)
    session.flush()
    summary = load_entitlements(session, cycle, target, parts, definition.channel, data_dir)
    cycle.beneficiaries = summary["beneficiaries"]
    cycle.total_idr = summary["total_idr"]
    cycle.summary = {
        **summary,
        "folder": str(folder.relative_to(data_dir)),
        "files": {p.name: sha256_file(p) for p in sorted(folder.iterdir())},
        "sha256": sha256_file(target),
        # What decided, by content: the definition's hash is the row's definition_sha256.
        "program_version": definition.version,
        "model": model.name + "@" + model.version,
        "model_sha256": model.sha256,
    }
    audit.record(
        session,
        actor=actor.username,
        action="cycle.run",
        entity="cycle",
        entity_id=label,
        diff={
            "program": definition.code,
            "release": release.label,
            "beneficiaries": cycle.beneficiaries,
            "total_idr": cycle.total_idr,
            "sha256": cycle.summary["sha256"],
            "program_version": definition.version,
            "definition_sha256": loaded.sha256,
            "model": cycle.summary["model"],
            "model_sha256": model.sha256,
            "replaced_draft": existing is not None,
        },
    )
    partitions.attach(session, "entitlement", cycle.id)
    if existing is not None:
        partitions.drop(session, "entitlement", existing.id)
    return _result(cycle, release.label)


def _result(cycle: Cycle, release_label: str) -> CycleResult:
    summary = cycle.summary
    return CycleResult(
        program=cycle.program_code,
        cycle=cycle.label,
        release=release_label,
        state=cycle.state,
        beneficiaries=cycle.beneficiaries,
        total_idr=cycle.total_idr,
        by_component=summary.get("by_component", {}),
        enrollment=summary.get("enrollment", {}),
        engine=cycle.engine,
        # The cycle's entitlements file, relative to the data folder (which may move).
        file=f"{summary['folder']}/{ENTITLEMENTS}" if "folder" in summary else "",
        version=str(cycle.definition.get("version", "")),
        definition_sha256=cycle.definition_sha256,
        model=str(summary.get("model", "")),
        model_sha256=str(summary.get("model_sha256", "")),
        labels=component_labels(cycle.definition),
    )


def approve_cycle(session: Session, *, actor: User, label: str, data_dir: Path) -> CycleResult:
    """Approve a draft cycle (penetapan): its entitlements are final; enrollment moves on.

    Only a draft whose files are whole (every hash as recorded) is approved: later cycles of
    the program and `explain` read them."""
    authorize(actor, Action.APPROVE_CYCLE)
    require_national(actor, "menyetujui siklus")
    cycle = session.execute(select(Cycle).where(Cycle.label == label)).scalar_one_or_none()
    if cycle is None:
        raise NotFound(f"Siklus {label} tidak ada.")
    if cycle.state != "draft":
        raise Conflict(f"Siklus {label} sudah disetujui.")
    later = session.execute(
        select(Cycle.label).where(
            Cycle.program_code == cycle.program_code,
            Cycle.state == "approved",
            Cycle.approved_at > cycle.created_at,
        )
    ).first()
    if later is not None:
        raise Conflict(
            f"Siklus {later[0]} program {cycle.program_code} disetujui setelah {label} dihitung; "
            f"hitung ulang {label} dulu (kepesertaan dan perbandingannya sudah berubah)."
        )
    if cycle.created_by == actor.username:
        raise PermissionDenied(
            f"Siklus {label} dihitung oleh {actor.username}; persetujuan oleh penetap lain "
            "(empat mata). Bila belum ada penetap nasional lain, admin membuat akunnya.",
            command="lumbung users add NAMA --role determiner --as admin",
        )
    owned(session, data_dir)
    locks.hold(session, "cycle", label, data_dir)  # not while a rerun replaces it
    cycle_folder(cycle, data_dir)  # its files whole, each as hashed when it ran
    from lumbung.audit.integrity import entitlement_problems

    changed = entitlement_problems(session, label)  # and its rows as counted when it ran
    if changed:
        raise Conflict("; ".join(changed) + ". Hitung ulang siklus ini sebelum disetujui.")
    # Only the draft as read here may be approved: not one a rerun replaced meanwhile, and
    # not twice by two approvers at once.
    approved = session.execute(
        update(Cycle)
        .where(Cycle.id == cycle.id, Cycle.state == "draft")
        .values(state="approved", approved_at=utcnow(), approved_by=actor.username)
        .execution_options(synchronize_session=False)
    )
    if approved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"Siklus {label} berubah sementara itu; periksa lagi lalu setujui.")
    session.refresh(cycle)
    move_enrollment(session, cycle)
    audit.record(
        session,
        actor=actor.username,
        action="cycle.approve",
        entity="cycle",
        entity_id=label,
        diff={"beneficiaries": cycle.beneficiaries, "total_idr": cycle.total_idr},
    )
    return _result(cycle, release_label_by_id(session, cycle.release_id))
