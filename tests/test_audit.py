"""The audit log's hash chain: recording, verifying, and catching every kind of tampering.

Tampering is done the way an intruder with database access would do it: plain SQL through
the engine, bypassing the services.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.engine import Engine

from conftest import user
from factories import family, write_batch
from helpers import run_import
from lumbung.audit import service as audit
from lumbung.audit.models import AuditEvent
from lumbung.db import session_scope
from lumbung.registry import decisions
from lumbung.registry import service as requests
from lumbung.releases.service import create_release

EVENTS = cast(Table, AuditEvent.__table__)


def record_events(engine: Engine, n: int, *, actor: str = "tester") -> list[AuditEvent]:
    with session_scope(engine) as session:
        return [
            audit.record(
                session,
                actor=actor,
                action="test.event",
                entity="thing",
                entity_id=i,
                diff={"i": i, "note": f"peristiwa {i}"},
            )
            for i in range(n)
        ]


def report(engine: Engine, expect_head: str | None = None) -> audit.ChainReport:
    with session_scope(engine) as session:
        return audit.verify(session, expect_head=expect_head)


def event_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EVENTS)).scalar_one())


def ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(EVENTS.c.id).order_by(EVENTS.c.id)).scalars())


def test_recorded_events_chain_and_verify(engine: Engine) -> None:
    before = event_count(engine)
    with session_scope(engine) as session:
        prior_head = audit.head(session)
    events = record_events(engine, 5)
    # Each event carries the hash of the one before it, the first of this test included.
    assert events[0].prev_hash == prior_head
    for earlier, later in pairwise(events):
        assert later.prev_hash == earlier.hash
        assert later.id == earlier.id + 1
    if before == 0:
        assert events[0].id == 1
        assert events[0].prev_hash == audit.GENESIS
    # The stored hash is the hash of the stored content.
    for e in events:
        assert e.hash == audit.event_hash(
            id=e.id,
            at=e.at,
            actor=e.actor,
            action=e.action,
            entity=e.entity,
            entity_id=e.entity_id,
            diff=e.diff,
            prev_hash=e.prev_hash,
        )
    result = report(engine)
    assert result.ok
    assert result.problems == []
    assert result.events == before + 5
    assert result.head == events[-1].hash
    with session_scope(engine) as session:
        assert audit.head(session) == events[-1].hash
        stored = session.get(AuditEvent, events[2].id)
        assert stored is not None
        assert (stored.actor, stored.entity_id, stored.diff) == (
            "tester",
            "2",
            {"i": 2, "note": "peristiwa 2"},
        )


def test_empty_log_has_the_genesis_head(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(EVENTS))
    result = report(engine)
    assert (result.ok, result.events, result.head) == (True, 0, audit.GENESIS)
    with session_scope(engine) as session:
        assert audit.head(session) == audit.GENESIS
    [first] = record_events(engine, 1)
    assert (first.id, first.prev_hash) == (1, audit.GENESIS)
    assert report(engine).ok


def test_values_that_are_not_json_are_hashed_as_stored(engine: Engine) -> None:
    diff: dict[str, Any] = {
        "tanggal": date(2026, 11, 26),
        "jumlah": Decimal("1500000"),
        "nama": "Siti Aminah — Ma’ruf",
        "daftar": [3, 1, 2],
        "bersarang": {"z": None, "a": True, "angka": 12.5},
    }
    with session_scope(engine) as session:
        event = audit.record(
            session, actor="tester", action="test.types", entity="x", entity_id="*", diff=diff
        )
    with session_scope(engine) as session:
        stored = session.get(AuditEvent, event.id)
        assert stored is not None
        assert stored.diff["tanggal"] == "2026-11-26"
        assert stored.diff["jumlah"] == "1500000"
        assert stored.diff["nama"] == "Siti Aminah — Ma’ruf"
        assert stored.diff["bersarang"] == {"z": None, "a": True, "angka": 12.5}
    assert report(engine).ok


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("diff", {"i": 2, "note": "peristiwa 2 (diubah)"}),
        ("diff", {"i": 2}),
        ("actor", "mallory"),
        ("action", "test.other"),
        ("entity_id", "99"),
        ("at", datetime(2020, 1, 1, tzinfo=UTC)),
    ],
)
def test_an_altered_event_is_detected(engine: Engine, column: str, value: Any) -> None:
    events = record_events(engine, 4)
    target = events[2].id
    with engine.begin() as conn:
        changed = conn.execute(
            update(EVENTS).where(EVENTS.c.id == target).values({column: value})
        ).rowcount
    assert changed == 1
    result = report(engine)
    assert not result.ok
    assert result.problems == [f"event {target}: content altered (hash differs)"]


def test_an_altered_actor_by_raw_sql_is_detected(engine: Engine) -> None:
    events = record_events(engine, 3)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET actor = 'mallory' WHERE id = :id"), {"id": events[0].id}
        )
    result = report(engine)
    assert result.problems == [f"event {events[0].id}: content altered (hash differs)"]


def test_rehashing_an_altered_event_breaks_the_next_link(engine: Engine) -> None:
    events = record_events(engine, 4)
    forged = events[1]
    diff = {"i": 1, "note": "dipalsukan"}
    new_hash = audit.event_hash(
        id=forged.id,
        at=forged.at,
        actor=forged.actor,
        action=forged.action,
        entity=forged.entity,
        entity_id=forged.entity_id,
        diff=diff,
        prev_hash=forged.prev_hash,
    )
    with engine.begin() as conn:
        conn.execute(
            update(EVENTS).where(EVENTS.c.id == forged.id).values(diff=diff, hash=new_hash)
        )
    result = report(engine)
    assert result.problems == [f"event {events[2].id}: prev_hash does not match event {forged.id}"]


def test_a_deleted_middle_event_is_detected(engine: Engine) -> None:
    events = record_events(engine, 5)
    gone = events[2].id
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": gone})
    result = report(engine)
    assert not result.ok
    assert f"event {gone}–{gone} missing (deleted)" in result.problems
    assert f"event {gone + 1}: prev_hash does not match event {gone - 1}" in result.problems
    assert len(result.problems) == 2
    assert result.events == len(ids(engine))


def test_several_deleted_events_are_named_as_a_range(engine: Engine) -> None:
    events = record_events(engine, 6)
    with engine.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id.between(events[1].id, events[3].id)))
    result = report(engine)
    assert f"event {events[1].id}–{events[3].id} missing (deleted)" in result.problems


def test_a_deleted_tail_is_detected_only_against_a_published_head(engine: Engine) -> None:
    events = record_events(engine, 4)
    published = report(engine).head
    assert published == events[-1].hash
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": events[2].id})
    # The shortened chain is internally consistent ...
    assert report(engine).ok
    # ... but not the chain whose head was published.
    result = report(engine, expect_head=published)
    assert not result.ok
    assert result.head == events[1].hash
    assert result.problems == [
        f"head is {events[1].hash}, expected {published} (events removed from the end?)"
    ]
    assert report(engine, expect_head=events[1].hash).ok


def test_a_forged_event_appended_with_a_made_up_hash_is_detected(engine: Engine) -> None:
    events = record_events(engine, 2)
    with engine.begin() as conn:
        conn.execute(
            insert(EVENTS).values(
                id=events[-1].id + 1,
                at=datetime.now(UTC),
                actor="mallory",
                action="household.determine",
                entity="household",
                entity_id="*",
                diff={"households": 1},
                prev_hash=events[-1].hash,
                hash="f" * 64,
            )
        )
    result = report(engine)
    assert result.problems == [f"event {events[-1].id + 1}: content altered (hash differs)"]


def test_swapped_events_are_detected(engine: Engine) -> None:
    events = record_events(engine, 4)
    a, b = events[1], events[2]
    with engine.begin() as conn:
        # Exchange the two rows' contents (ids stay in order, so only the hashes can tell).
        for source, target in ((a, b), (b, a)):
            conn.execute(
                update(EVENTS)
                .where(EVENTS.c.id == target.id)
                .values(diff=source.diff, entity_id=source.entity_id)
            )
    result = report(engine)
    assert f"event {a.id}: content altered (hash differs)" in result.problems
    assert f"event {b.id}: content altered (hash differs)" in result.problems


def test_concurrent_writers_keep_one_unbroken_chain(engine: Engine) -> None:
    before = event_count(engine)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(8):
                with session_scope(engine) as session:
                    audit.record(
                        session,
                        actor=f"worker{worker}",
                        action="test.concurrent",
                        entity="thing",
                        entity_id=i,
                        diff={"worker": worker, "i": i},
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = report(engine)
    assert result.ok, result.problems
    assert result.events == before + 32
    stored = ids(engine)
    assert stored == list(range(stored[0], stored[0] + len(stored)))


@pytest.mark.usefixtures("users")
def test_the_chain_holds_across_every_service(engine: Engine, tmp_path: Path) -> None:
    households, members = [], []
    for serial in (1, 2):
        h, m = family(serial)
        households.append(h)
        members += m
    run_import(engine, write_batch(tmp_path / "batch", households, members))
    h3, m3 = family(3)
    with session_scope(engine) as session:
        proposal = requests.propose(
            session,
            actor=user(session, "operator"),
            kind="new_family",
            payload={"household": h3, "members": m3},
        )
        request_id = proposal.request.id
    with session_scope(engine) as session:
        requests.verify(session, actor=user(session, "verifier"), request_id=request_id)
        decisions.decide(session, actor=user(session, "verifier"), decision="verify")
    with session_scope(engine) as session:
        determiner = user(session, "determiner")
        requests.determine(session, actor=determiner, request_id=request_id)
        decisions.decide(session, actor=determiner, decision="determine")
    with session_scope(engine) as session:
        create_release(
            session,
            actor=user(session, "determiner"),
            label="R1",
            releases_dir=tmp_path / "releases",
        )
    with session_scope(engine) as session:
        actions = set(session.execute(select(AuditEvent.action)).scalars())
    assert {
        "user.create",
        "registry.import",
        "request.propose.new_family",
        "request.verify",
        "household.verify",
        "request.determine.new_family",
        "household.determine",
        "release.create",
    } <= actions
    result = report(engine)
    assert result.ok, result.problems
    assert result.events == event_count(engine)
    stored = ids(engine)
    assert stored == list(range(stored[0], stored[0] + len(stored)))
    # A change anywhere in that history is caught.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET actor = 'pusdatin' WHERE action = 'household.determine'")
        )
    assert not report(engine).ok
