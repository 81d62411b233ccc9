"""One run at a time per thing a run writes files for: a cycle label, a release label, a
release's scoring with one model.

A run that writes files takes its turn before it touches any file, and keeps it until its
transaction ends: in the database (PostgreSQL: a transaction-scoped advisory lock keyed by
what it writes; SQLite: the single writer lock every transaction takes with `BEGIN IMMEDIATE`,
db.py) and in the data folder (an exclusive `flock` on `locks/KIND-KEY.lock`, for runs of
another process that do not share the database's lock). A second run of the same thing while
one is running is refused at once with a `Conflict`, rather than waiting for minutes and then
replacing what the first one wrote.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction

from lumbung.db import is_postgres
from lumbung.errors import Conflict

# The first key of PostgreSQL's two-key advisory locks, one per kind of run (the audit
# chain's single-key lock, 727_001, is another key space).
NAMESPACES = {"cycle": 727_101, "release": 727_102, "scoring": 727_103, "simulation": 727_104}
BUSY = {
    "cycle": "Siklus {key} sedang dihitung oleh proses lain",
    "release": "Rilis {key} sedang dibuat oleh proses lain",
    "scoring": "Skor PMT {key} sedang dihitung oleh proses lain",
    "simulation": "Simulasi {key} sedang dihitung oleh proses lain",
}
_SAFE = re.compile(r"[^A-Za-z0-9._@-]")


def hold(session: Session, kind: str, key: str, data_dir: Path) -> None:
    """Take this run's turn for (`kind`, `key`) until the session's transaction ends.

    Raises `Conflict` (nothing touched) when another run of the same thing holds it."""
    busy = Conflict(
        BUSY[kind].format(key=key)
        + "; tunggu sampai selesai dan periksa hasilnya sebelum menjalankannya lagi."
    )
    if is_postgres(session):
        taken = session.execute(
            text("SELECT pg_try_advisory_xact_lock(:space, hashtext(:key))"),
            {"space": NAMESPACES[kind], "key": key},
        ).scalar_one()
        if not taken:
            raise busy
    else:
        # BEGIN IMMEDIATE (db.py): beginning the transaction took SQLite's writer lock.
        session.execute(text("SELECT 1"))
    folder = data_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{_SAFE.sub('_', key)}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise busy from None
    _release_at_end(session, fd)


def _release_at_end(session: Session, fd: int) -> None:
    """Close (and so unlock) `fd` when the session's outermost transaction ends."""

    open_ = [fd]

    def ended(_session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None and open_:
            os.close(open_.pop())

    event.listen(session, "after_transaction_end", ended)
