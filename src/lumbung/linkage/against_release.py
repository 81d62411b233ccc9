"""Linking records of another source against the latest release, with that release's model.

A release is trained once (`lumbung link run`, linkage/service.py): its run folder keeps the
trained `model.json` and the members' comparison table `records.parquet`. A batch before
import or another registry's export is linked against that release by the same model (never
trained again on the incoming records, whose few thousand rows would train a worse one):
`latest_trained_release` finds the release and its run, `link_source` writes the source's
comparison table and runs `engine.link`, and `source_matches` reads back, per source record,
the registry members it matches at the model's match threshold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.errors import Conflict, NotFound
from lumbung.linkage import pairs as contract
from lumbung.linkage.models import LinkRun
from lumbung.releases.models import Release
from lumbung.releases.service import checked_release_dir

SOURCE = "source"  # the incoming records' `source` in the run's files (never "registry")
RECORDS_FILE = "records.parquet"  # the release's comparison table, in its run's folder
SOURCE_RECORDS_FILE = "source_records.parquet"
LINK_MODEL_FILE = "link_model.json"
# Comparisons whose evidence a release's own model learns the wrong way round for another
# source: inside one release, two records on one KK at one address are two members of a
# family (the import refuses a NIK twice), so a deduplication's EM learns "same KK" and "same
# RT/RW" as evidence *against* one person (m near 0). Across sources the same KK is evidence
# for. Linking against a release leaves them out of the weight (m = u: a Bayes factor of 1).
NOT_CARRIED_OVER = ("kk", "address")


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
    """The latest release (its files checked against the manifest) and its latest finished
    linkage run with a model; refused in words when there is none."""
    release = session.execute(select(Release).order_by(Release.id.desc()).limit(1)).scalar()
    if release is None:
        raise NotFound("Belum ada rilis: buat rilis dulu (lumbung release create).")
    release_dir = checked_release_dir(session, release, releases_dir)
    runs = session.execute(
        select(LinkRun)
        .where(LinkRun.release_id == release.id, LinkRun.state == "finished")
        .order_by(LinkRun.id.desc())
    ).scalars()
    for run in runs:
        run_dir = data_dir / run.folder
        if (run_dir / contract.MODEL_FILE).is_file():
            return TrainedRelease(release, release_dir, run, run_dir)
    raise Conflict(
        f"Rilis terakhir {release.label} belum punya model pencocokan: jalankan dulu "
        f"`lumbung link run --release {release.label}` (melatih model pada rilis itu).",
        cause="linkage_no_model",
    )


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
