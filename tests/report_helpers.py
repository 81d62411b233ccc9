"""A SEMBAKO cycle in two regencies with every state a payment can be in (report tests).

The ten families of test_cycles: six in Jakarta Pusat (one of them in Cideng, the rest in
Gambir), four in Kota Bandung; SEMBAKO (decile ≤ 6 per regency, paid by bank) takes all ten.
Four families get an account and go into a first batch, answered paid, failed, paid and
returned, and one left unanswered; three more get an account, go into a second batch, which
is cancelled; three have no account and stay unbatched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import Engine as DbEngine

from conftest import user
from delivery_helpers import approve_batch, create, items, record
from factories import OTHER_VILLAGE, write_batch
from helpers import edit_directly, run_import
from lumbung.db import session_scope
from lumbung.delivery import batches
from lumbung.delivery.outcomes import OutcomeRow
from lumbung.payees.models import PayeeAccount
from lumbung.registry.models import Household
from lumbung.reports.realisation import RealisationReport, realisation
from targeting_helpers import floor_model, release, score
from test_cycles import approve, cycle, registry_families

CIDENG = "31.71.01.1002"
LABEL = "SBK-1"
SEMBAKO = 200_000  # what one family is owed in a cycle (one month)


@dataclass(frozen=True)
class Paid:
    """What the scenario leaves, by household id: the state of each family's entitlement."""

    states: dict[int, str]
    villages: dict[int, str]


def registry(engine: DbEngine, data_dir: Path) -> None:
    households, members = registry_families()
    households[1]["village_code"] = CIDENG
    for h in households[6:]:
        h["village_code"] = OTHER_VILLAGE
    summary = run_import(
        engine, write_batch(data_dir / "batch", households, members), status="approved"
    )
    assert (summary.households_rejected, summary.members_rejected) == (0, 0), summary.errors[:3]
    release(engine, data_dir, "R1")
    score(engine, data_dir, "R1", floor_model())


def accounts(engine: DbEngine, household_ids: list[int]) -> None:
    with session_scope(engine) as session:
        for hid in household_ids:
            session.add(
                PayeeAccount(
                    household_id=hid,
                    partner_code="BRI",
                    account_number=f"0099{hid:08d}",
                    holder_nik=f"3171010101800{hid:03d}",
                    state="active",
                    opened_at=datetime.now(UTC),
                    source="opening:0",
                )
            )


def households(engine: DbEngine) -> dict[int, str]:
    """Household id → village code, by id."""
    with session_scope(engine) as session:
        return {
            int(i): str(v)
            for i, v in session.execute(
                select(Household.id, Household.village_code).order_by(Household.id)
            ).all()
        }


def outcome(n: int, cycle_id: int, beneficiary: int, attempt: int, status: str) -> OutcomeRow:
    return OutcomeRow(
        n,
        f"{cycle_id}-{beneficiary}",
        f"{cycle_id}-{beneficiary}-{attempt}",
        status,
        SEMBAKO,
        reference=f"REF{n}",
        reason="rekening tidak aktif" if status == "failed" else None,
    )


def paid_in_every_state(engine: DbEngine, data_dir: Path) -> Paid:
    registry(engine, data_dir)
    cycle(engine, data_dir, LABEL, program="SEMBAKO")
    approve(engine, LABEL, data_dir=data_dir)
    villages = households(engine)
    ids = list(villages)
    # Gambir 1 and 3, Cideng 2 and Bandung 7 into the first batch.
    accounts(engine, [ids[0], ids[1], ids[2], ids[6]])
    (first,) = create(engine, LABEL).batches
    approve_batch(engine, first.id)
    sent = {b: (c, b, a) for c, b, a, _ in items(engine)}
    rows = [
        outcome(2, *sent[ids[0]], "paid"),
        outcome(3, *sent[ids[1]], "failed"),
        outcome(4, *sent[ids[6]], "paid"),
        outcome(5, *sent[ids[6]], "returned"),
    ]
    summary = record(engine, rows)
    assert summary.rejected == 0, summary.problems
    accounts(engine, [ids[3], ids[7], ids[8]])
    (second,) = create(engine, LABEL).batches
    with session_scope(engine) as session:
        batches.cancel_batch(
            session, actor=user(session, "determiner"), batch_id=second.id, reason="salah"
        )
    states = dict.fromkeys(ids, "pending")
    states.update({ids[0]: "paid", ids[1]: "failed", ids[6]: "returned"})
    states.update({ids[3]: "cancelled", ids[7]: "cancelled", ids[8]: "cancelled"})
    return Paid(states, villages)


def report(engine: DbEngine, actor: str, **options: object) -> RealisationReport:
    with session_scope(engine) as session:
        return realisation(
            session,
            actor=user(session, actor),
            program=str(options.pop("program", "SEMBAKO")),
            **options,  # type: ignore[arg-type]
        )


@contextmanager
def renamed_regions(engine: DbEngine, names: dict[str, str]) -> Iterator[None]:
    """Regions given other names in the database, and their own names back afterwards (the
    region table outlives a test on PostgreSQL)."""
    before = {code: region_name(engine, code) for code in names}
    try:
        for code, name in names.items():
            edit_directly(
                engine, "UPDATE region SET name = :n WHERE code = :c", {"n": name, "c": code}
            )
        yield
    finally:
        for code, name in before.items():
            edit_directly(
                engine, "UPDATE region SET name = :n WHERE code = :c", {"n": name, "c": code}
            )


def region_name(engine: DbEngine, code: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(text("SELECT name FROM region WHERE code = :c"), {"c": code}).scalar_one()
        )
