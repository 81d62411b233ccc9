"""PT Pos: vouchers and counters' partner tokens

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:00:00

Issue 16, item 4. `voucher`: one per attempt of an approved pos batch (its token is derived,
not stored), with its redemption; `partner_token`: a counter's token (hash only). 0013 is
another branch's; the two are chained at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _identifier(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "voucher",
        sa.Column("id", ID, nullable=False),
        sa.Column("batch_id", ID, nullable=False),
        sa.Column("cycle_id", ID, nullable=False),
        sa.Column("beneficiary_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("village_code", _identifier(13), nullable=False),
        sa.Column("partner_code", sa.String(length=16), nullable=False),
        sa.Column("nik", _identifier(16), nullable=False),
        sa.Column("amount_idr", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("home_delivery", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.CheckConstraint("state = 'issued' OR state = 'redeemed'", name=op.f("ck_voucher_state")),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counter", sa.String(length=64), nullable=True),
        sa.Column("partner_token_id", sa.BigInteger(), nullable=True),
        sa.Column("redemption", sa.String(length=8), nullable=True),
        sa.Column("redemption_mac", sa.String(length=48), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["payment_batch.id"], name=op.f("fk_voucher_batch_id_payment_batch")
        ),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycle.id"], name=op.f("fk_voucher_cycle_id_cycle")),
        sa.ForeignKeyConstraint(
            ["partner_code"], ["partner.code"], name=op.f("fk_voucher_partner_code_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher")),
        sa.UniqueConstraint(
            "cycle_id",
            "beneficiary_id",
            "attempt",
            name=op.f("uq_voucher_cycle_id"),
        ),
    )
    op.create_index(op.f("ix_voucher_batch_id"), "voucher", ["batch_id"], unique=False)
    op.create_table(
        "partner_token",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("partner_code", sa.String(length=16), nullable=False),
        sa.Column("counter", sa.String(length=40), nullable=False),
        sa.Column("region_code", _identifier(13), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_code"], ["partner.code"], name=op.f("fk_partner_token_partner_code_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_partner_token_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("partner_token")
    op.drop_index(op.f("ix_voucher_batch_id"), table_name="voucher")
    op.drop_table("voucher")
