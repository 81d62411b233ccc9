"""Delivery tables: account openings, payment batches, their items and the ledger (partners
and payee accounts: `payees.models`).

The ledger is `payment_event`: append-only, one row per thing that happened to one attempt at
paying one entitlement (batched, paid, failed, returned, cancelled). `payment_item.state` is
the attempt's state as its events leave it, kept in the same transaction for the queries
that need it (which entitlements are in flight); `delivery.ledger.check_cycle` recomputes it
from the events and says where the two disagree.

`payment_item.live` says whether the attempt holds its entitlement (pending or paid; a check
constraint keeps it equal to that). The unique index that keeps an entitlement in at most one
live attempt is on `live`, not on `state`: recording a payment (pending → paid, the common
answer) changes no indexed column, so PostgreSQL updates the row in place on its page (a HOT
update: no new index entry), for which the table leaves half of each page free
(`fillfactor` 50: a status file may answer every row of a page at once).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import ID, Base, coded, identifier
from lumbung.payees.models import CHANNELS

OPENING_ROW_STATES = ("requested", "opened", "failed")
BATCH_STATES = ("draft", "approved", "cancelled")
# An attempt's state. `pending`: in a batch, no answer yet. An entitlement with an attempt in
# `pending` or `paid` is in flight (or done) and cannot enter another batch.
ITEM_STATES = ("pending", "paid", "failed", "returned", "cancelled")
LIVE_ITEM_STATES = ("pending", "paid")
# Room left on each page of `payment_item` (PostgreSQL) for the new versions of its rows when a
# status file moves them: half, as a file may answer every attempt on a page.
ITEM_FILLFACTOR = 50
LIVE_CHECK = "live = (state = 'pending' OR state = 'paid')"
EVENT_KINDS = ("batched", "paid", "failed", "returned", "cancelled")


class AccountOpening(Base):
    """A collective account opening (burekol) sent to one bank for one cycle's families."""

    __tablename__ = "account_opening"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    partner_code: Mapped[str] = mapped_column(ForeignKey("partner.code"))
    requested: Mapped[int] = mapped_column(BigInteger)
    opened: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))


class AccountOpeningRow(Base):
    """One family in an opening, and what the bank answered."""

    __tablename__ = "account_opening_row"
    opening_id: Mapped[int] = mapped_column(ForeignKey("account_opening.id"), primary_key=True)
    household_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kk_number: Mapped[str] = mapped_column(identifier(16))
    nik: Mapped[str] = mapped_column(identifier(16))
    state: Mapped[str] = coded("state", OPENING_ROW_STATES)
    reason: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PaymentBatch(Base):
    """Entitlements of one cycle sent together to one partner through one channel.

    A draft may be cancelled; approval by a second person freezes it: its count, total and
    sha256 (of its items in a canonical form) never change afterwards."""

    __tablename__ = "payment_batch"
    __table_args__ = (
        UniqueConstraint("cycle_id", "number"),
        # What an item's or event's key (batch, cycle) points at: one check per row proves
        # both that the batch exists and that the row is of the batch's cycle.
        Index("uq_payment_batch_id_cycle", "id", "cycle_id", unique=True),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … within the cycle
    channel: Mapped[str] = coded("channel", CHANNELS)
    partner_code: Mapped[str] = mapped_column(ForeignKey("partner.code"))
    count: Mapped[int] = mapped_column(BigInteger)
    total_idr: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = coded("state", BATCH_STATES)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(String(64))


class PaymentItem(Base):
    """One attempt at paying one entitlement, in one batch.

    The end-to-end id a bank carries back is the entitlement's id (`<cycle>-<beneficiary>`);
    the instruction id adds the attempt (`<cycle>-<beneficiary>-<attempt>`), so a status line
    of an earlier attempt never settles a later one."""

    __tablename__ = "payment_item"
    __table_args__ = (
        # An entitlement is in at most one live attempt (pending or paid), on both databases.
        # On `live`, not on `state`: a payment recorded (pending → paid) leaves `live` as it
        # was, so no indexed column changes and the update is HOT (module docstring).
        Index(
            "uq_payment_item_live",
            "cycle_id",
            "beneficiary_id",
            unique=True,
            sqlite_where=text("live"),
            postgresql_where=text("live"),
        ),
        # An OR chain, not IN (…): SQLite makes a temporary index per IN list (`db.coded`).
        CheckConstraint(LIVE_CHECK, name="live_state"),
        UniqueConstraint("cycle_id", "beneficiary_id", "attempt"),
        # A family's payments (its page, `delivery.family`): from the family to every cycle.
        Index("ix_payment_item_household_id", "household_id"),
        # The batch and, through it, the cycle (a cycle's row-by-row check less per item).
        ForeignKeyConstraint(
            ["batch_id", "cycle_id"],
            ["payment_batch.id", "payment_batch.cycle_id"],
            name="fk_payment_item_batch_id_payment_batch",
        ),
        {"postgresql_with": {"fillfactor": ITEM_FILLFACTOR}},
    )
    batch_id: Mapped[int] = mapped_column(ID, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ID)
    attempt: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[int] = mapped_column(BigInteger)
    kk_number: Mapped[str] = mapped_column(identifier(16))
    nik: Mapped[str | None] = mapped_column(identifier(16))
    regency_code: Mapped[str] = mapped_column(identifier(5))
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("payee_account.id"))
    state: Mapped[str] = coded("state", ITEM_STATES)
    live: Mapped[bool] = mapped_column(Boolean)  # state is pending or paid


class PaymentEvent(Base):
    """The ledger: what happened to one attempt, appended, never changed.

    At most one event of each kind per attempt: a status file imported twice finds its events
    there and adds nothing. Each import or decision writes one audit event naming its payment
    events by count and sha256 (`delivery.ledger`), so the ledger is in the audit chain."""

    __tablename__ = "payment_event"
    __table_args__ = (
        UniqueConstraint("cycle_id", "beneficiary_id", "attempt", "kind"),
        # No foreign key (migration 0020): every event is made from its attempt's row in the
        # same statement (`ledger.items_as_events`, the judged rows of a status file, a
        # redemption's UPDATE … RETURNING), and the attempt's own key names the batch; a
        # trigger per event checked it again, row by row. `cycle check` joins the events to
        # their attempts (batch included) in one pass instead.
        # Online redemptions awaiting their group seal (`delivery.pos.sealing`): found
        # without reading the ledger, which only ever holds a few of them.
        Index(
            "ix_payment_event_awaiting_seal",
            "cycle_id",
            "id",
            sqlite_where=text("source = 'pos:awaiting-seal'"),
            postgresql_where=text("source = 'pos:awaiting-seal'"),
        ),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ID)
    beneficiary_id: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    # No index of its own (one entry less per event): nothing reads the ledger by batch, and
    # the rare deletion of an emptied draft finds its events by the cycle's unique key.
    batch_id: Mapped[int] = mapped_column(ID)
    kind: Mapped[str] = coded("kind", EVENT_KINDS)
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str | None] = mapped_column(String(64))  # the partner's reference
    reason: Mapped[str | None] = mapped_column(String(200))
    value_date: Mapped[date | None] = mapped_column(Date)  # when the partner says it happened
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(80))  # "batch:<id>", "file:<sha256>", …
    actor: Mapped[str] = mapped_column(String(64))
