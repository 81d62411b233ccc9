"""In-kind aid: programs, the item catalogue, imports and distributions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:00:00

- `aid_program`: ATENSI's Indonesia Mendengar, Melihat, Melangkah and Tagana's disaster
  relief (seeded here).
- `aid_item`, `aid_item_program`: the catalogue (each item with a label, a unit and a reference
  value per unit in whole rupiah, and the programs that give it), seeded with the devices and
  relief items below; an admin adds more (`lumbung aid item-add`).
- `aid_import`, `aid_distribution`: what an import loaded, keyed by (program, NIK, item, day).

The reference values are illustrative (a ministry sets its own); a distribution row may state
its own value per unit.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

PROGRAMS = [
    ("INDONESIA_MENDENGAR", "ATENSI Indonesia Mendengar (alat bantu dengar)", "atensi"),
    ("INDONESIA_MELIHAT", "ATENSI Indonesia Melihat (kacamata, tongkat)", "atensi"),
    ("INDONESIA_MELANGKAH", "ATENSI Indonesia Melangkah (alat bantu gerak)", "atensi"),
    ("TAGANA", "Tagana: bantuan tanggap darurat bencana", "relief"),
]

# code, label, unit, reference value per unit (whole rupiah), programs
ITEMS = [
    ("alat_bantu_dengar", "Alat bantu dengar", "unit", 3_000_000, ["INDONESIA_MENDENGAR"]),
    ("kacamata", "Kacamata", "buah", 350_000, ["INDONESIA_MELIHAT"]),
    (
        "tongkat_adaptif",
        "Tongkat adaptif (tongkat putih)",
        "buah",
        250_000,
        ["INDONESIA_MELIHAT", "INDONESIA_MELANGKAH"],
    ),
    ("kursi_roda", "Kursi roda", "unit", 2_500_000, ["INDONESIA_MELANGKAH"]),
    ("walker", "Alat bantu jalan (walker)", "unit", 750_000, ["INDONESIA_MELANGKAH"]),
    ("kruk", "Kruk", "pasang", 400_000, ["INDONESIA_MELANGKAH"]),
    ("kaki_palsu", "Kaki palsu (prostesis)", "unit", 8_000_000, ["INDONESIA_MELANGKAH"]),
    ("tenda", "Tenda keluarga", "unit", 3_500_000, ["TAGANA"]),
    ("selimut", "Selimut", "lembar", 75_000, ["TAGANA"]),
    ("paket_sembako", "Paket sembako", "paket", 250_000, ["TAGANA"]),
    ("kasur", "Kasur lipat", "buah", 400_000, ["TAGANA"]),
    ("perlengkapan_dapur", "Perlengkapan dapur keluarga", "paket", 300_000, ["TAGANA"]),
]


def _identifier(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    program = op.create_table(
        "aid_program",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.CheckConstraint("kind = 'atensi' OR kind = 'relief'", name="ck_aid_program_kind"),
        sa.PrimaryKeyConstraint("code", name="pk_aid_program"),
    )
    item = op.create_table(
        "aid_item",
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("unit_value_idr", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.CheckConstraint("unit_value_idr >= 0", name="ck_aid_item_unit_value_idr"),
        sa.PrimaryKeyConstraint("code", name="pk_aid_item"),
    )
    link = op.create_table(
        "aid_item_program",
        sa.Column("item_code", sa.String(40), nullable=False),
        sa.Column("program_code", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_code"], ["aid_item.code"], name="fk_aid_item_program_item_code_aid_item"
        ),
        sa.ForeignKeyConstraint(
            ["program_code"],
            ["aid_program.code"],
            name="fk_aid_item_program_program_code_aid_program",
        ),
        sa.PrimaryKeyConstraint("item_code", "program_code", name="pk_aid_item_program"),
    )
    op.create_table(
        "aid_import",
        sa.Column("id", BIG, nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distributions", sa.Integer(), nullable=False),
        sa.Column("value_idr", sa.BigInteger(), nullable=False),
        sa.Column("rows_sha256", sa.String(64), nullable=False),
        sa.Column("reject_file", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_aid_import"),
    )
    op.create_index("ix_aid_import_sha256", "aid_import", ["sha256"])
    op.create_table(
        "aid_distribution",
        sa.Column("id", BIG, nullable=False),
        sa.Column("program_code", sa.String(40), nullable=False),
        sa.Column("item_code", sa.String(40), nullable=False),
        sa.Column("nik", _identifier(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("member_id", BIG, nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_value_idr", sa.BigInteger(), nullable=False),
        sa.Column("value_idr", sa.BigInteger(), nullable=False),
        sa.Column("distributed_on", sa.Date(), nullable=False),
        sa.Column("village_code", sa.String(13), nullable=False),
        sa.Column("home_village_code", _identifier(13), nullable=False),
        sa.Column("district_code", _identifier(8), nullable=False),
        sa.Column("regency_code", _identifier(5), nullable=False),
        sa.Column("province_code", _identifier(2), nullable=False),
        sa.Column("import_id", BIG, nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_aid_distribution_quantity"),
        sa.CheckConstraint("unit_value_idr >= 0", name="ck_aid_distribution_unit_value_idr"),
        sa.CheckConstraint(
            "value_idr = quantity * unit_value_idr", name="ck_aid_distribution_value_idr"
        ),
        sa.ForeignKeyConstraint(
            ["program_code"],
            ["aid_program.code"],
            name="fk_aid_distribution_program_code_aid_program",
        ),
        sa.ForeignKeyConstraint(
            ["item_code"], ["aid_item.code"], name="fk_aid_distribution_item_code_aid_item"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name="fk_aid_distribution_member_id_member"
        ),
        sa.ForeignKeyConstraint(
            ["village_code"], ["region.code"], name="fk_aid_distribution_village_code_region"
        ),
        sa.ForeignKeyConstraint(
            ["import_id"], ["aid_import.id"], name="fk_aid_distribution_import_id_aid_import"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_aid_distribution"),
        sa.UniqueConstraint(
            "program_code", "nik", "item_code", "distributed_on", name="uq_aid_distribution_key"
        ),
    )
    op.create_index("ix_aid_distribution_nik", "aid_distribution", ["nik"])
    op.create_index("ix_aid_distribution_member_id", "aid_distribution", ["member_id"])
    op.create_index("ix_aid_distribution_import_id", "aid_distribution", ["import_id"])
    op.create_index(
        "ix_aid_distribution_regency", "aid_distribution", ["regency_code", "program_code"]
    )
    seeded = datetime(2026, 12, 7, tzinfo=UTC)
    op.bulk_insert(program, [{"code": c, "name": n, "kind": k} for c, n, k in PROGRAMS])
    op.bulk_insert(
        item,
        [
            {
                "code": code,
                "label": label,
                "unit": unit,
                "unit_value_idr": value,
                "created_at": seeded,
                "created_by": "migration 0013",
            }
            for code, label, unit, value, _ in ITEMS
        ],
    )
    op.bulk_insert(
        link,
        [
            {"item_code": code, "program_code": program_code}
            for code, _, _, _, programs in ITEMS
            for program_code in programs
        ],
    )


def downgrade() -> None:
    op.drop_table("aid_distribution")
    op.drop_index("ix_aid_import_sha256", table_name="aid_import")
    op.drop_table("aid_import")
    op.drop_table("aid_item_program")
    op.drop_table("aid_item")
    op.drop_table("aid_program")
