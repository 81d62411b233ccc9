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
import re
from collections.abc import Sequence
from itertools import chain

from sqlalchemy.orm import Session

from lumbung.delivery.bank import items as batch_items
from lumbung.delivery.bank.header import FileHeader
from lumbung.delivery.bank.output import HashedFile
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


# Every name of a piece at once, each one a cell the CSV writer would leave as it is: in the
# bank character set already (`latin` keeps it), no comma (no quotes), and not starting with
# a character `safe_cell` guards.
_ALL_PLAIN = re.compile(
    r"(?:(?=[^\n]{1,140}\n)[A-Za-z0-9/?:().'][A-Za-z0-9/\-?:().'+]*(?: [A-Za-z0-9/\-?:().'+]+)*\n)*"
)


def _all_plain(names: Sequence[str | None]) -> bool:
    try:
        joined = "\n".join(names)  # type: ignore[arg-type]  # a None: TypeError
    except TypeError:
        return False
    return _ALL_PLAIN.fullmatch(joined + "\n") is not None and joined.count("\n") == len(names) - 1


def _line(cells: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def write(session: Session, header: FileHeader, out: HashedFile) -> batch_items.Digest:
    out.write(_line(COLUMNS).encode())
    # the cells every line shares, as the CSV writer quotes them, after the item's own
    bic, ref = header.partner_bic, safe_cell(latin(header.reference, 140))
    same = _line((bic, ref))
    template = "%s-%s,%s-%s-%s,%s,%s,%s," + same.replace("%", "%%")
    digest = batch_items.Digest()
    for chunk in batch_items.columns(session, header.batch_id):
        c, b, accounts = chunk.cycles, chunk.beneficiaries, chunk.accounts
        if _all_plain(chunk.names):  # ids, accounts and amounts never need quotes
            fields = zip(
                c, b, c, b, chunk.attempts, accounts, chunk.names, chunk.amounts, strict=True
            )
            text = template * len(c) % tuple(chain.from_iterable(fields))
        else:  # a name the CSV writer quotes or `safe_cell` guards: the piece by the writer
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\r\n").writerows(
                (f"{y}-{x}", f"{y}-{x}-{a}", account, safe_cell(latin(name, 140)), amount, bic, ref)
                for y, x, a, amount, account, name in zip(*chunk, strict=True)
            )
            text = buffer.getvalue()
        out.write(text.encode())
        digest.add_columns(chunk)
    return digest
