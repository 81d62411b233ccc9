"""Incoming records linked against the latest release with the model its link run trained.

A batch before import (linkage/batch.py) and another registry's export (linkage/merge.py) are
people who may already be in the registry. They are compared with the members of the latest
release by the matching engine's `link`, with the trained parameters of the newest finished
deduplication run of that release (`lumbung link run --release LABEL`): never trained again on
the incoming records (training takes minutes and needs thousands of members; a model is kept
as data with its run, so a reported duplicate can be traced to the parameters that found it).
A release with no run is refused (`linkage_model_missing`) with the command that makes one.

`latest_release_model` finds the release and its run (`latest_trained_release`, the same with
the ORM rows); `link_model` is the release's model as a link across sources reads it (the family
card and the address neutral: `NOT_CARRIED_OVER`); `link_against_release` returns the pairs at or
above the run's review weight with their waterfall; `link_source` and `source_matches` the
records a merge matches at the model's match weight.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.errors import Conflict, NotFound
from lumbung.linkage import pairs as contract
from lumbung.linkage.models import LinkRun
from lumbung.linkage.settings import LinkageSettings, SettingsError, load_settings
from lumbung.releases.models import Release
from lumbung.releases.service import checked_release_dir

RECORDS_FILE = "records.parquet"  # what call_matching_engine writes in a run's folder
SOURCE = "source"  # the incoming records' `source` in a merge's files (never "registry")
SOURCE_RECORDS_FILE = "source_records.parquet"
LINK_MODEL_FILE = "link_model.json"
# Comparisons whose evidence a release's own model learns the wrong way round for another
# source: inside one release, two records on one KK at one address are two members of a
# family (the import refuses a NIK twice), so a deduplication's EM learns "same KK" and "same
# RT/RW" as evidence *against* one person (m near 0). Across sources the same KK is evidence
# for. Linking against a release leaves them out of the weight (m = u: a Bayes factor of 1).
NOT_CARRIED_OVER = ("kk", "address")


@dataclass(frozen=True, slots=True)
class ReleaseModel:
    """The latest release and the link run whose trained model incoming records are linked with."""

    release_id: int
    release_label: str
    run_id: int  # the deduplication run that trained the model
    review_weight: float  # that run's review weight: the threshold of a probable duplicate
    model_sha256: str | None
    settings_sha256: str | None
    release_dir: Path
    run_dir: Path
    settings: LinkageSettings  # the model's settings, with the run's review weight

    @property
    def model(self) -> Path:
        return self.run_dir / contract.MODEL_FILE


@dataclass(frozen=True, slots=True)
class Match:
    """An incoming record and a release member the model finds alike (at or above review)."""

    record_id: int  # the incoming record's id in its source (a batch: the members file's row)
    member_id: int  # the release member (member.id)
    match_weight: float
    match_probability: float
    prior_weight: float
    levels: dict[str, str]  # comparison → the level it reached
    weights: dict[str, float]  # comparison → its part of the weight (the waterfall)


def latest_release(session: Session) -> Release:
    """The newest release (NotFound when the registry has none)."""
    release = session.execute(
        select(Release).order_by(Release.created_at.desc(), Release.id.desc()).limit(1)
    ).scalar_one_or_none()
    if release is None:
        raise NotFound(
            "Belum ada rilis: pencocokan dengan rilis terakhir perlu satu rilis dan run "
            "pencocokannya.",
            command="lumbung release create --label LABEL",
        )
    return release


def latest_release_model(session: Session, *, data_dir: Path, releases_dir: Path) -> ReleaseModel:
    """The latest release and its newest finished deduplication run with a model; a Conflict
    naming the command that trains one when the release has none."""
    release = latest_release(session)
    runs = session.execute(
        select(LinkRun)
        .where(
            LinkRun.release_id == release.id,
            LinkRun.kind == "dedupe",
            LinkRun.state == "finished",
        )
        .order_by(LinkRun.id.desc())
    ).scalars()
    run = next((r for r in runs if (data_dir / r.folder / contract.MODEL_FILE).is_file()), None)
    if run is None:
        raise Conflict(
            f"Rilis terakhir {release.label} belum punya model pencocokan: jalankan dulu run "
            f"pencocokan (record linkage) atas rilis {release.label}, lalu ulangi.",
            cause="linkage_model_missing",
            command=f"lumbung link run --release {release.label}",
        )
    run_dir = data_dir / run.folder
    return ReleaseModel(
        release_id=release.id,
        release_label=release.label,
        run_id=run.id,
        review_weight=run.review_weight,
        model_sha256=run.model_sha256,
        settings_sha256=run.settings_sha256,
        release_dir=checked_release_dir(session, release, releases_dir),
        run_dir=run_dir,
        settings=_model_settings(run_dir / contract.MODEL_FILE, run, release.label),
    )


def _model_settings(model: Path, run: LinkRun, label: str) -> LinkageSettings:
    """The settings the model was trained with (by name; the same version), its threshold the
    run's review weight."""
    again = f"jalankan lagi run pencocokan atas rilis {label}"
    try:
        named = json.loads(model.read_text(encoding="utf-8")).get("settings") or {}
        settings = load_settings(str(named.get("name") or "registry"))
    except (UnicodeDecodeError, json.JSONDecodeError, SettingsError, OSError) as exc:
        raise Conflict(
            f"Model run pencocokan {run.id} tidak bisa dibaca ({exc}); {again}.",
            cause="linkage_model_missing",
            command=f"lumbung link run --release {label}",
        ) from None
    if named.get("version") not in (None, settings.version):
        raise Conflict(
            f"Model run pencocokan {run.id} dilatih dengan pengaturan {settings.name} versi "
            f"{named.get('version')}, kini versi {settings.version}; {again}.",
            cause="linkage_model_missing",
            command=f"lumbung link run --release {label}",
        )
    return settings.with_thresholds(review=run.review_weight, match=None)


def release_records(model: ReleaseModel, scratch: Path) -> Path:
    """The release members' comparison table: the one the run wrote, else built into
    `scratch` from the release's files."""
    kept = model.run_dir / RECORDS_FILE
    if kept.is_file():
        return kept
    from lumbung.linkage.records import release_base_sql, write_records

    built = scratch / "release-records.parquet"
    write_records(release_base_sql(model.release_dir), contract.REGISTRY_SOURCE, built)
    return built


def link_against_release(
    model: ReleaseModel, records: Path, *, source: str, folder: Path, scratch: Path
) -> list[Match]:
    """The pairs of `records` (a comparison table of `source`, linkage/records.py) with the
    release's members at or above the run's review weight, by record, the strongest first.
    The engine's files (pairs, clusters, the model used) are written in `folder`."""
    from lumbung.linkage.engine import link

    if source == contract.REGISTRY_SOURCE:
        raise ValueError(f"incoming records need a source other than {source!r}")
    link(
        release_records(model, scratch),
        records,
        folder=folder,
        settings=model.settings,
        model=link_model(model.model, folder),
    )
    table = pq.read_table(folder / contract.PAIRS_FILE)
    names = contract.comparison_names(table.column_names)
    found: list[Match] = []
    for row in table.to_pylist():
        sides = {row["source_l"]: row["record_id_l"], row["source_r"]: row["record_id_r"]}
        if set(sides) != {source, contract.REGISTRY_SOURCE}:
            continue
        if float(row["match_weight"]) < model.review_weight:
            continue
        found.append(
            Match(
                record_id=int(sides[source]),
                member_id=int(sides[contract.REGISTRY_SOURCE]),
                match_weight=float(row["match_weight"]),
                match_probability=float(row["match_probability"]),
                prior_weight=float(row["prior_weight"]),
                levels={n: str(row.get(f"{contract.LEVEL_PREFIX}{n}")) for n in names},
                weights={n: float(row.get(f"{contract.WEIGHT_PREFIX}{n}") or 0.0) for n in names},
            )
        )
    found.sort(key=lambda m: (m.record_id, -m.match_weight, m.member_id))
    return found


@dataclass(frozen=True, slots=True)
class TrainedRelease:
    """The latest release, its checked folder, and the run whose model links against it."""

    release: Release
    release_dir: Path
    run: LinkRun
    run_dir: Path

    @property
    def model(self) -> Path:
        return self.run_dir / contract.MODEL_FILE

    def match_weight(self) -> float:
        """The model's match threshold (log2 odds) as the run wrote it (the shipped settings'
        when it wrote none)."""
        from lumbung.linkage.settings import load_settings

        data = json.loads(self.model.read_text(encoding="utf-8"))
        match = (data.get("thresholds") or {}).get("match")
        return float(match) if match is not None else load_settings("registry").thresholds.match


def latest_trained_release(
    session: Session, *, data_dir: Path, releases_dir: Path
) -> TrainedRelease:
    """`latest_release_model` with the release's and the run's rows."""
    found = latest_release_model(session, data_dir=data_dir, releases_dir=releases_dir)
    release = session.get(Release, found.release_id)
    run = session.get(LinkRun, found.run_id)
    assert release is not None
    assert run is not None
    return TrainedRelease(release, found.release_dir, run, found.run_dir)


def link_source(trained: TrainedRelease, source_base: str, folder: Path, *, con: Any) -> Path:
    """Link the records of `source_base` (a relation with records.BASE_COLUMNS on `con`)
    against the release with its model; the run's pairs file in `folder`."""
    from lumbung.linkage.engine import link
    from lumbung.linkage.records import release_base_sql, write_records

    folder.mkdir(parents=True, exist_ok=True)
    release_records = trained.run_dir / RECORDS_FILE
    if not release_records.is_file():  # a run whose engine kept no table: written again
        release_records = folder / RECORDS_FILE
        write_records(
            release_base_sql(trained.release_dir), contract.REGISTRY_SOURCE, release_records
        )
    source_records = folder / SOURCE_RECORDS_FILE
    write_records(source_base, SOURCE, source_records, con=con)
    link(release_records, source_records, folder=folder, model=link_model(trained.model, folder))
    return folder / contract.PAIRS_FILE


def link_model(model: Path, folder: Path) -> Path:
    """The release's model as a link across sources reads it: `NOT_CARRIED_OVER` neutral
    (each level's m set to its u), the rest as trained. Written beside the link's files."""
    data = json.loads(model.read_text(encoding="utf-8"))
    for name in NOT_CARRIED_OVER:
        for level in data["parameters"]["levels"].get(name, []):
            if level.get("u") is not None:
                level["m"] = level["u"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LINK_MODEL_FILE
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    return path


def source_matches(
    pairs_file: Path, match_weight: float, *, con: Any
) -> dict[int, list[tuple[int, float]]]:
    """Source record id → the registry members it matches at or above `match_weight`,
    strongest first, as (member id, match weight)."""
    path = str(pairs_file).replace("'", "''")
    rows = con.execute(
        f"""
SELECT
    CASE WHEN source_l = '{SOURCE}' THEN record_id_l ELSE record_id_r END AS source_record,
    CASE WHEN source_l = '{SOURCE}' THEN record_id_r ELSE record_id_l END AS member_id,
    max(match_weight) AS weight
FROM read_parquet('{path}')
WHERE match_weight >= $1 AND source_l <> source_r
GROUP BY 1, 2
ORDER BY 1, 3 DESC, 2
""",
        [match_weight],
    ).fetchall()
    found: dict[int, list[tuple[int, float]]] = {}
    for record, member, weight in rows:
        found.setdefault(int(record), []).append((int(member), float(weight)))
    return found
