"""Bank status files in (issue 16, item 3, parsing): pain.002 reports (.03 and .12, valid
against their XSDs) and CSV statements read as OutcomeRows, every bad row reported with its
row, field and a message an operator understands; the rows recorded by delivery.outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as DbEngine

from bank_helpers import approved_bank_batches, schema, write_file
from conftest import user
from delivery_helpers import items
from lumbung.db import session_scope
from lumbung.delivery.bank import simulate
from lumbung.delivery.bank.pain002 import read_status_report
from lumbung.delivery.bank.reading import StatusRead
from lumbung.delivery.bank.statement import read_statement
from lumbung.delivery.outcomes import OutcomeRow, OutcomeSummary, record_outcomes
from lumbung.errors import ValidationFailed

CREATED = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)


def record(engine: DbEngine, read: StatusRead, partner: str) -> OutcomeSummary:
    rows = list(read.rows())  # the problems are complete once the rows are read
    with session_scope(engine) as session:
        return record_outcomes(
            session,
            actor=user(session, "determiner"),
            rows=rows,
            file_name=read.file,
            file_sha256="0" * 64,
            partner_code=partner,
            parse_problems=read.problems,
        )


@pytest.mark.usefixtures("users")
@pytest.mark.parametrize("version", simulate.PAIN002_VERSIONS)
def test_a_pain002_answering_a_written_file_is_read_and_recorded(
    engine: DbEngine, tmp_path: Path, version: str
) -> None:
    (batch,) = approved_bank_batches(engine, tmp_path, "SBK-1", "SEMBAKO")
    sent = write_file(engine, batch.id, tmp_path / "bri.xml")
    report = tmp_path / "status.xml"
    simulate.write_status_report(
        report,
        simulate.answers(Path(sent.path), fail_every=2),
        original_message_id=sent.message_id,
        created=CREATED,
        version=version,
    )
    schema(version).validate(str(report))
    read = read_status_report(report)
    rows = list(read.rows())
    assert read.format == version and read.problems == [] and read.read == batch.count
    assert [r.status for r in rows] == ["paid", "failed"] * (batch.count // 2) + ["paid"] * (
        batch.count % 2
    )
    assert rows[1].reason == "AC04" and rows[0].reference == "REF1"
    assert all(r.value_date == date(2027, 1, 5) for r in rows)
    assert all(r.instruction_id == f"{r.end_to_end_id}-1" for r in rows)
    assert sum(r.amount_idr or 0 for r in rows) == batch.total_idr
    first = record(engine, read_status_report(report), "BRI")
    assert first.recorded["paid"] + first.recorded["failed"] == batch.count
    assert first.rejected == 0
    again = record(engine, read_status_report(report), "BRI")
    assert again.unchanged == batch.count and sum(again.recorded.values()) == 0
    states = [s for *_, s in items(engine)]
    assert states.count("failed") == batch.count // 2


def report(transactions: str, group_status: str = "") -> str:
    group = f"<GrpSts>{group_status}</GrpSts>" if group_status else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>'
        "<GrpHdr><MsgId>S1</MsgId><CreDtTm>2027-01-05T09:30:00</CreDtTm></GrpHdr>"
        "<OrgnlGrpInfAndSts><OrgnlMsgId>LUMBUNG-1-abcdef01</OrgnlMsgId>"
        f"<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>{group}</OrgnlGrpInfAndSts>"
        f"{transactions}</CstmrPmtStsRpt></Document>\n"
    )


def tx(instr: str, e2e: str, status: str, amount: str = "300000", ccy: str = "IDR") -> str:
    end_to_end = f"<OrgnlEndToEndId>{e2e}</OrgnlEndToEndId>" if e2e else ""
    return (
        f"<TxInfAndSts><OrgnlInstrId>{instr}</OrgnlInstrId>{end_to_end}<TxSts>{status}</TxSts>"
        "<StsRsnInf><Rsn><Cd>AC01</Cd></Rsn><AddtlInf>nomor rekening salah</AddtlInf></StsRsnInf>"
        f'<OrgnlTxRef><Amt><InstdAmt Ccy="{ccy}">{amount}</InstdAmt></Amt></OrgnlTxRef>'
        "</TxInfAndSts>"
    )


def test_pain002_rows_in_error_are_each_reported(tmp_path: Path) -> None:
    block = (
        "<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>"
        + tx("7-1-1", "7-1", "ACSC")
        + tx("7-2-1", "7-2", "RJCT", amount="300000.00")
        + tx("X-3-1", "7-3", "ACSC")  # bad instruction id
        + tx("7-4-1", "7-5", "ACSC")  # an attempt of another entitlement
        + tx("7-6-1", "7-6", "ACSC", amount="300000.50")  # not whole rupiah
        + tx("7-7-1", "7-7", "ACSC", ccy="USD")
        + tx("7-8-1", "7-8", "ACSP")  # accepted, not settled yet: skipped
        + tx("7-9-1", "", "ACSC")  # the end-to-end id from the instruction id
        + "</OrgnlPmtInfAndSts>"
    )
    path = tmp_path / "status.xml"
    path.write_text(report(block))
    schema("pain.002.001.03").validate(str(path))
    read = read_status_report(path)
    rows = list(read.rows())
    assert [(r.row, r.end_to_end_id, r.status) for r in rows] == [
        (1, "7-1", "paid"),
        (2, "7-2", "failed"),
        (8, "7-9", "paid"),
    ]
    assert rows[1].reason == "AC01; nomor rekening salah"
    assert rows[1].amount_idr == 300_000
    assert [(p["row"], p["column"], p["code"]) for p in read.problems] == [
        (3, "instruction_id", "unknown_id"),
        (4, "instruction_id", "unknown_id"),
        (5, "amount_idr", "bad_amount"),
        (6, "amount_idr", "bad_amount"),
    ]
    assert "rupiah bulat" in read.problems[2]["message"]
    assert all(p["file"] == "status.xml" for p in read.problems)
    assert read.skipped == 1 and read.read == 3


def test_an_unknown_status_and_a_bad_date_are_reported(tmp_path: Path) -> None:
    block = (
        "<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>"
        + tx("7-1-1", "7-1", "LUNAS")
        + tx("7-2-1", "7-2", "ACSC").replace(
            "<OrgnlTxRef>", "<AccptncDtTm>2027-13-45T00:00:00</AccptncDtTm><OrgnlTxRef>"
        )
        + "</OrgnlPmtInfAndSts>"
    )
    path = tmp_path / "status.xml"
    path.write_text(report(block))
    read = read_status_report(path)
    assert list(read.rows()) == []
    assert [(p["row"], p["code"]) for p in read.problems] == [
        (1, "unknown_status"),
        (2, "bad_date"),
    ]


def test_a_report_rejecting_the_whole_group_without_transactions(tmp_path: Path) -> None:
    path = tmp_path / "status.xml"
    path.write_text(report("", group_status="RJCT"))
    schema("pain.002.001.03").validate(str(path))
    read = read_status_report(path)
    assert list(read.rows()) == []
    assert [(p["row"], p["code"]) for p in read.problems] == [(0, "whole_rejected")]


def test_a_group_status_applies_to_transactions_without_their_own(tmp_path: Path) -> None:
    block = (
        "<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId><PmtInfSts>RJCT</PmtInfSts>"
        "<TxInfAndSts><OrgnlInstrId>7-1-1</OrgnlInstrId><OrgnlEndToEndId>7-1</OrgnlEndToEndId>"
        "</TxInfAndSts></OrgnlPmtInfAndSts>"
    )
    path = tmp_path / "status.xml"
    path.write_text(report(block))
    schema("pain.002.001.03").validate(str(path))
    (row,) = read_status_report(path).rows()
    assert (row.end_to_end_id, row.status, row.amount_idr) == ("7-1", "failed", None)


def test_what_is_not_a_status_report_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "status.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]>'
        + report("").split("?>", 1)[1].replace("S1", "&x;")
    )
    with pytest.raises(ValidationFailed, match="DOCTYPE"):
        read_status_report(path)
    path.write_text(report("").replace("pain.002.001.03", "pain.001.001.09"))
    with pytest.raises(ValidationFailed, match="bukan laporan status"):
        read_status_report(path)
    # a file cut short: the break is reported (rows parsed before it, in the same block of
    # bytes as the break, are not handed on)
    block = "<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>" + tx("7-1-1", "7-1", "ACSC")
    path.write_text(report(block)[:-60] + tx("7-2-1", "7-2", "ACSC")[:40])
    read = read_status_report(path)
    assert [r.end_to_end_id for r in read.rows()] in ([], ["7-1"])
    assert [p["code"] for p in read.problems] == ["unreadable"]


STATEMENT = """\ufeffEnd_To_End_Id;instruction_id;status;reason;amount_idr;date;reference
1-2;1-2-1;berhasil;;300000;2026-12-31;R1
1-3;;GAGAL;rekening ditutup;300000.00;31/12/2026;R2
x-3;;paid;;1;2026-12-31;R3
1-4;1-5-1;paid;;1;2026-12-31;R4
1-6;;lunas;;1;2026-12-31;R5
1-7;;paid;;300.000;2026-12-31;R6
1-8;;paid;;300000;2026-13-01;R7
;1-9-2;ACSC;;300000;;R8
1-10;;ACSP;;300000;;R9
1-11;;retur;"dana kembali; rekening pasif";300000;2027-01-02;
;;paid;;1;2026-12-31;R10
"""


def test_a_csv_statement_is_read_with_every_bad_row_reported(tmp_path: Path) -> None:
    path = tmp_path / "statement.csv"
    path.write_text(STATEMENT, encoding="utf-8")
    read = read_statement(path)
    rows = list(read.rows())
    assert rows == [
        OutcomeRow(2, "1-2", "1-2-1", "paid", 300_000, "R1", None, date(2026, 12, 31)),
        OutcomeRow(3, "1-3", None, "failed", 300_000, "R2", "rekening ditutup", date(2026, 12, 31)),
        OutcomeRow(9, "1-9", "1-9-2", "paid", 300_000, "R8", None, None),
        OutcomeRow(
            11,
            "1-11",
            None,
            "returned",
            300_000,
            None,
            "dana kembali; rekening pasif",
            date(2027, 1, 2),
        ),
    ]
    assert [(p["row"], p["column"], p["code"]) for p in read.problems] == [
        (4, "end_to_end_id", "unknown_id"),
        (5, "instruction_id", "unknown_id"),
        (6, "status", "unknown_status"),
        (7, "amount_idr", "bad_amount"),  # 300.000: three hundred thousand, or three hundred?
        (8, "date", "bad_date"),
        (12, "end_to_end_id", "missing_value"),
    ]
    assert read.skipped == 1 and read.read == 4
    assert "tanpa pemisah ribuan" in read.problems[3]["message"]


def test_a_statement_without_its_columns_or_unreadable_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "statement.csv"
    path.write_text("id,status\n1-2,paid\n")
    with pytest.raises(ValidationFailed, match="end_to_end_id, amount_idr, date"):
        read_statement(path)
    path.write_text("end_to_end_id,status,amount_idr,date\n1-2,paid,1,2026-12-31,extra,cells\n")
    read = read_statement(path)
    assert list(read.rows()) == []
    assert [p["code"] for p in read.problems] == ["unreadable"]


@pytest.mark.usefixtures("users")
def test_a_statement_answering_a_csv_payment_file_is_recorded_once(
    engine: DbEngine, tmp_path: Path
) -> None:
    (batch,) = approved_bank_batches(engine, tmp_path, "SBK-1", "SEMBAKO", partner=lambda _: "BTN")
    sent = write_file(engine, batch.id, tmp_path / "btn.csv")
    statement = tmp_path / "statement.csv"
    simulate.write_statement(
        statement, simulate.answers(Path(sent.path), fail_every=3), value_date=date(2027, 1, 5)
    )
    read = read_statement(statement)
    first = record(engine, read, "BTN")
    assert (first.rejected, read.read) == (0, batch.count)
    assert first.recorded["failed"] == batch.count // 3
    assert record(engine, read_statement(statement), "BTN").unchanged == batch.count
