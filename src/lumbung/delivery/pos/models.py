"""PT Pos tables: a voucher per attempt of an approved pos batch, and counters' tokens."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import ID, Base, coded, identifier

VOUCHER_STATES = ("issued", "redeemed")
REDEMPTION_KINDS = ("online", "offline")


class Voucher(Base):
    """One attempt of a pos batch as a voucher: what its signed token says (the token itself is
    not stored: Ed25519 signatures are deterministic, so a letter printed again carries the same
    code), and its redemption once a counter pays it.

    `redemption_mac` is a keyed digest of the redemption (voucher, attempt, amount, time,
    counter) under the key file: it vouches for the `paid` event while that event awaits its
    seal in the audit chain (`pos.sealing`)."""

    __tablename__ = "voucher"
    __table_args__ = (UniqueConstraint("cycle_id", "beneficiary_id", "attempt"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payment_batch.id"), index=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))
    beneficiary_id: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[int] = mapped_column(BigInteger)
    village_code: Mapped[str] = mapped_column(identifier(13))
    partner_code: Mapped[str] = mapped_column(ForeignKey("partner.code"))
    nik: Mapped[str] = mapped_column(identifier(16))  # the recipient's (the head's for a family)
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str] = mapped_column(String(8))
    expires_on: Mapped[date] = mapped_column(Date)
    home_delivery: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = coded("state", VOUCHER_STATES)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[str] = mapped_column(String(64))
    redeemed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counter: Mapped[str | None] = mapped_column(String(64))  # PARTNER/COUNTER
    partner_token_id: Mapped[int | None] = mapped_column(BigInteger)
    redemption: Mapped[str | None] = mapped_column(String(8))  # online | offline
    redemption_mac: Mapped[str | None] = mapped_column(String(48))


class PartnerToken(Base):
    """A partner's machine (a PT Pos counter) allowed to redeem vouchers: `lmc_<prefix>_<secret>`,
    stored as the SHA-256 of the whole token, bound to its partner, a counter id and optionally
    a region (vouchers of families outside it are refused)."""

    __tablename__ = "partner_token"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    partner_code: Mapped[str] = mapped_column(ForeignKey("partner.code"))
    counter: Mapped[str] = mapped_column(String(40))
    region_code: Mapped[str | None] = mapped_column(identifier(13))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
