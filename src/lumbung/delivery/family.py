"""A family's payments: every attempt at paying each of its entitlements, with what the
partner answered (the way back from a family to the cycles and batches that paid it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.cycles.models import Cycle
from lumbung.delivery.ledger import attempt_id
from lumbung.delivery.models import PaymentBatch, PaymentEvent, PaymentItem
from lumbung.identity.masking import mask_id
from lumbung.registry.proposals import family_in_scope


@dataclass(frozen=True, slots=True)
class FamilyPayment:
    cycle: str
    program: str
    attempt_id: str  # <cycle>-<beneficiary>-<attempt>: what the partner's files carry
    attempt: int
    nik: str | None  # the member paid, for a program of persons (masked)
    batch: int
    batch_number: int
    partner: str
    amount_idr: int
    state: str
    reference: str | None  # the partner's, when it answered
    reason: str | None
    value_date: date | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "program": self.program,
            "attempt_id": self.attempt_id,
            "attempt": self.attempt,
            "nik": self.nik,
            "batch": self.batch,
            "batch_number": self.batch_number,
            "partner": self.partner,
            "amount_idr": self.amount_idr,
            "state": self.state,
            "reference": self.reference,
            "reason": self.reason,
            "value_date": self.value_date.isoformat() if self.value_date else None,
        }


def family_payments(session: Session, *, actor: User, kk: str) -> list[FamilyPayment]:
    """Every payment attempt for the family, newest cycle first (within the reader's region)."""
    authorize(actor, Action.READ)
    household = family_in_scope(session, actor, kk.strip()).id
    rows = session.execute(
        select(PaymentItem, PaymentBatch, Cycle)
        .join(PaymentBatch, PaymentBatch.id == PaymentItem.batch_id)
        .join(Cycle, Cycle.id == PaymentItem.cycle_id)
        .where(PaymentItem.household_id == household)
        .order_by(Cycle.id.desc(), PaymentItem.beneficiary_id, PaymentItem.attempt)
    ).all()
    # What the partner answered for each attempt (its last event but `batched`), read by the
    # ledger's key: the family's own entitlements only.
    answers: dict[tuple[int, int, int], tuple[str | None, str | None, date | None]] = {}
    pairs = {(r[0].cycle_id, r[0].beneficiary_id) for r in rows}
    if pairs:
        for c, b, a, reference, reason, value_date in session.execute(
            select(
                PaymentEvent.cycle_id,
                PaymentEvent.beneficiary_id,
                PaymentEvent.attempt,
                PaymentEvent.reference,
                PaymentEvent.reason,
                PaymentEvent.value_date,
            )
            .where(
                tuple_(PaymentEvent.cycle_id, PaymentEvent.beneficiary_id).in_(sorted(pairs)),
                PaymentEvent.kind != "batched",
            )
            .order_by(PaymentEvent.id)
        ).all():
            answers[(c, b, a)] = (reference, reason, value_date)
    found = []
    for item, batch, cycle in rows:
        reference, reason, value_date = answers.get(
            (item.cycle_id, item.beneficiary_id, item.attempt), (None, None, None)
        )
        found.append(
            FamilyPayment(
                cycle.label,
                cycle.program_code,
                attempt_id(item.cycle_id, item.beneficiary_id, item.attempt),
                item.attempt,
                mask_id(item.nik, distinct=True) if item.nik else None,
                batch.id,
                batch.number,
                batch.partner_code,
                item.amount_idr,
                item.state,
                reference,
                reason,
                value_date,
            )
        )
    return found
