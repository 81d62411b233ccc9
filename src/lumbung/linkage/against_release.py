"""Incoming records linked against the latest release with the model its link run trained.

A batch before import (linkage/batch.py) and, in the same way, another registry's export are
people who may already be in the registry. They are compared with the members of the latest
release by the matching engine's `link`, with the trained parameters of the newest finished
deduplication run of that release (`lumbung link run --release LABEL`): the same model, so a
pair's weight means what it means in the review queue. Nothing is trained here: a release
with no run is refused with the command that makes one (training takes minutes and needs
thousands of members; a model is kept as data with its run, so a reported duplicate can be
traced to the parameters that found it).

Pairs at or above the run's review weight are returned, the incoming record first; which of
them are shown to whom, or sent to review, is the caller's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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
        model=model.model,
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
