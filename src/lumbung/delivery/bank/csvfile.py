"""An approved batch in the CSV layout, for a bank that takes CSV (BTN in the seed).

One header and one line per item: `end_to_end_id` (the entitlement), `instruction_id` (the
attempt), `account_number`, `account_name` (the bank character set of `text`, as in the XML),
`amount_idr` (whole rupiah), `bank_bic`, `reference` (the cycle and batch, as the family's
statement shows it). No KK, NIK or address: the bank credits an account and needs nothing
else about the family. Every text cell is safe to open in a spreadsheet (`spreadsheets.safe_cell`);
the ids, amounts and account numbers are digits (and hyphens) by construction. UTF-8 without
a byte-order mark, RFC 4180 quoting and line ends.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session

from lumbung.delivery.bank import items as batch_items
from lumbung.delivery.bank.header import ACCOUNT, FileHeader
from lumbung.delivery.bank.output import HashedFile
from lumbung.delivery.bank.pain001 import _bad_account
from lumbung.delivery.bank.text import latin
from lumbung.spreadsheets import safe_cell

COLUMNS = (
    "end_to_end_id",
    "instruction_id",
    "account_number",
    "account_name",
    "amount_idr",
    "bank_bic",
    "reference",
)


def write(session: Session, header: FileHeader, out: HashedFile) -> batch_items.Digest:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    bic = header.partner_bic
    reference = safe_cell(latin(header.reference, 140))
    digest = batch_items.Digest()
    account_ok = ACCOUNT.fullmatch
    for chunk in batch_items.stream(session, header.batch_id):
        rows = []
        for c, b, a, amount, account, name in chunk:
            if account is None or not account_ok(account):
                raise _bad_account(c, b, account)
            rows.append(
                (
                    f"{c}-{b}",
                    f"{c}-{b}-{a}",
                    account,
                    safe_cell(latin(name, 140)),
                    amount,
                    bic,
                    reference,
                )
            )
        writer.writerows(rows)
        digest.add(chunk)
        out.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
    out.write(buffer.getvalue().encode())  # the header of an empty batch
    return digest
