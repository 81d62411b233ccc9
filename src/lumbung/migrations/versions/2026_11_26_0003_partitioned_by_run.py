"""entitlement partitioned by cycle and pmt_score by scoring (PostgreSQL); entitlement key
(id, cycle_id)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 13:40:00

Loading a national cycle (95 M rows for PBI-JKN) or scoring (30 M) into one shared table cost a
foreign-key check per row and an insertion into every index per row. Partitioned by the run
that writes them, a run's rows are loaded into a table of their own, indexed and checked once,
then attached (lumbung/partitions.py). Existing rows move into one partition per run. SQLite
has no partitions; there only the entitlement key changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _entitlement(key: tuple[str, ...], **options: Any) -> None:
    op.create_table(
        "entitlement",
        sa.Column("id", ID, nullable=False, autoincrement=False),  # the sequence is kept
        sa.Column("cycle_id", ID, nullable=False),
        sa.Column("beneficiary_id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=True),
        sa.Column("kk_number", sa.String(length=16), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=True),
        sa.Column("regency_code", sa.String(length=5), nullable=False),
        sa.Column("amount_idr", sa.BigInteger(), nullable=False),
        sa.Column("breakdown", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycle.id"], name="fk_entitlement_cycle_id_cycle"),
        sa.PrimaryKeyConstraint(*key, name="pk_entitlement"),
        sa.UniqueConstraint("cycle_id", "beneficiary_id", name="uq_entitlement_cycle_id"),
        **options,
    )
    # Ids are reserved from the old table's sequence in blocks (bulk.reserve_ids).
    op.execute("ALTER SEQUENCE entitlement_id_seq OWNED BY entitlement.id")
    op.execute("ALTER TABLE entitlement ALTER COLUMN id SET DEFAULT nextval('entitlement_id_seq')")


def _pmt_score(**options: Any) -> None:
    op.create_table(
        "pmt_score",
        sa.Column("scoring_id", ID, nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("kk_number", sa.String(length=16), nullable=False),
        sa.Column("regency_code", sa.String(length=5), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("decile", sa.SmallInteger(), nullable=False),
        sa.Column("rank_area", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scoring_id"], ["pmt_scoring.id"], name="fk_pmt_score_scoring_id_pmt_scoring"
        ),
        sa.PrimaryKeyConstraint("scoring_id", "household_id", name="pk_pmt_score"),
        **options,
    )


TABLES: dict[str, tuple[str, tuple[str, ...], Callable[..., None]]] = {
    # table: (partition column, its constraints, how to create it)
    "entitlement": (
        "cycle_id",
        ("pk_entitlement", "uq_entitlement_cycle_id", "fk_entitlement_cycle_id_cycle"),
        lambda **o: _entitlement(("id", "cycle_id"), **o),
    ),
    "pmt_score": (
        "scoring_id",
        ("pk_pmt_score", "fk_pmt_score_scoring_id_pmt_scoring"),
        _pmt_score,
    ),
}


def _set_aside(table: str, constraints: tuple[str, ...]) -> None:
    op.rename_table(table, f"{table}_old")
    for name in constraints:
        op.execute(f"ALTER TABLE {table}_old RENAME CONSTRAINT {name} TO {name}_old")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("entitlement", recreate="always") as batch_op:
            batch_op.drop_constraint("pk_entitlement", type_="primary")
            batch_op.create_primary_key("pk_entitlement", ["id", "cycle_id"])
        return
    for table, (column, constraints, create) in TABLES.items():
        _set_aside(table, constraints)
        create(postgresql_partition_by=f"LIST ({column})")
        runs = op.get_bind().execute(sa.text(f"SELECT DISTINCT {column} FROM {table}_old"))
        for (run,) in runs.fetchall():
            # As partitions.py loads a run: a bare table, filled, then checked and attached.
            part, run = f"{table}_p{int(run)}", int(run)
            op.execute(f"CREATE TABLE {part} (LIKE {table} INCLUDING DEFAULTS)")
            op.execute(f"INSERT INTO {part} SELECT * FROM {table}_old WHERE {column} = {run}")
            op.execute(f"ALTER TABLE {part} ADD CONSTRAINT {part}_run CHECK ({column} = {run})")
            op.execute(f"ALTER TABLE {table} ATTACH PARTITION {part} FOR VALUES IN ({run})")
            op.execute(f"ALTER TABLE {part} DROP CONSTRAINT {part}_run")
        op.drop_table(f"{table}_old")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("entitlement", recreate="always") as batch_op:
            batch_op.drop_constraint("pk_entitlement", type_="primary")
            batch_op.create_primary_key("pk_entitlement", ["id"])
        return
    _set_aside("entitlement", TABLES["entitlement"][1])
    _entitlement(("id",))
    _set_aside("pmt_score", TABLES["pmt_score"][1])
    _pmt_score()
    for table in TABLES:
        op.execute(f"INSERT INTO {table} SELECT * FROM {table}_old")
        op.drop_table(f"{table}_old")  # and with it every partition
