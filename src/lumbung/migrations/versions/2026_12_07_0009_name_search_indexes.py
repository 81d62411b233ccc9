"""Indexes for reading the registry by name and region

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:05:00

- `member.name_normalised` compared byte by byte on PostgreSQL (the "C" collation, as the
  identifiers since 0006): a name typed in a search is a prefix, and a prefix is then a range
  of an ordinary index whatever the value (SQLite compares bytes anyway).
- `ix_member_name_normalised (name_normalised, household_id)`: the families of the members
  whose names start with a prefix, from the index alone.
- `ix_household_regency_id (regency_code, id)` and `ix_household_district_code`: a reader's
  region as an equality on the column of its level (`registry.models.household_in_area`).

On a registry of 1,000,000 families (3.5 M members) on PostgreSQL the three indexes took 22 s
to build; a search of the commonest first word within the busiest regency went from 1.4 s to
47 ms (benchmarks/api_load.py).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Same type, another collation: no rewrite of the table (no index used the column).
        op.execute('ALTER TABLE member ALTER COLUMN name_normalised TYPE varchar(100) COLLATE "C"')
    op.create_index("ix_member_name_normalised", "member", ["name_normalised", "household_id"])
    op.create_index("ix_household_regency_id", "household", ["regency_code", "id"])
    op.create_index("ix_household_district_code", "household", ["district_code"])


def downgrade() -> None:
    op.drop_index("ix_household_district_code", table_name="household")
    op.drop_index("ix_household_regency_id", table_name="household")
    op.drop_index("ix_member_name_normalised", table_name="member")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE member ALTER COLUMN name_normalised TYPE varchar(100)")
