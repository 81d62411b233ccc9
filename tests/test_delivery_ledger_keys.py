"""Migration 0019: payment items and events keyed to (batch, cycle) by one foreign key; the
redemptions awaiting their seal indexed. Migration 0020: the events' key dropped, the cycle
check joins them to their attempts instead. Both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.exc import IntegrityError

from conftest import user
from delivery_helpers import approved_cycle, create
from lumbung import migrate
from lumbung.db import session_scope
from lumbung.delivery import ledger

pytestmark = pytest.mark.usefixtures("users")
HEAD = migrate.head()
NEW = ("id", "label")  # of the copied cycle


def keys(engine: DbEngine, table: str) -> set[tuple[tuple[str, ...], str, tuple[str, ...]]]:
    return {
        (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
        for fk in inspect(engine).get_foreign_keys(table)
    }


def ledger_rows(engine: DbEngine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with engine.connect() as conn:
        # every column but `live` (migration 0020), which a downgrade to 0018 takes away
        names = [
            c["name"] for c in inspect(conn).get_columns("payment_item") if c["name"] != "live"
        ]
        item_rows = conn.execute(
            text(f"SELECT {', '.join(names)} FROM payment_item ORDER BY batch_id, beneficiary_id")
        ).all()
        event_rows = conn.execute(text("SELECT * FROM payment_event ORDER BY id")).all()
    return [tuple(r) for r in item_rows], [tuple(r) for r in event_rows]


def check_ok(engine: DbEngine, label: str) -> ledger.CycleCheck:
    with session_scope(engine) as session:
        found = ledger.check_cycle(session, actor=user(session, "auditor"), label=label)
    assert found.ok, found.problems
    return found


def test_the_migration_keeps_a_paid_cycle_and_checks_batch_and_cycle_at_once(
    engine: DbEngine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    (batch,) = create(engine, "BBM-1").batches
    before = ledger_rows(engine)
    assert len(before[0]) == len(before[1]) == 7
    composite = (("batch_id", "cycle_id"), "payment_batch", ("id", "cycle_id"))
    try:
        migrate.downgrade(engine, "0018")
        for table in ("payment_item", "payment_event"):
            assert composite not in keys(engine, table)
            assert (("cycle_id",), "cycle", ("id",)) in keys(engine, table)
        assert ledger_rows(engine) == before
    finally:
        migrate.upgrade(engine)
    assert migrate.current(engine) == HEAD
    assert keys(engine, "payment_item") >= {composite}
    assert not any(referred == "cycle" for _, referred, _ in keys(engine, "payment_item"))
    # The ledger has no key of its own since 0020: `cycle check` joins events to attempts.
    assert keys(engine, "payment_event") == set()
    assert ledger_rows(engine) == before
    assert check_ok(engine, "BBM-1").in_flight.entitlements == 7
    # An item of the batch's entitlement but of another cycle than the batch's: refused by
    # the one key (before, each of the two keys alone let it in).
    columns = inspect(engine).get_columns("cycle")
    rest = ", ".join(c["name"] for c in columns if c["name"] not in NEW)
    with engine.connect() as conn:
        other = conn.execute(text("SELECT max(id) + 1000 FROM cycle")).scalar_one()
        conn.execute(
            text(
                f"INSERT INTO cycle (id, label, {rest}) SELECT :other, 'OTHER', {rest}"
                " FROM cycle WHERE label = 'BBM-1'"
            ),
            {"other": other},
        )
        item_columns = [c["name"] for c in inspect(conn).get_columns("payment_item")]
        copied = ", ".join(":other" if c == "cycle_id" else c for c in item_columns)
        with pytest.raises(IntegrityError):
            conn.execute(
                text(
                    f"INSERT INTO payment_item ({', '.join(item_columns)}) SELECT {copied}"
                    " FROM payment_item WHERE batch_id = :batch"
                ),
                {"other": other, "batch": batch.id},
            )
        conn.rollback()
    # An event naming a batch its attempt is not in (no key refuses it since 0020): the
    # cycle check finds it, by the join of events to attempts.
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payment_event (cycle_id, beneficiary_id, attempt, batch_id,"
                " kind, amount_idr, recorded_at, source, actor)"
                " SELECT cycle_id, beneficiary_id, attempt, batch_id + 999, 'paid', amount_idr,"
                " recorded_at, source, actor FROM payment_event WHERE batch_id = :batch"
                " AND beneficiary_id = (SELECT min(beneficiary_id) FROM payment_item)"
            ),
            {"batch": batch.id},
        )
    with session_scope(engine) as session:
        found = ledger.check_cycle(session, actor=user(session, "auditor"), label="BBM-1")
    assert not found.ok
    assert any(f"batch {batch.id + 999}" in p and "tidak ada" in p for p in found.problems), (
        found.problems
    )


def test_the_awaiting_seal_index_is_partial(engine: DbEngine) -> None:
    (index,) = [
        i
        for i in inspect(engine).get_indexes("payment_event")
        if i["name"] == "ix_payment_event_awaiting_seal"
    ]
    assert index["column_names"] == ["cycle_id", "id"] and not index["unique"]
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            definition = conn.execute(
                text("SELECT pg_get_indexdef('ix_payment_event_awaiting_seal'::regclass)")
            ).scalar_one()
        else:
            definition = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'ix_payment_event_awaiting_seal'")
            ).scalar_one()
    assert "pos:awaiting-seal" in str(definition)
