"""How many families and members each audit event moved into and out of each status.

Every change to the registry's rows is recorded in the chain with the counts it moved (`tally`
in the event: `{"household": {"proposed": -3, "verified": 3}}`), so that `audit verify` can
sum the chain and compare it with the rows there are: a family deleted, inserted or set back
to an earlier status directly in the database shows as a count that does not add up. The ORM's
writes are counted as they are flushed (registry/models.py), bulk writes by their writer
(`add`); `audit.record` takes what was counted into its event, and a transaction that changed
rows without recording an event is refused at commit.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

KEY = "lumbung.tally"


def add(session: Session, table: str, status: str, count: int) -> None:
    """`count` rows of `table` entered `status` (negative: left it)."""
    if count:
        counter: Counter[tuple[str, str]] = session.info.setdefault(KEY, Counter())
        counter[(table, status)] += count


def written(session: Session, target: Any, *, inserted: bool) -> None:
    """Count one row written through the ORM (its status, before and after)."""
    table = target.__tablename__
    if inserted:
        add(session, table, target.status, 1)
        return
    history = inspect(target).attrs.status.history
    for before in history.deleted or ():
        add(session, table, before, -1)
    for after in history.added or ():
        add(session, table, after, 1)


def take(session: Session) -> dict[str, dict[str, int]]:
    """What was counted since the last event, emptied: {table: {status: rows}}."""
    counter: Counter[tuple[str, str]] = session.info.pop(KEY, Counter())
    moved: dict[str, dict[str, int]] = {}
    for (table, status), count in sorted(counter.items()):
        if count:
            moved.setdefault(table, {})[status] = count
    return moved


class UnrecordedChange(RuntimeError):
    """A transaction changed registry rows but recorded no audit event for them."""


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    """Rows rolled back were never written: nothing of them is left to record."""
    session.info.pop(KEY, None)


@event.listens_for(Session, "before_commit")
def _refuse_unrecorded(session: Session) -> None:
    session.flush()
    left = take(session)
    if left:
        raise UnrecordedChange(f"registry rows changed without an audit event: {left}")
