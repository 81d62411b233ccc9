"""A linkage run, the pairs it sent to review, and the decisions remembered across runs.

A run (`LinkRun`) is one pass of the matching engine over a release; its files stay in its
folder (`pairs.py`). The pairs at or above the run's review weight whose two records are
registry members become `LinkPair` rows, each in the smallest region holding both members
(`region_code`; None when they live in different provinces: a national reader's). A verifier's
decision on a pair is remembered in `LinkDecision`, keyed by the two members (the smaller id
first), so that no later run asks about the same two people again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import ID, Base, coded, identifier, utcnow

RUN_KINDS = ("dedupe", "link")
RUN_STATES = ("running", "finished", "failed")
PAIR_STATES = ("pending", "same_person", "not_same", "field_visit")
DECISIONS = ("same_person", "not_same", "field_visit")


class LinkRun(Base):
    __tablename__ = "link_run"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    release_id: Mapped[int] = mapped_column(ID, ForeignKey("release.id"), index=True)
    kind: Mapped[str] = coded("kind", RUN_KINDS)
    # sha256 of the settings the engine ran with and of the trained model (model.json).
    settings_sha256: Mapped[str | None] = mapped_column(String(64))
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    # Pairs at or above this match weight (log2 odds) go to review.
    review_weight: Mapped[float] = mapped_column(Float)
    # The run's folder, relative to the data folder.
    folder: Mapped[str] = mapped_column(String(500))
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    clusters: Mapped[int] = mapped_column(BigInteger, default=0)
    pairs_scored: Mapped[int] = mapped_column(BigInteger, default=0)
    pairs_queued: Mapped[int] = mapped_column(BigInteger, default=0)
    pairs_known: Mapped[int] = mapped_column(BigInteger, default=0)  # decided in earlier runs
    actor: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = coded("state", RUN_STATES)


class LinkPair(Base):
    __tablename__ = "link_pair"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    run_id: Mapped[int] = mapped_column(ID, ForeignKey("link_run.id"))
    member_id_l: Mapped[int] = mapped_column(ID, ForeignKey("member.id"))
    member_id_r: Mapped[int] = mapped_column(ID, ForeignKey("member.id"), index=True)
    village_code_l: Mapped[str] = mapped_column(identifier(13))
    village_code_r: Mapped[str] = mapped_column(identifier(13))
    # The smallest region holding both villages (None: different provinces).
    region_code: Mapped[str | None] = mapped_column(identifier(13))
    match_weight: Mapped[float] = mapped_column(Float)
    match_probability: Mapped[float] = mapped_column(Float)
    # {"prior": weight, "comparisons": [{"name", "level", "weight"}, …]}
    waterfall: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = coded("state", PAIR_STATES)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    change_request_id: Mapped[int | None] = mapped_column(ID, ForeignKey("change_request.id"))

    __table_args__ = (
        UniqueConstraint("run_id", "member_id_l", "member_id_r", name="uq_link_pair_members"),
        Index("ix_link_pair_region_state", "region_code", "state"),
        Index("ix_link_pair_members", "member_id_l", "member_id_r"),
    )


class LinkDecision(Base):
    """A decision on two members, remembered: the smaller member id first."""

    __tablename__ = "link_decision"

    member_id_l: Mapped[int] = mapped_column(ID, ForeignKey("member.id"), primary_key=True)
    member_id_r: Mapped[int] = mapped_column(ID, ForeignKey("member.id"), primary_key=True)
    decision: Mapped[str] = coded("decision", DECISIONS)
    pair_id: Mapped[int] = mapped_column(ID, ForeignKey("link_pair.id"))
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
