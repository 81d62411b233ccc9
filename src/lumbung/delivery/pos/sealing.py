"""Sealing online redemptions into the audit chain in groups.

An audit event is appended under the chain's lock, held until its transaction commits: one
per redemption would make every counter of the nation wait its turn for that lock. So an
online redemption's `paid` event is written with the source `pos:awaiting-seal`, vouched for
meanwhile by its voucher's `redemption_mac` (a keyed digest under the key file: a paid event
inserted in the database by someone without the key has no valid one). A seal, at most about
once a second per server process after a redemption (`seal_if_due`), at `lumbung delivery voucher
seal`, and by `lumbung cycle check` readers through `awaiting`, takes the chain's lock first,
then the awaiting events whose digest holds, gives each cycle's a new operation's source and
appends one audit event per cycle naming that source with the count and sha256 of its events
— the ledger's usual seal (`delivery.ledger`). `ledger.check_cycle` counts events still
awaiting as such (not as tampering) when their voucher's digest holds, and reports those whose
digest does not.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, and_, select, text, update
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.cycles.models import Cycle
from lumbung.db import DbEngine, is_postgres, session_scope
from lumbung.delivery import ledger
from lumbung.delivery.models import PaymentEvent
from lumbung.delivery.pos.models import Voucher
from lumbung.delivery.pos.redemption import AWAITING, mac_holds

log = logging.getLogger(__name__)
SEAL_EVERY_SECONDS = 1.0
SEAL_ACTOR = "lumbung:pos-seal"
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class SealResult:
    sealed: int
    cycles: dict[str, int]
    refused: int  # awaiting events whose voucher digest does not hold (left, reported)

    def as_dict(self) -> dict[str, Any]:
        return {"sealed": self.sealed, "cycles": self.cycles, "refused": self.refused}


_EVENT_COLUMNS = ("id", "cycle_id", "beneficiary_id", "attempt", "batch_id", "kind", "amount_idr")
_VOUCHER_COLUMNS = (
    "id",
    "cycle_id",
    "beneficiary_id",
    "attempt",
    "batch_id",
    "amount_idr",
    "state",
    "redeemed_at",
    "counter",
    "redemption_mac",
)


def _vouched(
    session: Session, *, cycle_id: int | None = None, limit: int | None = None
) -> list[tuple[SimpleNamespace, SimpleNamespace | None]]:
    """The events awaiting their seal, each with its voucher (None: none), as plain rows (a
    seal reads a second's redemptions: ORM objects cost more than the rest of it)."""
    event = cast(Table, PaymentEvent.__table__)
    voucher = cast(Table, Voucher.__table__)
    query = (
        select(
            *(event.c[name].label(f"e_{name}") for name in _EVENT_COLUMNS),
            event.c.reference.label("e_reference"),
            *(voucher.c[name].label(f"v_{name}") for name in _VOUCHER_COLUMNS),
        )
        .join(
            voucher,
            and_(
                voucher.c.cycle_id == event.c.cycle_id,
                voucher.c.beneficiary_id == event.c.beneficiary_id,
                voucher.c.attempt == event.c.attempt,
            ),
            isouter=True,
        )
        .where(event.c.source == AWAITING)
        .order_by(event.c.id)
    )
    if cycle_id is not None:
        query = query.where(event.c.cycle_id == cycle_id)
    if limit is not None:
        query = query.limit(limit)
    found = []
    for row in session.connection().execute(query).mappings():
        e = SimpleNamespace(**{n: row[f"e_{n}"] for n in (*_EVENT_COLUMNS, "reference")})
        v = (
            SimpleNamespace(**{n: row[f"v_{n}"] for n in _VOUCHER_COLUMNS})
            if row["v_id"] is not None
            else None
        )
        found.append((e, v))
    return found


def event_vouched(event: Any, voucher: Any) -> bool:
    """Whether an awaiting event is the redemption its voucher's keyed digest vouches for."""
    return (
        voucher is not None
        and event.kind == "paid"
        and voucher.state == "redeemed"
        and event.batch_id == voucher.batch_id
        and event.amount_idr == voucher.amount_idr
        and event.reference == voucher.counter
        and mac_holds(voucher)
    )


def seal_awaiting(session: Session, *, limit: int = 100_000) -> SealResult:
    """Seal the redemptions awaiting their seal (up to `limit`), one audit event per cycle."""
    if is_postgres(session):  # sealers take turns; each sees what the one before sealed
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": audit.CHAIN_LOCK})
    by_cycle: dict[int, list[int]] = defaultdict(list)
    refused = 0
    for event, voucher in _vouched(session, limit=limit):
        if event_vouched(event, voucher):
            by_cycle[event.cycle_id].append(event.id)
        else:
            refused += 1
    sealed: dict[str, int] = {}
    for cycle_id, ids in sorted(by_cycle.items()):
        cycle = session.get_one(Cycle, cycle_id)
        source = ledger.new_operation()
        # The digest of the events given the new source, from the rows the UPDATE returns
        # (`ledger.events_digest` would read the whole ledger by a source it has no index on).
        moved: list[Any] = []
        for start in range(0, len(ids), _CHUNK):
            moved.extend(
                session.execute(
                    update(PaymentEvent)
                    .where(PaymentEvent.id.in_(ids[start : start + _CHUNK]))
                    .where(PaymentEvent.source == AWAITING)
                    .values(source=source)
                    .returning(*(PaymentEvent.__table__.c[n] for n in ledger.EVENT_LINE_COLUMNS))
                    .execution_options(synchronize_session=False)
                ).all()
            )
        moved.sort(key=lambda e: (e[0], e[1], e[2], e[3]))  # events_digest's order
        digest = hashlib.sha256()
        ledger.add_to_digest(digest, moved)
        count, sha = len(moved), digest.hexdigest()
        audit.record(
            session,
            actor=SEAL_ACTOR,
            action="delivery.voucher_redeem",
            entity="cycle",
            entity_id=cycle.label,
            diff={
                "redemptions": count,
                "ledger": {"source": source, "events": count, "sha256": sha},
            },
        )
        sealed[cycle.label] = count
    return SealResult(sum(sealed.values()), sealed, refused)


def awaiting(session: Session, cycle_id: int) -> tuple[int, list[str]]:
    """The cycle's events awaiting their seal, and a problem for each one no voucher vouches
    for (`ledger.check_cycle`)."""
    count = 0
    problems: list[str] = []
    for event, voucher in _vouched(session, cycle_id=cycle_id):
        if event_vouched(event, voucher):
            count += 1
        elif len(problems) < 10:
            which = ledger.attempt_id(event.cycle_id, event.beneficiary_id, event.attempt)
            problems.append(
                f"peristiwa pembayaran {which} "
                f"({event.kind}, menunggu segel) tidak sesuai dengan vouchernya atau tanpa "
                "segel kunci yang sah (ditambahkan atau diubah di luar Lumbung)"
            )
    return count, problems


_last_seal = 0.0
_sealing = threading.Lock()


def seal_if_due(engine: DbEngine, *, every: float = SEAL_EVERY_SECONDS) -> SealResult | None:
    """Seal what awaits if this process last sealed more than `every` seconds ago and no
    other thread of it is sealing now (called after a redemption's commit)."""
    global _last_seal
    now = time.monotonic()
    if now - _last_seal < every or not _sealing.acquire(blocking=False):
        return None
    try:
        _last_seal = now
        with session_scope(engine) as session:
            return seal_awaiting(session)
    except Exception:
        # The redemption that called is committed and must be answered as paid; what awaits
        # stays vouched for by its digest and is sealed by the next seal (or `voucher seal`).
        log.exception("sealing the redemptions awaiting their seal failed; retried later")
        return None
    finally:
        _sealing.release()
