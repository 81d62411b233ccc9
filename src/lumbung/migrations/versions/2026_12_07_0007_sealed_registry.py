"""The registry's identity, keyed audit events, and a seal on every family and member row

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:30:00

- `installation`: one row with a random UUID, the registry's identity; a data folder is
  claimed by it (`installation/datafolder.py`).
- `audit_event.key_id`, `os_user`, `channel`: events written from now on carry an HMAC under
  a key kept outside the database (`audit/keys.py`), the operating-system user and the
  channel (cli, web, api). Events written before stay as they were (`key_id` NULL) and are
  checked as before; they can only come before the first keyed event.
- `household.seal`, `member.seal`: a keyed digest of each row's values (`audit/seal.py`).
  Rows that exist when this runs have none: `lumbung audit seal` seals them once (after an
  `audit verify`), and until then `audit verify` lists them as unsealed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    installation = op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("registry_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_installation_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    op.bulk_insert(
        installation,
        [{"id": 1, "registry_id": str(uuid.uuid4()), "created_at": datetime.now(UTC)}],
    )
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("os_user", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(length=8), nullable=True))
    for table in ("household", "member"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("seal", sa.String(length=48), nullable=True))


def downgrade() -> None:
    for table in ("member", "household"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seal")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("channel")
        batch.drop_column("os_user")
        batch.drop_column("key_id")
    op.drop_table("installation")
