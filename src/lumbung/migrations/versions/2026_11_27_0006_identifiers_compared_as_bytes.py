"""NIKs, KK numbers and region codes of the registry compared byte by byte (PostgreSQL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 08:00:00

On PostgreSQL these columns get the "C" collation (`db.identifier`): their values are digits and
dots, ordered the same either way, and their indexes are built and searched about twice as fast
as under a database's default collation. Changing a column's collation keeps its rows and
rebuilds its indexes, in the migration's transaction (about 3 s for 1 M families and 3.5 M
members), and drops the column's statistics: the tables are analysed again at the end, or every
lookup by NIK or KK would be planned blind until autovacuum came by (never, on a server without
it). SQLite compares bytes anyway: nothing to do there.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (
    ("household", "kk_number", 16),
    ("household", "district_code", 8),
    ("household", "regency_code", 5),
    ("household", "province_code", 2),
    ("member", "nik", 16),
    ("duplicate_review", "nik", 16),
)


def _collate(collation: str | None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    clause = f' COLLATE "{collation}"' if collation else ' COLLATE "default"'
    for table, column, length in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({length}){clause}")
    op.execute(f"ANALYZE {', '.join(sorted({table for table, _, _ in COLUMNS}))}")


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate(None)
