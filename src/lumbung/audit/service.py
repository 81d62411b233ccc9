"""Writing and verifying the hash chain of audit events."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lumbung.audit.models import AuditEvent
from lumbung.db import is_postgres, utcnow

GENESIS = "0" * 64
CHAIN_LOCK = 727_001  # advisory lock key serialising writers on PostgreSQL


def _stamp(at: datetime) -> str:
    # SQLite hands datetimes back without a zone; every stored time is UTC.
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    id: int,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    diff: dict[str, Any],
    prev_hash: str,
) -> str:
    """The sha256 of an event's canonical JSON, which includes the previous event's hash."""
    body = json.dumps(
        [id, _stamp(at), actor, action, entity, entity_id, diff, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def hash_of(event: AuditEvent) -> str:
    """The hash an event must carry, recomputed from its stored fields."""
    return event_hash(
        id=event.id,
        at=event.at,
        actor=event.actor,
        action=event.action,
        entity=event.entity,
        entity_id=event.entity_id,
        diff=event.diff,
        prev_hash=event.prev_hash,
    )


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int,
    diff: dict[str, Any],
) -> AuditEvent:
    """Append one event to the chain (inside the caller's transaction)."""
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    last = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    event_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    # Round-trip through JSON so what is hashed is exactly what the JSON column returns.
    diff = json.loads(json.dumps(diff, default=str))
    at = utcnow()
    event = AuditEvent(
        id=event_id,
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        diff=diff,
        prev_hash=prev,
    )
    event.hash = hash_of(event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    events: int
    head: str
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "head": self.head, "problems": self.problems}


def verify(session: Session, *, expect_head: str | None = None) -> ChainReport:
    """Walk the chain in order; report every altered, deleted or reordered event."""
    problems: list[str] = []
    prev_id, prev_hash, count = 0, GENESIS, 0
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    for event in rows.yield_per(5000):
        count += 1
        if event.id != prev_id + 1:
            problems.append(f"event {prev_id + 1}–{event.id - 1} missing (deleted)")
        if event.prev_hash != prev_hash:
            problems.append(f"event {event.id}: prev_hash does not match event {prev_id}")
        if hash_of(event) != event.hash:
            problems.append(f"event {event.id}: content altered (hash differs)")
        prev_id, prev_hash = event.id, event.hash
    if expect_head is not None and expect_head != prev_hash:
        problems.append(
            f"head is {prev_hash}, expected {expect_head} (events removed from the end?)"
        )
    return ChainReport(not problems, count, prev_hash, problems)


def head(session: Session) -> str:
    """The hash of the newest event (the genesis hash for an empty log)."""
    value = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    return value or GENESIS
