"""A member's regency, for a name search within a regency

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:30:00

`member.regency_code`: the family's regency, copied to its members, and the index
`ix_member_regency_name (regency_code, name_normalised, household_id)`. A search by name
within a regency (or a district or village of it) is then one range of one index: before, it
read every member of the nation whose name starts with what was typed and kept those whose
family lies in the region, which grows with the nation (1,000,000 families: "nur" is 72,374
members, 25 ms of PostgreSQL per search; 100 million people, about 7 million).

The column is derived (audit/seal.py: not sealed) and NOT NULL on PostgreSQL; on SQLite it is
added nullable (SQLite cannot make an added column NOT NULL without copying the table), and
every writer fills it on both (tests/test_search_regency.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    column_type = sa.String(5, collation="C") if postgres else sa.String(5)
    op.add_column("member", sa.Column("regency_code", column_type, nullable=True))
    if postgres:
        op.execute(
            "UPDATE member SET regency_code = h.regency_code FROM household h "
            "WHERE h.id = member.household_id"
        )
        op.execute("ALTER TABLE member ALTER COLUMN regency_code SET NOT NULL")
    else:
        op.execute(
            "UPDATE member SET regency_code = "
            "(SELECT h.regency_code FROM household h WHERE h.id = member.household_id)"
        )
    op.create_index(
        "ix_member_regency_name", "member", ["regency_code", "name_normalised", "household_id"]
    )
    if postgres:
        op.execute("ANALYZE member")


def downgrade() -> None:
    op.drop_index("ix_member_regency_name", table_name="member")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("regency_code")
