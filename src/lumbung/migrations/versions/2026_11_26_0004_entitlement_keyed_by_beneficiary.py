"""entitlement keyed by (cycle_id, beneficiary_id), its surrogate id dropped; breakdown NULL
for a program of one component

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 16:10:00

An entitlement is identified by its cycle and beneficiary, which were unique already. The
surrogate id added a second index to every cycle (95 M entries for a national PBI-JKN cycle)
and numbered the rows in the order of the cycle's file, which therefore had to be sorted.
Nothing referred to it. A program of one component (Sembako, PBI-JKN) no longer repeats the
same breakdown on every row: it follows from the amount and the component's amount, which the
cycle's summary keeps (`cycles.models.components`). On PostgreSQL the constraints are changed
on the partitioned table and with it on every partition; SQLite rebuilds the table.
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
            batch_op.alter_column("breakdown", existing_type=sa.Text(), nullable=True)
        return
    op.drop_constraint("pk_entitlement", "entitlement", type_="primary")
    op.drop_constraint(UNIQUE, "entitlement", type_="unique")
    op.drop_column("entitlement", "id")  # and with it the sequence it owned
    op.create_primary_key("pk_entitlement", "entitlement", ["cycle_id", "beneficiary_id"])
    op.alter_column("entitlement", "breakdown", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    """Ids again, numbered in (cycle, beneficiary) order (the order files were written in);
    every breakdown written out."""
    numbered = (
        "SELECT cycle_id, beneficiary_id, "
        "row_number() OVER (ORDER BY cycle_id, beneficiary_id) AS n FROM entitlement"
    )
    if op.get_bind().dialect.name != "postgresql":
        op.execute(
            "UPDATE entitlement SET breakdown = (SELECT json_object(j.key, json_object("
            "'persons', entitlement.amount_idr / j.value, 'amount_idr', entitlement.amount_idr)) "
            "FROM cycle c, json_each(c.summary, '$.components') j "
            "WHERE c.id = entitlement.cycle_id) WHERE breakdown IS NULL"
        )
        with op.batch_alter_table("entitlement", recreate="always") as batch_op:
            batch_op.alter_column("breakdown", existing_type=sa.Text(), nullable=False)
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
    op.execute(
        "UPDATE entitlement e SET breakdown = json_build_object(j.key, json_build_object("
        "'persons', e.amount_idr / j.value::bigint, 'amount_idr', e.amount_idr))::text "
        "FROM cycle c, json_each_text(c.summary -> 'components') AS j "
        "WHERE c.id = e.cycle_id AND e.breakdown IS NULL"
    )
    op.alter_column("entitlement", "breakdown", existing_type=sa.Text(), nullable=False)
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
