"""A run's quality report: how many pairs and clusters fall in each match-weight band, the
precision the model itself expects, and how far the clerical review agrees with the model.

- Pairs by band: every scored pair of the run's `pairs.parquet`, with the matches the model
  expects among them (the sum of their match probabilities).
- Clusters by band: each cluster of two records or more, in the band of its weakest pair
  inside it (a cluster is as sure as the least sure link that holds it together).
- Estimated precision: the mean match probability of the pairs at or above the run's review
  weight (what share of them the model expects to be the same person).
- Clerical review agreement, per band: of the pairs reviewers decided (same person or not
  the same; a field visit is no answer yet), the share where they agreed with the model
  (the model says "same" at a match probability of 0.5 or more).

Counts only: the report names no one, and any reader may read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.linkage.models import LinkPair, LinkRun
from lumbung.linkage.service import RunView, get_run, run_files

# The bands' lower edges (match weight, log2 odds); the first band is everything below 0.
EDGES = (0.0, 5.0, 10.0, 15.0, 20.0)
MODEL_SAYS_SAME = 0.5


def band_labels() -> list[str]:
    labels = [f"< {EDGES[0]:g}"]
    labels += [f"{low:g} – {high:g}" for low, high in pairwise(EDGES)]
    labels.append(f"≥ {EDGES[-1]:g}")
    return labels


def band_of(weight: float) -> int:
    """The band a match weight falls in (0: below the first edge)."""
    return sum(1 for edge in EDGES if weight >= edge)


@dataclass(slots=True)
class Band:
    label: str
    pairs: int = 0
    expected_matches: float = 0.0  # the sum of match probabilities
    clusters: int = 0
    same_person: int = 0
    not_same: int = 0
    field_visit: int = 0
    pending: int = 0
    agreed: int = 0
    # Reviewers' agreement with the model among the pairs they decided (None: none decided).
    agreement: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "pairs": self.pairs,
            "expected_matches": round(self.expected_matches, 3),
            "clusters": self.clusters,
            "same_person": self.same_person,
            "not_same": self.not_same,
            "field_visit": self.field_visit,
            "pending": self.pending,
            "agreement": self.agreement,
        }


@dataclass(slots=True)
class QualityReport:
    run: RunView
    bands: list[Band]
    estimated_precision: float | None  # mean match probability at or above the review weight
    pairs_above_review: int
    decided: int = 0
    agreed: int = 0
    agreement: float | None = None
    cluster_sizes: dict[int, int] = field(default_factory=dict)  # size → clusters

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run.as_dict(),
            "bands": [b.as_dict() for b in self.bands],
            "estimated_precision": self.estimated_precision,
            "pairs_above_review": self.pairs_above_review,
            "decided": self.decided,
            "agreed": self.agreed,
            "agreement": self.agreement,
            "cluster_sizes": {str(k): v for k, v in sorted(self.cluster_sizes.items())},
        }


def _band_sql(column: str) -> str:
    # The band as the count of edges at or below the weight (EDGES are constants, not input).
    return " + ".join(f"CASE WHEN {column} >= {edge!r} THEN 1 ELSE 0 END" for edge in EDGES)


def quality_report(session: Session, actor: User, *, run_id: int, data_dir: Path) -> QualityReport:
    """The quality report of one run (its files read from its folder)."""
    authorize(actor, Action.READ)
    run = get_run(session, actor, run_id=run_id)
    folder = session.execute(select(LinkRun.folder).where(LinkRun.id == run_id)).scalar_one()
    pairs_path, clusters_path, _ = run_files(data_dir / folder)
    bands = [Band(label) for label in band_labels()]
    report = QualityReport(run, bands, None, 0)
    with duckdb.connect() as db:
        files = {"pairs": str(pairs_path), "clusters": str(clusters_path)}
        pairs_sql, clusters_sql = "read_parquet($pairs)", "read_parquet($clusters)"
        for band, count, expected in db.execute(
            f"SELECT {_band_sql('match_weight')} AS band, count(*), sum(match_probability) "
            f"FROM {pairs_sql} GROUP BY band",
            {"pairs": files["pairs"]},
        ).fetchall():
            bands[int(band)].pairs = int(count)
            bands[int(band)].expected_matches = float(expected or 0.0)
        count, mean = db.execute(
            f"SELECT count(*), avg(match_probability) FROM {pairs_sql} "
            "WHERE match_weight >= $review",
            {"pairs": files["pairs"], "review": run.review_weight},
        ).fetchone() or (0, None)
        report.pairs_above_review = int(count)
        report.estimated_precision = None if mean is None or math.isnan(mean) else float(mean)
        for band, clusters in db.execute(
            f"""
            WITH inside AS (
                SELECT cl.cluster_id, min(p.match_weight) AS weakest
                FROM {pairs_sql} p
                JOIN {clusters_sql} cl
                  ON cl.record_id = p.record_id_l AND cl.source = p.source_l
                JOIN {clusters_sql} cr
                  ON cr.record_id = p.record_id_r AND cr.source = p.source_r
                WHERE cl.cluster_id = cr.cluster_id
                GROUP BY cl.cluster_id
            )
            SELECT {_band_sql("weakest")} AS band, count(*) FROM inside GROUP BY band
            """,
            files,
        ).fetchall():
            bands[int(band)].clusters = int(clusters)
        for size, clusters in db.execute(
            f"SELECT size, count(*) FROM (SELECT cluster_id, count(*) AS size FROM {clusters_sql} "
            "GROUP BY cluster_id) GROUP BY size",
            {"clusters": files["clusters"]},
        ).fetchall():
            report.cluster_sizes[int(size)] = int(clusters)
    decisions = session.execute(
        select(LinkPair.match_weight, LinkPair.match_probability, LinkPair.state).where(
            LinkPair.run_id == run_id
        )
    )
    for weight, probability, state in decisions:
        band = bands[band_of(weight)]
        setattr(band, state, getattr(band, state) + 1)
        if state in ("same_person", "not_same"):
            agrees = (state == "same_person") == (probability >= MODEL_SAYS_SAME)
            band.agreed += int(agrees)
            report.decided += 1
            report.agreed += int(agrees)
    for band in bands:
        decided = band.same_person + band.not_same
        band.agreement = band.agreed / decided if decided else None
    report.agreement = report.agreed / report.decided if report.decided else None
    return report


def decided_count(session: Session, run_id: int) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(LinkPair)
            .where(LinkPair.run_id == run_id, LinkPair.state != "pending")
        ).scalar_one()
    )
