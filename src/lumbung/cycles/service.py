"""Running, replacing and approving cycles: the program's entitlements for one release.

A run computes every entitlement in the engine, writes them once to Parquet beside the other
outputs, and loads them into the database in bulk in the caller's transaction. A draft cycle
may be rerun (replaced whole); an approved one never. Approval moves enrollment on: who
entered, stayed, graduated (still in the registry, no longer eligible) or exited (gone).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.cycles import compute
from lumbung.cycles.models import Cycle, Enrollment, Entitlement, Program
from lumbung.cycles.programs import load_definition
from lumbung.db import utcnow
from lumbung.engine.backend import Engine, EngineName, open_engine
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.releases.service import sha256_file
from lumbung.targeting.features import household_features, member_features, read_release
from lumbung.targeting.models import Scoring
from lumbung.targeting.service import (
    checked_release_dir,
    checked_scores_file,
    get_release,
    latest_scoring,
)

LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
ENTITLEMENT_COLUMNS = (
    "id",
    "cycle_id",
    "beneficiary_id",
    "household_id",
    "member_id",
    "kk_number",
    "nik",
    "regency_code",
    "amount_idr",
    "breakdown",
    "channel",
    "state",
)


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
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
    features = household_features(tables, reference, only=compute.features_used(definition))
    # The family's KK and regency come with its score (one small file), not the household file.
    scores = batch.read_parquet([scores_file])
    carried = [c for c in ("kk_number", "regency_code") if c not in features.columns]
    scores = scores.select(
        scored_household=scores.household_id,
        score=scores.score,
        decile=scores.decile,
        **{c: scores[c] for c in carried},
    )
    households = features.inner_join(scores, features.household_id == scores.scored_household)
    households = households.drop("scored_household")
    if "province_code" not in households.columns:
        households = households.mutate(province_code=households.regency_code.substr(0, 2))
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
    ranked = batch.read_parquet([scores_file])
    if household_filter is not None:
        ranked = ranked.filter(ranked.kk_number == household_filter)
    ranking = ranked.select(
        "household_id",
        "kk_number",
        "regency_code",
        "score",
        "decile",
        province_code=ranked.regency_code.substr(0, 2),
    )
    return compute.entitlements(
        definition, households, members, enrolled_tables, quota, ranking=ranking
    )


ENROLLED_FILE = "enrolled-{code}.parquet"
ENROLLED_CHUNK = 500_000
ENTITLEMENTS = "entitlements.parquet"


@dataclass(frozen=True, slots=True)
class RunFolder:
    staging: Path
    folder: Path


def _new_run_folder(data_dir: Path, label: str, *, keep: Cycle | None) -> RunFolder:
    """A fresh folder for this run's files, `cycles/LABEL/run-…`.

    Each run writes its own folder and the database row names it, so a run that fails leaves
    the draft it would have replaced intact. Folders of this label that no committed row
    names (failed runs, replaced drafts) are removed here: reruns converge.
    """
    parent = data_dir / "cycles" / label
    parent.mkdir(parents=True, exist_ok=True)
    named = (
        (data_dir / keep.summary["folder"]).name if keep and keep.summary.get("folder") else None
    )
    for leftover in parent.iterdir():
        if leftover.name != named:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
    name = f"run-{uuid.uuid4().hex[:12]}"
    staging = parent / f".staging-{name}"
    staging.mkdir()
    return RunFolder(staging, parent / name)


def cycle_folder(cycle: Cycle, data_dir: Path) -> Path:
    """The folder of a cycle's files, after each file's hash matched the cycle's record."""
    folder = data_dir / str(cycle.summary.get("folder", ""))
    files: dict[str, str] = cycle.summary.get("files", {})
    problems = [
        name
        for name, digest in files.items()
        if not (folder / name).exists() or sha256_file(folder / name) != digest
    ]
    if not files or problems:
        raise Conflict(
            f"Berkas siklus {cycle.label} di {folder} hilang atau berubah"
            + (f": {', '.join(problems)}" if problems else "")
            + "; hitung ulang siklus (draf) atau pulihkan folder data."
        )
    return folder


def save_enrollment(enrolled: dict[str, pa.Table], folder: Path) -> None:
    """Keep the enrollment a cycle was computed with, so it can be explained later."""
    import pyarrow.parquet as pq

    for code, rows in enrolled.items():
        pq.write_table(rows, folder / ENROLLED_FILE.format(code=code))


def saved_enrollment(folder: Path, codes: frozenset[str]) -> dict[str, pa.Table]:
    """The enrollment saved with a cycle (empty for a program the cycle never asked about)."""
    import pyarrow.parquet as pq

    found = {}
    for code in sorted(codes):
        path = folder / ENROLLED_FILE.format(code=code)
        if not path.exists():
            raise Conflict(f"{path} tidak ada: kepesertaan saat siklus dihitung tidak diketahui.")
        found[code] = pq.read_table(path)
    return found


def enrolled_households(session: Session, codes: frozenset[str]) -> dict[str, pa.Table]:
    """For each program code, the households enrolled in it now (from approved cycles)."""
    found: dict[str, pa.Table] = {}
    for code in sorted(codes):
        result = session.execute(
            select(Enrollment.household_id)
            .where(Enrollment.program_code == code, Enrollment.state == "enrolled")
            .distinct()
            .execution_options(yield_per=ENROLLED_CHUNK)
        ).scalars()
        # Millions of ids (all PKH families): gathered in chunks of 8-byte integers, never as
        # one list of Python objects.
        chunks = [pa.array(part, pa.int64()) for part in result.partitions(ENROLLED_CHUNK)]
        found[code] = pa.table(
            {"household_id": pa.chunked_array(chunks, pa.int64())}
        ).combine_chunks()
    return found


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
) -> CycleResult:
    """Compute and store the entitlements of cycle `label` (a draft is replaced whole)."""
    authorize(actor, Action.RUN_CYCLE)
    _national(actor, "menghitung siklus")
    import re

    if not re.fullmatch(LABEL_PATTERN, label):
        raise ValidationFailed(
            "Label siklus hanya huruf, angka, titik, garis bawah dan strip (maks. 64)."
        )
    loaded = load_definition(program, frozenset(session.execute(select(Program.code)).scalars()))
    definition = loaded.definition
    existing = session.execute(
        select(Cycle).where(Cycle.label == label).with_for_update()
    ).scalar_one_or_none()
    if existing is not None:
        if existing.state != "draft":
            raise Conflict(f"Siklus {label} sudah disetujui; tidak bisa dihitung ulang.")
        if existing.program_code != definition.code:
            raise Conflict(f"Siklus {label} milik program {existing.program_code}.")
    release = get_release(session, release_label)
    scoring = latest_scoring(session, release, model)
    release_dir = checked_release_dir(session, release, data_dir / "releases")
    scores_file = checked_scores_file(scoring, data_dir)
    reference = as_of or release.created_at.date()
    rule = compute.eligibility(definition)
    enrolled = enrolled_households(session, rule.programs)
    run = _new_run_folder(data_dir, label, keep=existing)
    try:
        save_enrollment(enrolled, run.staging)
        with open_engine(engine) as batch:
            rows = compute_entitlements(
                batch,
                definition=definition,
                release_dir=release_dir,
                scores_file=scores_file,
                reference=reference,
                enrolled=enrolled,
            )
            batch.write_parquet(rows.order_by("beneficiary_id"), run.staging / ENTITLEMENTS)
        run.staging.rename(run.folder)
    except BaseException:
        shutil.rmtree(run.staging, ignore_errors=True)
        raise
    # Nothing in the database changed until here; from here on, one transaction.
    if existing is not None:
        session.execute(delete(Entitlement).where(Entitlement.cycle_id == existing.id))
        session.delete(existing)
        session.flush()
    _register_program(session, loaded)
    target = run.folder / ENTITLEMENTS
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
    summary = _load(session, cycle, target, parts, definition.channel, data_dir)
    cycle.beneficiaries = summary["beneficiaries"]
    cycle.total_idr = summary["total_idr"]
    cycle.summary = {
        **summary,
        "folder": str(run.folder.relative_to(data_dir)),
        "files": {p.name: sha256_file(p) for p in sorted(run.folder.iterdir())},
        "sha256": sha256_file(target),
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
            "replaced_draft": existing is not None,
        },
    )
    return _result(cycle, release.label)


def _national(actor: User, what: str) -> None:
    """Cycles decide for the whole nation: only a user without a regional scope."""
    if actor.region_code is not None:
        raise PermissionDenied(
            f"{actor.username} berwenang untuk wilayah {actor.region_code}; {what} "
            "hanya oleh pengguna nasional."
        )


def _register_program(session: Session, loaded: Any) -> None:
    definition = loaded.definition
    row = session.execute(
        select(Program).where(Program.code == definition.code)
    ).scalar_one_or_none()
    if row is None:
        row = Program(code=definition.code)
        session.add(row)
    row.name = definition.name
    row.unit = definition.unit
    row.version = definition.version
    row.definition = loaded.content
    row.sha256 = loaded.sha256
    row.updated_at = utcnow()
    session.flush()


def _load(
    session: Session,
    cycle: Cycle,
    parquet: Path,
    parts: list[compute.Component],
    channel: str,
    data_dir: Path,
) -> dict[str, Any]:
    """Bulk-insert the entitlements file; the cycle's totals and enrollment movement."""
    scratch = data_dir / "tmp" / f"cycle-{cycle.id}-{os.getpid()}"
    scratch.mkdir(parents=True, exist_ok=True)
    con = bulk.duck_connect(scratch, memory_limit="2GB")
    try:
        source = f"read_parquet({bulk.sql_path(parquet)})"
        count = bulk.duck_count(con, f"SELECT count(*) FROM {source}")
        bulk.lock_for_writing(session, ("entitlement",))  # our id range is ours alone
        first_id = bulk.reserve_ids(session, "entitlement", count) if count else 0
        breakdown = (
            "to_json(map_from_entries(list_filter(["
            + ", ".join(_entries(parts))
            + "], lambda e: e.v.persons > 0)))"
        )
        query = (
            f"SELECT {first_id} + row_number() OVER (ORDER BY beneficiary_id) - 1 AS id, "
            f"{int(cycle.id)} AS cycle_id, beneficiary_id, household_id, member_id, kk_number, "
            f"nik, regency_code, amount_idr, {breakdown} AS breakdown, "
            f"'{_safe(channel)}' AS channel, 'entitled' AS state FROM {source}"
        )
        loaded = bulk.insert_from_duckdb(
            session, con, query, "entitlement", ENTITLEMENT_COLUMNS, scratch
        )
        totals = con.execute(
            "SELECT count(*), COALESCE(sum(amount_idr), 0)::BIGINT, "
            + ", ".join(
                f"COALESCE(sum({a}), 0)::BIGINT, COALESCE(sum({p}), 0)::BIGINT"
                for p, a in (compute.component_columns(part.name) for part in parts)
            )
            + f" FROM {source}"
        ).fetchall()[0]
        by_component = {
            part.name: {"persons": int(totals[3 + 2 * i]), "amount_idr": int(totals[2 + 2 * i])}
            for i, part in enumerate(parts)
        }
        movement = _movement(session, con, cycle, source, data_dir)
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    if loaded != count:
        raise ValidationFailed(f"{loaded:,} hak tersimpan dari {count:,}: dibatalkan.")
    return {
        "beneficiaries": int(totals[0]),
        "total_idr": int(totals[1]),
        "by_component": by_component,
        "enrollment": movement,
    }


def _entries(parts: list[compute.Component]) -> list[str]:
    entries = []
    for part in parts:
        persons, amount = compute.component_columns(part.name)
        entries.append(
            f"{{'k': '{_safe(part.name)}', 'v': {{'persons': {persons}, 'amount_idr': {amount}}}}}"
        )
    return entries


def _safe(word: str) -> str:
    """A program's own identifier (already validated as [a-z0-9_-]) for a SQL literal."""
    if not word or not all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in word):
        raise ValidationFailed(f"Nama tidak sah: {word!r}")
    return word


def _movement(
    session: Session, con: Any, cycle: Cycle, source: str, data_dir: Path
) -> dict[str, int]:
    """Compared with the program's last approved cycle: entered, stayed and left."""
    previous = session.execute(
        select(Cycle)
        .where(Cycle.program_code == cycle.program_code, Cycle.state == "approved")
        .order_by(Cycle.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if previous is None:
        now = bulk.duck_count(con, f"SELECT count(*) FROM {source}")
        return {"entered": now, "stayed": 0, "left": 0}
    # The previous cycle's own file, not its rows pulled through Python (90 M for PBI-JKN).
    before = cycle_folder(previous, data_dir) / ENTITLEMENTS
    con.execute(
        "CREATE TEMPORARY VIEW previous AS SELECT beneficiary_id FROM "
        f"read_parquet({bulk.sql_path(before)})"
    )
    entered, stayed, left = con.execute(
        f"""SELECT count(*) FILTER (WHERE p.beneficiary_id IS NULL),
                   count(*) FILTER (WHERE p.beneficiary_id IS NOT NULL
                                    AND n.beneficiary_id IS NOT NULL),
                   count(*) FILTER (WHERE n.beneficiary_id IS NULL)
            FROM (SELECT beneficiary_id FROM {source}) n
            FULL JOIN previous p USING (beneficiary_id)"""
    ).fetchall()[0]
    return {"entered": int(entered), "stayed": int(stayed), "left": int(left)}


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
        file=summary.get("file", ""),
    )


def approve_cycle(session: Session, *, actor: User, label: str) -> CycleResult:
    """Approve a draft cycle (penetapan): its entitlements are final; enrollment moves on."""
    authorize(actor, Action.APPROVE_CYCLE)
    _national(actor, "menyetujui siklus")
    cycle = session.execute(select(Cycle).where(Cycle.label == label)).scalar_one_or_none()
    if cycle is None:
        raise NotFound(f"Siklus {label} tidak ada.")
    if cycle.state != "draft":
        raise Conflict(f"Siklus {label} sudah disetujui.")
    if cycle.created_by == actor.username:
        raise PermissionDenied(
            f"Siklus {label} dihitung oleh {actor.username}; persetujuan oleh orang lain "
            "(empat mata)."
        )
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
    _move_enrollment(session, cycle)
    audit.record(
        session,
        actor=actor.username,
        action="cycle.approve",
        entity="cycle",
        entity_id=label,
        diff={"beneficiaries": cycle.beneficiaries, "total_idr": cycle.total_idr},
    )
    return _result(cycle, _release_label(session, cycle))


def _release_label(session: Session, cycle: Cycle) -> str:
    from lumbung.releases.models import Release

    return session.execute(select(Release.label).where(Release.id == cycle.release_id)).scalar_one()


def _move_enrollment(session: Session, cycle: Cycle) -> None:
    """Set-based: stayers and returners, newcomers, then those who left (graduated/exited)."""
    params = {"cycle": cycle.id, "program": cycle.program_code, "scoring": cycle.scoring_id}
    # Typed parameters: PostgreSQL cannot infer one type for a parameter used in several places.
    this, program = "CAST(:cycle AS BIGINT)", "CAST(:program AS VARCHAR)"
    in_cycle = (
        f"SELECT 1 FROM entitlement e WHERE e.cycle_id = {this} "
        "AND e.beneficiary_id = enrollment.beneficiary_id"
    )
    session.execute(
        text(
            f"UPDATE enrollment SET last_cycle_id = {this}, reason = NULL, "
            f"since_cycle_id = CASE WHEN state = 'enrolled' THEN since_cycle_id ELSE {this} END, "
            f"state = 'enrolled' WHERE program_code = {program} AND EXISTS ({in_cycle})"
        ),
        params,
    )
    bulk.lock_for_writing(session, ("enrollment",))
    newcomers = session.execute(
        text(
            f"SELECT count(*) FROM entitlement e WHERE e.cycle_id = {this} AND NOT EXISTS ("
            f"SELECT 1 FROM enrollment n WHERE n.program_code = {program} "
            "AND n.beneficiary_id = e.beneficiary_id)"
        ),
        params,
    ).scalar_one()
    first_id = bulk.reserve_ids(session, "enrollment", int(newcomers))
    session.execute(
        text(
            "INSERT INTO enrollment (id, program_code, beneficiary_id, household_id, state, "
            "since_cycle_id, last_cycle_id) "
            "SELECT CAST(:first AS BIGINT) + row_number() OVER (ORDER BY e.id) - 1, "
            f"{program}, e.beneficiary_id, "
            f"e.household_id, 'enrolled', {this}, {this} "
            f"FROM entitlement e WHERE e.cycle_id = {this} AND NOT EXISTS ("
            f"SELECT 1 FROM enrollment n WHERE n.program_code = {program} "
            "AND n.beneficiary_id = e.beneficiary_id)"
        ),
        {**params, "first": first_id},
    )
    in_release = (
        "SELECT 1 FROM pmt_score s WHERE s.scoring_id = CAST(:scoring AS BIGINT) "
        "AND s.household_id = enrollment.household_id"
    )
    if cycle.definition.get("unit") == "person":
        # A person leaves when the family is gone, or when the person is (died, moved):
        # still an active member of a family in the release means no longer eligible.
        in_release += (
            " AND EXISTS (SELECT 1 FROM member m WHERE m.id = enrollment.beneficiary_id "
            "AND m.status = 'active')"
        )
    session.execute(
        text(
            "UPDATE enrollment SET "
            f"state = CASE WHEN EXISTS ({in_release}) THEN 'graduated' ELSE 'exited' END, "
            f"reason = CASE WHEN EXISTS ({in_release}) THEN 'tidak lagi memenuhi syarat' "
            "ELSE 'tidak ada lagi di rilis atau registry' END "
            f"WHERE program_code = {program} AND state = 'enrolled' "
            f"AND NOT EXISTS ({in_cycle})"
        ),
        params,
    )
    session.execute(update(Cycle).where(Cycle.id == cycle.id).values(state="approved"))


def definition_digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


__all__ = ["CycleResult", "Scoring", "approve_cycle", "run_cycle"]
