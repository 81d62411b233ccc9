"""Merging another registry: each export merged, and each of its records' outcome

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:00:00

Issue 17, item 4. `link_merge`: one export of another source linked against the latest release
with that release's model (its counts); `link_merge_record`: each record matched, new or
conflicting, the fields that differ, and the change request it led to (`proposal_key`: what
the request does, so that the same source merged again does not propose it twice).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _identifier(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "link_merge",
        sa.Column("id", ID, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("release_id", ID, nullable=False),
        sa.Column("model_run_id", ID, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("folder", sa.String(length=500), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("region_code", _identifier(13), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("conflicting", sa.Integer(), nullable=False),
        sa.Column("proposals", sa.Integer(), nullable=False),
        sa.Column("proposals_open", sa.Integer(), nullable=False),
        sa.Column("proposals_refused", sa.Integer(), nullable=False),
        sa.Column("proposals_deferred", sa.Integer(), nullable=False),
        sa.Column("outside", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["release_id"], ["release.id"], name=op.f("fk_link_merge_release_id_release")
        ),
        sa.ForeignKeyConstraint(
            ["model_run_id"], ["link_run.id"], name=op.f("fk_link_merge_model_run_id_link_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_merge")),
    )
    op.create_index("ix_link_merge_source", "link_merge", ["source", "id"], unique=False)
    op.create_table(
        "link_merge_record",
        sa.Column("id", ID, nullable=False),
        sa.Column("merge_id", ID, nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("kk_number", sa.String(length=32), nullable=False),
        sa.Column("nik", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("member_id", ID, nullable=True),
        sa.Column("household_id", ID, nullable=True),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=True),
        sa.Column("differs", sa.String(length=200), nullable=False),
        sa.Column("proposal_key", sa.String(length=120), nullable=True),
        sa.Column("change_request_id", ID, nullable=True),
        sa.Column("proposed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("outside", sa.Boolean(), nullable=False),
        sa.Column("village_code", _identifier(13), nullable=True),
        sa.Column("regency_code", _identifier(5), nullable=True),
        sa.Column("province_code", _identifier(2), nullable=True),
        sa.CheckConstraint(
            "outcome = 'matched' OR outcome = 'new' OR outcome = 'conflicting'",
            name=op.f("ck_link_merge_record_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["merge_id"], ["link_merge.id"], name=op.f("fk_link_merge_record_merge_id_link_merge")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_link_merge_record_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_link_merge_record_household_id_household"),
        ),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_link_merge_record_change_request_id_change_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_merge_record")),
    )
    op.create_index(
        "uq_link_merge_record_merge_row", "link_merge_record", ["merge_id", "row"], unique=True
    )
    op.create_index(
        "ix_link_merge_record_merge_regency",
        "link_merge_record",
        ["merge_id", "regency_code"],
        unique=False,
    )
    op.create_index(
        "ix_link_merge_record_proposal_key", "link_merge_record", ["proposal_key"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_link_merge_record_proposal_key", table_name="link_merge_record")
    op.drop_index("ix_link_merge_record_merge_regency", table_name="link_merge_record")
    op.drop_index("uq_link_merge_record_merge_row", table_name="link_merge_record")
    op.drop_table("link_merge_record")
    op.drop_index("ix_link_merge_source", table_name="link_merge")
    op.drop_table("link_merge")
