"""A bank's answers to a payment file, for the demo, the tests and the benchmark (no bank is
reachable here): every transaction of a pain.001 (or of a CSV payment file) answered paid, or
failed for one in `fail_every` (reason AC04, closed account), written as the bank would send
them — a pain.002 status report (.03 or .12) or a CSV statement. Streamed both ways."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from lxml import etree

from lumbung.delivery.bank.output import atomic

PAIN001 = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.09}"
PAIN002_VERSIONS = ("pain.002.001.03", "pain.002.001.12")
STATEMENT_COLUMNS = (
    "end_to_end_id",
    "instruction_id",
    "status",
    "reason",
    "amount_idr",
    "date",
    "reference",
)


@dataclass(frozen=True, slots=True)
class Answer:
    instruction_id: str
    end_to_end_id: str
    amount_idr: int
    status: str  # ISO 20022: ACSC (paid), RJCT (failed)
    reason: str | None  # ISO 20022 reason code, e.g. AC04 (closed account)


def message_id(payment_file: Path) -> str:
    """The MsgId of a pain.001 Lumbung wrote (read from its first bytes); for a CSV file, its
    name."""
    with payment_file.open("rb") as f:
        found = re.search(rb"<MsgId>([^<]{1,35})</MsgId>", f.read(4096))
    return found.group(1).decode() if found else payment_file.stem[:35]


def answers(payment_file: Path, *, fail_every: int = 0) -> Iterator[Answer]:
    """An answer to every transaction of a payment file Lumbung wrote (pain.001 or CSV)."""
    if payment_file.suffix.lower() == ".csv":
        yield from _from_csv(payment_file, fail_every)
        return
    transactions = etree.iterparse(
        str(payment_file),
        events=("end",),
        tag=PAIN001 + "CdtTrfTxInf",
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
    )
    for number, (_, tx) in enumerate(transactions, start=1):
        ids = tx[0]  # PmtId: InstrId, EndToEndId
        amount = int(tx[1][0].text)  # Amt/InstdAmt
        yield _answer(number, ids[0].text, ids[1].text, amount, fail_every)
        tx.clear()
        parent = tx.getparent()
        while tx.getprevious() is not None:
            del parent[0]


def _from_csv(path: Path, fail_every: int) -> Iterator[Answer]:
    with path.open(newline="", encoding="utf-8") as f:
        for number, row in enumerate(csv.DictReader(f), start=1):
            yield _answer(
                number,
                row["instruction_id"],
                row["end_to_end_id"],
                int(row["amount_idr"]),
                fail_every,
            )


def _answer(n: int, instruction: str, end_to_end: str, amount: int, fail_every: int) -> Answer:
    failed = fail_every > 0 and n % fail_every == 0
    return Answer(
        instruction, end_to_end, amount, "RJCT" if failed else "ACSC", "AC04" if failed else None
    )


def write_status_report(
    out: Path,
    given: Iterable[Answer],
    *,
    original_message_id: str,
    created: datetime,
    version: str = "pain.002.001.03",
) -> str:
    """A pain.002 answering `given`, transaction by transaction; its sha256."""
    assert version in PAIN002_VERSIONS
    stamp = created.isoformat(timespec="seconds")
    with atomic(out) as written:
        written.write(
            (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{version}">\n'
                "<CstmrPmtStsRpt>\n"
                f"<GrpHdr><MsgId>STS-{original_message_id[:30]}</MsgId>"
                f"<CreDtTm>{stamp}</CreDtTm></GrpHdr>\n"
                f"<OrgnlGrpInfAndSts><OrgnlMsgId>{original_message_id}</OrgnlMsgId>"
                "<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\n"
                f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{original_message_id}-1</OrgnlPmtInfId>\n"
            ).encode()
        )
        lines: list[str] = []
        for n, a in enumerate(given, start=1):
            reason = f"<StsRsnInf><Rsn><Cd>{a.reason}</Cd></Rsn></StsRsnInf>" if a.reason else ""
            lines.append(
                f"<TxInfAndSts><StsId>S{n}</StsId><OrgnlInstrId>{a.instruction_id}</OrgnlInstrId>"
                f"<OrgnlEndToEndId>{a.end_to_end_id}</OrgnlEndToEndId><TxSts>{a.status}</TxSts>"
                f"{reason}<AccptncDtTm>{stamp}</AccptncDtTm><AcctSvcrRef>REF{n}</AcctSvcrRef>"
                f'<OrgnlTxRef><Amt><InstdAmt Ccy="IDR">{a.amount_idr}</InstdAmt></Amt>'
                "</OrgnlTxRef></TxInfAndSts>\n"
            )
            if len(lines) >= 10_000:
                written.write("".join(lines).encode())
                lines.clear()
        written.write("".join(lines).encode())
        written.write(b"</OrgnlPmtInfAndSts>\n</CstmrPmtStsRpt>\n</Document>\n")
    return written.hexdigest()


def write_statement(out: Path, given: Iterable[Answer], *, value_date: date) -> str:
    """A CSV statement answering `given` (Indonesian status words); its sha256."""
    day = value_date.isoformat()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(STATEMENT_COLUMNS)
    with atomic(out) as written:
        for n, a in enumerate(given, start=1):
            status = "gagal" if a.status == "RJCT" else "berhasil"
            reason = "rekening ditutup (AC04)" if a.reason == "AC04" else a.reason or ""
            writer.writerow(
                (a.end_to_end_id, a.instruction_id, status, reason, a.amount_idr, day, f"REF{n}")
            )
            if n % 10_000 == 0:
                written.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
        written.write(buffer.getvalue().encode())
    return written.hexdigest()
