"""Merging another registry: one row per export merged, one per record of it.

A merge (`LinkMerge`) is one export of another source (a regional government's list, another
ministry's registry) linked against the latest release with that release's trained model. Each
of its records (`LinkMergeRecord`) came out `matched` (one registry person: `member_id`, and the
fields that differ), `new` (nobody) or `conflicting` (several registry persons, or a registry
person several of its records matched), with the change request it led to, if any. The source
of a proposal is the merge's `source`; `proposal_key` says what the request does, so that a
later merge of the same source finds the request still open and does not propose it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.db import ID, Base, coded, identifier, utcnow

OUTCOMES = ("matched", "new", "conflicting")


class LinkMerge(Base):
    __tablename__ = "link_merge"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    # The source's name as the merger gave it (`--source`): what the report groups by.
    source: Mapped[str] = mapped_column(String(64))
    release_id: Mapped[int] = mapped_column(ID, ForeignKey("release.id"))
    # The run whose trained model scored the pairs (linkage/against_release.py).
    model_run_id: Mapped[int] = mapped_column(ID, ForeignKey("link_run.id"))
    sha256: Mapped[str] = mapped_column(String(64))  # of the export's files
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    folder: Mapped[str] = mapped_column(String(500))  # relative to the data folder
    actor: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str | None] = mapped_column(identifier(13), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    records: Mapped[int] = mapped_column(Integer)
    matched: Mapped[int] = mapped_column(Integer)
    new: Mapped[int] = mapped_column(Integer)
    conflicting: Mapped[int] = mapped_column(Integer)
    proposals: Mapped[int] = mapped_column(Integer)  # change requests proposed by this merge
    proposals_open: Mapped[int] = mapped_column(Integer)  # records whose request was open
    proposals_refused: Mapped[int] = mapped_column(Integer)
    proposals_deferred: Mapped[int] = mapped_column(Integer)
    outside: Mapped[int] = mapped_column(Integer)  # records outside the merger's region
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_link_merge_source", "source", "id"),)


class LinkMergeRecord(Base):
    __tablename__ = "link_merge_record"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    merge_id: Mapped[int] = mapped_column(ID, ForeignKey("link_merge.id"))
    row: Mapped[int] = mapped_column(Integer)  # in the export's members table (header: 1)
    kk_number: Mapped[str] = mapped_column(String(32))  # as the export wrote them
    nik: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = coded("outcome", OUTCOMES)
    member_id: Mapped[int | None] = mapped_column(ID, ForeignKey("member.id"), nullable=True)
    household_id: Mapped[int | None] = mapped_column(ID, ForeignKey("household.id"), nullable=True)
    candidates: Mapped[int] = mapped_column(Integer)  # registry persons at the match weight
    match_weight: Mapped[float | None] = mapped_column(Float, nullable=True)  # the strongest
    # the fields that differ (a matched record), comma-separated: "name,birth_date"; "" none
    differs: Mapped[str] = mapped_column(String(200), default="")
    proposal_key: Mapped[str | None] = mapped_column(String(120), nullable=True)
    change_request_id: Mapped[int | None] = mapped_column(
        ID, ForeignKey("change_request.id"), nullable=True
    )
    proposed: Mapped[bool] = mapped_column(default=False)  # the request was made by this merge
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    outside: Mapped[bool] = mapped_column(default=False)  # outside the merger's region
    # The record's place: the registry family's for a matched record, else the export's.
    village_code: Mapped[str | None] = mapped_column(identifier(13), nullable=True)
    regency_code: Mapped[str | None] = mapped_column(identifier(5), nullable=True)
    province_code: Mapped[str | None] = mapped_column(identifier(2), nullable=True)

    __table_args__ = (
        Index("uq_link_merge_record_merge_row", "merge_id", "row", unique=True),
        Index("ix_link_merge_record_merge_regency", "merge_id", "regency_code"),
        Index("ix_link_merge_record_proposal_key", "proposal_key"),
    )
