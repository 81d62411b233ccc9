"""Payment partners, the regions they serve, and families' payee accounts.

Apart from `delivery` because the registry applies a determined account change (a change
request of kind `update_account`) and delivery pays into accounts: both import these tables,
and this package imports nothing of either (no package cycle; tests/test_architecture.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import ID, Base, coded, identifier

CHANNELS = ("bank", "pos", "bpjs")
FILE_FORMATS = ("pain.001", "csv", "voucher", "bpjs")
ACCOUNT_STATES = ("active", "closed")


class Partner(Base):
    """A payment partner: a bank (Himbara), PT Pos, BPJS Kesehatan."""

    __tablename__ = "partner"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = coded("channel", CHANNELS)
    file_format: Mapped[str] = coded("file_format", FILE_FORMATS)
    bic: Mapped[str | None] = mapped_column(String(11))


class PartnerRegion(Base):
    """Which partner serves a region for a channel; the longest matching code wins, the empty
    code is the national default (BSI in Aceh, BRI elsewhere, for example)."""

    __tablename__ = "partner_region"
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    region_code: Mapped[str] = mapped_column(identifier(13), primary_key=True)
    partner_code: Mapped[str] = mapped_column(ForeignKey("partner.code"))


class PayeeAccount(Base):
    """A family's bank account (KKS), with history: a changed account closes the old row."""

    __tablename__ = "payee_account"
    __table_args__ = (
        Index(
            "uq_payee_account_active",
            "household_id",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    partner_code: Mapped[str] = mapped_column(ForeignKey("partner.code"))
    account_number: Mapped[str] = mapped_column(String(34))
    card_number: Mapped[str | None] = mapped_column(String(19))
    holder_nik: Mapped[str] = mapped_column(identifier(16))
    state: Mapped[str] = coded("state", ACCOUNT_STATES)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # where it came from: "opening:<id>" (a bank's answer), "request:<id>" (a change request)
    source: Mapped[str] = mapped_column(String(40))
