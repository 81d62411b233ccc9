"""Delivery: partners, payee accounts, account openings, payment batches, items and events

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:00:00

Issue 16. `payment_event` is the ledger (append-only, one event of a kind per attempt);
`payment_item` one attempt at paying one entitlement in one batch, at most one live (pending
or paid) per entitlement by a partial unique index; `payee_account` a family's account with
history (one active per family); `partner` and `partner_region` who pays where, seeded with
the Himbara banks (BSI in Aceh, BRI elsewhere by default), PT Pos and BPJS Kesehatan.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CHANNELS = ("bank", "pos", "bpjs")
FILE_FORMATS = ("pain.001", "csv", "voucher", "bpjs")
ACCOUNT_STATES = ("active", "closed")
OPENING_ROW_STATES = ("requested", "opened", "failed")
BATCH_STATES = ("draft", "approved", "cancelled")
ITEM_STATES = ("pending", "paid", "failed", "returned", "cancelled")
EVENT_KINDS = ("batched", "paid", "failed", "returned", "cancelled")

PARTNERS = [
    ("BRI", "Bank Rakyat Indonesia", "bank", "pain.001", "BRINIDJA"),
    ("BNI", "Bank Negara Indonesia", "bank", "pain.001", "BNINIDJA"),
    ("MANDIRI", "Bank Mandiri", "bank", "pain.001", "BMRIIDJA"),
    ("BTN", "Bank Tabungan Negara", "bank", "csv", "BTANIDJA"),
    ("BSI", "Bank Syariah Indonesia", "bank", "pain.001", "BSMDIDJA"),
    ("POS", "PT Pos Indonesia", "pos", "voucher", None),
    ("BPJS", "BPJS Kesehatan", "bpjs", "bpjs", None),
]
# The empty code is the national default; Aceh (11) is served by BSI (Islamic banking law).
PARTNER_REGIONS = [
    ("bank", "", "BRI"),
    ("bank", "11", "BSI"),
    ("pos", "", "POS"),
    ("bpjs", "", "BPJS"),
]


# A family's change of bank account is a change request like any other (kind update_account).
REQUEST_KINDS_BEFORE = (
    "new_family",
    "update",
    "update_member",
    "add_member",
    "remove_member",
    "exit",
)
REQUEST_KINDS_AFTER = (*REQUEST_KINDS_BEFORE, "update_account")


def _request_kinds(kinds: tuple[str, ...]) -> None:
    """SQLite cannot alter a constraint and rebuilds the table (a small one, proposals)."""
    with op.batch_alter_table("change_request") as batch_op:
        batch_op.drop_constraint(op.f("ck_change_request_kind"), type_="check")
        batch_op.create_check_constraint("kind", _one_of("kind", kinds))


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return " OR ".join(f"{column} = '{value}'" for value in values)


def upgrade() -> None:
    op.create_table(
        "partner",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.CheckConstraint(_one_of("channel", CHANNELS), name=op.f("ck_partner_channel")),
        sa.Column("file_format", sa.String(length=24), nullable=False),
        sa.CheckConstraint(
            _one_of("file_format", FILE_FORMATS), name=op.f("ck_partner_file_format")
        ),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_partner")),
    )
    op.create_table(
        "partner_region",
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column(
            "region_code",
            sa.String(length=13).with_variant(sa.String(length=13, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("partner_code", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_code"], ["partner.code"], name=op.f("fk_partner_region_partner_code_partner")
        ),
        sa.PrimaryKeyConstraint("channel", "region_code", name=op.f("pk_partner_region")),
    )
    op.create_table(
        "payee_account",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "household_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("partner_code", sa.String(length=16), nullable=False),
        sa.Column("account_number", sa.String(length=34), nullable=False),
        sa.Column("card_number", sa.String(length=19), nullable=True),
        sa.Column(
            "holder_nik",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.CheckConstraint(_one_of("state", ACCOUNT_STATES), name=op.f("ck_payee_account_state")),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"], ["household.id"], name=op.f("fk_payee_account_household_id_household")
        ),
        sa.ForeignKeyConstraint(
            ["partner_code"], ["partner.code"], name=op.f("fk_payee_account_partner_code_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payee_account")),
    )
    op.create_index(
        op.f("ix_payee_account_household_id"), "payee_account", ["household_id"], unique=False
    )
    op.create_index(
        "uq_payee_account_active",
        "payee_account",
        ["household_id"],
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_table(
        "account_opening",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cycle_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("partner_code", sa.String(length=16), nullable=False),
        sa.Column("requested", sa.BigInteger(), nullable=False),
        sa.Column("opened", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycle.id"], name=op.f("fk_account_opening_cycle_id_cycle")
        ),
        sa.ForeignKeyConstraint(
            ["partner_code"], ["partner.code"], name=op.f("fk_account_opening_partner_code_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_opening")),
    )
    op.create_index(
        op.f("ix_account_opening_cycle_id"), "account_opening", ["cycle_id"], unique=False
    )
    op.create_table(
        "payment_batch",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cycle_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.CheckConstraint(_one_of("channel", CHANNELS), name=op.f("ck_payment_batch_channel")),
        sa.Column("partner_code", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total_idr", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.CheckConstraint(_one_of("state", BATCH_STATES), name=op.f("ck_payment_batch_state")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycle.id"], name=op.f("fk_payment_batch_cycle_id_cycle")
        ),
        sa.ForeignKeyConstraint(
            ["partner_code"], ["partner.code"], name=op.f("fk_payment_batch_partner_code_partner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_batch")),
        sa.UniqueConstraint("cycle_id", "number", name=op.f("uq_payment_batch_cycle_id")),
    )
    op.create_index(op.f("ix_payment_batch_cycle_id"), "payment_batch", ["cycle_id"], unique=False)
    op.create_table(
        "account_opening_row",
        sa.Column(
            "opening_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kk_number",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "nik",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.CheckConstraint(
            _one_of("state", OPENING_ROW_STATES), name=op.f("ck_account_opening_row_state")
        ),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["opening_id"],
            ["account_opening.id"],
            name=op.f("fk_account_opening_row_opening_id_account_opening"),
        ),
        sa.PrimaryKeyConstraint("opening_id", "household_id", name=op.f("pk_account_opening_row")),
    )
    op.create_table(
        "payment_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cycle_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("beneficiary_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.CheckConstraint(_one_of("kind", EVENT_KINDS), name=op.f("ck_payment_event_kind")),
        sa.Column("amount_idr", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["payment_batch.id"], name=op.f("fk_payment_event_batch_id_payment_batch")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycle.id"], name=op.f("fk_payment_event_cycle_id_cycle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_event")),
        sa.UniqueConstraint(
            "cycle_id", "beneficiary_id", "attempt", "kind", name=op.f("uq_payment_event_cycle_id")
        ),
    )
    op.create_index(op.f("ix_payment_event_batch_id"), "payment_event", ["batch_id"], unique=False)
    op.create_table(
        "payment_item",
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("beneficiary_id", sa.BigInteger(), nullable=False),
        sa.Column("cycle_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kk_number",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "nik",
            sa.String(length=16).with_variant(sa.String(length=16, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "regency_code",
            sa.String(length=5).with_variant(sa.String(length=5, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("amount_idr", sa.BigInteger(), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.CheckConstraint(_one_of("state", ITEM_STATES), name=op.f("ck_payment_item_state")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["payee_account.id"],
            name=op.f("fk_payment_item_account_id_payee_account"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["payment_batch.id"], name=op.f("fk_payment_item_batch_id_payment_batch")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["cycle.id"], name=op.f("fk_payment_item_cycle_id_cycle")
        ),
        sa.PrimaryKeyConstraint("batch_id", "beneficiary_id", name=op.f("pk_payment_item")),
        sa.UniqueConstraint(
            "cycle_id", "beneficiary_id", "attempt", name=op.f("uq_payment_item_cycle_id")
        ),
    )
    op.create_index("ix_payment_item_household_id", "payment_item", ["household_id"])
    op.create_index(
        "uq_payment_item_live",
        "payment_item",
        ["cycle_id", "beneficiary_id"],
        unique=True,
        sqlite_where=sa.text("state = 'pending' OR state = 'paid'"),
        postgresql_where=sa.text("state = 'pending' OR state = 'paid'"),
    )

    partner = sa.table(
        "partner",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("channel", sa.String),
        sa.column("file_format", sa.String),
        sa.column("bic", sa.String),
    )
    op.bulk_insert(
        partner,
        [
            {"code": c, "name": n, "channel": ch, "file_format": f, "bic": b}
            for c, n, ch, f, b in PARTNERS
        ],
    )
    partner_region = sa.table(
        "partner_region",
        sa.column("channel", sa.String),
        sa.column("region_code", sa.String),
        sa.column("partner_code", sa.String),
    )
    op.bulk_insert(
        partner_region,
        [{"channel": ch, "region_code": r, "partner_code": p} for ch, r, p in PARTNER_REGIONS],
    )
    _request_kinds(REQUEST_KINDS_AFTER)


def downgrade() -> None:
    """Refused while an account change request exists: it would be lost with it."""
    kept = op.get_bind().execute(
        sa.text("SELECT count(*) FROM change_request WHERE kind = 'update_account'")
    )
    if n := kept.scalar_one():
        raise RuntimeError(
            f"{n} usulan update_account ada di registry; turun ke revisi 0011 akan "
            "menghapusnya. Tidak dilakukan."
        )
    _request_kinds(REQUEST_KINDS_BEFORE)
    for table in (
        "payment_event",
        "payment_item",
        "payment_batch",
        "account_opening_row",
        "account_opening",
        "payee_account",
        "partner_region",
        "partner",
    ):
        op.drop_table(table)
