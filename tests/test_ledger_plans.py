"""How the cycle check reads the ledger: per entitlement through the (cycle, beneficiary,
attempt) key, never a scan of the cycle's payments for each entitlement.

The check runs on every cycle page and delivery page. Its states per entitlement once joined
a materialised MAX(attempt) subquery, which SQLite scanned whole for each entitlement:
quadratic, 53 s for a cycle of 31,000 persons, holding the page's transaction (and so the
writer lock every other page waits for) meanwhile. A plan, not a timing: what stays true of
the statement whatever the machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from delivery_helpers import approved_cycle, create
from lumbung.delivery.ledger import state_totals_query

pytestmark = pytest.mark.usefixtures("users")


def _plan(engine: Engine, cycle_id: int) -> list[str]:
    query = state_totals_query(cycle_id)
    sql = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        rows = connection.execute(text(explain + sql)).all()
    return [str(row[-1]) for row in rows]


def test_the_states_of_a_cycles_entitlements_are_read_by_key(
    engine: Engine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path / "data", "SBK-1", "SEMBAKO")
    create(engine, "SBK-1")  # its batches: payments to join
    with engine.connect() as connection:
        cycle_id = connection.execute(
            text("SELECT id FROM cycle WHERE label = 'SBK-1'")
        ).scalar_one()
    plan = _plan(engine, cycle_id)
    if engine.dialect.name == "sqlite":
        # Every table reached by an index search (SEARCH), none scanned (SCAN), and no
        # subquery materialised to be scanned again for each entitlement.
        assert plan and not [step for step in plan if step.strip().startswith("SCAN")], plan
        assert not [step for step in plan if "MATERIALIZE" in step], plan
        assert any("payment_item" in step and "beneficiary_id=?" in step for step in plan), plan
    else:
        # The later attempt's NOT EXISTS made an anti-join, not a subplan run per row.
        assert any("Anti Join" in step for step in plan), plan
        assert not any("SubPlan" in step for step in plan), plan
