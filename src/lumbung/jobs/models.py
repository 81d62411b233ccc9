"""A job: what was asked, by whom, how far it got, and what came out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import Base, coded, utcnow

JOB_STATES = ("queued", "running", "succeeded", "failed")


class Job(Base):
    __tablename__ = "job"

    # A random UUID (hex): job ids appear in addresses and say nothing of how many there are.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # What to do: import, release, score, cycle_run, … (jobs/kinds.py).
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = coded("state", JOB_STATES)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # The way it was asked for (web, api, cli) and the region of the asker, for who may see it.
    channel: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str | None] = mapped_column(String(13))
    # Progress: `done` of `total` (total NULL while unknown) and a line saying what is under way.
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # On failure: {"code": ..., "message": ...} in the words of the CLI's errors.
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    log: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A running job's worker writes this every few seconds; a job whose worker stopped
    # writing it is failed by the next worker that looks (a worker killed mid-job).
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_job_state_created_at", "state", "created_at"),)
