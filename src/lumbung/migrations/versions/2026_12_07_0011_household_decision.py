"""Which families a bulk decision decided

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:10:00

`household_decision (household_id, audit_event_id)`: a verification or determination of
families in bulk (`registry.decisions`) is one audit event naming its families by their count
and the sha256 of their sorted ids; this table says which they are, so that each family's
history shows the decision (a newcomer found it missing, session 11). Decisions taken before
this revision are not linked (their events keep the count and the hash).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "household_decision",
        sa.Column("household_id", big, nullable=False),
        sa.Column("audit_event_id", big, nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name="fk_household_decision_household_id_household"
        ),
        sa.ForeignKeyConstraint(
            ["audit_event_id"],
            ["audit_event.id"],
            name="fk_household_decision_audit_event_id_audit_event",
        ),
        sa.PrimaryKeyConstraint("household_id", "audit_event_id", name="pk_household_decision"),
    )
    op.create_index(
        "ix_household_decision_audit_event_id", "household_decision", ["audit_event_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_household_decision_audit_event_id", table_name="household_decision")
    op.drop_table("household_decision")
