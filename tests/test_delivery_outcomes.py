"""Partners' answers recorded idempotently: paid, failed, returned; refused row by row."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as DbEngine

from delivery_helpers import approve_batch, approved_cycle, create, items, record
from lumbung.delivery.outcomes import OutcomeRow
from test_delivery_batches import check

pytestmark = pytest.mark.usefixtures("users")


def paid_batch(engine: DbEngine, tmp_path: Path) -> list[tuple[int, int, int, str]]:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    (batch,) = create(engine, "BBM-1").batches
    approve_batch(engine, batch.id)
    return items(engine)


def row(n: int, item: tuple[int, int, int, str], status: str, **over: object) -> OutcomeRow:
    cycle, beneficiary, attempt, _ = item
    values: dict[str, object] = {
        "row": n,
        "end_to_end_id": f"{cycle}-{beneficiary}",
        "instruction_id": f"{cycle}-{beneficiary}-{attempt}",
        "status": status,
        "amount_idr": 300_000,
        "reference": f"REF{n}",
        "reason": "rekening tidak aktif" if status == "failed" else None,
    }
    values.update(over)
    return OutcomeRow(**values)  # type: ignore[arg-type]


def test_answers_move_the_attempts_and_the_same_file_twice_changes_nothing(
    engine: DbEngine, tmp_path: Path
) -> None:
    sent = paid_batch(engine, tmp_path)
    answers = [row(i + 2, it, "paid") for i, it in enumerate(sent[:4])]
    answers += [row(6, sent[4], "failed"), row(7, sent[5], "paid", instruction_id=None)]
    first = record(engine, answers)
    assert first.recorded == {"paid": 5, "failed": 1, "returned": 0}
    assert (first.unchanged, first.rejected) == (0, 0)
    states = [state for *_, state in items(engine)]
    assert states == ["paid"] * 4 + ["failed", "paid", "pending"]
    result = check(engine, "BBM-1")
    assert result.ok, result.problems
    assert result.states["paid"].amount_idr == 5 * 300_000
    assert result.states["failed"].entitlements == 1
    assert result.in_flight.entitlements == 1
    again = record(engine, answers)
    assert again.recorded == {"paid": 0, "failed": 0, "returned": 0}
    assert (again.unchanged, again.rejected) == (6, 0)
    assert [state for *_, state in items(engine)] == states
    assert check(engine, "BBM-1").ok


def test_a_payment_and_its_return_in_one_file_are_both_recorded(
    engine: DbEngine, tmp_path: Path
) -> None:
    sent = paid_batch(engine, tmp_path)
    summary = record(engine, [row(2, sent[0], "returned"), row(3, sent[0], "paid")])
    assert summary.recorded == {"paid": 1, "failed": 0, "returned": 1}
    assert items(engine)[0][3] == "returned"
    result = check(engine, "BBM-1")
    assert result.ok and result.states["returned"].entitlements == 1, result.problems


def test_bad_rows_are_refused_each_with_its_row_field_and_reason(
    engine: DbEngine, tmp_path: Path
) -> None:
    sent = paid_batch(engine, tmp_path)
    cycle = sent[0][0]
    summary = record(
        engine,
        [
            row(2, sent[0], "paid", amount_idr=3_000_000),
            row(3, sent[1], "paid"),
            row(4, sent[1], "paid"),
            row(5, sent[2], "returned"),
            OutcomeRow(6, f"{cycle}-999999", None, "paid", None),
            OutcomeRow(7, "bukan-id", None, "paid", None),
            row(8, sent[3], "lunas"),
            row(9, sent[4], "paid", instruction_id=f"{cycle}-{sent[5][1]}-1"),
        ],
        partner="POS",
    )
    by_row = {p["row"]: (p["column"], p["code"]) for p in summary.problems}
    assert by_row == {
        2: ("amount_idr", "amount_mismatch"),
        4: ("end_to_end_id", "duplicate_row"),
        5: ("status", "not_allowed"),
        6: ("end_to_end_id", "unknown_id"),
        7: ("end_to_end_id", "unknown_id"),
        8: ("status", "unknown_status"),
        9: ("instruction_id", "unknown_id"),
    }
    assert summary.recorded["paid"] == 1 and summary.rejected == 7
    assert all(p["file"] == "status.csv" and p["message"] for p in summary.problems)
    assert check(engine, "BBM-1").ok


def test_answers_for_a_draft_or_another_partner_are_refused(
    engine: DbEngine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    create(engine, "BBM-1")
    sent = items(engine)
    draft = record(engine, [row(2, sent[0], "paid")])
    assert [p["code"] for p in draft.problems] == ["batch_not_approved"]
    approve_batch(engine, 1)
    other = record(engine, [row(2, sent[0], "paid")], partner="BRI")
    assert [p["code"] for p in other.problems] == ["other_partner"]
    assert "POS" in other.problems[0]["message"]


def test_a_failed_payment_is_issued_again_in_a_later_batch_never_twice_in_flight(
    engine: DbEngine, tmp_path: Path
) -> None:
    sent = paid_batch(engine, tmp_path)
    record(engine, [row(2, sent[0], "failed")])
    (again,) = create(engine, "BBM-1").batches
    assert again.count == 1
    assert items(engine)[:2] == [
        (sent[0][0], sent[0][1], 1, "failed"),
        (sent[0][0], sent[0][1], 2, "pending"),
    ]
    assert create(engine, "BBM-1").batches == []
    # a late line about the first attempt does not settle the second
    late = record(engine, [row(2, sent[0], "paid")])
    assert [p["code"] for p in late.problems] == ["not_allowed"]
    result = check(engine, "BBM-1")
    assert result.ok and result.states["failed"].entitlements == 0, result.problems


def test_a_family_sees_every_attempt_and_the_answer_to_it(engine: DbEngine, tmp_path: Path) -> None:
    from conftest import user
    from lumbung.db import session_scope
    from lumbung.delivery.family import family_payments
    from lumbung.errors import NotFound

    sent = paid_batch(engine, tmp_path)
    record(engine, [row(2, sent[0], "failed", reason="rekening tidak aktif", reference="R-9")])
    create(engine, "BBM-1")
    with engine.connect() as conn:
        from sqlalchemy import text

        kk = conn.execute(
            text("SELECT kk_number FROM payment_item WHERE beneficiary_id = :b LIMIT 1"),
            {"b": sent[0][1]},
        ).scalar_one()
    with session_scope(engine) as session:
        shown = family_payments(session, actor=user(session, "verifier"), kk=kk)
        assert [(p.attempt, p.state, p.partner, p.reference, p.reason) for p in shown] == [
            (1, "failed", "POS", "R-9", "rekening tidak aktif"),
            (2, "pending", "POS", None, None),
        ]
        assert shown[0].attempt_id == f"{sent[0][0]}-{sent[0][1]}-1"
        with pytest.raises(NotFound):
            family_payments(session, actor=user(session, "other_verifier"), kk=kk)
