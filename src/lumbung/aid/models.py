"""In-kind aid tables: programs, items and which program gives which item, imports and the
distributions they loaded."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import ID, Base, coded, identifier, utcnow

PROGRAM_KINDS = ("atensi", "relief")


class AidProgram(Base):
    """An in-kind program: ATENSI's three (hearing, sight, mobility) or disaster relief."""

    __tablename__ = "aid_program"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = coded("kind", PROGRAM_KINDS)


class AidItem(Base):
    """An item of the catalogue, with its reference value per unit in whole rupiah."""

    __tablename__ = "aid_item"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(40))
    unit_value_idr: Mapped[int] = mapped_column(
        BigInteger, CheckConstraint("unit_value_idr >= 0", name="unit_value_idr")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))


class AidItemProgram(Base):
    """Which programs give an item (a walker is Indonesia Melangkah's; a tent, relief's)."""

    __tablename__ = "aid_item_program"

    item_code: Mapped[str] = mapped_column(
        String(40), ForeignKey("aid_item.code"), primary_key=True
    )
    program_code: Mapped[str] = mapped_column(
        String(40), ForeignKey("aid_program.code"), primary_key=True
    )


class AidImport(Base):
    """One import that loaded distributions (an import with nothing new leaves no row)."""

    __tablename__ = "aid_import"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    distributions: Mapped[int] = mapped_column(Integer)
    value_idr: Mapped[int] = mapped_column(BigInteger)
    rows_sha256: Mapped[str] = mapped_column(String(64))
    reject_file: Mapped[str | None] = mapped_column(Text, nullable=True)


class AidDistribution(Base):
    """One handover: a program gave a person `quantity` units of an item on a day.

    Keyed by (program, NIK, item, day): see docs/ARCHITECTURE.md, "In-kind aid". The person's
    region (`home_village_code` and its parents) is their family's village when the NIK is an
    active member of the registry, else the village of the handover; reports and scope read it.
    """

    __tablename__ = "aid_distribution"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    program_code: Mapped[str] = mapped_column(String(40), ForeignKey("aid_program.code"))
    item_code: Mapped[str] = mapped_column(String(40), ForeignKey("aid_item.code"))
    nik: Mapped[str] = mapped_column(identifier(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    member_id: Mapped[int | None] = mapped_column(
        ID, ForeignKey("member.id"), nullable=True, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, CheckConstraint("quantity > 0", name="quantity"))
    unit_value_idr: Mapped[int] = mapped_column(
        BigInteger, CheckConstraint("unit_value_idr >= 0", name="unit_value_idr")
    )
    value_idr: Mapped[int] = mapped_column(BigInteger)
    distributed_on: Mapped[date] = mapped_column(Date)
    village_code: Mapped[str] = mapped_column(String(13), ForeignKey("region.code"))
    home_village_code: Mapped[str] = mapped_column(identifier(13))
    district_code: Mapped[str] = mapped_column(identifier(8))
    regency_code: Mapped[str] = mapped_column(identifier(5))
    province_code: Mapped[str] = mapped_column(identifier(2))
    import_id: Mapped[int] = mapped_column(ID, ForeignKey("aid_import.id"), index=True)

    __table_args__ = (
        CheckConstraint("value_idr = quantity * unit_value_idr", name="value_idr"),
        UniqueConstraint(
            "program_code", "nik", "item_code", "distributed_on", name="uq_aid_distribution_key"
        ),
        Index("ix_aid_distribution_regency", "regency_code", "program_code"),
    )
