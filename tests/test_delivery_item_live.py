"""Migration 0020: whether an attempt holds its entitlement is the column `live`, which the
unique index's predicate reads, so that a payment recorded (pending → paid) changes no indexed
column and PostgreSQL updates the row in place (HOT). Both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.exc import IntegrityError

from conftest import user
from delivery_helpers import approve_batch, approved_cycle, create, items
from lumbung import migrate
from lumbung.db import session_scope
from lumbung.delivery import batches
from lumbung.delivery.outcomes import record_outcomes
from test_delivery_batches import check
from test_delivery_outcomes import row

pytestmark = pytest.mark.usefixtures("users")
HEAD = migrate.head()


def lives(engine: DbEngine) -> list[tuple[str, bool]]:
    with engine.connect() as conn:
        return [
            (str(state), bool(live))
            for state, live in conn.execute(
                text("SELECT state, live FROM payment_item ORDER BY beneficiary_id, attempt")
            )
        ]


def index_definition(engine: DbEngine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            found = conn.execute(text("SELECT pg_get_indexdef('uq_payment_item_live'::regclass)"))
        else:
            found = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'uq_payment_item_live'")
            )
        return str(found.scalar_one())


def paid_and_failed(engine: DbEngine, tmp_path: Path) -> list[tuple[int, int, int, str]]:
    """A batch of seven sent; four paid, one failed, one paid and returned, one unanswered.
    On PostgreSQL: the four payments were updated in place (HOT), the others not."""
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    (batch,) = create(engine, "BBM-1").batches
    approve_batch(engine, batch.id)
    sent = items(engine)
    answers = [row(i + 2, it, "paid") for i, it in enumerate(sent[:4])]
    answers += [row(6, sent[4], "failed"), row(7, sent[5], "paid"), row(8, sent[5], "returned")]
    with session_scope(engine) as session:
        summary = record_outcomes(
            session,
            actor=user(session, "determiner"),
            rows=answers,
            file_name="status.csv",
            file_sha256="0" * 64,
        )
        assert summary.recorded == {"paid": 5, "failed": 1, "returned": 1}, summary.problems
        if engine.dialect.name == "postgresql":
            updated, hot = session.execute(
                text(
                    "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
                    " WHERE relname = 'payment_item'"
                )
            ).one()
            # paid: 5 rows moved pending → paid, `live` unchanged: HOT; the failed one and the
            # returned one (paid → returned) lost `live`: new index entries.
            assert (updated, hot) == (7, 5)
    return sent


def test_live_follows_the_state_and_the_check_refuses_anything_else(
    engine: DbEngine, tmp_path: Path
) -> None:
    paid_and_failed(engine, tmp_path)
    assert lives(engine) == [
        ("paid", True),
        ("paid", True),
        ("paid", True),
        ("paid", True),
        ("failed", False),
        ("returned", False),
        ("pending", True),
    ]
    assert check(engine, "BBM-1").ok
    for wrong in ("state = 'failed'", "live = NOT live"):
        with engine.connect() as conn, pytest.raises(IntegrityError):
            conn.execute(
                text(
                    f"UPDATE payment_item SET {wrong} WHERE state = 'pending'"
                    " AND beneficiary_id = (SELECT max(beneficiary_id) FROM payment_item)"
                )
            )
    with engine.connect() as conn:
        definition = index_definition(engine)
        assert "live" in definition and "state" not in definition, definition
        if engine.dialect.name == "postgresql":
            options = conn.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'payment_item'")
            ).scalar_one()
            assert options == ["fillfactor=50"]


def test_a_second_live_attempt_is_refused_a_dead_one_makes_room(
    engine: DbEngine, tmp_path: Path
) -> None:
    paid_and_failed(engine, tmp_path)
    copy = (
        "INSERT INTO payment_item (batch_id, beneficiary_id, cycle_id, attempt, household_id,"
        " kk_number, nik, regency_code, amount_idr, account_id, state, live)"
        " SELECT batch_id, beneficiary_id, cycle_id, attempt + 1, household_id, kk_number,"
        " nik, regency_code, amount_idr, account_id, 'pending', :live FROM payment_item"
        " WHERE state = :state"
    )
    # A paid entitlement holds its place: no second live attempt (primary key apart, the
    # copy goes into another batch below).
    with session_scope(engine) as session:
        other = batches.create_batches(
            session, actor=user(session, "determiner"), label="BBM-1", retry_unchanged=True
        )
    # The failed and the returned entitlement (no longer live) were batched again; the paid
    # and the pending ones were not.
    (again,) = other.batches
    assert again.count == 2
    with engine.connect() as conn, pytest.raises(IntegrityError):
        conn.execute(
            text(copy.replace("SELECT batch_id", "SELECT :batch")),
            {"batch": again.id, "live": True, "state": "paid"},
        )
    with engine.connect() as conn:
        conn.execute(
            text(copy.replace("SELECT batch_id", "SELECT :batch").replace("'pending'", "'failed'")),
            {"batch": again.id, "live": False, "state": "paid"},
        )
        conn.rollback()  # allowed (a dead attempt), not kept
    assert check(engine, "BBM-1").ok


def test_the_migration_keeps_the_rows_and_gives_live_from_the_state(
    engine: DbEngine, tmp_path: Path
) -> None:
    paid_and_failed(engine, tmp_path)
    before = items(engine)
    try:
        migrate.downgrade(engine, "0019")
        assert "live" not in {c["name"] for c in inspect(engine).get_columns("payment_item")}
        definition = index_definition(engine)
        assert "pending" in definition and "paid" in definition, definition
        assert items(engine) == before
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                assert (
                    conn.execute(
                        text("SELECT reloptions FROM pg_class WHERE relname = 'payment_item'")
                    ).scalar_one()
                    is None
                )
    finally:
        migrate.upgrade(engine)
    assert migrate.current(engine) == HEAD
    assert items(engine) == before
    assert [live for _, live in lives(engine)] == [
        state in ("pending", "paid") for *_, state in before
    ]
    assert check(engine, "BBM-1").ok


def test_a_new_batch_counts_its_items_by_state_as_a_fresh_read_does(
    engine: DbEngine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    plan = create(engine, "BBM-1")
    assert plan.batches
    with session_scope(engine) as session:
        for made in plan.batches:
            read = batches.show_batch(session, actor=user(session, "auditor"), batch_id=made.id)
            assert made.states == read.states == {"pending": made.count}
