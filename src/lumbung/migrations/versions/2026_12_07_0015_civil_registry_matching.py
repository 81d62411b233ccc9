"""Civil registry (Dukcapil) matching: imports of an extract and each member's result

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 15:00:00

Issue 17, item 5. `civil_import`: one extract imported (unique by sha256: the same file again
changes nothing), with its counts; `civil_match`: each member as an import found them
(matched, mismatched with the fields that differ, deceased, not found), the NIK the civil
registry holds when it is another, the change request proposed, the family's region. Another
branch adds its own 0015; the two are chained at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _identifier(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


OUTCOMES = ("matched", "mismatched", "deceased", "not_found")


def upgrade() -> None:
    op.create_table(
        "civil_import",
        sa.Column("id", BIG, nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("region_code", _identifier(13), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("mismatched", sa.Integer(), nullable=False),
        sa.Column("deceased", sa.Integer(), nullable=False),
        sa.Column("not_found", sa.Integer(), nullable=False),
        sa.Column("proposals", sa.Integer(), nullable=False),
        sa.Column("reject_file", sa.Text(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_civil_import"),
        sa.UniqueConstraint("sha256", name="uq_civil_import_sha256"),
    )
    op.create_table(
        "civil_match",
        sa.Column("id", BIG, nullable=False),
        sa.Column("import_id", BIG, nullable=False),
        sa.Column("member_id", BIG, nullable=False),
        sa.Column("household_id", BIG, nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("nik_differs", sa.Boolean(), nullable=False),
        sa.Column("name_differs", sa.Boolean(), nullable=False),
        sa.Column("birth_date_differs", sa.Boolean(), nullable=False),
        sa.Column("birth_date_swapped", sa.Boolean(), nullable=False),
        sa.Column("sex_differs", sa.Boolean(), nullable=False),
        sa.Column("kk_differs", sa.Boolean(), nullable=False),
        sa.Column("extract_nik", _identifier(16), nullable=True),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("change_request_id", BIG, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("village_code", _identifier(13), nullable=False),
        sa.Column("district_code", _identifier(8), nullable=False),
        sa.Column("regency_code", _identifier(5), nullable=False),
        sa.Column("province_code", _identifier(2), nullable=False),
        sa.CheckConstraint(
            " OR ".join(f"outcome = '{o}'" for o in OUTCOMES), name="ck_civil_match_outcome"
        ),
        sa.ForeignKeyConstraint(
            ["import_id"], ["civil_import.id"], name="fk_civil_match_import_id_civil_import"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name="fk_civil_match_member_id_member"
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name="fk_civil_match_household_id_household"
        ),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name="fk_civil_match_change_request_id_change_request",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_civil_match"),
    )
    op.create_index("ix_civil_match_member_id", "civil_match", ["member_id"])
    op.create_index(
        "uq_civil_match_import_member", "civil_match", ["import_id", "member_id"], unique=True
    )
    op.create_index("ix_civil_match_import_regency", "civil_match", ["import_id", "regency_code"])


def downgrade() -> None:
    op.drop_table("civil_match")
    op.drop_table("civil_import")
