"""change requests of kind update_member: a member's own values (school level, pregnancy, a
corrected name, birth date or NIK)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 03:00:00

The CHECK constraint on `change_request.kind` admits the new kind (SQLite cannot alter a
constraint and rebuilds the table: a small one, proposals, not families). And audit events get
an index on (entity, entity_id), for a family's history (`lumbung registry history`). The
index is built in the migration's transaction, holding audited writes for as long (seconds for
a few million events).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = "change_request"
NAME = "kind"  # named ck_change_request_kind by the naming convention
BEFORE = ("new_family", "update", "add_member", "remove_member", "exit")
AFTER = ("new_family", "update", "update_member", "add_member", "remove_member", "exit")


def _condition(kinds: tuple[str, ...]) -> str:
    return " OR ".join(f"kind = '{kind}'" for kind in kinds)  # as db.coded writes it


def _replace(kinds: tuple[str, ...]) -> None:
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.drop_constraint(op.f(f"ck_{TABLE}_{NAME}"), type_="check")
        batch_op.create_check_constraint(NAME, _condition(kinds))


def upgrade() -> None:
    _replace(AFTER)
    op.create_index("ix_audit_event_entity", "audit_event", ["entity", "entity_id"])


def downgrade() -> None:
    """Refused while any update_member request exists: they would be lost with it."""
    kept = op.get_bind().execute(
        sa.text("SELECT count(*) FROM change_request WHERE kind = 'update_member'")
    )
    if n := kept.scalar_one():
        raise RuntimeError(
            f"{n} usulan update_member ada di registry; turun ke revisi 0004 akan "
            "menghapusnya. Tidak dilakukan."
        )
    op.drop_index("ix_audit_event_entity", table_name="audit_event")
    _replace(BEFORE)
