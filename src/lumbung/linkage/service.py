"""Linkage runs: the matching engine run on a release, and the pairs it finds sent to review.

`run_link` checks the asker (a national determiner: a run reads the whole release), gives the
engine the release's folder and a folder of the run's own (`pairs.py` says what the engine
writes there), then records the run and every pair at or above the review weight whose two
records are registry members, in the smallest region holding both (`review.pair_region`).
A pair already decided in an earlier run (`LinkDecision`) is not asked again: it is counted
as known. The engine itself is `call_matching_engine`; a test or a benchmark gives its own
`matcher` that writes the same files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.db import release_writer, utcnow
from lumbung.errors import Conflict, NotFound, ValidationFailed
from lumbung.linkage import pairs as contract
from lumbung.linkage.models import LinkDecision, LinkPair, LinkRun
from lumbung.linkage.review import pair_region
from lumbung.paging import Page, check_window
from lumbung.registry.models import Household, Member
from lumbung.releases.hashing import sha256_file
from lumbung.releases.lookup import get_release
from lumbung.releases.models import Release
from lumbung.releases.service import checked_release_dir

# Pairs at or above this match weight go to review (log2 odds: 3.0 is a probability of 8/9
# with no prior; the engine's prior sits in the weight already).
DEFAULT_REVIEW_WEIGHT = 3.0
LINKAGE_DIR = "linkage"
CHUNK = 1000  # members looked up per statement

# (release folder, run folder): writes pairs.parquet, clusters.parquet and model.json.
Matcher = Callable[[Path, Path], None]


def call_matching_engine(release_dir: Path, run_dir: Path) -> None:
    """The matching engine's deduplication of a release's members, writing the run's files
    (`pairs.py`): the members' comparison table (`records.parquet`, in the run's folder), then
    `engine.dedupe` with the shipped settings, trained on the release itself. The one place the
    review side calls the engine."""
    from splink.internals.exceptions import EMTrainingException

    from lumbung.linkage.engine import dedupe
    from lumbung.linkage.records import release_base_sql, write_records

    records = run_dir / "records.parquet"
    count = write_records(release_base_sql(release_dir), contract.REGISTRY_SOURCE, records)
    try:
        dedupe(records, folder=run_dir)
    except EMTrainingException as exc:  # too few records for EM to learn from
        raise Conflict(
            f"Model pencocokan tidak bisa dilatih dari rilis ini ({count} anggota): terlalu "
            "sedikit pasangan untuk dipelajari (biasanya perlu ribuan anggota). Splink: "
            f"{str(exc).splitlines()[0]}",
            cause="linkage_training_failed",
        ) from None


@dataclass(frozen=True, slots=True)
class RunView:
    """A run as the lists and commands show it (counts, no people)."""

    id: int
    release: str
    kind: str
    state: str
    review_weight: float
    records: int
    clusters: int
    pairs_scored: int
    pairs_queued: int
    pairs_known: int
    settings_sha256: str | None
    model_sha256: str | None
    actor: str
    started_at: datetime
    finished_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "release": self.release,
            "kind": self.kind,
            "state": self.state,
            "review_weight": self.review_weight,
            "records": self.records,
            "clusters": self.clusters,
            "pairs_scored": self.pairs_scored,
            "pairs_queued": self.pairs_queued,
            "pairs_known": self.pairs_known,
            "settings_sha256": self.settings_sha256,
            "model_sha256": self.model_sha256,
            "actor": self.actor,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def _view(run: LinkRun, label: str) -> RunView:
    return RunView(
        run.id,
        label,
        run.kind,
        run.state,
        run.review_weight,
        run.records,
        run.clusters,
        run.pairs_scored,
        run.pairs_queued,
        run.pairs_known,
        run.settings_sha256,
        run.model_sha256,
        run.actor,
        run.started_at,
        run.finished_at,
    )


def check_run_request(actor: User, review_weight: float) -> None:
    """Whether `actor` may start a run, with this review weight (also when a job is asked)."""
    authorize(actor, Action.RELEASE)
    require_national(actor, "pencocokan data (record linkage) sebuah rilis")
    if not -50.0 <= review_weight <= 100.0:
        raise ValidationFailed(
            f"Bobot tinjauan {review_weight} di luar rentang -50 sampai 100 (log2 odds)."
        )


def run_link(
    session: Session,
    *,
    actor: User,
    release_label: str,
    data_dir: Path,
    releases_dir: Path,
    review_weight: float = DEFAULT_REVIEW_WEIGHT,
    matcher: Matcher = call_matching_engine,
) -> RunView:
    """Run the matching engine on a release and send the pairs to review; the run as recorded."""
    check_run_request(actor, review_weight)
    release = get_release(session, release_label)
    release_dir = checked_release_dir(session, release, releases_dir)
    started = utcnow()
    # The engine works for minutes on the release's files, which are fixed, into a folder of
    # its own, with nothing written in the database yet: on SQLite the writer lock is let go
    # meanwhile (others sign in, decide pairs, run jobs); the run is recorded once it is done.
    staging = data_dir / LINKAGE_DIR / f"staging-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        with release_writer(session):
            matcher(release_dir, staging)
        release = get_release(session, release_label)  # read again: still there
        run = LinkRun(
            release_id=release.id,
            kind="dedupe",
            review_weight=review_weight,
            folder="",
            actor=actor.username,
            started_at=started,
            state="running",
            records=0,
            clusters=0,
            pairs_scored=0,
            pairs_queued=0,
            pairs_known=0,
        )
        session.add(run)
        session.flush()
        relative = Path(LINKAGE_DIR) / f"run-{run.id}"
        run.folder = str(relative)
        run_dir = data_dir / relative
        # A folder of this number is a rolled-back run's (SQLite may give its id again).
        shutil.rmtree(run_dir, ignore_errors=True)
        staging.rename(run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _record_files(session, run, run_dir)
    run.state, run.finished_at = "finished", utcnow()
    audit.record(
        session,
        actor=actor.username,
        action="link.run",
        entity="link_run",
        entity_id=run.id,
        diff={
            "release": release.label,
            "kind": run.kind,
            "review_weight": review_weight,
            "records": run.records,
            "clusters": run.clusters,
            "pairs_scored": run.pairs_scored,
            "pairs_queued": run.pairs_queued,
            "pairs_known": run.pairs_known,
            "settings_sha256": run.settings_sha256,
            "model_sha256": run.model_sha256,
        },
    )
    return _view(run, release.label)


def run_files(run_dir: Path) -> tuple[Path, Path, Path]:
    """The run's three files, each there (else Conflict naming the one missing)."""
    found = tuple(
        run_dir / name
        for name in (contract.PAIRS_FILE, contract.CLUSTERS_FILE, contract.MODEL_FILE)
    )
    for path in found:
        if not path.is_file():
            raise Conflict(f"Berkas run linkage {path.name} tidak ada di {run_dir.name}.")
    return found[0], found[1], found[2]


def _without_trained(value: Any) -> Any:
    """The model's settings without what training found (m and u): what the run was asked."""
    if isinstance(value, dict):
        return {
            k: _without_trained(v)
            for k, v in value.items()
            if k not in ("m_probability", "u_probability", "probability_two_random_records_match")
        }
    if isinstance(value, list):
        return [_without_trained(v) for v in value]
    return value


def _record_files(session: Session, run: LinkRun, run_dir: Path) -> None:
    pairs_path, clusters_path, model_path = run_files(run_dir)
    run.model_sha256 = sha256_file(model_path)
    try:
        model = json.loads(model_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Conflict(f"{contract.MODEL_FILE} run {run.id} bukan JSON: {exc}") from None
    canonical = json.dumps(_without_trained(model), sort_keys=True, separators=(",", ":"))
    run.settings_sha256 = hashlib.sha256(canonical.encode()).hexdigest()
    clusters = pq.read_table(clusters_path, columns=list(contract.CLUSTER_COLUMNS))
    run.records = clusters.num_rows
    run.clusters = len(pc.unique(clusters["cluster_id"]))
    schema = pq.read_schema(pairs_path)
    missing = [c for c in (*contract.PAIR_KEYS, *contract.SCORE_COLUMNS) if c not in schema.names]
    if missing:
        raise Conflict(f"{contract.PAIRS_FILE} run {run.id} tanpa kolom {', '.join(missing)}.")
    names = contract.comparison_names(schema.names)
    run.pairs_scored = pq.read_metadata(pairs_path).num_rows
    kept = pq.read_table(
        pairs_path,
        filters=[
            ("match_weight", ">=", run.review_weight),
            ("source_l", "=", contract.REGISTRY_SOURCE),
            ("source_r", "=", contract.REGISTRY_SOURCE),
        ],
    )
    queued = known = 0
    seen: set[tuple[int, int]] = set()  # a pair the file holds twice is asked once
    for batch in kept.to_batches(CHUNK):
        rows = batch.to_pylist()
        ids = {int(r["record_id_l"]) for r in rows} | {int(r["record_id_r"]) for r in rows}
        villages = _villages(session, ids)
        decided = _decided(session, rows)
        new: list[dict[str, Any]] = []
        for row in rows:
            low, high = sorted((int(row["record_id_l"]), int(row["record_id_r"])))
            if low == high or low not in villages or high not in villages:
                continue  # a record not (or no longer) a member: nothing to decide
            if (low, high) in seen:
                continue
            seen.add((low, high))
            if (low, high) in decided:
                known += 1
                continue
            new.append(_pair_row(run.id, low, high, villages, row, names))
        if new:
            session.execute(insert(LinkPair), new)
            queued += len(new)
    run.pairs_queued, run.pairs_known = queued, known


def _pair_row(
    run_id: int,
    low: int,
    high: int,
    villages: dict[int, str],
    row: dict[str, Any],
    names: list[str],
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "member_id_l": low,
        "member_id_r": high,
        "village_code_l": villages[low],
        "village_code_r": villages[high],
        "region_code": pair_region(villages[low], villages[high]),
        "match_weight": float(row["match_weight"]),
        "match_probability": float(row["match_probability"]),
        "waterfall": {
            "prior": float(row["prior_weight"]),
            "comparisons": [
                {
                    "name": name,
                    "level": str(row.get(f"{contract.LEVEL_PREFIX}{name}")),
                    "weight": float(row.get(f"{contract.WEIGHT_PREFIX}{name}") or 0.0),
                }
                for name in names
            ],
        },
        "state": "pending",
    }


def _villages(session: Session, ids: set[int]) -> dict[int, str]:
    """member id → its family's village, for the members among `ids` that exist."""
    found = session.execute(
        select(Member.id, Household.village_code)
        .join(Household, Household.id == Member.household_id)
        .where(Member.id.in_(sorted(ids)))
    )
    return {int(member_id): str(village) for member_id, village in found}


def _decided(session: Session, rows: list[dict[str, Any]]) -> set[tuple[int, int]]:
    keys = sorted({tuple(sorted((int(r["record_id_l"]), int(r["record_id_r"])))) for r in rows})
    found: set[tuple[int, int]] = set()
    for at in range(0, len(keys), CHUNK):
        chunk = keys[at : at + CHUNK]
        found.update(
            (int(l_), int(r_))
            for l_, r_ in session.execute(
                select(LinkDecision.member_id_l, LinkDecision.member_id_r).where(
                    tuple_(LinkDecision.member_id_l, LinkDecision.member_id_r).in_(chunk)
                )
            )
        )
    return found


def _runs_query() -> Any:
    return select(LinkRun, Release.label).join(Release, Release.id == LinkRun.release_id)


def list_runs(session: Session, actor: User, *, limit: int = 50, offset: int = 0) -> Page[RunView]:
    """Every run, newest first (any reader: a run's counts name no one)."""
    authorize(actor, Action.READ)
    check_window(limit, offset)
    from lumbung.db import page_rows

    rows, total = page_rows(
        session, _runs_query().order_by(LinkRun.id.desc()), limit=limit, offset=offset
    )
    return Page([_view(run, label) for run, label in rows], total, limit, offset)


def get_run(session: Session, actor: User, *, run_id: int) -> RunView:
    authorize(actor, Action.READ)
    found = session.execute(_runs_query().where(LinkRun.id == run_id)).one_or_none()
    if found is None:
        raise NotFound(f"Run linkage {run_id} tidak ada.")
    return _view(found[0], found[1])


def run_folder(session: Session, run_id: int, data_dir: Path) -> Path:
    run = session.get(LinkRun, run_id)
    if run is None:
        raise NotFound(f"Run linkage {run_id} tidak ada.")
    return data_dir / run.folder
