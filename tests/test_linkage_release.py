"""A linkage run on a real release, with the real matching engine and the shipped settings:
a synthetic registry with known second registrations is imported, released and deduplicated,
and what reaches the review queue is checked against the truth. Both databases."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from conftest import user
from helpers import run_import
from lumbung.db import session_scope
from lumbung.linkage import service
from lumbung.synth import generate
from targeting_helpers import release

pytestmark = pytest.mark.usefixtures("users")


def test_a_run_on_a_release_sends_its_second_registrations_to_review(
    engine: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "batch"
    generate(households=1500, seed=8, out_dir=out, region="33.74", duplicates=0.15)
    run_import(engine, [out / "households.csv", out / "members.csv"], status="approved")
    data_dir = tmp_path / "data"
    release(engine, data_dir, "R1")
    with session_scope(engine) as session:
        run = service.run_link(
            session,
            actor=user(session, "determiner"),
            release_label="R1",
            data_dir=data_dir,
            releases_dir=data_dir / "releases",
        )
    assert run.state == "finished" and run.records > 4000 and run.model_sha256

    with (out / "truth" / "persons.csv").open(newline="", encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    person = {(row["kk_number"], row["nik"]): row["person_id"] for row in truth}
    twins = {frozenset((row["person_id"], row["twin"])) for row in truth if row.get("twin")}
    with engine.connect() as conn:
        members = {
            member_id: (kk, nik)
            for member_id, kk, nik in conn.execute(
                text(
                    "SELECT m.id, h.kk_number, m.nik FROM member m "
                    "JOIN household h ON h.id = m.household_id"
                )
            )
        }
        queued = conn.execute(
            text("SELECT member_id_l, member_id_r, match_weight FROM link_pair WHERE run_id = :r"),
            {"r": run.id},
        ).all()
    same = [person[members[left]] == person[members[right]] for left, right, _ in queued]
    strong = [s for s, (_, _, weight) in zip(same, queued, strict=True) if weight >= 10]
    true_pairs = {
        frozenset((a, b))
        for a, b in ((person[members[left]], person[members[right]]) for left, right, _ in queued)
        if a == b
    }
    copies = sum(1 for row in truth if row.get("event"))
    # The queue holds most second registrations, and what the model calls the same person is.
    assert sum(same) >= 0.6 * copies, (sum(same), copies, len(queued))
    assert strong and sum(strong) >= 0.95 * len(strong), (sum(strong), len(strong))
    assert true_pairs
    # Twins are never called the same person (they may be offered for review, below the match).
    for left, right, weight in queued:
        if frozenset((person[members[left]], person[members[right]])) in twins:
            assert weight < 10, (left, right, weight)
