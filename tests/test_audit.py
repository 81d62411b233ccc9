"""The audit log's hash chain: recording, verifying, and catching every kind of tampering.

Tampering is done the way an intruder with database access would do it: plain SQL through
the engine, bypassing the services.
"""

from __future__ import annotations

import os
import pwd
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
from lumbung.audit.keys import Key, Keyring, keyring
from lumbung.audit.models import AuditEvent
from lumbung.db import session_scope
from lumbung.registry import decisions, proposals, workflow
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
        assert e.hash == audit.hash_of(e)
        assert e.key_id == keyring().current.id
        assert e.channel == "cli"
        assert e.os_user == pwd.getpwuid(os.getuid()).pw_name
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
    assert result.problems == [f"peristiwa {target}: isi diubah (hash berbeda)"]


def test_an_altered_actor_by_raw_sql_is_detected(engine: Engine) -> None:
    events = record_events(engine, 3)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET actor = 'mallory' WHERE id = :id"), {"id": events[0].id}
        )
    result = report(engine)
    assert result.problems == [f"peristiwa {events[0].id}: isi diubah (hash berbeda)"]


def test_rehashing_an_altered_event_breaks_the_next_link(engine: Engine) -> None:
    """With the key, an intruder could rehash one event; the next one still links the old."""
    events = record_events(engine, 4)
    forged = events[1]
    with engine.begin() as conn:
        conn.execute(
            update(EVENTS).where(EVENTS.c.id == forged.id).values(diff={"i": 1, "note": "palsu"})
        )
    with session_scope(engine) as session:
        stored = session.get(AuditEvent, forged.id)
        assert stored is not None
        new_hash = audit.hash_of(stored)
    with engine.begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.id == forged.id).values(hash=new_hash))
    result = report(engine)
    assert result.problems == [
        f"peristiwa {events[2].id}: prev_hash tidak cocok dengan peristiwa {forged.id}"
    ]


@pytest.mark.parametrize("how", ["unkeyed", "another key"])
def test_rewriting_the_chain_without_the_key_is_detected(engine: Engine, how: str) -> None:
    """An intruder rewrites an event and recomputes every later hash, as they could when the
    chain was a plain sha256: without the key file the hashes cannot be made."""
    events = record_events(engine, 4)
    mallory = Key("k1", b"m" * 32)  # the key's name, not its secret
    with session_scope(engine) as session:
        chain = list(
            session.execute(
                select(AuditEvent).where(AuditEvent.id >= events[1].id).order_by(AuditEvent.id)
            ).scalars()
        )
        prev = chain[0].prev_hash
        chain[0].diff = {"i": 1, "note": "palsu"}
        for event in chain:
            event.prev_hash = prev
            if how == "unkeyed":
                event.key_id = None
                event.hash = audit.hash_of(event)
            else:
                event.hash = audit.keyed_hash(
                    event, Keyring({"k1": mallory}, mallory, Path("mallory.key"))
                )
            prev = event.hash
    result = report(engine)
    assert not result.ok
    if how == "unkeyed":
        assert result.problems[0].startswith(f"peristiwa {events[1].id}: tanpa kunci sesudah")
    else:
        assert result.problems == [
            f"peristiwa {e.id}: isi diubah (hash berbeda)" for e in events[1:]
        ]


def test_a_deleted_middle_event_is_detected(engine: Engine) -> None:
    events = record_events(engine, 5)
    gone = events[2].id
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": gone})
    result = report(engine)
    assert not result.ok
    assert f"peristiwa {gone}–{gone} hilang (dihapus)" in result.problems
    assert (
        f"peristiwa {gone + 1}: prev_hash tidak cocok dengan peristiwa {gone - 1}"
        in result.problems
    )
    assert len(result.problems) == 2
    assert result.events == len(ids(engine))


def test_several_deleted_events_are_named_as_a_range(engine: Engine) -> None:
    events = record_events(engine, 6)
    with engine.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.id.between(events[1].id, events[3].id)))
    result = report(engine)
    assert f"peristiwa {events[1].id}–{events[3].id} hilang (dihapus)" in result.problems


def test_a_deleted_tail_is_detected_only_against_a_published_head(engine: Engine) -> None:
    events = record_events(engine, 4)
    published = report(engine).head
    assert published == events[-1].hash
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id >= :id"), {"id": events[2].id})
    # The shortened chain is internally consistent ...
    assert report(engine).ok
    # ... but not the chain whose head was published, with its length or without.
    result = report(engine, expect_head=published)
    assert not result.ok
    assert result.head == events[1].hash
    assert result.problems == [
        f"--expect-head: kepala {published} tidak ada di rantai (rantai dipotong atau ditulis "
        "ulang)"
    ]
    result = report(engine, expect_head=f"{events[-1].id}:{published}")
    assert result.problems == [
        f"--expect-head: rantai mencatat {events[-1].id} peristiwa, kini hanya sampai "
        f"{events[1].id} (peristiwa di ujung dihapus)"
    ]
    assert report(engine, expect_head=events[1].hash).ok


def test_a_published_head_stays_valid_as_the_chain_grows(engine: Engine) -> None:
    """A head written down (or anchored in a release) is found at its place in a longer chain;
    a head that is not at its stated place is a rewritten chain."""
    events = record_events(engine, 3)
    anchored = f"{events[-1].id}:{events[-1].hash}"
    record_events(engine, 2)
    assert report(engine, expect_head=anchored).ok
    assert report(engine, expect_head=events[-1].hash).ok
    wrong = f"{events[-2].id}:{events[-1].hash}"
    assert report(engine, expect_head=wrong).problems == [
        f"--expect-head: peristiwa {events[-2].id} bukan {events[-1].hash} (rantai ditulis ulang)"
    ]


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
    assert result.problems == [
        f"peristiwa {events[-1].id + 1}: tanpa kunci sesudah peristiwa berkunci 1 (ditulis di "
        "luar Lumbung)"
    ]


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
    assert f"peristiwa {a.id}: isi diubah (hash berbeda)" in result.problems
    assert f"peristiwa {b.id}: isi diubah (hash berbeda)" in result.problems


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
        proposal = proposals.propose(
            session,
            actor=user(session, "operator"),
            kind="new_family",
            payload={"household": h3, "members": m3},
        )
        request_id = proposal.request.id
    with session_scope(engine) as session:
        workflow.verify(session, actor=user(session, "verifier"), request_id=request_id)
        decisions.decide(session, actor=user(session, "verifier"), decision="verify")
    with session_scope(engine) as session:
        determiner = user(session, "determiner")
        workflow.determine(session, actor=determiner, request_id=request_id)
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
