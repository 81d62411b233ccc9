"""How good a linkage is against known truth: pairwise precision, recall and F1.

Pairwise, as the record-linkage literature counts it (FEBRL, Splink's own benchmarks): a pair
of records is a true positive when the linkage puts them in one cluster (or scores them above
the threshold) and the truth says they are one person. Clusters are counted through the
contingency of predicted cluster × true entity, never by listing pairs, so a million records
in clusters of any size cost one pass.

Records are named by any hashable key: a record id, or (source, record id) when several
sources are linked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)  # a record's key


@dataclass(frozen=True)
class Quality:
    """Pairwise counts and the three figures derived from them."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }

    def line(self) -> str:
        """One line for a benchmark's output."""
        return (
            f"precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}  "
            f"(TP {self.true_positives:,}, FP {self.false_positives:,}, "
            f"FN {self.false_negatives:,})"
        )


def _pairs_within(sizes: Iterable[int]) -> int:
    return sum(n * (n - 1) // 2 for n in sizes)


def cluster_quality(predicted: Mapping[K, Hashable], truth: Mapping[K, Hashable]) -> Quality:
    """Predicted clusters (record → cluster) against true entities (record → entity).

    Only records present in both mappings count; a record missing from `predicted` is
    taken to be a singleton, so that a clusters file without singletons still scores."""
    cells: Counter[tuple[Hashable, Hashable]] = Counter()
    clusters: Counter[Hashable] = Counter()
    entities: Counter[Hashable] = Counter()
    for record, entity in truth.items():
        cluster = predicted.get(record, ("singleton", record))
        cells[(cluster, entity)] += 1
        clusters[cluster] += 1
        entities[entity] += 1
    true_positives = _pairs_within(cells.values())
    return Quality(
        true_positives=true_positives,
        false_positives=_pairs_within(clusters.values()) - true_positives,
        false_negatives=_pairs_within(entities.values()) - true_positives,
    )


def pair_quality(pairs: Iterable[tuple[K, K]], truth: Mapping[K, Hashable]) -> Quality:
    """Scored pairs (those above a threshold, each once) against true entities.

    A pair naming a record outside `truth` counts as a false positive."""
    found = {(a, b) if repr(a) <= repr(b) else (b, a) for a, b in pairs if a != b}
    true_positives = sum(1 for a, b in found if a in truth and b in truth and truth[a] == truth[b])
    actual = _pairs_within(Counter(truth.values()).values())
    return Quality(
        true_positives=true_positives,
        false_positives=len(found) - true_positives,
        false_negatives=actual - true_positives,
    )


def pairs_quality_by_threshold(
    scored: Iterable[tuple[K, K, float]],
    truth: Mapping[K, Hashable],
    thresholds: Iterable[float],
) -> dict[float, Quality]:
    """`pair_quality` at each threshold on the pairs' match weight (weight >= threshold)."""
    rows = list(scored)
    return {
        threshold: pair_quality(((a, b) for a, b, w in rows if w >= threshold), truth)
        for threshold in thresholds
    }
