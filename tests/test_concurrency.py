"""Two runs of the same thing at once, each on its own connection, as two operators (or one
operator pressing twice) would start them: a cycle label, a release label, a scoring, the
determination of one request. One wins; the other is refused with a `Conflict` (or, where the
database makes it wait its turn, as on SQLite, comes after); nothing either wrote is lost, and
what was committed is whole and checked by hash."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine as DbEngine

from conftest import user
from factories import family, kk, write_batch
from helpers import run_import
from lumbung.cycles.files import cycle_folder
from lumbung.cycles.models import Cycle
from lumbung.db import session_scope
from lumbung.errors import Conflict
from lumbung.registry import workflow
from lumbung.releases.service import create_release, verify_release
from lumbung.targeting.models import Scoring
from lumbung.targeting.service import checked_scores_file
from targeting_helpers import floor_model, score
from test_cycles import approve, cycle, explained, setup_registry
from test_lifecycle import approved_family, propose, verify

pytestmark = pytest.mark.usefixtures("users")


def race(*work: Callable[[], Any]) -> list[Any]:
    """Run every callable on its own thread, released at the same moment; each one's result,
    or the exception it raised."""
    start = threading.Barrier(len(work))
    outcomes: list[Any] = [None] * len(work)

    def run(i: int, job: Callable[[], Any]) -> None:
        start.wait()
        try:
            outcomes[i] = job()
        except Exception as exc:  # the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return outcomes


def settled(outcomes: list[Any]) -> tuple[list[Any], list[Exception]]:
    """The successes, and the refusals, each of which must be a clean `Conflict`."""
    refused = [o for o in outcomes if isinstance(o, Exception)]
    for exc in refused:
        assert isinstance(exc, Conflict), repr(exc)
    return [o for o in outcomes if not isinstance(o, Exception)], refused


def test_two_runs_of_one_cycle_label_leave_one_whole_draft(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    for attempt in range(3):
        label = f"PKH-T{attempt}"
        done, refused = settled(race(*[lambda x=label: cycle(engine, tmp_path, x)] * 2))
        assert done, refused
        if engine.dialect.name == "postgresql":
            # The second is refused at once, before it touched a file; on SQLite it waits
            # for the writer lock and then replaces the first's draft, as a rerun does.
            assert len(refused) == 1
            assert "sedang dihitung" in str(refused[0])
        with session_scope(engine) as session:
            row = session.execute(select(Cycle).where(Cycle.label == label)).scalar_one()
            folder = cycle_folder(row, tmp_path)  # every file there, as hashed
        # No half-written folder is left; on PostgreSQL nothing but the committed run's (on
        # SQLite also the draft it replaced, removed by the label's next run).
        left = {p.name for p in folder.parent.iterdir()}
        assert folder.name in left
        assert len(left) == len(done)
        assert not [name for name in left if name.startswith(".")]
    approve(engine, "PKH-T0", data_dir=tmp_path)
    assert explained(engine, tmp_path, "PKH-T0", kk(1))["entitled"]
    # Later cycles of the program still run (they compare with the approved one's files).
    assert cycle(engine, tmp_path, "PKH-T9").beneficiaries == 2


def test_approval_checks_the_cycles_files_first(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-T1")
    with session_scope(engine) as session:
        row = session.execute(select(Cycle).where(Cycle.label == "PKH-T1")).scalar_one()
        folder = cycle_folder(row, tmp_path)
    target = folder / "entitlements.parquet"
    kept = target.read_bytes()
    target.write_bytes(kept[:-10] + b"0123456789")
    with pytest.raises(Conflict, match=r"PKH-T1.*entitlements\.parquet"):
        approve(engine, "PKH-T1", data_dir=tmp_path)
    target.unlink()
    with pytest.raises(Conflict, match="hilang atau berubah"):
        approve(engine, "PKH-T1", data_dir=tmp_path)
    with engine.connect() as conn:
        state = conn.execute(text("SELECT state FROM cycle WHERE label = 'PKH-T1'")).scalar_one()
    assert state == "draft"
    target.write_bytes(kept)
    assert approve(engine, "PKH-T1", data_dir=tmp_path).state == "approved"


def test_two_determinations_of_one_request_apply_it_once(engine: DbEngine, tmp_path: Path) -> None:
    ids = []
    for serial in (1, 2, 3):
        kk_number, version = approved_family(engine, tmp_path, serial)
        ids.append(
            propose(
                engine,
                "update",
                {"changes": {"floor_area_m2": "44"}},
                kk_number=kk_number,
                base_version=version,
            )
        )
        verify(engine, ids[-1])

    def determine(request_id: int) -> str:
        with session_scope(engine) as session:
            actor = user(session, "determiner")
            return workflow.determine(session, actor=actor, request_id=request_id).state

    for request_id in ids:
        done, refused = settled(race(*[lambda r=request_id: determine(r)] * 2))
        assert done == ["approved"]
        assert len(refused) == 1
        with engine.connect() as conn:
            events = conn.execute(
                text("SELECT count(*) FROM audit_event WHERE action = 'request.determine.update'")
            ).scalar_one()
        assert events == ids.index(request_id) + 1  # applied once, recorded once


def test_two_releases_of_one_label_leave_one_whole_release(
    engine: DbEngine, tmp_path: Path
) -> None:
    households, members = [], []
    for serial in range(1, 4):
        h, m = family(serial)
        households.append(h)
        members += m
    run_import(engine, write_batch(tmp_path / "batch", households, members), status="approved")

    def create(label: str) -> str:
        with session_scope(engine) as session:
            return create_release(
                session,
                actor=user(session, "determiner"),
                label=label,
                releases_dir=tmp_path / "releases",
            ).release

    for label in ("R1", "R2"):
        done, refused = settled(race(*[lambda x=label: create(x)] * 2))
        assert done == [label]
        assert len(refused) == 1
        with session_scope(engine) as session:
            report = verify_release(session, label=label, releases_dir=tmp_path / "releases")
        assert report.ok, report.problems
        assert {p.name for p in (tmp_path / "releases").iterdir()} >= {label}
        assert not [p for p in (tmp_path / "releases").iterdir() if p.name.startswith(".")]


def test_two_scorings_of_one_release_keep_one_file_as_hashed(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)  # scored with floor_model() once already
    model = floor_model(version="2")
    done, refused = settled(race(*[lambda: score(engine, tmp_path, "R1", model)] * 2))
    assert done
    assert len(done) + len(refused) == 2
    with session_scope(engine) as session:
        scorings = session.execute(select(Scoring).order_by(Scoring.id)).scalars().all()
        assert len(scorings) == 2
        for scoring in scorings:
            checked_scores_file(scoring, tmp_path)


def test_entitlements_changed_in_the_database_are_seen_and_not_approved(
    engine: DbEngine, tmp_path: Path
) -> None:
    """The amounts of a cycle are the legal basis of payments: an amount raised in the
    database is caught by `audit verify` and stops the cycle's approval."""
    from lumbung.audit import integrity

    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-T1")
    with session_scope(engine) as session:
        assert integrity.entitlement_problems(session) == []
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE entitlement SET amount_idr = amount_idr + 90000000 WHERE beneficiary_id ="
                " (SELECT min(beneficiary_id) FROM entitlement)"
            )
        )
    with session_scope(engine) as session:
        [problem] = integrity.entitlement_problems(session)
    assert problem.startswith("siklus PKH-T1: ") and "di luar Lumbung" in problem
    with pytest.raises(Conflict, match="siklus PKH-T1"):
        approve(engine, "PKH-T1", data_dir=tmp_path)
    with session_scope(engine) as session:
        report = integrity.verify(session, data_dir=tmp_path)
    assert problem in report.problems
