"""A batch's items as a bank file needs them, streamed in beneficiary order, and the batch's
digest computed from the very rows written.

One statement reads every item with its account and the name to pay: the account holder's
(the member of the family with the account's NIK), else the head of the family's. The rows
come in chunks (`stream_results`); nothing builds an ORM object. `Digest` adds up what
`delivery.batches.batch_digest` adds up (count, total, sha256 of the canonical lines), so a
file is checked against the batch's frozen figures in the same pass that writes it: the file
is only put in place when they agree (tests/test_bank_files.py checks both give the same).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any, NamedTuple

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session, aliased

from lumbung import bulk
from lumbung.db import is_postgres
from lumbung.delivery.bank.header import ACCOUNT
from lumbung.delivery.models import PaymentItem
from lumbung.errors import Conflict
from lumbung.payees.models import PayeeAccount
from lumbung.registry.models import Member
from lumbung.registry.vocab import HEAD

CHUNK = 20_000
# The rows are formatted PIECE at a time: a piece's text (~400 kB of XML) stays in the
# processor's cache between being made, encoded, hashed and written (a whole chunk's, 8 MB,
# does not: measured 2.5 µs an item against 2.0).
PIECE = 1_000


# One item: (cycle_id, beneficiary_id, attempt, amount_idr, account_number, name to pay), as
# the database driver's row (no object made per row).
Item = Sequence[Any]


def stream(session: Session, batch_id: int) -> Iterator[Sequence[Item]]:
    """The batch's items in chunks of up to `CHUNK`, in beneficiary order."""
    holder = aliased(Member)
    head = aliased(Member)
    head_name = (
        select(head.name)
        .where(
            head.household_id == PaymentItem.household_id,
            head.relationship == HEAD,
            head.status == "active",
        )
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            PaymentItem.cycle_id,
            PaymentItem.beneficiary_id,
            PaymentItem.attempt,
            PaymentItem.amount_idr,
            PayeeAccount.account_number,
            # the head's name is looked up only for an account whose holder is not found
            func.coalesce(holder.name, head_name),
        )
        .join(PayeeAccount, PayeeAccount.id == PaymentItem.account_id, isouter=True)
        .join(
            holder,
            and_(
                holder.household_id == PaymentItem.household_id,
                holder.nik == PayeeAccount.holder_nik,
                holder.status == "active",
            ),
            isouter=True,
        )
        .where(PaymentItem.batch_id == batch_id)
        .order_by(PaymentItem.beneficiary_id)
    )
    if is_postgres(session):
        # A plan this size is over `jit_above_cost`: PostgreSQL would compile it to machine
        # code first, ~0.3 s of the backend's CPU for a file (measured: 1.24 s → 0.94 s for
        # 200,000 items), and the nested loop of index probes gains nothing from it.
        session.execute(text("SET LOCAL jit = off"))
    # The driver's own tuples, a chunk at a time (server-side on PostgreSQL): no ORM loading
    # and no Row object per item. On PostgreSQL the next chunk is fetched while the caller
    # writes this one (`bulk.ahead`): the server's join and Python's formatting overlap.
    yield from bulk.stream_ahead(session, query, CHUNK)


class Columns(NamedTuple):
    """A piece of a chunk as columns (the rows transposed, by `zip` in C): the writers format a
    piece with one `%` of an item's template repeated, not an f-string per item."""

    cycles: Sequence[int]
    beneficiaries: Sequence[int]
    attempts: Sequence[int]
    amounts: Sequence[int]
    accounts: Sequence[str]  # every one checked against `ACCOUNT`
    names: Sequence[str | None]


# Every account of a chunk at once: the accounts joined by line ends, each one `ACCOUNT`.
_ACCOUNTS = re.compile(r"(?:[0-9A-Za-z][0-9A-Za-z-]{0,33}\n)*")


def columns(session: Session, batch_id: int) -> Iterator[Columns]:
    """`stream`, a `PIECE` of a chunk at a time as `Columns`, every account checked
    (`ACCOUNT`): an item without an account, or with one a bank file may not carry, stops the
    file (`Conflict`)."""
    for chunk in stream(session, batch_id):
        for start in range(0, len(chunk), PIECE):
            piece = chunk[start : start + PIECE]
            found = Columns(*zip(*piece, strict=True))
            if not _all_accounts(found.accounts):
                for c, b, _, _, account, _ in piece:
                    if account is None or not ACCOUNT.fullmatch(account):
                        raise bad_account(c, b, account)
            yield found


def _all_accounts(accounts: Sequence[str | None]) -> bool:
    """Whether every account is one (one regular expression over the chunk, not one a row)."""
    try:
        joined = "\n".join(accounts)  # type: ignore[arg-type]  # a None: TypeError
    except TypeError:
        return False
    # an account holding a line end would pass as two: the line ends are counted too
    return (
        _ACCOUNTS.fullmatch(joined + "\n") is not None and joined.count("\n") == len(accounts) - 1
    )


def bad_account(cycle_id: int, beneficiary_id: int, account: str | None) -> Conflict:
    what = "tanpa rekening" if account is None else "dengan nomor rekening yang tidak sah"
    return Conflict(
        f"Pembayaran {cycle_id}-{beneficiary_id} dalam batch {what}; berkas tidak ditulis."
    )


class Digest:
    """Count, total and sha256 of a batch's canonical lines, as `batch_digest` makes them."""

    __slots__ = ("count", "sha", "total")

    # cycle-beneficiary-attempt,amount,account: `%s` gives what `batch_digest`'s f-string does
    LINE = "%s-%s-%s,%s,%s\n"

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.sha = hashlib.sha256()

    def add(self, items: Sequence[Item]) -> None:
        if items:
            c, b, a, amounts, accounts, _ = zip(*items, strict=True)
            self.add_columns(Columns(c, b, a, amounts, [x or "" for x in accounts], ()))

    def add_columns(self, chunk: Columns) -> None:
        n = len(chunk.amounts)
        lines = zip(
            chunk.cycles,
            chunk.beneficiaries,
            chunk.attempts,
            chunk.amounts,
            chunk.accounts,
            strict=True,
        )
        self.sha.update((self.LINE * n % tuple(chain.from_iterable(lines))).encode())
        self.count += n
        self.total += sum(chunk.amounts)

    def result(self) -> tuple[int, int, str]:
        return self.count, self.total, self.sha.hexdigest()
