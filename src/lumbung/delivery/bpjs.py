"""BPJS Kesehatan: the PBI-JKN list of a month, its contribution, what changed since the
month before, and the transfer that settles it.

A PBI-JKN cycle is one month of contributions for persons (Rp42,000 a person a month,
DOMAIN.md), paid to BPJS Kesehatan as one transfer with the list of the insured, not to the
persons. Its BPJS batch (`delivery batch create`) is the list; once approved, the list is
written from its items, and BPJS's confirmation of the transfer settles every payment of the
batch at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.cycles.models import Cycle, Entitlement
from lumbung.delivery import ledger
from lumbung.delivery.batches import batch_digest, get_batch
from lumbung.delivery.models import PaymentBatch, PaymentItem
from lumbung.errors import Conflict, ValidationFailed
from lumbung.numbers import grouped
from lumbung.programs.definition import ProgramDefinition
from lumbung.registry.models import Household, Member
from lumbung.spreadsheets import csv_line

LIST_HEADER = ("nik", "name", "birth_date", "sex", "kk", "village_code", "amount_idr")


@dataclass(frozen=True, slots=True)
class BpjsSummary:
    batch: int
    cycle: str
    previous_cycle: str | None
    persons: int
    months: int
    monthly_idr: int  # the contribution per person per month
    total_idr: int  # = monthly_idr × persons × months
    added: int  # insured this month, not the month before
    removed: int  # insured the month before, not this month

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "cycle": self.cycle,
            "previous_cycle": self.previous_cycle,
            "persons": self.persons,
            "months": self.months,
            "monthly_idr": self.monthly_idr,
            "total_idr": self.total_idr,
            "added": self.added,
            "removed": self.removed,
        }


def _bpjs_batch(session: Session, batch_id: int, *, approved: bool = True) -> PaymentBatch:
    batch = get_batch(session, batch_id)
    if batch.channel != "bpjs":
        raise ValidationFailed(f"Batch {batch_id} bukan batch BPJS (saluran {batch.channel}).")
    if approved and batch.state != "approved":
        raise Conflict(
            f"Batch {batch_id} belum disetujui; daftar BPJS dibuat dari batch disetujui."
        )
    if (batch.count, batch.total_idr, batch.sha256) != batch_digest(session, batch.id):
        raise Conflict(f"Isi batch {batch_id} berubah sejak dibuat (di luar Lumbung).")
    return batch


def _previous(session: Session, cycle: Cycle) -> Cycle | None:
    """The program's approved cycle before this one."""
    return session.execute(
        select(Cycle)
        .where(
            Cycle.program_code == cycle.program_code,
            Cycle.state == "approved",
            Cycle.id != cycle.id,
            Cycle.approved_at <= (cycle.approved_at or cycle.created_at),
        )
        .order_by(Cycle.approved_at.desc(), Cycle.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _insured(cycle_id: int) -> Any:
    return select(Entitlement.nik).where(
        Entitlement.cycle_id == cycle_id, Entitlement.nik.is_not(None)
    )


def bpjs_summary(session: Session, *, actor: User, batch_id: int) -> BpjsSummary:
    """The month's persons, contribution and the changes since the program's previous cycle."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "membaca daftar PBI-JKN")
    batch = _bpjs_batch(session, batch_id, approved=False)
    cycle = session.get_one(Cycle, batch.cycle_id)
    definition = ProgramDefinition.model_validate(cycle.definition)
    monthly = int(getattr(definition.benefit, "monthly_idr", 0))
    months = definition.months_per_cycle
    persons = batch.count
    if batch.total_idr != monthly * persons * months:
        raise Conflict(
            f"Total batch {batch_id} Rp{grouped(batch.total_idr)} tidak sama dengan "
            f"Rp{grouped(monthly)} × {grouped(persons)} orang × {months} bulan."
        )
    previous = _previous(session, cycle)
    added = removed = 0
    if previous is not None:
        this, before = _insured(cycle.id).subquery(), _insured(previous.id).subquery()
        added = int(
            session.execute(
                select(func.count())
                .select_from(this)
                .where(this.c.nik.not_in(select(before.c.nik)))
            ).scalar_one()
        )
        removed = int(
            session.execute(
                select(func.count())
                .select_from(before)
                .where(before.c.nik.not_in(select(this.c.nik)))
            ).scalar_one()
        )
    return BpjsSummary(
        batch.id,
        cycle.label,
        previous.label if previous else None,
        persons,
        months,
        monthly,
        batch.total_idr,
        added,
        removed,
    )


def bpjs_list(session: Session, *, actor: User, batch_id: int) -> Iterator[str]:
    """The month's list for BPJS Kesehatan (`LIST_HEADER`), line by line, by NIK."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "membuat daftar PBI-JKN")
    batch = _bpjs_batch(session, batch_id)
    yield csv_line(list(LIST_HEADER))
    rows = session.execute(
        select(
            Member.nik,
            Member.name,
            Member.birth_date,
            Member.sex,
            Household.kk_number,
            Household.village_code,
            PaymentItem.amount_idr,
        )
        .join(Member, Member.id == PaymentItem.beneficiary_id)
        .join(Household, Household.id == Member.household_id)
        .where(PaymentItem.batch_id == batch.id)
        .order_by(Member.nik)
        .execution_options(yield_per=50_000)
    )
    for nik, name, birth, sex, kk, village, amount in rows:
        yield csv_line([nik, name, str(birth), sex, kk, village, str(amount)])


def settle(
    session: Session, *, actor: User, batch_id: int, reference: str, value_date: date
) -> int:
    """BPJS confirmed the month's transfer: every pending payment of the batch is paid."""
    authorize(actor, Action.RECONCILE)
    require_national(actor, "mencatat transfer iuran PBI-JKN")
    batch = _bpjs_batch(session, batch_id)
    reference = reference.strip()
    if not reference:
        raise ValidationFailed("Nomor referensi transfer wajib diisi.")
    cycle = session.get_one(Cycle, batch.cycle_id)
    source = ledger.new_operation()
    paid = ledger.append_from(
        session,
        ledger.items_as_events(
            PaymentItem.batch_id == batch.id,
            PaymentItem.state == "pending",
            reference=reference[:64],
            value_date=value_date,
        ),
        kind="paid",
        source=source,
        actor=actor,
    )
    if paid == 0:
        raise Conflict(
            f"Batch {batch_id} tidak punya pembayaran yang menunggu; tidak ada yang dicatat."
        )
    session.execute(
        update(PaymentItem)
        .where(PaymentItem.batch_id == batch.id, PaymentItem.state == "pending")
        .values(state="paid")
        .execution_options(synchronize_session=False)
    )
    ledger.seal(
        session,
        actor=actor,
        action="delivery.bpjs_settle",
        cycle=cycle,
        source=source,
        details={
            "batch": batch.number,
            "reference": reference[:64],
            "value_date": str(value_date),
            "paid": paid,
        },
    )
    return paid
