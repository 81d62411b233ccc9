"""Scoring a release with a PMT model: scores file beside the release, rows in the database."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lumbung import bulk, locks, partitions
from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.db import utcnow
from lumbung.engine.backend import open_engine
from lumbung.engine.names import EngineName
from lumbung.errors import Conflict, NotFound, ValidationFailed
from lumbung.installation.datafolder import owned
from lumbung.numbers import grouped
from lumbung.releases.hashing import sha256_file
from lumbung.releases.lookup import get_release, reference_date
from lumbung.releases.models import Release
from lumbung.releases.service import checked_release_dir
from lumbung.targeting.features import household_features, read_release
from lumbung.targeting.models import PmtModelRecord, PmtScore, Scoring
from lumbung.targeting.pmt import PmtModel
from lumbung.targeting.scoring import ranked

SCORE_COLUMNS = (  # as loaded (scoring_id is the same for every row)
    "household_id",
    "kk_number",
    "regency_code",
    "score",
    "decile",
    "rank_area",
)


@dataclass(frozen=True, slots=True)
class ScoringResult:
    release: str
    model: str
    households: int
    regencies: int
    by_decile: dict[int, int]
    scores_file: str
    sha256: str
    engine: str
    already_scored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "model": self.model,
            "households": self.households,
            "regencies": self.regencies,
            "by_decile": {str(k): v for k, v in sorted(self.by_decile.items())},
            "scores_file": self.scores_file,
            "sha256": self.sha256,
            "engine": self.engine,
            "already_scored": self.already_scored,
        }


def register_model(session: Session, model: PmtModel) -> PmtModelRecord:
    """The model's row; a changed model under a used name and version is refused."""
    record = session.execute(
        select(PmtModelRecord).where(
            PmtModelRecord.name == model.name, PmtModelRecord.version == model.version
        )
    ).scalar_one_or_none()
    digest = model.sha256()
    if record is not None:
        if record.sha256 != digest:
            raise Conflict(
                f"Model {model.key} sudah dipakai dengan koefisien lain; naikkan `version`."
            )
        return record
    record = PmtModelRecord(
        name=model.name,
        version=model.version,
        sha256=digest,
        definition=model.model_dump(mode="json"),
        created_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return record


def score_release(
    session: Session,
    *,
    actor: User,
    release_label: str,
    model: PmtModel,
    data_dir: Path,
    engine: EngineName = EngineName.DUCKDB,
) -> ScoringResult:
    """Score every household of a release and rank it into desil within its regency."""
    authorize(actor, Action.SCORE)
    require_national(actor, "skor PMT sebuah rilis")  # desil rank every regency
    # One scoring of a release with a model at a time, before its file is touched: a second
    # would replace the file the first hashed, and register the same model (locks.py).
    owned(session, data_dir)  # the data folder is this registry's, or nothing is written
    locks.hold(session, "scoring", f"{release_label} {model.key}", data_dir)
    release = get_release(session, release_label)
    record = register_model(session, model)
    existing = session.execute(
        select(Scoring).where(Scoring.release_id == release.id, Scoring.model_id == record.id)
    ).scalar_one_or_none()
    if existing is not None:
        return _summary(session, existing, release, model, already=True, data_dir=data_dir)
    folder = checked_release_dir(session, release, data_dir / "releases")
    target = data_dir / "scores" / release.label / f"{model.key}.parquet"
    staging = target.with_name(f".staging-{target.name}-{os.getpid()}")
    try:
        with open_engine(engine) as batch:  # before any folder: Spark may not start
            target.parent.mkdir(parents=True, exist_ok=True)
            features = household_features(read_release(batch, folder), reference_date(release))
            # In the engine's order: sorting 30 M scored families by id cost 24 s of a national
            # scoring's 155 s in DuckDB, for nothing (readers join or filter; none needs order).
            batch.write_parquet(ranked(features, model), staging)
        staging.replace(target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    # One scoring writes at a time, and it waits here, before it inserts its row (partitions.py).
    bulk.lock_for_writing(session, ("pmt_score",))
    scoring = Scoring(
        release_id=release.id,
        model_id=record.id,
        engine=engine.value,
        households=0,
        path=str(target.relative_to(data_dir)),  # the data folder may move; paths stay
        sha256=sha256_file(target),
        created_at=utcnow(),
        created_by=actor.username,
    )
    session.add(scoring)
    session.flush()
    scoring.households, counts = _load_scores(session, scoring, target, data_dir)
    if scoring.households != release.households:
        raise ValidationFailed(
            f"Skor {grouped(scoring.households)} keluarga, "
            f"rilis {grouped(release.households)}: tidak lengkap."
        )
    audit.record(
        session,
        actor=actor.username,
        action="pmt.score",
        entity="pmt_scoring",
        entity_id=scoring.id,
        diff={"release": release.label, "model": model.key, "sha256": scoring.sha256},
    )
    return _summary(
        session, scoring, release, model, already=False, data_dir=data_dir, counts=counts
    )


Counts = tuple[dict[int, int], int]
"""(households per desil, regencies) of one scoring."""


def _load_scores(
    session: Session, scoring: Scoring, scores: Path, data_dir: Path
) -> tuple[int, Counts]:
    """Load the scores file into the database; (rows loaded, its counts, from the file)."""
    con = bulk.duck_connect(data_dir / "tmp")
    try:
        source = f"read_parquet({bulk.sql_path(scores)})"
        query = (
            f"SELECT household_id, kk_number, regency_code, score, decile, rank_area FROM {source}"
        )
        scratch = data_dir / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        loaded = partitions.load(
            session, con, query, "pmt_score", scoring.id, SCORE_COLUMNS, scratch
        )
        partitions.attach(session, "pmt_score", scoring.id)
        # Counted from the file just loaded, by DuckDB on every core: the database would scan
        # a national scoring's 30 M rows twice over for these few numbers.
        by_decile = con.execute(f"SELECT decile, count(*) FROM {source} GROUP BY decile").fetchall()
        regencies = bulk.duck_count(con, f"SELECT count(DISTINCT regency_code) FROM {source}")
        return loaded, ({int(d): int(n) for d, n in by_decile}, regencies)
    finally:
        con.close()


def _stored_counts(session: Session, scoring: Scoring) -> Counts:
    by_decile = {
        int(decile): int(count)
        for decile, count in session.execute(
            select(PmtScore.decile, func.count())
            .where(PmtScore.scoring_id == scoring.id)
            .group_by(PmtScore.decile)
        ).all()
    }
    regencies = session.execute(
        select(func.count(func.distinct(PmtScore.regency_code))).where(
            PmtScore.scoring_id == scoring.id
        )
    ).scalar_one()
    return by_decile, int(regencies)


def _summary(
    session: Session,
    scoring: Scoring,
    release: Release,
    model: PmtModel,
    *,
    already: bool,
    data_dir: Path,
    counts: Counts | None = None,
) -> ScoringResult:
    """What a scoring gave; `counts` from its file when it was just loaded, else stored ones."""
    by_decile, regencies = counts if counts is not None else _stored_counts(session, scoring)
    by_decile = dict(sorted(by_decile.items()))
    return ScoringResult(
        release=release.label,
        model=model.key,
        households=scoring.households,
        regencies=int(regencies),
        by_decile=by_decile,
        scores_file=str(data_dir / scoring.path),
        sha256=scoring.sha256,
        engine=scoring.engine,
        already_scored=already,
    )


def checked_scores_file(scoring: Scoring, data_dir: Path) -> Path:
    """The scoring's file, after its hash matched the one recorded when it was written."""
    path = data_dir / scoring.path
    if not path.exists() or sha256_file(path) != scoring.sha256:
        raise Conflict(
            f"Berkas skor {path} hilang atau berubah; skor ulang rilis dengan model baru "
            "atau pulihkan folder data."
        )
    return path


def latest_scoring(session: Session, release: Release, model_key: str | None = None) -> Scoring:
    """The scoring a cycle uses: the named model's, else the newest for the release."""
    query = select(Scoring).where(Scoring.release_id == release.id)
    if model_key is not None:
        name, _, version = model_key.partition("@")
        query = query.join(PmtModelRecord, PmtModelRecord.id == Scoring.model_id).where(
            PmtModelRecord.name == name, PmtModelRecord.version == version
        )
    scoring = session.execute(query.order_by(Scoring.id.desc()).limit(1)).scalar_one_or_none()
    if scoring is None:
        raise NotFound(
            f"Rilis {release.label} belum diberi skor PMT"
            + (f" dengan model {model_key}" if model_key else "")
            + ": hitung skornya dulu.",
            command=f"lumbung pmt score --release {release.label}",
        )
    return scoring
