"""Issuing vouchers: one per pending attempt of an APPROVED pos batch, by an explicit step.

Why a step of its own rather than at approval: approval freezes what is paid; issuing decides
how it is collected (the expiry printed on the letters, the key that signs them) and may be
run again after `lumbung keys rotate` for attempts still without a voucher. It is set-based
(one INSERT … SELECT), idempotent (an attempt has at most one voucher, by a unique key), and
recorded in the audit chain with the count, total and sha256 of the vouchers it made.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, insert, literal, select
from sqlalchemy.orm import Session, aliased

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.cycles.models import Cycle
from lumbung.db import utcnow
from lumbung.delivery.batches import get_batch
from lumbung.delivery.ledger import attempt_id
from lumbung.delivery.models import PaymentBatch, PaymentItem
from lumbung.delivery.pos import keys, token
from lumbung.delivery.pos.models import Voucher
from lumbung.errors import Conflict, ValidationFailed
from lumbung.registry.models import Household, Member
from lumbung.registry.vocab import HEAD

HOME_DELIVERY_AGE = 70  # years: elderly recipients are visited at home (DOMAIN.md, BLT BBM)
DEFAULT_VALID_DAYS = 60


@dataclass(frozen=True, slots=True)
class IssueResult:
    batch_id: int
    cycle: str
    issued: int
    total_idr: int
    home_delivery: int
    without_recipient: int  # attempts whose family has no active head with a NIK
    already: int  # attempts that had a voucher before
    key_id: str
    expires_on: date
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "cycle": self.cycle,
            "issued": self.issued,
            "total_idr": self.total_idr,
            "home_delivery": self.home_delivery,
            "without_recipient": self.without_recipient,
            "already": self.already,
            "key_id": self.key_id,
            "expires_on": self.expires_on.isoformat(),
            "sha256": self.sha256,
        }


def approved_pos_batch(session: Session, batch_id: int, *, lock: bool = False) -> PaymentBatch:
    batch = get_batch(session, batch_id, lock=lock)
    if batch.channel != "pos":
        raise ValidationFailed(f"Batch {batch_id} bersaluran {batch.channel}, bukan pos.")
    if batch.state != "approved":
        raise Conflict(f"Batch {batch_id} belum disetujui; voucher hanya untuk batch disetujui.")
    return batch


def issue_vouchers(
    session: Session,
    *,
    actor: User,
    batch_id: int,
    expires_on: date | None = None,
    today: date | None = None,
) -> IssueResult:
    """A voucher for every pending attempt of approved pos batch `batch_id` without one."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "menerbitkan voucher")
    batch = approved_pos_batch(session, batch_id, lock=True)
    cycle = session.get_one(Cycle, batch.cycle_id)
    today = today or utcnow().date()
    expires_on = expires_on or today + timedelta(days=DEFAULT_VALID_DAYS)
    if expires_on < today:
        raise ValidationFailed(f"Tanggal kedaluwarsa {expires_on} sudah lewat.")
    if expires_on >= token.EPOCH + timedelta(days=65535):
        raise ValidationFailed(f"Tanggal kedaluwarsa {expires_on} terlalu jauh.")
    too_large = session.execute(
        select(func.count()).where(
            PaymentItem.batch_id == batch.id, PaymentItem.amount_idr > token.MAX_AMOUNT
        )
    ).scalar_one()
    if too_large:
        raise ValidationFailed(
            f"{too_large} pembayaran di batch {batch_id} melebihi "
            f"Rp{token.MAX_AMOUNT:,} per voucher."
        )
    key_id = keys.current_key_id()
    head = aliased(Member)
    cared = aliased(Member)
    cutoff = _years_before(today, HOME_DELIVERY_AGE)
    home = exists().where(
        cared.household_id == PaymentItem.household_id,
        cared.status == "active",
        (cared.birth_date <= cutoff) | (cared.disability_severity == "berat"),
    )
    has_voucher = exists().where(
        Voucher.cycle_id == PaymentItem.cycle_id,
        Voucher.beneficiary_id == PaymentItem.beneficiary_id,
        Voucher.attempt == PaymentItem.attempt,
    )
    recipient = func.coalesce(PaymentItem.nik, head.nik)
    pending = (
        select(PaymentItem)
        .join(Household, Household.id == PaymentItem.household_id)
        .join(
            head,
            and_(
                head.household_id == PaymentItem.household_id,
                head.relationship == HEAD,
                head.status == "active",
            ),
            isouter=True,
        )
        .where(PaymentItem.batch_id == batch.id, PaymentItem.state == "pending", ~has_voucher)
    )
    already = session.execute(select(func.count()).where(Voucher.batch_id == batch.id)).scalar_one()
    without = session.execute(
        pending.where(recipient.is_(None)).with_only_columns(func.count())
    ).scalar_one()
    now = utcnow()
    rows = pending.where(recipient.is_not(None)).with_only_columns(
        PaymentItem.batch_id,
        PaymentItem.cycle_id,
        PaymentItem.beneficiary_id,
        PaymentItem.attempt,
        PaymentItem.household_id,
        Household.village_code,
        literal(batch.partner_code),
        recipient,
        PaymentItem.amount_idr,
        literal(key_id),
        literal(expires_on),
        home,
        literal("issued"),
        literal(now),
        literal(actor.username),
    )
    session.execute(
        insert(Voucher).from_select(
            [
                "batch_id",
                "cycle_id",
                "beneficiary_id",
                "attempt",
                "household_id",
                "village_code",
                "partner_code",
                "nik",
                "amount_idr",
                "key_id",
                "expires_on",
                "home_delivery",
                "state",
                "issued_at",
                "issued_by",
            ],
            rows,
        )
    )
    digest = hashlib.sha256()
    issued = total = home_count = 0
    for voucher_id, cycle_id, beneficiary, attempt, amount, at_home in session.execute(
        select(
            Voucher.id,
            Voucher.cycle_id,
            Voucher.beneficiary_id,
            Voucher.attempt,
            Voucher.amount_idr,
            Voucher.home_delivery,
        )
        .where(Voucher.batch_id == batch.id, Voucher.issued_at == now)
        .order_by(Voucher.id)
    ):
        if voucher_id > token.MAX_VOUCHER_ID:
            raise Conflict(f"Nomor voucher {voucher_id} melebihi batas kode voucher.")
        attempt_key = attempt_id(cycle_id, beneficiary, attempt)
        digest.update(f"{voucher_id},{attempt_key},{amount},{expires_on},{key_id}\n".encode())
        issued += 1
        total += int(amount)
        home_count += int(bool(at_home))
    sha = digest.hexdigest()
    if issued:
        audit.record(
            session,
            actor=actor.username,
            action="delivery.voucher_issue",
            entity="cycle",
            entity_id=cycle.label,
            diff={
                "batch": batch.number,
                "batch_id": batch.id,
                "vouchers": issued,
                "total_idr": total,
                "home_delivery": home_count,
                "key_id": key_id,
                "expires_on": expires_on.isoformat(),
                "sha256": sha,
            },
        )
    return IssueResult(
        batch.id,
        cycle.label,
        issued,
        total,
        home_count,
        int(without),
        int(already),
        key_id,
        expires_on,
        sha,
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def token_of(voucher: Voucher) -> str:
    """The voucher's token (the same each time: Ed25519 signatures are deterministic)."""
    claim = token.claim_for(
        key_id=voucher.key_id,
        voucher_id=voucher.id,
        amount_idr=voucher.amount_idr,
        expires_on=voucher.expires_on,
        nik=voucher.nik,
    )
    return token.sign(claim, keys.signing_key(voucher.key_id))
