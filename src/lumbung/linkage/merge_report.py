"""What each source added, per region: records matched (and of them with a field that differs),
new, conflicting, and the change requests proposed, per province or regency; the merges listed.

Each source counts by its latest merge (a source merged again this month replaces last month's
counts), or by one merge when asked. A record's region is its registry family's when matched,
else the export's family's; a record without a readable village is counted under no region
(`-`). Counts only, naming no one: every role reads it, within its region. matched + new +
conflicting = records, in every row and in the total; the total is the sum of the rows.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action, entitled_to_identity
from lumbung.auth.service import authorize, reading_area
from lumbung.errors import NotFound, ValidationFailed
from lumbung.identity.masking import mask_id
from lumbung.linkage.merge_models import OUTCOMES, LinkMerge, LinkMergeRecord
from lumbung.paging import Page, check_window
from lumbung.regions.service import region_names
from lumbung.spreadsheets import safe_cell, workbook_bytes

LEVELS = ("province", "regency")
HIDDEN_NOTE = "Usulan tidak dibuat (alasan disembunyikan: memuat data pribadi)."
REFUSED_NOTE = "Usulan tidak dibuat"  # merge_proposals' note of a refused proposal
MEASURES = (
    "records",
    "matched",
    "matched_differing",
    "new",
    "conflicting",
    "proposed",
    "proposals_open",
    "outside",
)
HEADINGS = {
    "records": "baris",
    "matched": "cocok",
    "matched_differing": "cocok_beda",
    "new": "baru",
    "conflicting": "konflik",
    "proposed": "diusulkan",
    "proposals_open": "usulan_terbuka",
    "outside": "di_luar_wilayah",
}
LABELS = {
    "records": "Baris anggota ekspor (penggabungan terakhir tiap sumber).",
    "matched": "Cocok dengan satu orang di registry.",
    "matched_differing": "Di antara yang cocok: ada kolom yang berbeda (nama, NIK, tanggal "
    "lahir, jenis kelamin, KK atau desa).",
    "new": "Tidak ada di registry: yang ditambahkan sumber ini.",
    "conflicting": "Cocok dengan beberapa orang registry (atau beberapa baris cocok dengan satu "
    "orang): tidak diusulkan.",
    "proposed": "Baris yang usulan perubahannya dibuat oleh penggabungan ini.",
    "proposals_open": "Baris yang usulannya sudah dibuat penggabungan sebelumnya dan masih "
    "terbuka.",
    "outside": "Di luar wilayah penggabung: dihitung, tidak diusulkan.",
}


@dataclass(frozen=True, slots=True)
class MergeRow:
    source: str
    region_code: str
    region_name: str
    counts: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "region_code": self.region_code,
            "region_name": self.region_name,
            **self.counts,
        }


@dataclass(frozen=True, slots=True)
class MergeReport:
    level: str
    region: str | None
    merges: list[int]  # the merges counted
    total: dict[str, int]
    rows: list[MergeRow]
    labels: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "region": self.region,
            "merges": self.merges,
            "total": self.total,
            "rows": [r.as_dict() for r in self.rows],
            "labels": self.labels,
        }


def _measures() -> tuple[Any, ...]:
    r = LinkMergeRecord

    def count(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return (
        func.count(),
        count(r.outcome == "matched"),
        count((r.outcome == "matched") & (r.differs != "")),
        count(r.outcome == "new"),
        count(r.outcome == "conflicting"),
        count(r.proposed.is_(True)),
        count(r.proposed.is_(False) & r.change_request_id.is_not(None)),
        count(r.outside.is_(True)),
    )


def _in_area(area: str | None) -> ColumnElement[bool]:
    if area is None:
        return true()
    column = {2: LinkMergeRecord.province_code, 5: LinkMergeRecord.regency_code}.get(len(area))
    if column is None:  # a district or a village: its records by their village code
        return LinkMergeRecord.village_code.startswith(area)
    return column == area


def _merges(session: Session, merge_id: int | None, source: str | None) -> list[int]:
    if merge_id is not None:
        if session.get(LinkMerge, merge_id) is None:
            raise NotFound(f"Penggabungan {merge_id} tidak ada.")
        return [merge_id]
    query = select(func.max(LinkMerge.id)).group_by(LinkMerge.source)
    if source is not None:
        query = query.where(LinkMerge.source == source)
    return sorted(int(i) for i in session.execute(query).scalars())


def merge_report(
    session: Session,
    actor: User,
    *,
    region: str | None = None,
    level: str | None = None,
    merge_id: int | None = None,
    source: str | None = None,
) -> MergeReport:
    """Per source and region, what the latest merge of each source (or `merge_id`, or the
    latest of `source`) found and proposed, within the reader's region."""
    authorize(actor, Action.READ)
    area = reading_area(actor, region)
    if level is not None and level not in LEVELS:
        raise ValidationFailed(f"Tingkat {level!r} tidak dikenal; pilihan: {', '.join(LEVELS)}.")
    rows_level = level or ("province" if area is None else "regency")
    merges = _merges(session, merge_id, source)
    r = LinkMergeRecord
    column = r.province_code if rows_level == "province" else r.regency_code
    where = [r.merge_id.in_(merges), _in_area(area)] if merges else [r.id.is_(None)]
    grouped = session.execute(
        select(LinkMerge.source, column, *_measures())
        .join(LinkMerge, LinkMerge.id == r.merge_id)
        .where(*where)
        .group_by(LinkMerge.source, column)
        .order_by(LinkMerge.source, column)
    ).all()
    names = region_names(session, actor, codes={str(g[1]) for g in grouped if g[1]})
    rows = [
        MergeRow(
            str(g[0]),
            str(g[1] or "-"),
            names.get(str(g[1]), "") if g[1] else "(tanpa wilayah)",
            dict(zip(MEASURES, (int(v) for v in g[2:]), strict=True)),
        )
        for g in grouped
    ]
    total = {m: sum(row.counts[m] for row in rows) for m in MEASURES}
    return MergeReport(rows_level, area, merges, total, rows, dict(LABELS))


@dataclass(frozen=True, slots=True)
class MergeView:
    """A merge as the lists show it (counts; no one named)."""

    id: int
    source: str
    release_id: int
    model_run_id: int
    sha256: str
    actor: str
    region_code: str | None
    at: datetime
    counts: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "release_id": self.release_id,
            "model_run_id": self.model_run_id,
            "sha256": self.sha256,
            "actor": self.actor,
            "region_code": self.region_code,
            "at": self.at.isoformat(),
            **self.counts,
        }


COUNTED = (
    "records",
    "matched",
    "new",
    "conflicting",
    "proposals",
    "proposals_open",
    "proposals_refused",
    "proposals_deferred",
    "outside",
)


def _view(merge: LinkMerge) -> MergeView:
    return MergeView(
        merge.id,
        merge.source,
        merge.release_id,
        merge.model_run_id,
        merge.sha256,
        merge.actor,
        merge.region_code,
        merge.at,
        {name: int(getattr(merge, name)) for name in COUNTED},
    )


def list_merges(session: Session, actor: User, *, source: str | None = None) -> list[MergeView]:
    """Every merge (of `source`), newest first: counts only, any reader."""
    authorize(actor, Action.READ)
    query = select(LinkMerge).order_by(LinkMerge.id.desc())
    if source is not None:
        query = query.where(LinkMerge.source == source)
    return [_view(m) for m in session.execute(query).scalars()]


def _table(report: MergeReport) -> list[list[Any]]:
    lines: list[list[Any]] = [["sumber", "kode_wilayah", "nama_wilayah", *HEADINGS.values()]]
    for row in report.rows:
        lines.append([row.source, row.region_code, row.region_name, *row.counts.values()])
    lines.append(["*", "*", f"jumlah {report.region or 'nasional'}", *report.total.values()])
    return lines


def report_csv(report: MergeReport) -> str:
    """One line per source and region, then the total; cells safe against formulas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for line in _table(report):
        writer.writerow([safe_cell(v) if isinstance(v, str) else v for v in line])
    return out.getvalue()


def report_xlsx(report: MergeReport) -> bytes:
    """The report as a workbook: `wilayah` (as the CSV) and `keterangan` (what each counts)."""

    sheets = {
        "wilayah": _table(report),
        "keterangan": [[HEADINGS[k], text] for k, text in report.labels.items()],
    }
    return workbook_bytes(sheets)


def _note(note: str | None, full: bool) -> str | None:
    """A refusal of the workflow's checks quotes NIKs and names: hidden from an auditor."""
    if note is None or full or not note.startswith(REFUSED_NOTE):
        return note
    return HIDDEN_NOTE


@dataclass(frozen=True, slots=True)
class MergeRecordView:
    """One record of a merge: its outcome, what differs and what was proposed. NIK and KK as
    the export wrote them, masked for readers not entitled to identities (an auditor), as is
    a note that may quote them (a refusal of the workflow's checks)."""

    row: int
    kk_number: str
    nik: str
    outcome: str
    member_id: int | None
    candidates: int
    match_weight: float | None
    differs: list[str]
    change_request_id: int | None
    proposed: bool
    outside: bool
    note: str | None
    village_code: str | None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def merge_records(
    session: Session,
    actor: User,
    *,
    merge_id: int,
    outcome: str | None = None,
    region: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[MergeRecordView]:
    """A merge's records in the export's order, within the reader's region (a record without
    a readable village only for a national reader), optionally of one outcome."""
    authorize(actor, Action.READ)
    check_window(limit, offset)
    if session.get(LinkMerge, merge_id) is None:
        raise NotFound(f"Penggabungan {merge_id} tidak ada.")
    if outcome is not None and outcome not in OUTCOMES:
        raise ValidationFailed(f"Hasil {outcome!r} tidak dikenal; pilihan: {', '.join(OUTCOMES)}.")
    area = reading_area(actor, region)
    r = LinkMergeRecord
    where: list[ColumnElement[bool]] = [r.merge_id == merge_id, _in_area(area)]
    if outcome is not None:
        where.append(r.outcome == outcome)
    total = session.execute(select(func.count()).select_from(r).where(*where)).scalar_one()
    rows = session.execute(
        select(r).where(*where).order_by(r.row).limit(limit).offset(offset)
    ).scalars()
    full = entitled_to_identity(actor.role)
    items = [
        MergeRecordView(
            row=record.row,
            kk_number=record.kk_number if full else mask_id(record.kk_number),
            nik=record.nik if full else mask_id(record.nik, distinct=True),
            outcome=record.outcome,
            member_id=record.member_id,
            candidates=record.candidates,
            match_weight=record.match_weight,
            differs=[f for f in record.differs.split(",") if f],
            change_request_id=record.change_request_id,
            proposed=record.proposed,
            outside=record.outside,
            note=_note(record.note, full),
            village_code=record.village_code,
        )
        for record in rows
    ]
    return Page(items, int(total), limit, offset)
