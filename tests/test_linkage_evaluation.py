"""Pairwise precision, recall and F1 of a linkage against truth (linkage/evaluation.py)."""

from __future__ import annotations

import pytest

from lumbung.linkage.evaluation import cluster_quality, pair_quality, pairs_quality_by_threshold

# Three people: a (records 1, 2, 3), b (4, 5), c (6).
TRUTH = {1: "a", 2: "a", 3: "a", 4: "b", 5: "b", 6: "c"}


def test_clusters_equal_to_truth_score_one() -> None:
    quality = cluster_quality({1: 1, 2: 1, 3: 1, 4: 4, 5: 4, 6: 6}, TRUTH)
    assert (quality.true_positives, quality.false_positives, quality.false_negatives) == (4, 0, 0)
    assert quality.f1 == 1.0


def test_a_wrong_merge_and_a_missed_record_are_counted_pairwise() -> None:
    # 3 left alone (missing from the file: a singleton), 6 wrongly joined to b.
    quality = cluster_quality({1: 1, 2: 1, 4: 4, 5: 4, 6: 4}, TRUTH)
    assert (quality.true_positives, quality.false_positives, quality.false_negatives) == (2, 2, 2)
    assert quality.precision == pytest.approx(0.5)
    assert quality.recall == pytest.approx(0.5)
    assert quality.f1 == pytest.approx(0.5)


def test_pairs_are_counted_once_whatever_their_order() -> None:
    quality = pair_quality([(1, 2), (2, 1), (3, 1), (4, 6), (7, 8)], TRUTH)
    assert (quality.true_positives, quality.false_positives, quality.false_negatives) == (2, 2, 2)
    assert quality.as_dict()["precision"] == pytest.approx(0.5)


def test_thresholds_keep_the_pairs_at_or_above_them() -> None:
    by_threshold = pairs_quality_by_threshold(
        [(1, 2, 9.0), (2, 3, 3.0), (5, 6, 5.0)], TRUTH, [4, 10]
    )
    assert by_threshold[4].true_positives == 1
    assert by_threshold[4].false_positives == 1
    assert by_threshold[10].true_positives == 0
    assert by_threshold[10].precision == 1.0
    assert by_threshold[10].recall == 0.0
