"""Record linkage: runs, the pairs sent to review, remembered decisions

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 15:00:00

Issue 17, items 2 and 6. `link_run`: one pass of the matching engine over a release (its
files in its folder); `link_pair`: a pair at or above the run's review weight, in the smallest
region holding both members, with its waterfall and a verifier's decision; `link_decision`: a
decision remembered by the two members, so that a pair is never asked twice across runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _identifier(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def _coded(column: str, values: tuple[str, ...], table: str) -> sa.CheckConstraint:
    condition = " OR ".join(f"{column} = '{value}'" for value in values)
    return sa.CheckConstraint(condition, name=op.f(f"ck_{table}_{column}"))


def upgrade() -> None:
    op.create_table(
        "link_run",
        sa.Column("id", ID, nullable=False),
        sa.Column("release_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("settings_sha256", sa.String(length=64), nullable=True),
        sa.Column("model_sha256", sa.String(length=64), nullable=True),
        sa.Column("review_weight", sa.Float(), nullable=False),
        sa.Column("folder", sa.String(length=500), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("clusters", sa.BigInteger(), nullable=False),
        sa.Column("pairs_scored", sa.BigInteger(), nullable=False),
        sa.Column("pairs_queued", sa.BigInteger(), nullable=False),
        sa.Column("pairs_known", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        _coded("kind", ("dedupe", "link"), "link_run"),
        _coded("state", ("running", "finished", "failed"), "link_run"),
        sa.ForeignKeyConstraint(
            ["release_id"], ["release.id"], name=op.f("fk_link_run_release_id_release")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_run")),
    )
    op.create_index(op.f("ix_link_run_release_id"), "link_run", ["release_id"], unique=False)
    op.create_table(
        "link_pair",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("member_id_l", ID, nullable=False),
        sa.Column("member_id_r", ID, nullable=False),
        sa.Column("village_code_l", _identifier(13), nullable=False),
        sa.Column("village_code_r", _identifier(13), nullable=False),
        sa.Column("region_code", _identifier(13), nullable=True),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("waterfall", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change_request_id", ID, nullable=True),
        _coded("state", ("pending", "same_person", "not_same", "field_visit"), "link_pair"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["link_run.id"], name=op.f("fk_link_pair_run_id_link_run")
        ),
        sa.ForeignKeyConstraint(
            ["member_id_l"], ["member.id"], name=op.f("fk_link_pair_member_id_l_member")
        ),
        sa.ForeignKeyConstraint(
            ["member_id_r"], ["member.id"], name=op.f("fk_link_pair_member_id_r_member")
        ),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_link_pair_change_request_id_change_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_pair")),
        sa.UniqueConstraint(
            "run_id", "member_id_l", "member_id_r", name=op.f("uq_link_pair_members")
        ),
    )
    op.create_index(op.f("ix_link_pair_member_id_r"), "link_pair", ["member_id_r"], unique=False)
    op.create_index(
        op.f("ix_link_pair_region_state"), "link_pair", ["region_code", "state"], unique=False
    )
    op.create_index(
        op.f("ix_link_pair_members"), "link_pair", ["member_id_l", "member_id_r"], unique=False
    )
    op.create_table(
        "link_decision",
        sa.Column("member_id_l", ID, nullable=False),
        sa.Column("member_id_r", ID, nullable=False),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("pair_id", ID, nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        _coded("decision", ("same_person", "not_same", "field_visit"), "link_decision"),
        sa.ForeignKeyConstraint(
            ["member_id_l"], ["member.id"], name=op.f("fk_link_decision_member_id_l_member")
        ),
        sa.ForeignKeyConstraint(
            ["member_id_r"], ["member.id"], name=op.f("fk_link_decision_member_id_r_member")
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["link_pair.id"], name=op.f("fk_link_decision_pair_id_link_pair")
        ),
        sa.PrimaryKeyConstraint("member_id_l", "member_id_r", name=op.f("pk_link_decision")),
    )


def downgrade() -> None:
    op.drop_table("link_decision")
    op.drop_index(op.f("ix_link_pair_members"), table_name="link_pair")
    op.drop_index(op.f("ix_link_pair_region_state"), table_name="link_pair")
    op.drop_index(op.f("ix_link_pair_member_id_r"), table_name="link_pair")
    op.drop_table("link_pair")
    op.drop_index(op.f("ix_link_run_release_id"), table_name="link_run")
    op.drop_table("link_run")
