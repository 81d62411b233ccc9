"""A registry with an approved cycle, ready to be paid (delivery tests)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine

from conftest import user
from lumbung.db import session_scope
from lumbung.delivery import batches
from lumbung.delivery.batches import BatchPlan, BatchRow
from lumbung.delivery.outcomes import OutcomeRow, OutcomeSummary, record_outcomes
from test_cycles import approve, cycle, setup_registry


def approved_cycle(engine: DbEngine, data_dir: Path, label: str, program: str) -> None:
    """The ten families of test_cycles, released, scored and `program` run and approved."""
    setup_registry(engine, data_dir)
    cycle(engine, data_dir, label, program=program)
    approve(engine, label, data_dir=data_dir)


def create(engine: DbEngine, label: str, actor: str = "determiner", **options: bool) -> BatchPlan:
    with session_scope(engine) as session:
        return batches.create_batches(session, actor=user(session, actor), label=label, **options)


def approve_batch(engine: DbEngine, batch_id: int, actor: str = "approver") -> BatchRow:
    with session_scope(engine) as session:
        return batches.approve_batch(session, actor=user(session, actor), batch_id=batch_id)


def record(
    engine: DbEngine,
    rows: list[OutcomeRow],
    actor: str = "determiner",
    partner: str | None = None,
) -> OutcomeSummary:
    with session_scope(engine) as session:
        return record_outcomes(
            session,
            actor=user(session, actor),
            rows=rows,
            file_name="status.csv",
            file_sha256="0" * 64,
            partner_code=partner,
        )


def items(engine: DbEngine) -> list[tuple[int, int, int, str]]:
    """(cycle, beneficiary, attempt, state) of every payment item."""
    with engine.connect() as conn:
        return [
            (int(r[0]), int(r[1]), int(r[2]), str(r[3]))
            for r in conn.execute(
                text(
                    "SELECT cycle_id, beneficiary_id, attempt, state FROM payment_item"
                    " ORDER BY beneficiary_id, attempt"
                )
            )
        ]
