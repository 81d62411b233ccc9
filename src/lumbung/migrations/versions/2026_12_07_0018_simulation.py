"""Policy simulations, stored apart from cycles

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:00:00

Issue 18. `simulation`: a scenario (changed program definitions) run against a release and a
PMT model, compared with a baseline; its aggregates in `summary`, its per-family rows in
Parquet files under the data folder's `simulations/`. Nothing in `cycle` or `entitlement`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "simulation",
        sa.Column("id", ID, nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("release_id", ID, nullable=False),
        sa.Column("scoring_id", ID, nullable=False),
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("baseline", sa.String(length=24), nullable=False),
        sa.Column("baseline_cycle_id", ID, nullable=True),
        sa.Column("scenario", sa.JSON(), nullable=False),
        sa.Column("beneficiaries", sa.BigInteger(), nullable=False),
        sa.Column("total_year_idr", sa.BigInteger(), nullable=False),
        sa.Column("baseline_year_idr", sa.BigInteger(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "baseline = 'definitions' OR baseline = 'cycle'", name=op.f("ck_simulation_baseline")
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["release.id"], name=op.f("fk_simulation_release_id_release")
        ),
        sa.ForeignKeyConstraint(
            ["scoring_id"], ["pmt_scoring.id"], name=op.f("fk_simulation_scoring_id_pmt_scoring")
        ),
        sa.ForeignKeyConstraint(
            ["baseline_cycle_id"], ["cycle.id"], name=op.f("fk_simulation_baseline_cycle_id_cycle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_simulation")),
        sa.UniqueConstraint("label", name=op.f("uq_simulation_label")),
    )


def downgrade() -> None:
    op.drop_table("simulation")
