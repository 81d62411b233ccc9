"""Households, members, change requests, import batches and the duplicate review list."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    event,
    text,
    true,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, object_session
from sqlalchemy.sql.elements import ColumnElement

from lumbung.db import ID, Base, coded, identifier, utcnow
from lumbung.registry import vocab


class ImportBatch(Base):
    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(64))
    entry_status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Household(Base):
    __tablename__ = "household"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    kk_number: Mapped[str] = mapped_column(identifier(16), unique=True)
    village_code: Mapped[str] = mapped_column(String(13), ForeignKey("region.code"), index=True)
    # Derived from village_code and kept for scope filters and release partitions.
    district_code: Mapped[str] = mapped_column(identifier(8))
    regency_code: Mapped[str] = mapped_column(identifier(5), index=True)
    province_code: Mapped[str] = mapped_column(identifier(2))
    address: Mapped[str | None] = mapped_column(Text)
    rt: Mapped[str | None] = mapped_column(String(3))
    rw: Mapped[str | None] = mapped_column(String(3))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    floor_area_m2: Mapped[float] = mapped_column(Float)
    floor_material: Mapped[str] = coded("floor_material", vocab.FLOOR_MATERIAL)
    wall_material: Mapped[str] = coded("wall_material", vocab.WALL_MATERIAL)
    roof_material: Mapped[str] = coded("roof_material", vocab.ROOF_MATERIAL)
    toilet: Mapped[str] = coded("toilet", vocab.TOILET)
    water_source: Mapped[str] = coded("water_source", vocab.WATER_SOURCE)
    lighting: Mapped[str] = coded("lighting", vocab.LIGHTING)
    cooking_fuel: Mapped[str] = coded("cooking_fuel", vocab.COOKING_FUEL)
    tenure: Mapped[str] = coded("tenure", vocab.TENURE)
    owns_land: Mapped[bool] = mapped_column(Boolean)
    motorbikes: Mapped[int] = mapped_column(SmallInteger)
    has_car: Mapped[bool] = mapped_column(Boolean)
    has_refrigerator: Mapped[bool] = mapped_column(Boolean)
    has_air_conditioner: Mapped[bool] = mapped_column(Boolean)
    has_gold: Mapped[bool] = mapped_column(Boolean)
    large_livestock: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = coded("status", vocab.HOUSEHOLD_STATUS)
    status_reason: Mapped[str | None] = mapped_column(Text)
    import_batch_id: Mapped[int | None] = mapped_column(ID, ForeignKey("import_batch.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    # A keyed digest of the row's values (audit/seal.py): a direct edit in the database shows.
    seal: Mapped[str | None] = mapped_column(String(48))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index("ix_household_status_regency", "status", "regency_code"),
        # A reader's region as an equality on its level's column (`in_area`), answered from the
        # index alone: a name search joins the matching members' families to these ids.
        Index("ix_household_regency_id", "regency_code", "id"),
        Index("ix_household_district_code", "district_code"),
    )


class Member(Base):
    __tablename__ = "member"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    household_id: Mapped[int] = mapped_column(ID, ForeignKey("household.id"), index=True)
    nik: Mapped[str] = mapped_column(identifier(16), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # Compared byte by byte (the "C" collation on PostgreSQL, as identifiers are): a name search
    # is a range of the index below, on both databases (registry/views.py, search_families).
    name_normalised: Mapped[str] = mapped_column(identifier(100))
    # The family's regency, copied here so that a name search within a regency is one range of
    # one index (`ix_member_regency_name`) instead of every member of the nation with that
    # name. Derived, so not sealed (audit/seal.py): the search still checks the family's own
    # region, and a wrong copy could only hide a member from a search. Written by every writer
    # of members (the import, `proposals.new_member`) and moved with the family (`applying`).
    regency_code: Mapped[str] = mapped_column(identifier(5))
    sex: Mapped[str] = coded("sex", vocab.SEX)
    birth_date: Mapped[date] = mapped_column(Date)
    relationship: Mapped[str] = coded("relationship", vocab.RELATIONSHIP)
    marital_status: Mapped[str] = coded("marital_status", vocab.MARITAL_STATUS)
    education: Mapped[str] = coded("education", vocab.EDUCATION)
    school_level: Mapped[str] = coded("school_level", vocab.SCHOOL_LEVEL)
    occupation: Mapped[str] = coded("occupation", vocab.OCCUPATION)
    disability: Mapped[str] = coded("disability", vocab.DISABILITY)
    disability_severity: Mapped[str] = coded("disability_severity", vocab.DISABILITY_SEVERITY)
    pregnant: Mapped[bool] = mapped_column(Boolean)
    mother_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = coded("status", vocab.MEMBER_STATUS)
    dukcapil_match: Mapped[bool | None] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    # A keyed digest of the row's values (audit/seal.py): a direct edit in the database shows.
    seal: Mapped[str | None] = mapped_column(String(48))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        # A name search: the families of members whose name starts with what was typed, from
        # the index alone.
        Index("ix_member_name_normalised", "name_normalised", "household_id"),
        # ... and within a regency (or a district or village of it).
        Index("ix_member_regency_name", "regency_code", "name_normalised", "household_id"),
        # At most one active head per family, enforced by the database itself.
        Index(
            "uq_member_active_head",
            "household_id",
            unique=True,
            sqlite_where=text("relationship = 'kepala_keluarga' AND status = 'active'"),
            postgresql_where=text("relationship = 'kepala_keluarga' AND status = 'active'"),
        ),
    )


class ChangeRequest(Base):
    __tablename__ = "change_request"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = coded("kind", vocab.REQUEST_KINDS)
    household_id: Mapped[int] = mapped_column(ID, ForeignKey("household.id"), index=True)
    village_code: Mapped[str] = mapped_column(String(13), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    base_version: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = coded("state", vocab.REQUEST_STATES)
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    verified_by: Mapped[str | None] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)


class DuplicateReview(Base):
    """A NIK loaded twice with --allow-duplicates, waiting for a person to decide."""

    __tablename__ = "duplicate_review"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    nik: Mapped[str] = mapped_column(identifier(16), index=True)
    member_id: Mapped[int] = mapped_column(ID, ForeignKey("member.id"))
    other_member_id: Mapped[int | None] = mapped_column(ID, ForeignKey("member.id"))
    import_batch_id: Mapped[int | None] = mapped_column(ID, ForeignKey("import_batch.id"))
    state: Mapped[str] = coded("state", ("open", "resolved"))
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HouseholdDecision(Base):
    """A family decided in bulk (`registry.decisions`), and the audit event of that decision:
    the event names its families by count and the sha256 of their sorted ids, this says which
    they are, so that a family's history shows the decision (`registry.history`)."""

    __tablename__ = "household_decision"

    household_id: Mapped[int] = mapped_column(ID, ForeignKey("household.id"), primary_key=True)
    audit_event_id: Mapped[int] = mapped_column(
        ID, ForeignKey("audit_event.id"), primary_key=True, index=True
    )


def _written(connection: Connection, target: Household | Member, *, inserted: bool) -> None:
    """A row written through the ORM (a determination, a proposal): sealed as stored, and its
    status counted for the audit event that records it (audit/seal.py, audit/tally.py)."""
    from lumbung.audit import tally
    from lumbung.audit.seal import reseal

    reseal(connection, target.__tablename__, target.__table__.c.id == target.id)
    session = object_session(target)
    assert session is not None
    tally.written(session, target, inserted=inserted)


def _inserted(_mapper: Mapper[Any], connection: Connection, target: Household | Member) -> None:
    _written(connection, target, inserted=True)


def _updated(_mapper: Mapper[Any], connection: Connection, target: Household | Member) -> None:
    _written(connection, target, inserted=False)


for _model in (Household, Member):
    event.listen(_model, "after_insert", _inserted)
    event.listen(_model, "after_update", _updated)


# The column that holds a region code of each level, by the code's length ("32", "32.01",
# "32.01.01", "32.01.01.2001").
_LEVEL_COLUMNS = {2: "province_code", 5: "regency_code", 8: "district_code", 13: "village_code"}


def area_column(area: str) -> str:
    """The household column that holds region codes of `area`'s level (the village code for a
    code of no level: no region has such a code, so nothing matches)."""
    return _LEVEL_COLUMNS.get(len(area), "village_code")


def household_in_area(area: str | None) -> ColumnElement[bool]:
    """SQL: the family lies in `area` (a region code of any level; None = the nation), as an
    equality on the column of the area's level, which an index answers (a `LIKE '32.01.%'` on
    the village code cannot use one on PostgreSQL)."""
    if area is None:
        return true()
    return getattr(Household, area_column(area)) == area  # type: ignore[no-any-return]
