"""Collective account opening: a file per bank, the bank's answer row by row, accounts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine

from conftest import user
from delivery_helpers import approved_cycle, create
from factories import kk
from lumbung.db import session_scope
from lumbung.delivery import account_answers, accounts
from lumbung.delivery.partners import partners_for
from lumbung.errors import Conflict, NotFound, ValidationFailed

pytestmark = pytest.mark.usefixtures("users")

HEADER = "kk,nik,account_number,card_number,status,reason\n"


def open_for(engine: DbEngine, label: str) -> list[accounts.OpeningRow]:
    with session_scope(engine) as session:
        return accounts.open_accounts(session, actor=user(session, "determiner"), label=label)


def file_of(engine: DbEngine, opening: int) -> list[str]:
    with session_scope(engine) as session:
        return list(
            accounts.opening_file(session, actor=user(session, "determiner"), opening_id=opening)
        )


def answer(engine: DbEngine, opening: int, path: Path) -> account_answers.AnswerSummary:
    with session_scope(engine) as session:
        return account_answers.record_answers(
            session, actor=user(session, "determiner"), opening_id=opening, path=path
        )


def requested(lines: list[str]) -> list[tuple[str, str]]:
    return [(line.split(",")[0], line.split(",")[1]) for line in lines[1:]]


def test_an_opening_per_bank_its_answer_and_the_accounts_it_makes(
    engine: DbEngine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path, "SBK-1", "SEMBAKO")
    (opening,) = open_for(engine, "SBK-1")
    assert (opening.partner, opening.requested, opening.waiting) == ("BRI", 6, 6)
    lines = file_of(engine, opening.id)
    assert lines[0].strip() == ",".join(accounts.OPENING_HEADER)
    families = requested(lines)
    assert len(families) == 6 and all(len(k) == 16 and len(n) == 16 for k, n in families)
    assert open_for(engine, "SBK-1") == []  # every family already asked for
    rows = [
        f"{k},{n},{1234567890 + i},{'6013' + '0' * 11 + str(i)},berhasil,\n"
        for i, (k, n) in enumerate(families[:5])
    ]
    rows.append(f"{families[5][0]},{families[5][1]},,,gagal,NIK tidak cocok Dukcapil\n")
    (tmp_path / "jawaban.csv").write_text(HEADER + "".join(rows))
    first = answer(engine, opening.id, tmp_path / "jawaban.csv")
    assert (first.opened, first.failed, first.rejected) == (5, 1, 0), first.problems
    again = answer(engine, opening.id, tmp_path / "jawaban.csv")
    assert (again.opened, again.failed, again.unchanged, again.rejected) == (0, 0, 6, 0)
    plan = create(engine, "SBK-1")
    assert [(b.partner, b.count) for b in plan.batches] == [("BRI", 5)]
    assert plan.without_account == 1
    (second,) = open_for(engine, "SBK-1")  # the failed family is asked for again
    assert requested(file_of(engine, second.id)) == [families[5]]
    with session_scope(engine) as session:
        shown = accounts.family_accounts(
            session, actor=user(session, "verifier"), kk=families[0][0]
        )
        assert [(a.bank, a.account_number, a.state) for a in shown] == [
            ("BRI", "******7890", "active")
        ]
        with pytest.raises(NotFound):
            accounts.family_accounts(
                session, actor=user(session, "other_verifier"), kk=families[0][0]
            )


def test_bad_answer_rows_are_refused_with_row_field_and_reason(
    engine: DbEngine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path, "SBK-1", "SEMBAKO")
    (opening,) = open_for(engine, "SBK-1")
    fams = requested(file_of(engine, opening.id))
    (tmp_path / "a.csv").write_text(
        HEADER
        + f"{fams[0][0]},{fams[0][1]},12ab,,opened,\n"
        + f"{fams[1][0]},3171010101010001,1234567890,,opened,\n"
        + f"{kk(99)},{fams[1][1]},1234567890,,opened,\n"
        + f"{fams[2][0]},{fams[2][1]},,,gagal,\n"
        + f"{fams[3][0]},{fams[3][1]},1234567890,123,opened,\n"
        + f"{fams[4][0]},{fams[4][1]},1234567890,,lunas,\n"
        + f"{fams[5][0]},{fams[5][1]},1234567890,,opened,\n"
        + f"{fams[5][0]},{fams[5][1]},1234567890,,opened,\n"
        + f"{fams[0][0]},{fams[0][1]}\n"
    )
    summary = answer(engine, opening.id, tmp_path / "a.csv")
    assert {p["row"]: (p["column"], p["code"]) for p in summary.problems} == {
        2: ("account_number", "bad_account"),
        3: ("nik", "nik_mismatch"),
        4: ("kk", "unknown_kk"),
        5: ("reason", "reason_missing"),
        6: ("card_number", "bad_card"),
        7: ("status", "unknown_status"),
        9: ("kk", "duplicate_row"),
        10: ("kk", "wrong_width"),
    }
    assert summary.opened == 1
    (tmp_path / "b.csv").write_text("kk;nik\n")
    with pytest.raises(ValidationFailed, match="baris judul"):
        answer(engine, opening.id, tmp_path / "b.csv")


def test_an_opening_edited_in_the_database_gives_no_file(engine: DbEngine, tmp_path: Path) -> None:
    approved_cycle(engine, tmp_path, "SBK-1", "SEMBAKO")
    (opening,) = open_for(engine, "SBK-1")
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE account_opening_row SET nik = '3171010101900009' WHERE "
                "household_id = (SELECT min(household_id) FROM account_opening_row)"
            )
        )
    with pytest.raises(Conflict, match="berubah"):
        file_of(engine, opening.id)


def test_aceh_is_served_by_bsi_and_the_rest_by_bri(engine: DbEngine) -> None:
    with session_scope(engine) as session:
        assert partners_for(session, "bank", ["11.01", "31.71", "11"]) == {
            "11.01": "BSI",
            "31.71": "BRI",
            "11": "BSI",
        }


def test_an_account_change_is_a_request_and_a_failed_payment_goes_to_the_new_account(
    engine: DbEngine, tmp_path: Path
) -> None:
    from delivery_helpers import approve_batch, items, record
    from lumbung.delivery.outcomes import OutcomeRow
    from test_delivery_batches import check
    from test_lifecycle import determine, propose, verify

    approved_cycle(engine, tmp_path, "SBK-1", "SEMBAKO")
    (opening,) = open_for(engine, "SBK-1")
    families = requested(file_of(engine, opening.id))
    rows = [f"{k},{n},{5550000000 + i},,opened,\n" for i, (k, n) in enumerate(families)]
    (tmp_path / "ok.csv").write_text(HEADER + "".join(rows))
    answer(engine, opening.id, tmp_path / "ok.csv")
    (batch,) = create(engine, "SBK-1").batches
    approve_batch(engine, batch.id)
    first = items(engine)[0]
    record(
        engine,
        [
            OutcomeRow(
                2, f"{first[0]}-{first[1]}", None, "failed", 200_000, reason="rekening ditutup"
            )
        ],
    )
    assert create(engine, "SBK-1").waiting_correction == 1  # the same account would fail again
    kk_number = families[0][0]
    with engine.connect() as conn:
        version = conn.execute(
            text("SELECT version FROM household WHERE kk_number = :kk"), {"kk": kk_number}
        ).scalar_one()
    with pytest.raises(ValidationFailed, match="Bank harus"):
        propose(
            engine,
            "update_account",
            {"bank": "XYZ", "account_number": "123"},
            kk_number=kk_number,
            base_version=version,
        )
    with pytest.raises(ValidationFailed, match="tidak mengubah"):
        propose(
            engine,
            "update_account",
            {"bank": "bri", "account_number": "5550000000"},
            kk_number=kk_number,
            base_version=version,
        )
    request_id = propose(
        engine,
        "update_account",
        {"bank": "BNI", "account_number": "0987654321", "card_number": "6013000000000099"},
        kk_number=kk_number,
        base_version=version,
    )
    verify(engine, request_id)
    assert determine(engine, request_id) == "approved"
    with session_scope(engine) as session:
        shown = accounts.family_accounts(session, actor=user(session, "verifier"), kk=kk_number)
    assert [(a.bank, a.account_number, a.state) for a in shown] == [
        ("BNI", "******4321", "active"),
        ("BRI", "******0000", "closed"),
    ]
    assert shown[0].source == f"request:{request_id}"
    (again,) = create(engine, "SBK-1").batches
    assert (again.partner, again.count) == ("BNI", 1)
    assert items(engine)[:2] == [
        (first[0], first[1], 1, "failed"),
        (first[0], first[1], 2, "pending"),
    ]
    assert check(engine, "SBK-1").ok
