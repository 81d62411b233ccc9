"""Payment batches: an approved cycle's entitlements split per channel and partner, approved
by a second person and then frozen.

Creating batches is set-based (one INSERT … SELECT per batch, one for its ledger events):
a national cycle's 10 M entitlements never pass through Python one by one. An entitlement
enters a batch only when it has no live attempt (pending or paid; a partial unique index
refuses a second one, also when two people create batches at the same moment). A failed or
returned bank payment is tried again only once the family's account changed (an account
correction), unless asked otherwise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.cycles.models import Cycle, Entitlement
from lumbung.db import utcnow
from lumbung.delivery import ledger
from lumbung.delivery.models import PaymentBatch, PaymentItem
from lumbung.delivery.partners import partners_for
from lumbung.driver_errors import is_unique_violation
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.numbers import grouped
from lumbung.payees.models import PayeeAccount


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: int
    cycle: str
    number: int
    channel: str
    partner: str
    count: int
    total_idr: int
    sha256: str
    state: str
    created_by: str
    approved_by: str | None
    states: dict[str, int]  # its items by state

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cycle": self.cycle,
            "number": self.number,
            "channel": self.channel,
            "partner": self.partner,
            "count": self.count,
            "total_idr": self.total_idr,
            "sha256": self.sha256,
            "state": self.state,
            "created_by": self.created_by,
            "approved_by": self.approved_by,
            "states": self.states,
        }


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a `batch create` did: the batches made, and who could not be put in one."""

    cycle: str
    batches: list[BatchRow]
    without_account: int  # bank channel: families with no active account (open one first)
    waiting_correction: int  # failed or returned, the account not changed since

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "batches": [b.as_dict() for b in self.batches],
            "without_account": self.without_account,
            "waiting_correction": self.waiting_correction,
        }


def batch_digest(session: Session, batch_id: int) -> tuple[int, int, str]:
    """A batch's count, total and the sha256 of its items' canonical lines (attempt id,
    amount, account number), in beneficiary order; read as the driver's tuples."""
    digest = hashlib.sha256()
    count = total = 0
    query = (
        select(
            PaymentItem.cycle_id,
            PaymentItem.beneficiary_id,
            PaymentItem.attempt,
            PaymentItem.amount_idr,
            PayeeAccount.account_number,
        )
        .join(PayeeAccount, PayeeAccount.id == PaymentItem.account_id, isouter=True)
        .where(PaymentItem.batch_id == batch_id)
        .order_by(PaymentItem.beneficiary_id)
    )
    for rows in bulk.stream_ahead(session, query):
        digest.update(
            "".join(
                f"{ledger.attempt_id(c, b, a)},{amount},{account or ''}\n"
                for c, b, a, amount, account in rows
            ).encode()
        )
        count += len(rows)
        total += sum(row[3] for row in rows)
    return count, total, digest.hexdigest()


def _digests(
    session: Session, cycle_id: int, batch_ids: list[int]
) -> tuple[dict[int, tuple[int, int, str]], tuple[int, str]]:
    """In one pass over the new batches' items: each batch's `batch_digest`, and the
    `ledger.events_digest` of the `batched` events about to be made of them (one per item,
    no reference, reason or date), both from the same rows in the order each adds them up
    (by beneficiary: an entitlement is once in a `batch create`)."""
    shas: dict[int, Any] = {b: hashlib.sha256() for b in batch_ids}
    counts = dict.fromkeys(batch_ids, 0)
    totals = dict.fromkeys(batch_ids, 0)
    events = hashlib.sha256()
    count = 0
    query = (
        select(
            PaymentItem.cycle_id,
            PaymentItem.beneficiary_id,
            PaymentItem.attempt,
            PaymentItem.amount_idr,
            PayeeAccount.account_number,
            PaymentItem.batch_id,
        )
        .join(PayeeAccount, PayeeAccount.id == PaymentItem.account_id, isouter=True)
        .where(PaymentItem.cycle_id == cycle_id, PaymentItem.batch_id.in_(batch_ids))
        .order_by(PaymentItem.cycle_id, PaymentItem.beneficiary_id, PaymentItem.attempt)
    )
    for rows in bulk.stream_ahead(session, query):
        lines: dict[int, list[str]] = {b: [] for b in batch_ids}
        for c, b, a, amount, account, batch in rows:
            lines[batch].append(f"{ledger.attempt_id(c, b, a)},{amount},{account or ''}\n")
            totals[batch] += amount
        for batch, these in lines.items():
            shas[batch].update("".join(these).encode())
            counts[batch] += len(these)
        # as `ledger.events_digest` writes a `batched` event's line
        events.update(
            "".join(
                f"{c},{b},{a},batched,{amount},{batch},,,\n" for c, b, a, amount, _, batch in rows
            ).encode()
        )
        count += len(rows)
    sums = {b: (counts[b], totals[b], shas[b].hexdigest()) for b in batch_ids if counts[b]}
    return sums, (count, events.hexdigest())


def _prior(cycle_id: int) -> Any:
    """Per entitlement of the cycle with attempts: the latest attempt, its state and account,
    and whether any attempt is live."""
    live = (
        select(PaymentItem.beneficiary_id)
        .where(PaymentItem.cycle_id == cycle_id, PaymentItem.live)
        .subquery()
    )
    return (
        select(
            PaymentItem.beneficiary_id,
            PaymentItem.attempt,
            PaymentItem.state,
            PaymentItem.account_id,
            (live.c.beneficiary_id.is_not(None)).label("live"),
        )
        .join(live, live.c.beneficiary_id == PaymentItem.beneficiary_id, isouter=True)
        .where(PaymentItem.cycle_id == cycle_id, ledger.latest_attempt())
        .subquery()
    )


def create_batches(
    session: Session, *, actor: User, label: str, retry_unchanged: bool = False
) -> BatchPlan:
    """Put every entitlement of an approved cycle that has no live attempt into a new batch
    per partner; a second person approves each (`approve_batch`)."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "menyiapkan batch pembayaran")
    cycle = _approved_cycle(session, label)
    from lumbung.audit.integrity import entitlement_problems

    changed = entitlement_problems(session, label)
    if changed:
        raise Conflict("; ".join(changed) + ". Tidak ada batch yang dibuat.")
    channel = str(cycle.definition.get("channel"))
    bulk.roomy(session)
    # A cycle paid for the first time (no attempt yet: the usual case, and the national
    # cycle's 10 M) needs no look at prior attempts; the cycle's row lock (above) keeps
    # another `batch create` out until this one commits.
    first = (
        session.execute(
            select(PaymentItem.beneficiary_id).where(PaymentItem.cycle_id == cycle.id).limit(1)
        ).first()
        is None
    )
    candidates = select(Entitlement).where(Entitlement.cycle_id == cycle.id)
    attempt: Any = literal(1, Integer)
    prior: Any = None
    if not first:
        prior = _prior(cycle.id)
        candidates = candidates.join(
            prior, prior.c.beneficiary_id == Entitlement.beneficiary_id, isouter=True
        ).where(or_(prior.c.live.is_(None), ~prior.c.live))
        attempt = func.coalesce(prior.c.attempt, 0) + 1
    without_account = waiting = 0
    # Each partner's share of the candidates, as a condition on one query: the items of every
    # batch go in by one INSERT … SELECT over the cycle (a pass per partner read the cycle's
    # entitlements and their attempts five times for five banks).
    groups: list[tuple[str, Any]] = []  # (partner, the condition choosing its entitlements)
    if channel == "bank":
        account = PayeeAccount
        chosen = candidates.join(
            account,
            and_(account.household_id == Entitlement.household_id, account.state == "active"),
            isouter=True,
        )
        corrected: Any = None
        if prior is not None and not retry_unchanged:
            corrected = or_(
                prior.c.state.is_(None),
                prior.c.account_id.is_(None),
                prior.c.account_id != account.id,
            )
        # Who has no account, who waits for a correction and which partners are paid, in one
        # pass over the cycle (three counts read it three times).
        ready: Any = literal_column("1")
        keys = [account.partner_code]
        if corrected is not None:  # the same words in the list and in GROUP BY: no parameters
            ready = case((corrected, literal_column("1")), else_=literal_column("0"))
            keys.append(ready)
        partners = set()
        for partner, is_ready, n in session.execute(
            chosen.with_only_columns(account.partner_code, ready, func.count())
            .group_by(*keys)
            .order_by(None)
        ).all():
            if partner is None:
                without_account += int(n)
            elif is_ready:
                partners.add(str(partner))
            else:
                waiting += int(n)
        if corrected is not None:
            chosen = chosen.where(corrected)
        chosen = chosen.where(account.id.is_not(None))
        groups = [(p, account.partner_code == p) for p in sorted(partners)]
        columns = _item_columns(attempt, account.id)
    else:
        chosen = candidates
        regencies = session.execute(
            candidates.with_only_columns(Entitlement.regency_code).distinct()
        ).scalars()
        by_regency = partners_for(session, channel, list(regencies))
        for partner in sorted(set(by_regency.values())):
            codes = sorted(code for code, p in by_regency.items() if p == partner)
            groups.append((partner, Entitlement.regency_code.in_(codes)))
        columns = _item_columns(attempt, None)
    source = ledger.new_operation()
    made: list[PaymentBatch] = []
    number = session.execute(
        select(func.coalesce(func.max(PaymentBatch.number), 0)).where(
            PaymentBatch.cycle_id == cycle.id
        )
    ).scalar_one()
    try:
        for partner, _ in groups:
            number += 1
            made.append(
                PaymentBatch(
                    cycle_id=cycle.id,
                    number=number,
                    channel=channel,
                    partner_code=partner,
                    count=0,
                    total_idr=0,
                    sha256="",
                    state="draft",
                    created_at=utcnow(),
                    created_by=actor.username,
                )
            )
        session.add_all(made)
        session.flush()
        if made:
            batch_of = case(
                *[(condition, b.id) for (_, condition), b in zip(groups, made, strict=True)]
            )
            _insert_items(session, chosen.with_only_columns(*columns), batch_of)
        sums, events = _digests(session, cycle.id, [b.id for b in made])
        for batch in list(made):
            batch.count, batch.total_idr, batch.sha256 = sums.get(
                batch.id, (0, 0, hashlib.sha256().hexdigest())
            )
            if batch.count == 0:  # emptied by a concurrent batch since the partners were read
                made.remove(batch)
                session.delete(batch)
        sealed: tuple[int, str] | None = events
        if made:
            added = ledger.append_from(
                session,
                ledger.items_as_events(PaymentItem.batch_id.in_([b.id for b in made])),
                kind="batched",
                source=source,
                actor=actor,
            )
            if added != events[0]:  # not the rows digested: read the events back instead
                sealed = None
        session.flush()
    except IntegrityError as error:
        if is_unique_violation(error):
            raise Conflict(
                f"Batch siklus {label} sedang dibuat oleh orang lain pada saat yang sama; "
                "tidak ada yang dibuat. Lihat daftar batch, lalu coba lagi bila perlu."
            ) from error
        raise
    ledger.seal(
        session,
        actor=actor,
        action="delivery.batch_create",
        cycle=cycle,
        source=source,
        digest=sealed,
        details={
            "batches": [
                {
                    "number": b.number,
                    "partner": b.partner_code,
                    "count": b.count,
                    "total_idr": b.total_idr,
                    "sha256": b.sha256,
                }
                for b in made
            ],
            "without_account": without_account,
            "waiting_correction": waiting,
        },
    )
    # Every item of a batch just made is pending (made so above, in this transaction): no
    # read of each batch's items again to count them by state.
    rows = [_row(session, b, cycle, states={"pending": b.count}) for b in made]
    return BatchPlan(label, rows, without_account, waiting)


def _item_columns(attempt: Any, account_id: Any) -> list[Any]:
    return [
        Entitlement.beneficiary_id,
        Entitlement.cycle_id,
        attempt,
        Entitlement.household_id,
        Entitlement.kk_number,
        Entitlement.nik,
        Entitlement.regency_code,
        Entitlement.amount_idr,
        account_id if account_id is not None else literal(None),
        literal("pending"),
        literal(True),
    ]


def _insert_items(session: Session, rows: Any, batch_of: Any) -> None:
    """Insert `rows` (`_item_columns`) as payment items, each in the batch `batch_of` says."""
    selected = rows.add_columns(batch_of.label("batch_id"))
    session.execute(
        insert(PaymentItem).from_select(
            [
                "beneficiary_id",
                "cycle_id",
                "attempt",
                "household_id",
                "kk_number",
                "nik",
                "regency_code",
                "amount_idr",
                "account_id",
                "state",
                "live",
                "batch_id",
            ],
            selected,
        )
    )


def _count(query: Any, session: Session) -> int:
    counted = query.with_only_columns(func.count()).order_by(None)
    return int(session.execute(counted).scalar_one())


def _approved_cycle(session: Session, label: str) -> Cycle:
    cycle = session.execute(
        select(Cycle).where(Cycle.label == label).with_for_update()
    ).scalar_one_or_none()
    if cycle is None:
        raise NotFound(f"Siklus {label} tidak ada.")
    if cycle.state != "approved":
        raise Conflict(f"Siklus {label} belum disetujui; hanya siklus yang disetujui dibayar.")
    return cycle


def get_batch(session: Session, batch_id: int, *, lock: bool = False) -> PaymentBatch:
    query = select(PaymentBatch).where(PaymentBatch.id == batch_id)
    batch = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if batch is None:
        raise NotFound(f"Batch pembayaran {batch_id} tidak ada.")
    return batch


def approve_batch(session: Session, *, actor: User, batch_id: int) -> BatchRow:
    """Approve a draft batch (four eyes: not by who made it); it is frozen from then on."""
    authorize(actor, Action.APPROVE_PAYMENT)
    require_national(actor, "menyetujui batch pembayaran")
    batch = get_batch(session, batch_id, lock=True)
    if batch.state != "draft":
        raise Conflict(f"Batch {batch_id} sudah {_state_word(batch.state)}.")
    if batch.created_by == actor.username:
        raise PermissionDenied(
            f"Batch {batch_id} dibuat oleh {actor.username}; persetujuan oleh orang lain "
            "(empat mata)."
        )
    count, total, sha = batch_digest(session, batch.id)
    if (count, total, sha) != (batch.count, batch.total_idr, batch.sha256):
        raise Conflict(
            f"Isi batch {batch_id} berubah sejak dibuat ({count} pembayaran senilai "
            f"Rp{grouped(total)}, tercatat {batch.count} senilai Rp{grouped(batch.total_idr)}); "
            "batalkan dan buat ulang."
        )
    approved = session.execute(
        update(PaymentBatch)
        .where(PaymentBatch.id == batch.id, PaymentBatch.state == "draft")
        .values(state="approved", approved_at=utcnow(), approved_by=actor.username)
        .execution_options(synchronize_session=False)
    )
    if approved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"Batch {batch_id} berubah sementara itu; periksa lagi.")
    session.refresh(batch)
    cycle = session.get_one(Cycle, batch.cycle_id)
    from lumbung.audit import service as audit

    audit.record(
        session,
        actor=actor.username,
        action="delivery.batch_approve",
        entity="cycle",
        entity_id=cycle.label,
        diff={
            "batch": batch.number,
            "partner": batch.partner_code,
            "count": batch.count,
            "total_idr": batch.total_idr,
            "sha256": batch.sha256,
        },
    )
    return _row(session, batch, cycle)


def cancel_batch(session: Session, *, actor: User, batch_id: int, reason: str) -> BatchRow:
    """Cancel a draft batch: its entitlements may enter another batch."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "membatalkan batch pembayaran")
    batch = get_batch(session, batch_id, lock=True)
    if batch.state != "draft":
        raise Conflict(
            f"Batch {batch_id} sudah {_state_word(batch.state)}; hanya draf yang dibatalkan "
            "(pembayaran yang sudah dikirim dijawab mitra: gagal atau retur)."
        )
    if not reason.strip():
        raise ValidationFailed("Alasan pembatalan wajib diisi.")
    cycle = session.get_one(Cycle, batch.cycle_id)
    source = ledger.new_operation()
    ledger.append_from(
        session,
        ledger.items_as_events(
            PaymentItem.batch_id == batch.id,
            PaymentItem.state == "pending",
            reason=reason.strip()[:200],
        ),
        kind="cancelled",
        source=source,
        actor=actor,
    )
    session.execute(
        update(PaymentItem)
        .where(PaymentItem.batch_id == batch.id, PaymentItem.state == "pending")
        .values(state="cancelled", live=False)
        .execution_options(synchronize_session=False)
    )
    batch.state = "cancelled"
    batch.cancelled_at = utcnow()
    batch.cancelled_by = actor.username
    ledger.seal(
        session,
        actor=actor,
        action="delivery.batch_cancel",
        cycle=cycle,
        source=source,
        details={"batch": batch.number, "partner": batch.partner_code, "reason": reason.strip()},
    )
    return _row(session, batch, cycle)


def list_batches(session: Session, *, actor: User, label: str | None = None) -> list[BatchRow]:
    """Batches (of one cycle, or all), newest first, with their items by state."""
    authorize(actor, Action.READ)
    query = select(PaymentBatch, Cycle).join(Cycle, Cycle.id == PaymentBatch.cycle_id)
    if label is not None:
        query = query.where(Cycle.label == label)
    return [
        _row(session, batch, cycle)
        for batch, cycle in session.execute(query.order_by(PaymentBatch.id.desc())).all()
    ]


def show_batch(session: Session, *, actor: User, batch_id: int) -> BatchRow:
    authorize(actor, Action.READ)
    batch = get_batch(session, batch_id)
    return _row(session, batch, session.get_one(Cycle, batch.cycle_id))


def _row(
    session: Session, batch: PaymentBatch, cycle: Cycle, states: dict[str, int] | None = None
) -> BatchRow:
    """The batch as listed, with its items counted by state (`states`: known already)."""
    if states is None:
        states = dict(
            session.execute(
                select(PaymentItem.state, func.count())
                .where(PaymentItem.batch_id == batch.id)
                .group_by(PaymentItem.state)
            ).all()
        )
    return BatchRow(
        batch.id,
        cycle.label,
        batch.number,
        batch.channel,
        batch.partner_code,
        batch.count,
        batch.total_idr,
        batch.sha256,
        batch.state,
        batch.created_by,
        batch.approved_by,
        {str(k): int(v) for k, v in states.items()},
    )


def _state_word(state: str) -> str:
    return {"draft": "draf", "approved": "disetujui", "cancelled": "dibatalkan"}[state]
