"""Civil registry matching tables: one row per extract imported, one per member marked."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import ID, Base, coded, identifier, utcnow

OUTCOMES = ("matched", "mismatched", "deceased", "not_found")
# The fields a mismatch names, in the order the report shows them.
FIELDS = ("nik", "name", "birth_date", "sex", "kk_number")


class CivilImport(Base):
    """One extract of the civil registry, imported once (its sha256 is unique: the same file
    again changes nothing), with the counts of its outcomes."""

    __tablename__ = "civil_import"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The area the extract covers (None: the nation): its members are the ones marked.
    region_code: Mapped[str | None] = mapped_column(identifier(13), nullable=True)
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)
    members: Mapped[int] = mapped_column(Integer)
    matched: Mapped[int] = mapped_column(Integer)
    mismatched: Mapped[int] = mapped_column(Integer)
    deceased: Mapped[int] = mapped_column(Integer)
    not_found: Mapped[int] = mapped_column(Integer)
    proposals: Mapped[int] = mapped_column(Integer)
    reject_file: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The first problems of the file and the counts, as the import answered them.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


class CivilMatch(Base):
    """A member as one import found them. `extract_nik`: the NIK the civil registry holds for
    the person when it is not the registry's (found by KK, name and birth date); the region is
    the family's at the import, for the report."""

    __tablename__ = "civil_match"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    import_id: Mapped[int] = mapped_column(ID, ForeignKey("civil_import.id"))
    member_id: Mapped[int] = mapped_column(ID, ForeignKey("member.id"), index=True)
    household_id: Mapped[int] = mapped_column(ID, ForeignKey("household.id"))
    outcome: Mapped[str] = coded("outcome", OUTCOMES)
    nik_differs: Mapped[bool] = mapped_column(Boolean)
    name_differs: Mapped[bool] = mapped_column(Boolean)
    birth_date_differs: Mapped[bool] = mapped_column(Boolean)
    # The birth date differs only by day and month swapped (a case of `birth_date_differs`).
    birth_date_swapped: Mapped[bool] = mapped_column(Boolean)
    sex_differs: Mapped[bool] = mapped_column(Boolean)
    kk_differs: Mapped[bool] = mapped_column(Boolean)
    extract_nik: Mapped[str | None] = mapped_column(identifier(16), nullable=True)
    death_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    change_request_id: Mapped[int | None] = mapped_column(
        ID, ForeignKey("change_request.id"), nullable=True
    )
    # Why no change request was proposed where one would be (the workflow's checks refused it).
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    village_code: Mapped[str] = mapped_column(identifier(13))
    district_code: Mapped[str] = mapped_column(identifier(8))
    regency_code: Mapped[str] = mapped_column(identifier(5))
    province_code: Mapped[str] = mapped_column(identifier(2))

    __table_args__ = (
        Index("uq_civil_match_import_member", "import_id", "member_id", unique=True),
        Index("ix_civil_match_import_regency", "import_id", "regency_code"),
    )
