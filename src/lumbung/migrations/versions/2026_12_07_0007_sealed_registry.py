"""The registry's identity, keyed audit events, and a seal on every family and member row

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:30:00

- `installation`: one row with a random UUID, the registry's identity; a data folder is
  claimed by it (`installation/datafolder.py`).
- `audit_event.key_id`, `os_user`, `channel`: events written from now on carry an HMAC under
  a key kept outside the database (`audit/keys.py`), the operating-system user and the
  channel (cli, web, api), and `tally`: the registry rows the event moved into and out of each
  status (`audit/tally.py`). Events written before stay as they were (`key_id` NULL) and are
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
    # Plain ALTER TABLE on both databases (SQLite ≥ 3.35 adds and drops columns in place; a
    # batch copy of `household` would trip the foreign keys that point at it).
    op.add_column("audit_event", sa.Column("key_id", sa.String(length=8), nullable=True))
    op.add_column("audit_event", sa.Column("os_user", sa.String(length=64), nullable=True))
    op.add_column("audit_event", sa.Column("channel", sa.String(length=8), nullable=True))
    op.add_column("audit_event", sa.Column("tally", sa.JSON(), nullable=True))
    for table in ("household", "member"):
        op.add_column(table, sa.Column("seal", sa.String(length=48), nullable=True))


def downgrade() -> None:
    for table, column in (
        ("member", "seal"),
        ("household", "seal"),
        ("audit_event", "tally"),
        ("audit_event", "channel"),
        ("audit_event", "os_user"),
        ("audit_event", "key_id"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.drop_table("installation")
