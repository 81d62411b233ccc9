"""Audit events: each carries the hash of the one before it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import Base


class AuditEvent(Base):
    __tablename__ = "audit_event"

    # Assigned by the writer (previous id + 1) under the chain lock, never by a sequence, so
    # a missing id is a deleted event.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    diff: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The key the hash was made with (audit/keys.py); NULL for events written before events
    # were keyed (migration 0007), which may only come before the first keyed one.
    key_id: Mapped[str | None] = mapped_column(String(8))
    # Who was at the keyboard: the operating-system user beside the application user (`actor`),
    # and the way in (cli, web, api).
    os_user: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(8))
    # The registry rows this event moved into and out of each status (audit/tally.py).
    tally: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # A family's history (`registry history`): the events of one entity.
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id"),)
