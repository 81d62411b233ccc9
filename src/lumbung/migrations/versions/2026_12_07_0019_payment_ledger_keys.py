"""Payment items and events: one foreign key (batch, cycle) instead of two; awaiting seals indexed

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 19:10:00

Issue 16, performance. Every payment item and every ledger event named its batch and its cycle
by two foreign keys, each checked by a trigger per inserted row (a national cycle: 10 M items
and 10 M `batched` events in one statement each, and a status file's events). One composite
key (batch_id, cycle_id) → payment_batch (id, cycle_id) checks both at once, and more: the row
is of its batch's cycle. A partial index finds the online redemptions awaiting their group
seal (`source = 'pos:awaiting-seal'`) without reading the ledger. The events' index on
`batch_id` goes: nothing reads the ledger by batch, and each event paid an entry in it.

Existing rows are checked as the new keys are made (PostgreSQL: by one join when the
constraint is added; SQLite: the tables are copied, their keys checked by `foreign_key_check`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

AWAITING = sa.text("source = 'pos:awaiting-seal'")


def _rekey(table: str, *, composite: bool) -> None:
    """Drop the table's batch and cycle keys; add the composite one (or the two back)."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        if composite:
            batch_op.drop_constraint(f"fk_{table}_cycle_id_cycle", type_="foreignkey")
            batch_op.drop_constraint(f"fk_{table}_batch_id_payment_batch", type_="foreignkey")
            batch_op.create_foreign_key(
                f"fk_{table}_batch_id_payment_batch",
                "payment_batch",
                ["batch_id", "cycle_id"],
                ["id", "cycle_id"],
            )
        else:
            batch_op.drop_constraint(f"fk_{table}_batch_id_payment_batch", type_="foreignkey")
            batch_op.create_foreign_key(
                f"fk_{table}_batch_id_payment_batch", "payment_batch", ["batch_id"], ["id"]
            )
            batch_op.create_foreign_key(f"fk_{table}_cycle_id_cycle", "cycle", ["cycle_id"], ["id"])


def _check_sqlite() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table in ("payment_item", "payment_event"):
            wrong = bind.exec_driver_sql(f"PRAGMA foreign_key_check({table})").fetchall()
            if wrong:
                raise RuntimeError(f"{table}: {len(wrong)} rows whose batch is not of their cycle")


def upgrade() -> None:
    op.create_index("uq_payment_batch_id_cycle", "payment_batch", ["id", "cycle_id"], unique=True)
    _rekey("payment_item", composite=True)
    _rekey("payment_event", composite=True)
    _check_sqlite()
    op.drop_index("ix_payment_event_batch_id", table_name="payment_event")
    op.create_index(
        "ix_payment_event_awaiting_seal",
        "payment_event",
        ["cycle_id", "id"],
        sqlite_where=AWAITING,
        postgresql_where=AWAITING,
    )


def downgrade() -> None:
    op.drop_index("ix_payment_event_awaiting_seal", table_name="payment_event")
    op.create_index("ix_payment_event_batch_id", "payment_event", ["batch_id"])
    _rekey("payment_event", composite=False)
    _rekey("payment_item", composite=False)
    op.drop_index("uq_payment_batch_id_cycle", table_name="payment_batch")
