"""A family's change of bank account (KKS), proposed, verified and determined like any other
change request (kind `update_account`): the old account is closed, the new one is active.

The payload is `{"bank": CODE, "account_number": "…", "card_number": "…" | null}`; the bank is
a payment partner of the bank channel (`payees.models.Partner`). The account's holder is the
family's head at the time the change is applied.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lumbung.db import utcnow
from lumbung.errors import Conflict, ValidationFailed
from lumbung.payees.models import Partner, PayeeAccount
from lumbung.payees.numbers import ACCOUNT_NUMBER, CARD_NUMBER
from lumbung.registry.models import ChangeRequest, Household, Member
from lumbung.registry.vocab import HEAD


def normalised(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as stored: codes upper-case, numbers trimmed, no other key."""
    card = str(payload.get("card_number") or "").strip()
    return {
        "bank": str(payload.get("bank") or "").strip().upper(),
        "account_number": str(payload.get("account_number") or "").strip(),
        "card_number": card or None,
    }


def check(session: Session, household: Household, payload: dict[str, Any]) -> None:
    """Refuse an account the family cannot be paid into, or the one it has."""
    problems = []
    bank = session.get(Partner, payload["bank"]) if payload["bank"] else None
    if bank is None or bank.channel != "bank":
        banks = session.execute(
            select(Partner.code).where(Partner.channel == "bank").order_by(Partner.code)
        ).scalars()
        problems.append(
            ("bank", "unknown_bank", f"Bank harus salah satu dari: {', '.join(banks)}.")
        )
    if not ACCOUNT_NUMBER.fullmatch(payload["account_number"]):
        problems.append(("account_number", "bad_account", "Nomor rekening harus 8-20 angka."))
    if payload["card_number"] is not None and not CARD_NUMBER.fullmatch(payload["card_number"]):
        problems.append(("card_number", "bad_card", "Nomor kartu KKS harus 16 angka."))
    if problems:
        raise ValidationFailed(
            "; ".join(message for _, _, message in problems),
            details=[{"column": c, "code": code, "message": m} for c, code, m in problems],
        )
    current = _active(session, household.id)
    if (
        current is not None
        and current.partner_code == payload["bank"]
        and current.account_number == payload["account_number"]
        and current.card_number == payload["card_number"]
    ):
        raise ValidationFailed(
            "Usulan tidak mengubah apa pun: rekening ini sudah rekening aktif keluarga."
        )
    if _head_nik(session, household.id) is None:
        raise ValidationFailed("Keluarga tanpa kepala keluarga aktif tidak bisa punya rekening.")


def apply(session: Session, request: ChangeRequest, household: Household) -> None:
    """Close the family's active account and open the proposed one."""
    payload = request.payload
    check(session, household, payload)  # as things are now: the bank may have gone, say
    holder = _head_nik(session, household.id)
    if holder is None:
        raise Conflict("Keluarga tanpa kepala keluarga aktif tidak bisa punya rekening.")
    now = utcnow()
    session.execute(
        update(PayeeAccount)
        .where(PayeeAccount.household_id == household.id, PayeeAccount.state == "active")
        .values(state="closed", closed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()  # the old account closed before the new one takes the one active place
    session.add(
        PayeeAccount(
            household_id=household.id,
            partner_code=payload["bank"],
            account_number=payload["account_number"],
            card_number=payload["card_number"],
            holder_nik=holder,
            state="active",
            opened_at=now,
            source=f"request:{request.id}",
        )
    )


def _active(session: Session, household_id: int) -> PayeeAccount | None:
    return session.execute(
        select(PayeeAccount).where(
            PayeeAccount.household_id == household_id, PayeeAccount.state == "active"
        )
    ).scalar_one_or_none()


def _head_nik(session: Session, household_id: int) -> str | None:
    return session.execute(
        select(Member.nik).where(
            Member.household_id == household_id,
            Member.relationship == HEAD,
            Member.status == "active",
        )
    ).scalar_one_or_none()
