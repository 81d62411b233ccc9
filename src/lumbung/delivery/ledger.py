"""The payment ledger: events appended per operation and sealed in the audit chain; the
state of every entitlement derived from them; `cycle check`, the invariant.

Every operation that appends events (a batch created or cancelled, a status file, a
redemption) gives its events one `source` (`op:<16 hex>`) and writes one audit event naming
that source with the count and sha256 of its events. `check_cycle` recomputes each from the
ledger: an event added, changed or deleted in the database outside Lumbung shows, as does
an attempt whose recorded state is not what its events say.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, insert, literal, select
from sqlalchemy.orm import Session, aliased

from lumbung import bulk
from lumbung.audit import service as audit
from lumbung.audit.models import AuditEvent
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.cycles.models import Cycle, Entitlement
from lumbung.db import utcnow
from lumbung.delivery.models import PaymentBatch, PaymentEvent, PaymentItem
from lumbung.errors import NotFound
from lumbung.numbers import grouped

# The states an entitlement can be in, as the invariant adds them up. `pending` is both
# "in no batch yet" and "in a batch, no answer yet" (shown apart as `unbatched`/`in_flight`).
STATES = ("paid", "failed", "returned", "pending", "cancelled")


def new_operation() -> str:
    """The `source` shared by the events of one operation."""
    return "op:" + secrets.token_hex(8)


def entitlement_id(cycle_id: int, beneficiary_id: int) -> str:
    """An entitlement's id as partners carry it (the end-to-end id of a bank transfer)."""
    return f"{cycle_id}-{beneficiary_id}"


def attempt_id(cycle_id: int, beneficiary_id: int, attempt: int) -> str:
    """One attempt's id (a bank transfer's instruction id, a voucher's)."""
    return f"{cycle_id}-{beneficiary_id}-{attempt}"


def events_digest(session: Session, source: str) -> tuple[int, str]:
    """The number of events of one operation and the sha256 of their canonical lines (read as
    the driver's tuples: a national operation's millions of events make no object each)."""
    digest = hashlib.sha256()
    count = 0
    query = (
        select(
            PaymentEvent.cycle_id,
            PaymentEvent.beneficiary_id,
            PaymentEvent.attempt,
            PaymentEvent.kind,
            PaymentEvent.amount_idr,
            PaymentEvent.batch_id,
            PaymentEvent.reference,
            PaymentEvent.reason,
            PaymentEvent.value_date,
        )
        .where(PaymentEvent.source == source)
        .order_by(
            PaymentEvent.cycle_id,
            PaymentEvent.beneficiary_id,
            PaymentEvent.attempt,
            PaymentEvent.kind,
        )
    )
    for rows in bulk.stream_ahead(session, query):
        add_to_digest(digest, rows)
        count += len(rows)
    return count, digest.hexdigest()


EVENT_LINE_COLUMNS = (
    "cycle_id",
    "beneficiary_id",
    "attempt",
    "kind",
    "amount_idr",
    "batch_id",
    "reference",
    "reason",
    "value_date",
)


def add_to_digest(digest: Any, rows: Iterable[Any]) -> None:
    """Add events (`EVENT_LINE_COLUMNS`, in `events_digest`'s order) as their canonical lines."""
    digest.update(
        "".join(
            f"{c},{b},{a},{k},{amount},{batch},{ref or ''},{why or ''},{day or ''}\n"
            for c, b, a, k, amount, batch, ref, why, day in rows
        ).encode()
    )


def seal(
    session: Session,
    *,
    actor: User,
    action: str,
    cycle: Cycle,
    source: str,
    details: dict[str, Any],
    digest: tuple[int, str] | None = None,
) -> AuditEvent:
    """The audit event of one ledger operation: what it did and which events it added.
    `digest`: the events' count and sha256 (`events_digest`) when the caller computed them
    from the very rows it inserted them from in this transaction (not read back)."""
    session.flush()
    count, sha = digest if digest is not None else events_digest(session, source)
    return audit.record(
        session,
        actor=actor.username,
        action=action,
        entity="cycle",
        entity_id=cycle.label,
        diff={**details, "ledger": {"source": source, "events": count, "sha256": sha}},
    )


def items_as_events(
    *where: Any,
    reference: str | None = None,
    reason: str | None = None,
    value_date: date | None = None,
) -> Select[*tuple[Any, ...]]:
    """The attempts `where` selects, as the rows `append_from` makes events of."""
    return select(
        PaymentItem.cycle_id,
        PaymentItem.beneficiary_id,
        PaymentItem.attempt,
        PaymentItem.batch_id,
        PaymentItem.amount_idr,
        literal(reference).label("reference"),
        literal(reason).label("reason"),
        literal(value_date).label("value_date"),
    ).where(*where)


def append_from(
    session: Session,
    query: Select[*tuple[Any, ...]],
    *,
    kind: str,
    source: str,
    actor: User,
) -> int:
    """Append one event of `kind` for each row of `query`, in one statement. `query` gives
    (cycle_id, beneficiary_id, attempt, batch_id, amount_idr, reference, reason, value_date)."""
    columns = (
        "cycle_id",
        "beneficiary_id",
        "attempt",
        "batch_id",
        "amount_idr",
        "reference",
        "reason",
        "value_date",
    )
    now = utcnow()
    source_query = query.add_columns(
        literal(kind).label("kind"),
        literal(now).label("recorded_at"),
        literal(source).label("source"),
        literal(actor.username).label("actor"),
    )
    # SQLAlchemy 2.1 keeps an INSERT … SELECT's rowcount only when asked (psycopg reports -1
    # otherwise); counting apart read every row a second time.
    added = session.execute(
        insert(PaymentEvent)
        .from_select([*columns, "kind", "recorded_at", "source", "actor"], source_query)
        .execution_options(preserve_rowcount=True)
    )
    return int(added.rowcount)  # type: ignore[attr-defined]


def _replayed_state() -> Any:
    """An attempt's state as its events say, for a query grouped by attempt."""

    def has(kind: str) -> Any:
        return func.max(case((PaymentEvent.kind == kind, 1), else_=0)) == 1

    return case(
        (has("cancelled"), "cancelled"),
        (has("returned"), "returned"),
        (has("failed"), "failed"),
        (has("paid"), "paid"),
        else_="pending",
    )


@dataclass(frozen=True, slots=True)
class StateTotal:
    state: str
    entitlements: int
    amount_idr: int

    def as_dict(self) -> dict[str, Any]:
        return {"entitlements": self.entitlements, "amount_idr": self.amount_idr}


@dataclass(frozen=True, slots=True)
class CycleCheck:
    cycle: str
    program: str
    entitled: StateTotal
    states: dict[str, StateTotal]
    unbatched: StateTotal
    in_flight: StateTotal
    batches: int
    events: int
    problems: list[str] = field(default_factory=list)
    # online voucher redemptions whose events await their group seal (`delivery.pos.sealing`),
    # each vouched for by its voucher's keyed digest
    awaiting_seal: int = 0

    ok: bool = True  # no problem found

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "program": self.program,
            "ok": self.ok,
            "entitled": self.entitled.as_dict(),
            "states": {name: total.as_dict() for name, total in self.states.items()},
            "unbatched": self.unbatched.as_dict(),
            "in_flight": self.in_flight.as_dict(),
            "batches": self.batches,
            "events": self.events,
            "awaiting_seal": self.awaiting_seal,
            "problems": self.problems,
        }


def get_cycle(session: Session, label: str) -> Cycle:
    cycle = session.execute(select(Cycle).where(Cycle.label == label)).scalar_one_or_none()
    if cycle is None:
        raise NotFound(f"Siklus {label} tidak ada.")
    return cycle


def latest_attempt() -> Any:
    """A condition on `PaymentItem`: the row is its entitlement's latest attempt (no attempt
    of the same entitlement after it). A NOT EXISTS on the (cycle, beneficiary, attempt) key:
    SQLite probes that index per row and PostgreSQL makes it an anti-join; a subquery of
    MAX(attempt) per entitlement joined back was materialised by SQLite and scanned once per
    entitlement (quadratic: 53 s for a cycle of 31,000 persons)."""
    later = aliased(PaymentItem)
    return ~exists().where(
        later.cycle_id == PaymentItem.cycle_id,
        later.beneficiary_id == PaymentItem.beneficiary_id,
        later.attempt > PaymentItem.attempt,
    )


def state_totals_query(cycle_id: int) -> Select[*tuple[Any, ...]]:
    """(state, entitlements, rupiah) per state of the cycle's entitlements, by their latest
    attempt (`unbatched`: none). One index probe or two per entitlement."""
    item = (
        select(PaymentItem.beneficiary_id, PaymentItem.state)
        .where(PaymentItem.cycle_id == cycle_id, latest_attempt())
        .subquery()
    )
    state = func.coalesce(item.c.state, "unbatched")
    return (
        select(state, func.count(), func.coalesce(func.sum(Entitlement.amount_idr), 0))
        .select_from(Entitlement)
        .join(item, item.c.beneficiary_id == Entitlement.beneficiary_id, isouter=True)
        .where(Entitlement.cycle_id == cycle_id)
        .group_by(state)
    )


def state_totals(session: Session, cycle: Cycle) -> tuple[dict[str, StateTotal], StateTotal]:
    """Entitlements and rupiah per state (each entitlement counted once, by its latest
    attempt; none: pending), and those in no batch yet."""
    rows = session.execute(state_totals_query(cycle.id)).all()
    found = {str(name): (int(n), int(amount)) for name, n, amount in rows}
    unbatched = StateTotal("unbatched", *found.pop("unbatched", (0, 0)))
    totals = {name: StateTotal(name, *found.get(name, (0, 0))) for name in STATES}
    pending = totals["pending"]
    totals["pending"] = StateTotal(
        "pending",
        pending.entitlements + unbatched.entitlements,
        pending.amount_idr + unbatched.amount_idr,
    )
    return totals, unbatched


def check_cycle(session: Session, *, actor: User, label: str) -> CycleCheck:
    """Whether the cycle's money adds up: entitled = paid + failed + returned + pending +
    cancelled, in entitlements and rupiah, with the ledger as the audit chain sealed it."""
    authorize(actor, Action.READ)
    from lumbung.audit.integrity import entitlement_problems

    cycle = get_cycle(session, label)
    problems = list(entitlement_problems(session, label))
    entitled_n, entitled_idr = session.execute(
        select(func.count(), func.coalesce(func.sum(Entitlement.amount_idr), 0)).where(
            Entitlement.cycle_id == cycle.id
        )
    ).one()
    entitled = StateTotal("entitled", int(entitled_n), int(entitled_idr))
    totals, unbatched = state_totals(session, cycle)
    summed_n = sum(t.entitlements for t in totals.values())
    summed_idr = sum(t.amount_idr for t in totals.values())
    if (summed_n, summed_idr) != (entitled.entitlements, entitled.amount_idr):
        problems.append(
            f"hak {entitled.entitlements} senilai Rp{grouped(entitled.amount_idr)}, tetapi "
            f"dibayar + gagal + retur + tertunda + batal = {summed_n} senilai "
            f"Rp{grouped(summed_idr)}"
        )
    problems.extend(_item_problems(session, cycle))
    problems.extend(_batch_problems(session, cycle))
    events = _ledger_problems(session, cycle, problems)
    from lumbung.delivery.pos import sealing

    awaiting, unvouched = sealing.awaiting(session, cycle.id)
    problems.extend(unvouched)
    pending = totals["pending"]
    in_flight = StateTotal(
        "in_flight",
        pending.entitlements - unbatched.entitlements,
        pending.amount_idr - unbatched.amount_idr,
    )
    batches = session.execute(
        select(func.count()).where(PaymentBatch.cycle_id == cycle.id)
    ).scalar_one()
    return CycleCheck(
        cycle.label,
        cycle.program_code,
        entitled,
        totals,
        unbatched,
        in_flight,
        int(batches),
        events,
        problems,
        awaiting,
        not problems,
    )


def _item_problems(session: Session, cycle: Cycle) -> list[str]:
    problems = []
    # Every attempt pays its entitlement's amount, to an entitlement of the cycle.
    strays = session.execute(
        select(PaymentItem.beneficiary_id, PaymentItem.attempt, PaymentItem.amount_idr)
        .join(
            Entitlement,
            and_(
                Entitlement.cycle_id == PaymentItem.cycle_id,
                Entitlement.beneficiary_id == PaymentItem.beneficiary_id,
            ),
            isouter=True,
        )
        .where(
            PaymentItem.cycle_id == cycle.id,
            (Entitlement.amount_idr.is_(None)) | (Entitlement.amount_idr != PaymentItem.amount_idr),
        )
        .limit(10)
    ).all()
    for beneficiary, attempt, amount in strays:
        problems.append(
            f"pembayaran {attempt_id(cycle.id, beneficiary, attempt)} sebesar "
            f"Rp{grouped(amount)} tidak sama dengan haknya (atau haknya tidak ada)"
        )
    # Every attempt's state is what its events say, and every event is of an attempt of the
    # cycle in the batch it names: one full join of the attempts and their events (the ledger
    # has no foreign key of its own; migration 0020).
    replayed = (
        select(
            PaymentEvent.beneficiary_id,
            PaymentEvent.attempt,
            PaymentEvent.batch_id,
            _replayed_state().label("state"),
            func.max(case((PaymentEvent.kind == "batched", 1), else_=0)).label("batched"),
        )
        .where(PaymentEvent.cycle_id == cycle.id)
        .group_by(PaymentEvent.beneficiary_id, PaymentEvent.attempt, PaymentEvent.batch_id)
        .subquery()
    )
    item = (
        select(
            PaymentItem.beneficiary_id,
            PaymentItem.attempt,
            PaymentItem.batch_id,
            PaymentItem.state,
        )
        .where(PaymentItem.cycle_id == cycle.id)
        .subquery()
    )
    mismatched = session.execute(
        select(
            item.c.beneficiary_id,
            item.c.attempt,
            item.c.state,
            replayed.c.state,
            replayed.c.beneficiary_id,
            replayed.c.attempt,
            replayed.c.batch_id,
        )
        .select_from(item)
        .join(
            replayed,
            and_(
                replayed.c.beneficiary_id == item.c.beneficiary_id,
                replayed.c.attempt == item.c.attempt,
                replayed.c.batch_id == item.c.batch_id,
            ),
            full=True,
        )
        .where(
            (item.c.beneficiary_id.is_(None))
            | (replayed.c.state.is_(None))
            | (replayed.c.state != item.c.state)
            | (replayed.c.batched != 1),
        )
        .limit(10)
    ).all()
    for beneficiary, attempt, recorded, derived, orphan, orphan_attempt, batch in mismatched:
        if beneficiary is None:
            problems.append(
                f"peristiwa pembayaran {attempt_id(cycle.id, orphan, orphan_attempt)} menyebut "
                f"batch {batch}, tetapi pembayaran itu tidak ada di batch tersebut "
                "(ditambahkan di luar Lumbung)"
            )
            continue
        problems.append(
            f"pembayaran {attempt_id(cycle.id, beneficiary, attempt)} tercatat {recorded}, "
            f"menurut buku besar {derived or 'tidak pernah dibatch'}"
        )
    return problems


def _batch_problems(session: Session, cycle: Cycle) -> list[str]:
    from lumbung.delivery.batches import batch_digest

    problems = []
    for batch in session.execute(
        select(PaymentBatch).where(PaymentBatch.cycle_id == cycle.id).order_by(PaymentBatch.id)
    ).scalars():
        count, total, sha = batch_digest(session, batch.id)
        if (count, total, sha) != (batch.count, batch.total_idr, batch.sha256):
            problems.append(
                f"batch {batch.number} ({batch.partner_code}): {count} pembayaran senilai "
                f"Rp{grouped(total)} di database, tercatat {batch.count} senilai "
                f"Rp{grouped(batch.total_idr)} (isi batch diubah di luar Lumbung)"
            )
    return problems


def _ledger_problems(session: Session, cycle: Cycle, problems: list[str]) -> int:
    """Each operation's events against its audit event; returns the number of events."""
    sealed: dict[str, dict[str, Any]] = {}
    for (diff,) in session.execute(
        select(AuditEvent.diff).where(
            AuditEvent.entity == "cycle",
            AuditEvent.entity_id == cycle.label,
            AuditEvent.action.like("delivery.%"),
        )
    ):
        ledger = diff.get("ledger") if isinstance(diff, dict) else None
        if ledger:
            sealed[str(ledger["source"])] = ledger
    sources = {
        str(source): int(n)
        for source, n in session.execute(
            select(PaymentEvent.source, func.count())
            .where(PaymentEvent.cycle_id == cycle.id)
            .group_by(PaymentEvent.source)
        ).all()
    }
    from lumbung.delivery.pos.redemption import AWAITING

    # Redemptions awaiting their group seal are checked one by one (`pos.sealing.awaiting`).
    for source in sorted(set(sources) - set(sealed) - {AWAITING}):
        problems.append(
            f"{sources[source]} peristiwa pembayaran ({source}) tanpa catatan di jejak audit "
            "(ditambahkan di luar Lumbung)"
        )
    for source, ledger in sealed.items():
        if sources.get(source, 0) == 0 and int(ledger["events"]) == 0:
            continue
        count, sha = events_digest(session, source)
        if (count, sha) != (int(ledger["events"]), ledger["sha256"]):
            problems.append(
                f"peristiwa pembayaran {source}: {count} di database, {ledger['events']} menurut "
                "jejak audit, atau isinya berbeda (diubah atau dihapus di luar Lumbung)"
            )
    return sum(int(n) for n in sources.values())


def labels(states: Iterable[str]) -> dict[str, str]:
    """Indonesian words for the states, for messages and pages."""
    words = {
        "paid": "dibayar",
        "failed": "gagal",
        "returned": "retur",
        "pending": "tertunda",
        "cancelled": "batal",
        "unbatched": "belum dibatch",
        "in_flight": "dalam proses",
    }
    return {state: words[state] for state in states}
