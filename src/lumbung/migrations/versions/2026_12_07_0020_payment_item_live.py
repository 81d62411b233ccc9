"""Payment items: "holds its entitlement" as its own column (a payment recorded is a HOT update); events without a key

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 22:30:00

Issue 16, performance. The unique index that keeps an entitlement in at most one live attempt
was partial on `state` (`WHERE state = 'pending' OR state = 'paid'`): a column in an index's
predicate is an indexed column to PostgreSQL, so every change of state, pending → paid
included, wrote a new version of the row with a new entry in each of the table's four indexes.
Now the column `live` (the attempt holds its entitlement: pending or paid, kept equal to that
by a check constraint) carries the index's predicate; a payment recorded changes `state`
only, no indexed column, and PostgreSQL makes the new version on the same page with no index
entry (a HOT update) where the page has room: new pages of the table leave half free
(`fillfactor` 50).

Existing rows get `live` from their state. Their pages stay as full as they are (giving them
room means rewriting the table under an exclusive lock: VACUUM FULL, left to the operator);
their updates are HOT once pruning or VACUUM has freed room on their page.

The ledger's foreign key (batch_id, cycle_id) → payment_batch goes: every event is made from
its attempt's row in the same statement, and that row's own key names the batch; the trigger
that checked each event again was a row-by-row cost in every batch creation and status file.
`cycle check` joins the events to their attempts, batch included, in one pass instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

LIVE_STATE = sa.text("state = 'pending' OR state = 'paid'")
LIVE_CHECK = "live = (state = 'pending' OR state = 'paid')"
FILLFACTOR = 50
EVENT_KEY = "fk_payment_event_batch_id_payment_batch"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.drop_index("uq_payment_item_live", table_name="payment_item")
    op.add_column(
        "payment_item",
        sa.Column("live", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.execute(
        "UPDATE payment_item SET live = " + ("false" if _postgres() else "0") + " WHERE NOT ("
        "state = 'pending' OR state = 'paid')"
    )
    with op.batch_alter_table("payment_item", schema=None) as batch_op:
        batch_op.alter_column("live", existing_type=sa.Boolean(), server_default=None)
        batch_op.create_check_constraint(op.f("ck_payment_item_live_state"), LIVE_CHECK)
    op.create_index(
        "uq_payment_item_live",
        "payment_item",
        ["cycle_id", "beneficiary_id"],
        unique=True,
        sqlite_where=sa.text("live"),
        postgresql_where=sa.text("live"),
    )
    if _postgres():
        op.execute(f"ALTER TABLE payment_item SET (fillfactor = {FILLFACTOR})")
    with op.batch_alter_table("payment_event", schema=None) as batch_op:
        batch_op.drop_constraint(EVENT_KEY, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("payment_event", schema=None) as batch_op:
        batch_op.create_foreign_key(
            EVENT_KEY, "payment_batch", ["batch_id", "cycle_id"], ["id", "cycle_id"]
        )
    if _postgres():
        op.execute("ALTER TABLE payment_item RESET (fillfactor)")
    op.drop_index("uq_payment_item_live", table_name="payment_item")
    with op.batch_alter_table("payment_item", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payment_item_live_state"), type_="check")
        batch_op.drop_column("live")
    op.create_index(
        "uq_payment_item_live",
        "payment_item",
        ["cycle_id", "beneficiary_id"],
        unique=True,
        sqlite_where=LIVE_STATE,
        postgresql_where=LIVE_STATE,
    )
