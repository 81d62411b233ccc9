"""Writing and verifying the hash chain of audit events.

Each event's hash is an HMAC under a key kept outside the database (`audit/keys.py`), over the
event's fields and the previous event's hash: someone who can write to the database but not
read the key can neither alter an event nor rewrite the chain after it and recompute the hashes.
Events written before events were keyed (migration 0007) carry a plain sha256 and may only
come before the first keyed event.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lumbung.audit import tally
from lumbung.audit.keys import Keyring, keyring
from lumbung.audit.models import AuditEvent
from lumbung.db import is_postgres, page_rows, utcnow
from lumbung.errors import Conflict, ValidationFailed
from lumbung.paging import Page, check_window

if TYPE_CHECKING:
    from lumbung.auth.models import User

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


def keyed_hash(event: AuditEvent, ring: Keyring) -> str:
    """The HMAC a keyed event must carry, under the key it names."""
    assert event.key_id is not None
    body = json.dumps(
        [
            event.id,
            _stamp(event.at),
            event.actor,
            event.action,
            event.entity,
            event.entity_id,
            event.diff,
            event.prev_hash,
            event.key_id,
            event.os_user,
            event.channel,
            event.tally,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return ring.get(event.key_id).mac(body.encode())


def hash_of(event: AuditEvent, ring: Keyring | None = None) -> str:
    """The hash an event must carry, recomputed from its stored fields."""
    if event.key_id is not None:
        return keyed_hash(event, ring or keyring())
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


CHANNEL = "lumbung.channel"
CHANNELS = ("web", "api", "cli")
LEGACY_VOUCHED = "registry.seal"  # the keyed event that vouches for the unkeyed ones before


def set_channel(session: Session, channel: str) -> None:
    """Record events of this session as made through `channel` (`web`, `api`; `cli`, the
    default, needs no call): a front end calls it on the session it passes to services."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown audit channel {channel!r}; one of {', '.join(CHANNELS)}")
    session.info[CHANNEL] = channel


def channel_of(session: Session) -> str:
    """The channel events of this session are recorded with (`cli` unless a front end set one)."""
    value = session.info.get(CHANNEL, "cli")
    return value if value in CHANNELS else "cli"


def _os_user() -> str | None:
    """Who runs this process, by the system's account of its user id (not `$USER`, which the
    caller sets), with the user who called sudo when there is one."""
    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a container's user id with no name
        name = f"uid {os.getuid()}"
    invoker = os.environ.get("SUDO_USER")
    return (f"{name} (sudo: {invoker})" if invoker else name)[:64]


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int,
    diff: dict[str, Any],
) -> AuditEvent:
    """Append one event to the chain (inside the caller's transaction).

    The registry rows the transaction changed since the last event (their count by status,
    `audit/tally.py`) go into the event as `tally`, so that the chain knows how many families
    and members there must be in each status."""
    ring = keyring()  # before anything is written: no key, no event
    session.flush()  # the rows this event stands for are counted by the tally
    moved = tally.take(session) or None
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    newest = session.execute(
        select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    if (
        newest is not None
        and newest.key_id in ring.keys
        and keyed_hash(newest, ring) != newest.hash
    ):
        # A key file that is not the one the chain was made with (a new one made by mistake,
        # another registry's) would append events nobody could ever check.
        raise Conflict(
            f"Kunci {newest.key_id} di {ring.path} tidak cocok dengan jejak audit (peristiwa "
            f"{newest.id}): berkas kunci yang salah, atau peristiwa itu diubah. Tidak ada yang "
            "dicatat; administrator server perlu memeriksa jejak audit.",
            command="lumbung audit verify",
        )
    event_id, prev = (newest.id + 1, newest.hash) if newest else (1, GENESIS)
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
        key_id=ring.current.id,
        os_user=_os_user(),
        channel=channel_of(session),
        tally=moved,
    )
    event.hash = keyed_hash(event, ring)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class Anchor:
    """A point of the chain kept outside the database: after `events` events its head was
    `head` (a release manifest, or a head an auditor wrote down)."""

    source: str
    events: int | None
    head: str
    # A release's anchor is followed by the event that records the release itself.
    followed: bool = False


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    events: int
    head: str
    problems: list[str]
    # The registry's rows by table and status, as the chain's events add them up.
    expected: dict[str, dict[str, int]] = field(default_factory=dict)
    registry: dict[str, Any] | None = None
    # Each family's version after its latest determination, as the chain recorded it.
    versions: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "problems": self.problems,
        }
        if self.registry is not None:
            body["registry"] = self.registry
        return body


def _add_tally(expected: dict[str, dict[str, int]], moved: Any) -> None:
    if not isinstance(moved, dict):
        return
    for table, statuses in moved.items():
        if isinstance(statuses, dict):
            into = expected.setdefault(str(table), {})
            for status, count in statuses.items():
                if isinstance(count, int):
                    into[str(status)] = into.get(str(status), 0) + count


def verify(
    session: Session,
    *,
    expect_head: str | None = None,
    anchors: Sequence[Anchor] = (),
    ring: Keyring | None = None,
) -> ChainReport:
    """Walk the chain in order; report every altered, deleted, reordered or forged event.

    `expect_head` (`HASH`, or `EVENTS:HASH`) and each anchor must be found in the chain, at
    their position when it is given: a chain cut short or rewritten before them shows."""
    ring = ring or keyring()
    problems: list[str] = []
    prev_id, prev_hash, count = 0, GENESIS, 0
    first_keyed: int | None = None
    legacy: tuple[int, str] = (0, GENESIS)
    versions: dict[int, int] = {}
    vouched: tuple[Any, Any] = (0, GENESIS)
    expected: dict[str, dict[str, int]] = {}
    wanted = list(anchors)
    if expect_head is not None:
        position, _, value = expect_head.rpartition(":")
        wanted.append(Anchor("--expect-head", int(position) if position.isdigit() else None, value))
    at_position = {a.events: a for a in wanted if a.events is not None}
    found: dict[str, int] = {}
    seen_at: dict[int, str] = {}
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    for event in rows.yield_per(5000):
        count += 1
        if event.id != prev_id + 1:
            problems.append(f"peristiwa {prev_id + 1}–{event.id - 1} hilang (dihapus)")
        if event.prev_hash != prev_hash:
            problems.append(
                f"peristiwa {event.id}: prev_hash tidak cocok dengan peristiwa {prev_id}"
            )
        if event.key_id is None and first_keyed is not None:
            problems.append(
                f"peristiwa {event.id}: tanpa kunci sesudah peristiwa berkunci {first_keyed} "
                "(ditulis di luar Lumbung)"
            )
        elif event.key_id is not None and event.key_id not in ring.keys:
            problems.append(f"peristiwa {event.id}: kunci {event.key_id[:8]} tidak dikenal")
        elif hash_of(event, ring) != event.hash:
            problems.append(f"peristiwa {event.id}: isi diubah (hash berbeda)")
        if event.key_id is not None and first_keyed is None:
            first_keyed = event.id
            legacy = (prev_id, prev_hash)  # the unkeyed events before it, and their head
        if event.key_id is not None and event.action == LEGACY_VOUCHED:
            vouched = (event.diff.get("legacy_events"), event.diff.get("legacy_head"))
        if isinstance(event.diff, dict) and "tally_reset" in event.diff:
            expected = {}
            _add_tally(expected, event.diff["tally_reset"])
        _add_tally(expected, event.tally)
        if (
            event.entity == "household"
            and event.action.startswith("request.determine.")
            and isinstance(event.diff, dict)
            and isinstance(event.diff.get("version"), int)
        ):
            versions[int(event.entity_id)] = event.diff["version"]
        if event.id in at_position:
            seen_at[event.id] = event.hash
        found.setdefault(event.hash, event.id)
        prev_id, prev_hash = event.id, event.hash
    if legacy[0] and vouched != legacy:
        # Events without a key are only those of a registry from before events were keyed,
        # vouched for by the keyed event of `audit seal` (their number and head); a chain
        # rewritten without the key cannot make that event.
        problems.append(
            f"peristiwa 1–{legacy[0]}: tanpa kunci dan tidak diakui oleh `lumbung audit seal`"
        )
    elif first_keyed is None and count:
        problems.append(
            f"peristiwa 1–{prev_id}: tanpa kunci dan tidak diakui oleh `lumbung audit seal`"
        )
    for anchor in wanted:
        where = anchor.source
        if anchor.events is None:
            if anchor.head != GENESIS and anchor.head not in found:
                problems.append(
                    f"{where}: kepala {anchor.head} tidak ada di rantai (rantai dipotong atau "
                    "ditulis ulang)"
                )
        elif anchor.events + anchor.followed > prev_id:
            problems.append(
                (
                    f"{where}: dicatat sesudah peristiwa {anchor.events}"
                    if anchor.followed
                    else f"{where}: rantai mencatat {anchor.events} peristiwa"
                )
                + f", kini hanya sampai {prev_id} (peristiwa di ujung dihapus)"
            )
        elif anchor.events and seen_at.get(anchor.events) != anchor.head:
            problems.append(
                f"{where}: peristiwa {anchor.events} bukan {anchor.head} (rantai ditulis ulang)"
            )
    return ChainReport(not problems, count, prev_hash, problems, expected, versions=versions)


def length(session: Session) -> int:
    """How many events the chain has (the newest event's id: ids have no gaps)."""
    value = session.execute(
        select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    return value or 0


def head(session: Session) -> str:
    """The hash of the newest event (the genesis hash for an empty log)."""
    value = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    return value or GENESIS


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One audit event as `audit log` shows it."""

    id: int
    at: datetime
    actor: str
    os_user: str | None
    channel: str | None
    action: str
    entity: str
    entity_id: str
    diff: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "os_user": self.os_user,
            "channel": self.channel,
            "action": self.action,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "diff": self.diff,
        }


def log(
    session: Session,
    actor: User,
    *,
    limit: int = 20,
    offset: int = 0,
    entity: str | None = None,
    entity_id: str | None = None,
) -> Page[LogEntry]:
    """The audit events, newest first (optionally those of one entity): for national users
    only, since the events name families of every region."""
    # auth.service records its own events through this module: imported when asked.
    from lumbung.auth.roles import Action
    from lumbung.auth.service import authorize, require_national

    authorize(actor, Action.READ)
    require_national(actor, "log audit seluruh wilayah dibaca")
    check_window(limit, offset)
    if entity_id is not None and entity is None:
        raise ValidationFailed(
            "Nomor entitas butuh jenis entitasnya (household, user, …).",
            command="lumbung audit log --entity JENIS --entity-id NOMOR",
        )
    query = select(AuditEvent)
    if entity is not None:
        query = query.where(AuditEvent.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == str(entity_id))
    rows, total = page_rows(
        session, query.order_by(AuditEvent.id.desc()), limit=limit, offset=offset
    )
    found = [e for (e,) in rows]
    return Page(
        [
            LogEntry(
                e.id,
                e.at,
                e.actor,
                e.os_user,
                e.channel,
                e.action,
                e.entity,
                e.entity_id,
                e.diff,
            )
            for e in found
        ],
        int(total),
        limit,
        offset,
    )
