"""entitlement keyed by (cycle_id, beneficiary_id); its surrogate id dropped

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 16:10:00

An entitlement is identified by its cycle and beneficiary, which were unique already. The
surrogate id added a second index to every cycle (95 M entries for a national PBI-JKN cycle)
and numbered the rows in the order of the cycle's file, which therefore had to be sorted.
Nothing referred to it. On PostgreSQL the constraints are changed on the partitioned table
and with it on every partition; SQLite rebuilds the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UNIQUE = "uq_entitlement_cycle_id"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("entitlement", recreate="always") as batch_op:
            batch_op.drop_constraint(UNIQUE, type_="unique")
            batch_op.drop_constraint("pk_entitlement", type_="primary")
            batch_op.drop_column("id")
            batch_op.create_primary_key("pk_entitlement", ["cycle_id", "beneficiary_id"])
        return
    op.drop_constraint("pk_entitlement", "entitlement", type_="primary")
    op.drop_constraint(UNIQUE, "entitlement", type_="unique")
    op.drop_column("entitlement", "id")  # and with it the sequence it owned
    op.create_primary_key("pk_entitlement", "entitlement", ["cycle_id", "beneficiary_id"])


def downgrade() -> None:
    """Ids again, numbered per cycle in beneficiary order (the order files were written in)."""
    numbered = (
        "SELECT cycle_id, beneficiary_id, "
        "row_number() OVER (ORDER BY cycle_id, beneficiary_id) AS n FROM entitlement"
    )
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("entitlement", recreate="always") as batch_op:
            batch_op.add_column(sa.Column("id", sa.Integer(), nullable=True))
        op.execute(
            f"UPDATE entitlement SET id = (SELECT n FROM ({numbered}) AS numbered "
            "WHERE numbered.cycle_id = entitlement.cycle_id "
            "AND numbered.beneficiary_id = entitlement.beneficiary_id)"
        )
        with op.batch_alter_table("entitlement", recreate="always") as batch_op:
            batch_op.alter_column("id", existing_type=sa.Integer(), nullable=False)
            batch_op.drop_constraint("pk_entitlement", type_="primary")
            batch_op.create_primary_key("pk_entitlement", ["id", "cycle_id"])
            batch_op.create_unique_constraint(UNIQUE, ["cycle_id", "beneficiary_id"])
        return
    op.add_column("entitlement", sa.Column("id", sa.BigInteger(), nullable=True))
    op.execute(
        f"UPDATE entitlement e SET id = numbered.n FROM ({numbered}) AS numbered "
        "WHERE numbered.cycle_id = e.cycle_id AND numbered.beneficiary_id = e.beneficiary_id"
    )
    op.execute("CREATE SEQUENCE entitlement_id_seq OWNED BY entitlement.id")
    op.execute(
        "SELECT setval('entitlement_id_seq', coalesce((SELECT max(id) FROM entitlement), 0) + 1, false)"
    )
    op.execute("ALTER TABLE entitlement ALTER COLUMN id SET DEFAULT nextval('entitlement_id_seq')")
    op.alter_column("entitlement", "id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_constraint("pk_entitlement", "entitlement", type_="primary")
    op.create_primary_key("pk_entitlement", "entitlement", ["id", "cycle_id"])
    op.create_unique_constraint(UNIQUE, "entitlement", ["cycle_id", "beneficiary_id"])
