"""A bank's pain.002 CustomerPaymentStatusReport, read as `OutcomeRow`s.

Any version whose transactions are `OrgnlPmtInfAndSts/TxInfAndSts` (pain.002.001.03 through
.14: the elements read are the same; tests validate .03 and .12 reports against their XSDs).
Per transaction: `OrgnlEndToEndId`, `OrgnlInstrId`, `TxSts` (inheriting the payment block's
or the group's status when absent; ACSC/ACCC → paid, RJCT → failed, a status that is not
final yet — ACSP, PDNG… — is skipped), the reason (`StsRsnInf/Rsn/Cd` or `Prtry`, and
`AddtlInf`), the original amount (`OrgnlTxRef/Amt/InstdAmt`, IDR in whole rupiah), the
bank's reference (`AcctSvcrRef`, else `StsId`) and the date (`AccptncDtTm`, else
`FctvIntrBkSttlmDt`). A report that rejects a whole group or payment block without naming
its transactions is a problem of the file (row 0): the bank must name them.

Streamed: lxml's iterparse hands over one transaction at a time (the tags filtered in C), and
each is removed from the tree once read, so a report of 10 M transactions takes the memory of
one. No DTD, no entity, no network: a document that declares a DOCTYPE is refused whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

from lumbung.delivery.bank.reading import (
    NOT_FINAL,
    STATUSES,
    StatusRead,
    check_amount,
    check_ids,
    shown,
)
from lumbung.delivery.outcomes import OutcomeRow
from lumbung.errors import ValidationFailed

NAMESPACE = re.compile(rb'xmlns(?::\w+)?="urn:iso:std:iso:20022:tech:xsd:(pain\.002\.001\.\d\d)"')
DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_LOCAL = (
    "TxInfAndSts",
    "GrpSts",
    "PmtInfSts",
    "OrgnlPmtInfAndSts",
)
# A transaction's children that are read (the amount is inside OrgnlTxRef/Amt, the reason's
# code and text inside StsRsnInf, the date of .10 and later inside FctvIntrBkSttlmDt).
_FIELDS = (
    "OrgnlEndToEndId",
    "OrgnlInstrId",
    "TxSts",
    "StsRsnInf",
    "OrgnlTxRef",
    "AcctSvcrRef",
    "StsId",
    "AccptncDtTm",
    "FctvIntrBkSttlmDt",
)


def read_status_report(path: Path) -> StatusRead:
    """Start reading a pain.002 file (its version checked now, its rows as they are asked)."""
    with path.open("rb") as f:
        start = f.read(4096)
    if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
        raise ValidationFailed(
            f"{path.name}: laporan status berisi DOCTYPE/ENTITY; laporan bank tidak memakainya "
            "dan berkas ini tidak dibaca."
        )
    found = NAMESPACE.search(start)
    if found is None:
        raise ValidationFailed(
            f"{path.name} bukan laporan status ISO 20022 pain.002 (namespace "
            "urn:iso:std:iso:20022:tech:xsd:pain.002.001.NN tidak ada di awal berkas)."
        )
    version = found.group(1).decode()
    return StatusRead(path.name, version, lambda read: _rows(read, path, version))


def _rows(read: StatusRead, path: Path, version: str) -> Iterator[OutcomeRow]:
    ns = f"{{urn:iso:std:iso:20022:tech:xsd:{version}}}"
    tx_tag = ns + "TxInfAndSts"
    tags = [ns + t for t in _LOCAL]
    wanted = _fields(ns)
    group_status: str | None = None
    block_status: str | None = None
    block_rows = 0
    number = 0
    events = etree.iterparse(
        str(path),
        events=("end",),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,  # long files, not deep ones: 10 M transactions are one level
        remove_blank_text=False,
    )
    try:
        for _, element in events:
            tag = element.tag
            if tag == tx_tag:
                number += 1
                block_rows += 1
                row = _transaction(read, number, element, wanted, block_status or group_status)
                if row is not None:
                    yield row
                element.clear()
                parent = element.getparent()
                while element.getprevious() is not None:
                    del parent[0]
            elif tag == tags[1]:
                group_status = (element.text or "").strip()
            elif tag == tags[2]:
                block_status = (element.text or "").strip()
            elif tag == tags[3]:
                _whole(read, "blok pembayaran", block_status, block_rows)
                block_status, block_rows = None, 0
                element.clear()
    except etree.XMLSyntaxError as error:
        read.refuse(
            number + 1,
            "",
            "unreadable",
            f"Berkas XML rusak setelah transaksi ke-{number}: {error.msg}; sisanya tidak dibaca.",
        )
        return
    if number == 0:
        _whole(read, "grup pesan", group_status, 0)


def _whole(read: StatusRead, what: str, status: str | None, rows: int) -> None:
    """A group or block rejected without its transactions named."""
    if rows == 0 and status and status.lower() == "rjct":
        read.refuse(
            0,
            "",
            "whole_rejected",
            f"Bank menolak seluruh {what} (RJCT) tanpa menyebut transaksinya; minta bank "
            "mengirim status per transaksi.",
        )


def _fields(ns: str) -> dict[str, str]:
    return {ns + name: name for name in _FIELDS}


def _transaction(
    read: StatusRead,
    number: int,
    element: Any,
    wanted: dict[str, str],
    inherited: str | None,
) -> OutcomeRow | None:
    # The transaction's own children only (its original transaction's parties, accounts and
    # remittance, however long, are not walked): a Python object for each child is the cost.
    values: dict[str, str] = {}
    amount_currency: str | None = None
    reason_parts: list[str] = []
    for child in element:
        name = wanted.get(child.tag)
        if name is None:
            continue
        if name == "OrgnlTxRef":
            for amount in child.iterchildren(child.tag[:-10] + "Amt"):
                for instructed in amount:
                    values["InstdAmt"] = (instructed.text or "").strip()
                    amount_currency = instructed.get("Ccy")
                    break
        elif name == "StsRsnInf":
            reason_parts.extend(text.strip() for text in child.itertext() if text.strip())
        elif name == "FctvIntrBkSttlmDt":
            values.setdefault("Dt", "".join(child.itertext()).strip())
        else:
            values[name] = (child.text or "").strip()
    ids = check_ids(read, number, values.get("OrgnlEndToEndId"), values.get("OrgnlInstrId"))
    raw_status = values.get("TxSts") or inherited or ""
    status = STATUSES.get(raw_status.lower())
    if status is None:
        if raw_status.lower() in NOT_FINAL:
            read.skipped += 1
            return None
        read.refuse(
            number,
            "status",
            "unknown_status",
            f"Status {shown(raw_status, 10)} tidak dikenal; yang dibaca: ACSC, ACCC (dibayar), "
            "RJCT (gagal), dan status antara (ACSP, PDNG…) yang dilewati.",
        )
        return None
    if amount_currency not in (None, "IDR"):
        read.refuse(
            number,
            "amount_idr",
            "bad_amount",
            f"Mata uang {shown(amount_currency or '', 5)}, bukan IDR.",
        )
        return None
    ok, amount = check_amount(read, number, values.get("InstdAmt"))
    if ids is None or not ok:
        return None
    when = values.get("AccptncDtTm") or values.get("Dt")
    value_date = None
    if when:
        found = DATE.match(when)
        try:
            value_date = date.fromisoformat(found.group(1)) if found else None
        except ValueError:
            value_date = None
        if value_date is None:
            read.refuse(
                number,
                "date",
                "bad_date",
                f"Tanggal {shown(when, 30)} bukan tanggal ISO (TTTT-BB-HH).",
            )
            return None
    read.read += 1
    return OutcomeRow(
        row=number,
        end_to_end_id=ids[0],
        instruction_id=ids[1],
        status=status,
        amount_idr=amount,
        reference=(values.get("AcctSvcrRef") or values.get("StsId") or None),
        reason=("; ".join(reason_parts)[:200] or None),
        value_date=value_date,
    )
