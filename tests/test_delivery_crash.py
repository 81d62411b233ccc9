"""kill -9 in the middle of making batches, recording answers (a status file, too) or writing a
bank file: nothing of it stays, and the same command again reaches the state an uninterrupted
run reaches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine

from delivery_helpers import approve_batch, approved_cycle, create, items, record
from lumbung.delivery.outcomes import OutcomeRow
from test_delivery_batches import check

pytestmark = pytest.mark.usefixtures("users")

# Runs the operation, then holds its transaction open (after its last write, before the
# commit) until killed.
HOLDER = """
import json, sys, time
from lumbung.db import create_engine, session_scope
from lumbung.auth.models import User
from lumbung.delivery import batches, ledger, outcomes

url, what, rows = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
engine = create_engine(url)
real_seal = ledger.seal

def seal_and_wait(*args, **kwargs):
    event = real_seal(*args, **kwargs)
    print("sealed", flush=True)
    time.sleep(120)
    return event

ledger.seal = seal_and_wait
with session_scope(engine) as session:
    actor = session.query(User).filter_by(username="determiner").one()
    if what == "batch":
        batches.create_batches(session, actor=actor, label="BBM-1")
    elif what == "file":
        from pathlib import Path
        from lumbung.delivery.statuses import import_status_file
        import_status_file(session, actor=actor, path=Path(rows))
    else:
        outcomes.record_outcomes(
            session, actor=actor, file_name="status.csv", file_sha256="0" * 64,
            rows=[outcomes.OutcomeRow(*r) for r in rows],
        )
"""


def ledger_rows(engine: DbEngine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (
            int(conn.execute(text("SELECT count(*) FROM payment_item")).scalar_one()),
            int(conn.execute(text("SELECT count(*) FROM payment_event")).scalar_one()),
            int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one()),
        )


def kill_midway(database_url: str, what: str, rows: list[list[object]] | str) -> None:
    env = {**os.environ}
    held = subprocess.Popen(
        [sys.executable, "-c", HOLDER, database_url, what, json.dumps(rows)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert held.stdout is not None
        assert held.stdout.readline().decode().strip() == "sealed"
        held.send_signal(signal.SIGKILL)
        held.wait()
    finally:
        held.kill()


def test_batches_killed_before_commit_leave_nothing_and_run_again(
    engine: DbEngine, tmp_path: Path, database_url: str
) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    before = ledger_rows(engine)
    kill_midway(database_url, "batch", [])
    assert ledger_rows(engine) == before
    assert check(engine, "BBM-1").ok
    (batch,) = create(engine, "BBM-1").batches
    assert batch.count == 7 and batch.number == 1
    result = check(engine, "BBM-1")
    assert result.ok and result.in_flight.entitlements == 7, result.problems


def test_answers_killed_before_commit_leave_nothing_and_record_again(
    engine: DbEngine, tmp_path: Path, database_url: str
) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    (batch,) = create(engine, "BBM-1").batches
    approve_batch(engine, batch.id)
    sent = items(engine)
    rows = [
        [n + 2, f"{c}-{b}", f"{c}-{b}-{a}", "paid", 300_000]
        for n, (c, b, a, _) in enumerate(sent[:5])
    ]
    before = ledger_rows(engine)
    kill_midway(database_url, "outcomes", rows)
    assert ledger_rows(engine) == before
    assert {state for *_, state in items(engine)} == {"pending"}
    summary = record(engine, [OutcomeRow(*r) for r in rows])  # type: ignore[arg-type]
    assert summary.recorded["paid"] == 5
    result = check(engine, "BBM-1")
    assert result.ok and result.states["paid"].entitlements == 5, result.problems


def test_a_status_file_killed_while_recorded_leaves_nothing_and_is_recorded_again(
    engine: DbEngine, tmp_path: Path, database_url: str
) -> None:
    from datetime import date

    from bank_helpers import approved_bank_batches, write_file
    from lumbung.delivery.bank import simulate

    (batch,) = approved_bank_batches(engine, tmp_path, "SBK-1", "SEMBAKO")
    sent = write_file(engine, batch.id, tmp_path / "bri.xml")
    statement = tmp_path / "statement.csv"
    simulate.write_statement(
        statement, simulate.answers(Path(sent.path), fail_every=3), value_date=date(2027, 1, 5)
    )
    before = ledger_rows(engine)
    kill_midway(database_url, "file", str(statement))  # killed after its seal, before commit
    assert ledger_rows(engine) == before
    assert {state for *_, state in items(engine)} == {"pending"}
    again = subprocess.run(  # the same command again, to its end
        [
            sys.executable,
            "-c",
            HOLDER.replace("time.sleep(120)", "pass"),
            database_url,
            "file",
            json.dumps(str(statement)),
        ],
        capture_output=True,
        check=True,
    )
    assert again.stdout.decode().split() == ["sealed"]
    failed = batch.count // 3
    states = [state for *_, state in items(engine)]
    assert (states.count("paid"), states.count("failed")) == (batch.count - failed, failed)
    # what an uninterrupted run leaves: one event per answer, one audit event for the file
    assert ledger_rows(engine) == (before[0], before[1] + batch.count, before[2] + 1)
    result = check(engine, "SBK-1")
    assert result.ok, result.problems
    assert result.states["failed"].entitlements == failed


WRITER = """
import sys, time
from pathlib import Path
from lumbung.db import create_engine, session_scope
from lumbung.auth.models import User
from lumbung.delivery.bank import output
from lumbung.delivery.bank.service import write_payment_file

url, batch_id, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
real_write = output.HashedFile.write

def write_and_wait(self, data):
    real_write(self, data)
    self._file.flush()
    print("writing", flush=True)
    time.sleep(120)

output.HashedFile.write = write_and_wait
engine = create_engine(url)
with session_scope(engine) as session:
    actor = session.query(User).filter_by(username="determiner").one()
    write_payment_file(session, actor=actor, batch_id=batch_id, out=out)
"""


def test_a_bank_file_killed_while_written_leaves_no_file_and_is_written_again(
    engine: DbEngine, tmp_path: Path, database_url: str
) -> None:
    import time

    from bank_helpers import approved_bank_batches, write_file
    from lumbung.delivery.bank import output

    (batch,) = approved_bank_batches(engine, tmp_path, "SBK-1", "SEMBAKO")
    out = tmp_path / "files"
    out.mkdir()
    target = out / "bri.xml"
    before = ledger_rows(engine)
    held = subprocess.Popen(
        [sys.executable, "-c", WRITER, database_url, str(batch.id), str(target)],
        stdout=subprocess.PIPE,
    )
    try:
        assert held.stdout is not None
        assert held.stdout.readline().decode().strip() == "writing"
        held.send_signal(signal.SIGKILL)
        held.wait()
    finally:
        held.kill()
    assert not target.exists()
    (partial,) = out.glob(".bri.xml.*.part")  # what the killed writer left
    assert ledger_rows(engine) == before  # no audit event for a file never written
    old = time.time() - output.STALE_SECONDS - 60
    os.utime(partial, (old, old))
    written = write_file(engine, batch.id, target)
    assert target.exists() and written.count == batch.count
    assert list(out.glob(".*.part")) == []  # the next writer swept it
    assert ledger_rows(engine)[2] == before[2] + 1  # one file, one audit event
