"""Payee accounts: collective account opening (burekol) per bank, the bank's answer, a
family's accounts with their history.

An opening lists the families of an approved bank cycle that have no active account and no
opening in progress, one opening per bank (the bank is chosen by the family's region,
`delivery.partners`). Its file is made from its rows whenever asked, and checked against the
sha256 recorded when it was made. The bank answers per family (`ANSWER_HEADER`): opened, with
the account and card numbers, or failed, with the reason (gagal burekol: mostly data that does
not match Dukcapil). The answer is checked row by row like a batch; accepted rows become
accounts; a row already recorded is unchanged, so the same answer twice changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.cycles.models import Entitlement
from lumbung.db import utcnow
from lumbung.delivery.ledger import get_cycle
from lumbung.delivery.models import AccountOpening, AccountOpeningRow
from lumbung.delivery.partners import partners_for
from lumbung.errors import Conflict, NotFound, ValidationFailed
from lumbung.identity.masking import mask_account
from lumbung.payees.models import PayeeAccount
from lumbung.registry.models import Household, Member
from lumbung.registry.proposals import family_in_scope
from lumbung.registry.vocab import HEAD
from lumbung.spreadsheets import csv_line

OPENING_HEADER = ("kk", "nik", "name", "birth_date", "sex", "address", "village_code", "bank")


@dataclass(frozen=True, slots=True)
class OpeningRow:
    id: int
    cycle: str
    partner: str
    requested: int
    opened: int
    failed: int
    sha256: str
    created_by: str

    @property
    def waiting(self) -> int:
        return self.requested - self.opened - self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cycle": self.cycle,
            "partner": self.partner,
            "requested": self.requested,
            "opened": self.opened,
            "failed": self.failed,
            "waiting": self.waiting,
            "sha256": self.sha256,
            "created_by": self.created_by,
        }


def _heads() -> Any:
    return (
        select(Member.household_id, Member.nik, Member.name, Member.birth_date, Member.sex)
        .where(Member.relationship == HEAD, Member.status == "active")
        .subquery()
    )


def open_accounts(session: Session, *, actor: User, label: str) -> list[OpeningRow]:
    """One opening per bank for the families of an approved bank cycle without an account."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "meminta pembukaan rekening kolektif")
    cycle = get_cycle(session, label)
    if cycle.state != "approved":
        raise Conflict(f"Siklus {label} belum disetujui.")
    if cycle.definition.get("channel") != "bank":
        raise ValidationFailed(f"Siklus {label} tidak dibayar lewat bank; tidak perlu rekening.")
    active = exists().where(
        PayeeAccount.household_id == Entitlement.household_id, PayeeAccount.state == "active"
    )
    requested = exists().where(
        AccountOpeningRow.household_id == Entitlement.household_id,
        AccountOpeningRow.state == "requested",
    )
    heads = _heads()
    families = (
        select(
            Entitlement.household_id, Entitlement.kk_number, Entitlement.regency_code, heads.c.nik
        )
        .join(heads, heads.c.household_id == Entitlement.household_id)
        .where(Entitlement.cycle_id == cycle.id, ~active, ~requested)
        .distinct()
    )
    rows = session.execute(families).all()
    banks = partners_for(session, "bank", {r.regency_code for r in rows})
    made = []
    for bank in sorted(set(banks.values())):
        chosen = [r for r in rows if banks[r.regency_code] == bank]
        opening = AccountOpening(
            cycle_id=cycle.id,
            partner_code=bank,
            requested=len(chosen),
            opened=0,
            failed=0,
            sha256="",
            created_at=utcnow(),
            created_by=actor.username,
        )
        session.add(opening)
        session.flush()
        session.add_all(
            AccountOpeningRow(
                opening_id=opening.id,
                household_id=r.household_id,
                kk_number=r.kk_number,
                nik=r.nik,
                state="requested",
            )
            for r in chosen
        )
        session.flush()
        opening.sha256 = _file_digest(session, opening)
        audit.record(
            session,
            actor=actor.username,
            action="delivery.account_opening",
            entity="cycle",
            entity_id=label,
            diff={
                "opening": opening.id,
                "bank": bank,
                "families": len(chosen),
                "sha256": opening.sha256,
            },
        )
        made.append(_opening_row(opening, label))
    return made


def _file_lines(session: Session, opening: AccountOpening) -> Iterator[list[str]]:
    heads = _heads()
    query = (
        select(
            AccountOpeningRow.kk_number,
            AccountOpeningRow.nik,
            heads.c.name,
            heads.c.birth_date,
            heads.c.sex,
            Household.address,
            Household.village_code,
        )
        .join(Household, Household.id == AccountOpeningRow.household_id)
        .join(heads, heads.c.household_id == AccountOpeningRow.household_id, isouter=True)
        .where(AccountOpeningRow.opening_id == opening.id)
        .order_by(AccountOpeningRow.kk_number)
    )
    for kk, nik, name, birth, sex, address, village in session.execute(query):
        yield [
            kk,
            nik,
            name or "",
            str(birth or ""),
            sex or "",
            address or "",
            village,
            opening.partner_code,
        ]


def _file_digest(session: Session, opening: AccountOpening) -> str:
    digest = hashlib.sha256(csv_line(list(OPENING_HEADER)).encode())
    for cells in _file_lines(session, opening):
        digest.update(csv_line(cells).encode())
    return digest.hexdigest()


def opening_file(session: Session, *, actor: User, opening_id: int) -> Iterator[str]:
    """The opening's CSV for its bank, line by line, once checked against its sha256."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "mengunduh berkas pembukaan rekening")
    opening = _get(session, opening_id)
    if _file_digest(session, opening) != opening.sha256:
        raise Conflict(
            f"Isi pembukaan rekening {opening_id} berubah sejak dibuat (di luar Lumbung); "
            "berkasnya tidak dibuat."
        )
    yield csv_line(list(OPENING_HEADER))
    for cells in _file_lines(session, opening):
        yield csv_line(cells)


def _get(session: Session, opening_id: int) -> AccountOpening:
    opening = session.get(AccountOpening, opening_id)
    if opening is None:
        raise NotFound(f"Pembukaan rekening {opening_id} tidak ada.")
    return opening


def _opening_row(opening: AccountOpening, label: str) -> OpeningRow:
    return OpeningRow(
        opening.id,
        label,
        opening.partner_code,
        opening.requested,
        opening.opened,
        opening.failed,
        opening.sha256,
        opening.created_by,
    )


def list_openings(session: Session, *, actor: User, label: str | None = None) -> list[OpeningRow]:
    authorize(actor, Action.READ)
    from lumbung.cycles.models import Cycle

    query = select(AccountOpening, Cycle.label).join(Cycle, Cycle.id == AccountOpening.cycle_id)
    if label is not None:
        query = query.where(Cycle.label == label)
    return [
        _opening_row(o, lbl)
        for o, lbl in session.execute(query.order_by(AccountOpening.id.desc())).all()
    ]


@dataclass(frozen=True, slots=True)
class AccountView:
    bank: str
    account_number: str  # masked: its last four digits
    card_number: str | None
    state: str
    opened_at: str
    closed_at: str | None
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "bank": self.bank,
            "account_number": self.account_number,
            "card_number": self.card_number,
            "state": self.state,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "source": self.source,
        }


def family_accounts(session: Session, *, actor: User, kk: str) -> list[AccountView]:
    """A family's accounts, newest first (history included), masked for every reader: a page
    needs to tell them apart, not to pay into them (the payment files carry them whole)."""
    authorize(actor, Action.READ)
    household = family_in_scope(session, actor, kk.strip())
    rows = session.execute(
        select(PayeeAccount)
        .where(PayeeAccount.household_id == household.id)
        .order_by(PayeeAccount.opened_at.desc(), PayeeAccount.id.desc())
    ).scalars()
    return [
        AccountView(
            a.partner_code,
            mask_account(a.account_number),
            mask_account(a.card_number) if a.card_number else None,
            a.state,
            a.opened_at.isoformat(),
            a.closed_at.isoformat() if a.closed_at else None,
            a.source,
        )
        for a in rows
    ]
