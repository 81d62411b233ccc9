"""Cycles, entitlements and enrollment in the operational database."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import ID, Base, coded

CYCLE_STATES = ("draft", "approved")
ENROLLMENT_STATES = ("enrolled", "graduated", "exited")


class Cycle(Base):
    """One run of a program on one release: who gets how much, frozen once approved."""

    __tablename__ = "cycle"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    label: Mapped[str] = mapped_column(String(64), unique=True)
    program_code: Mapped[str] = mapped_column(String(32), index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    definition_sha256: Mapped[str] = mapped_column(String(64))
    release_id: Mapped[int] = mapped_column(ForeignKey("release.id"))
    scoring_id: Mapped[int] = mapped_column(ForeignKey("pmt_scoring.id"))
    reference_date: Mapped[date] = mapped_column(Date)
    engine: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = coded("state", CYCLE_STATES)
    beneficiaries: Mapped[int] = mapped_column(BigInteger)
    total_idr: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(64))


class Entitlement(Base):
    """What one beneficiary is owed in one cycle (integer rupiah, with its components).

    On PostgreSQL the table is partitioned by cycle (`entitlement_p<cycle id>`): a cycle is
    loaded into a table of its own without indexes or per-row foreign-key checks, indexed and
    checked once, then attached, and a replaced draft is emptied at once (partitions.py).

    The key is what identifies an entitlement anyway, (cycle, beneficiary): one index to build
    for a national cycle's 95 M rows, and no numbering that would tie the rows to an order."""

    __tablename__ = "entitlement"
    __table_args__ = ({"postgresql_partition_by": "LIST (cycle_id)"},)

    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"), primary_key=True)
    # household or member id, by the program's unit
    beneficiary_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    household_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int | None] = mapped_column(BigInteger)
    # No index of its own: a family's rows are found by (cycle_id, beneficiary_id); each
    # index costs the bulk load of a national cycle minutes.
    kk_number: Mapped[str] = mapped_column(String(16))
    nik: Mapped[str | None] = mapped_column(String(16))
    regency_code: Mapped[str] = mapped_column(String(5))
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    # JSON {component: {"persons", "amount_idr"}} for a program of several components; NULL
    # for one of a single component (Sembako, PBI-JKN: 95 M rows of the same few words), whose
    # breakdown `components` derives from the amount.
    breakdown: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="entitled")


def components(entitlement: Entitlement, cycle: Cycle) -> dict[str, dict[str, int]]:
    """What the entitlement counts per component: `{name: {"persons", "amount_idr"}}`."""
    if entitlement.breakdown is not None:
        parts: dict[str, dict[str, int]] = json.loads(entitlement.breakdown)
        return parts
    ((name, unit_amount),) = cycle.summary["components"].items()  # one component, one unit
    amount = entitlement.amount_idr
    return {name: {"persons": amount // int(unit_amount), "amount_idr": amount}}


class Enrollment(Base):
    """A beneficiary's standing in a program, moved on by each approved cycle."""

    __tablename__ = "enrollment"
    __table_args__ = (UniqueConstraint("program_code", "beneficiary_id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    program_code: Mapped[str] = mapped_column(String(32))
    beneficiary_id: Mapped[int] = mapped_column(BigInteger)
    household_id: Mapped[int] = mapped_column(BigInteger, index=True)
    state: Mapped[str] = coded("state", ENROLLMENT_STATES)
    since_cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))
    last_cycle_id: Mapped[int] = mapped_column(ForeignKey("cycle.id"))
    reason: Mapped[str | None] = mapped_column(String(200))


def component_labels(definition: dict[str, Any]) -> dict[str, str]:
    """Each component's (or in-kind item's) label for people, from a stored definition."""
    benefit = definition.get("benefit") or {}
    parts = benefit.get("components") or benefit.get("items") or []
    return {str(p["name"]): str(p["label"]) for p in parts}
