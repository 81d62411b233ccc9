"""Simulations (policy scenarios) in the operational database, apart from cycles.

A simulation never touches `cycle`, `entitlement`, `enrollment` or `program`: its own row
holds the scenario as run (each program's changed definition, the release, the model, the
baseline) and its aggregate results (small: per program, province, regency and desil), and
its per-family rows lie in Parquet files in its folder under `simulations/` in the data
folder (the size of a cycle: millions of rows). Deleting a simulation removes both.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import ID, Base, coded

BASELINE_KINDS = ("definitions", "cycle")


class Simulation(Base):
    """One scenario run against a release and a PMT model, compared with a baseline."""

    __tablename__ = "simulation"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    label: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    release_id: Mapped[int] = mapped_column(ForeignKey("release.id"))
    scoring_id: Mapped[int] = mapped_column(ForeignKey("pmt_scoring.id"))
    reference_date: Mapped[date] = mapped_column(Date)
    engine: Mapped[str] = mapped_column(String(16))
    baseline: Mapped[str] = coded("baseline", BASELINE_KINDS)
    # The approved cycle compared against (baseline "cycle", one program), else NULL.
    baseline_cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycle.id"))
    # The scenario as given and as run: each program's changes and changed definition.
    scenario: Mapped[dict[str, Any]] = mapped_column(JSON)
    beneficiaries: Mapped[int] = mapped_column(BigInteger)
    total_year_idr: Mapped[int] = mapped_column(BigInteger)
    baseline_year_idr: Mapped[int] = mapped_column(BigInteger)
    # The aggregates (simulation/results.py) and the folder of the per-family files.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
