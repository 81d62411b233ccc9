"""A registry with likely duplicates, its release, and a run's files written as the matching
engine writes them (linkage/pairs.py): the review queue's tests need no engine."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.engine import Engine

from conftest import user
from factories import OTHER_VILLAGE, household, kk, member
from lumbung.db import session_scope
from lumbung.linkage import pairs as contract
from lumbung.linkage.service import RunView, run_link
from lumbung.registry.models import Member
from targeting_helpers import import_approved, release

NEXT_VILLAGE = "31.71.02.1001"  # Kebon Kelapa, Gambir... another district of Jakarta Pusat
PRIOR = -12.0
COMPARISONS = ("name", "birth_date", "nik")


@dataclass(frozen=True)
class Registry:
    """Member ids by role in the story."""

    siti: int  # SITI NURHALIZA, Gambir (a wife)
    sitti: int  # SITTI NURHALIZAH, next district: the same woman, registered again
    sitti_head: int  # her family's head
    budi: int  # BUDI, Gambir, head
    budi_alone: int  # BUDI again, alone in a family of his own (Gambir)
    bandung: int  # a man in Bandung
    bandung_twin: int  # a man in Bandung, like him
    jakarta_cross: int  # a woman in Gambir like one in Bandung
    bandung_cross: int


def build_registry(engine: Engine, folder: Path, data_dir: Path, label: str = "R1") -> Registry:
    """Five families, approved, and a release of them."""
    homes = [
        household(kk(1)),
        household(kk(2), village_code=NEXT_VILLAGE),
        household(kk(3)),
        household(kk(4, district="327301"), village_code=OTHER_VILLAGE),
        household(kk(5, district="327301"), village_code=OTHER_VILLAGE),
    ]
    people = [
        member(kk(1), date(1980, 3, 12), "L", "kepala_keluarga", 11, name="BUDI SANTOSO"),
        member(kk(1), date(1983, 7, 1), "P", "istri_suami", 12, name="SITI NURHALIZA"),
        member(kk(2), date(1979, 1, 5), "L", "kepala_keluarga", 21, name="AHMAD"),
        member(kk(2), date(1983, 7, 1), "P", "istri_suami", 22, name="SITTI NURHALIZAH"),
        member(kk(3), date(1980, 3, 12), "L", "kepala_keluarga", 31, name="BUDI SANTOSO"),
        member(
            kk(4, district="327301"),
            date(1970, 2, 2),
            "L",
            "kepala_keluarga",
            41,
            name="ASEP",
            nik="3273010202700041",
        ),
        member(
            kk(4, district="327301"),
            date(1972, 4, 4),
            "P",
            "istri_suami",
            42,
            name="DEWI",
            nik="3273014404720042",
        ),
        member(
            kk(5, district="327301"),
            date(1970, 2, 2),
            "L",
            "kepala_keluarga",
            51,
            name="ASEP",
            nik="3273010202700051",
        ),
    ]
    import_approved(engine, folder, homes, people)
    release(engine, data_dir, label)
    with session_scope(engine) as session:
        ids = dict(session.execute(select(Member.name, Member.id).order_by(Member.id)).all())
        by_nik = dict(session.execute(select(Member.nik, Member.id)).all())
    del ids
    return Registry(
        siti=by_nik[people[1]["nik"]],
        sitti=by_nik[people[3]["nik"]],
        sitti_head=by_nik[people[2]["nik"]],
        budi=by_nik[people[0]["nik"]],
        budi_alone=by_nik[people[4]["nik"]],
        bandung=by_nik[people[5]["nik"]],
        bandung_twin=by_nik[people[7]["nik"]],
        jakarta_cross=by_nik[people[1]["nik"]],
        bandung_cross=by_nik[people[6]["nik"]],
    )


def probability(weight: float) -> float:
    return 2**weight / (1 + 2**weight)


def write_run(
    run_dir: Path,
    pairs: list[tuple[int, int, float]],
    records: list[int],
    *,
    other_source: list[tuple[int, int, float]] = (),  # type: ignore[assignment]
) -> None:
    """pairs.parquet, clusters.parquet and model.json: each pair's weight split over the
    comparisons (name half of what the prior leaves, birth date a quarter, NIK the rest)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[object]] = {
        c: []
        for c in (
            *contract.PAIR_KEYS,
            *contract.SCORE_COLUMNS,
            *(
                f"{p}{n}"
                for n in COMPARISONS
                for p in (contract.LEVEL_PREFIX, contract.WEIGHT_PREFIX)
            ),
        )
    }
    every = [(a, b, w, contract.REGISTRY_SOURCE) for a, b, w in pairs]
    every += [(a, b, w, "dukcapil") for a, b, w in other_source]
    for a, b, weight, source_r in every:
        rest = weight - PRIOR
        parts = {"name": rest / 2, "birth_date": rest / 4, "nik": rest / 4}
        values: dict[str, object] = {
            "record_id_l": min(a, b),
            "source_l": contract.REGISTRY_SOURCE,
            "record_id_r": max(a, b),
            "source_r": source_r,
            "match_weight": weight,
            "match_probability": probability(weight),
            "prior_weight": PRIOR,
        }
        for name, part in parts.items():
            values[f"level_{name}"] = "exact <b>" if part > 5 else "Jaro-Winkler >= 0.88"
            values[f"weight_{name}"] = part
        for key, value in values.items():
            rows[key].append(value)
    schema = {
        "record_id_l": pa.int64(),
        "record_id_r": pa.int64(),
        "source_l": pa.string(),
        "source_r": pa.string(),
    }
    table = pa.table({k: pa.array(v, type=schema.get(k)) for k, v in rows.items()})
    pq.write_table(table, run_dir / contract.PAIRS_FILE)
    parent = {r: r for r in records}

    def root(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b, weight in pairs:
        if weight >= 0 and a in parent and b in parent:
            low, high = sorted((root(a), root(b)))
            parent[high] = low
    clusters = pa.table(
        {
            "record_id": pa.array(records, type=pa.int64()),
            "cluster_id": pa.array([root(r) for r in records], type=pa.int64()),
            "source": pa.array([contract.REGISTRY_SOURCE] * len(records)),
        }
    )
    pq.write_table(clusters, run_dir / contract.CLUSTERS_FILE)
    model = {"link_type": "dedupe_only", "probability_two_random_records_match": 2**PRIOR}
    (run_dir / contract.MODEL_FILE).write_text(json.dumps(model), encoding="utf-8")
    assert not math.isnan(PRIOR)


def matcher(
    pairs: list[tuple[int, int, float]],
    records: list[int],
    *,
    other_source: list[tuple[int, int, float]] = (),  # type: ignore[assignment]
) -> Callable[[Path, Path], None]:
    def write(release_dir: Path, run_dir: Path) -> None:
        assert (release_dir / "manifest.json").is_file()
        write_run(run_dir, pairs, records, other_source=other_source)

    return write


def story_pairs(r: Registry) -> list[tuple[int, int, float]]:
    """Siti twice (strong), Budi twice (strong), the Bandung twins (middling), a Jakarta and
    a Bandung woman (weak but above review), and a pair below review."""
    return [
        (r.siti, r.sitti, 18.5),
        (r.budi, r.budi_alone, 22.0),
        (r.bandung, r.bandung_twin, 7.0),
        (r.jakarta_cross, r.bandung_cross, 4.0),
        (r.budi, r.sitti_head, -3.0),
    ]


def all_records(r: Registry) -> list[int]:
    return sorted(
        {
            r.siti,
            r.sitti,
            r.sitti_head,
            r.budi,
            r.budi_alone,
            r.bandung,
            r.bandung_twin,
            r.bandung_cross,
        }
    )


def link(
    engine: Engine,
    data_dir: Path,
    write: Callable[[Path, Path], None],
    *,
    label: str = "R1",
    actor: str = "determiner",
    review_weight: float = 3.0,
) -> RunView:
    with session_scope(engine) as session:
        return run_link(
            session,
            actor=user(session, actor),
            release_label=label,
            data_dir=data_dir,
            releases_dir=data_dir / "releases",
            review_weight=review_weight,
            matcher=write,
        )
