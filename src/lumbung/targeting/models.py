"""PMT models, scoring runs and the scores they gave each household of a release."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import ID, Base


class PmtModelRecord(Base):
    """A PMT model as it was used: name, version and the exact coefficients (by hash)."""

    __tablename__ = "pmt_model"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Scoring(Base):
    """One release scored with one model: where the scores file is, and its hash."""

    __tablename__ = "pmt_scoring"
    __table_args__ = (UniqueConstraint("release_id", "model_id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("release.id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("pmt_model.id"))
    engine: Mapped[str] = mapped_column(String(16))
    households: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))


class PmtScore(Base):
    """A household's predicted log consumption and desil in its regency, for one scoring."""

    __tablename__ = "pmt_score"
    # On PostgreSQL one partition per scoring, loaded bare and attached (partitions.py).
    __table_args__ = ({"postgresql_partition_by": "LIST (scoring_id)"},)

    scoring_id: Mapped[int] = mapped_column(ForeignKey("pmt_scoring.id"), primary_key=True)
    household_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kk_number: Mapped[str] = mapped_column(String(16))  # no index: a national load's cost
    regency_code: Mapped[str] = mapped_column(String(5))
    score: Mapped[float] = mapped_column(Float)
    decile: Mapped[int] = mapped_column(SmallInteger)
    rank_area: Mapped[int] = mapped_column(BigInteger)
