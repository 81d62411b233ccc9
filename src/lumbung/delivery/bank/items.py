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
from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from lumbung import bulk
from lumbung.delivery.models import PaymentItem
from lumbung.payees.models import PayeeAccount
from lumbung.registry.models import Member
from lumbung.registry.vocab import HEAD

CHUNK = 20_000
_AMOUNT = itemgetter(3)


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
    # The driver's own tuples, a chunk at a time (server-side on PostgreSQL): no ORM loading
    # and no Row object per item. On PostgreSQL the next chunk is fetched while the caller
    # writes this one (`bulk.ahead`): the server's join and Python's formatting overlap.
    yield from bulk.stream_ahead(session, query, CHUNK)


class Digest:
    """Count, total and sha256 of a batch's canonical lines, as `batch_digest` makes them."""

    __slots__ = ("count", "sha", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.sha = hashlib.sha256()

    def add(self, items: Sequence[Item]) -> None:
        self.sha.update(
            "".join(
                f"{c}-{b}-{a},{amount},{account or ''}\n" for c, b, a, amount, account, _ in items
            ).encode()
        )
        self.count += len(items)
        self.total += sum(map(_AMOUNT, items))

    def result(self) -> tuple[int, int, str]:
        return self.count, self.total, self.sha.hexdigest()
