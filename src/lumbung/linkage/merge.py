"""`lumbung link merge`: another registry's export linked against the latest release, each
record matched, new or conflicting, and the matched and new ones proposed as change requests.

The flow: the export's two tables in the exchange format (docs/FORMATS.md: households and
members, CSV or one XLSX; `registry.batch_files.open_batch` finds and checks them) → the latest
release and its trained model (`against_release.latest_trained_release`; a release without a
run is refused) → the export's members as comparison records, linked against the release's by
the matching engine with that model (`engine.link`, nothing trained again) → per record the
registry members at or above the model's match weight: one is `matched` (with the fields that
differ from the registry as it is now), none `new`, several `conflicting` (a registry person
matched by several records of the export is conflicting too: which one is them is not known)
→ the change requests (`merge_proposals.py`: at most `MAX_PROPOSALS` per merge, none twice)
→ one merge row, one row per record, one audit event. A failure anywhere rolls the caller's
transaction back (the merge's folder stays, for the engine's log).

Who: an admin of the nation, a province or a regency (`Action.MERGE_REGISTRY`), as for a civil
registry extract and for the same reasons: exports come from a regional government or another
ministry under a data-sharing agreement, which an admin handles (an admin already imports and
migrates registries), and the merge proposes changes under the merger's name: a verifier who
merged would then verify their own proposals. Records whose place lies outside the merger's
region are linked and counted, never proposed (`outside`).
"""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action, in_scope
from lumbung.auth.service import authorize
from lumbung.errors import PermissionDenied, ValidationFailed
from lumbung.linkage import against_release, merge_proposals
from lumbung.linkage.merge_models import LinkMerge, LinkMergeRecord
from lumbung.registry.batch_files import open_batch
from lumbung.registry.errors import BatchFileError
from lumbung.registry.models import Household, Member
from lumbung.registry.scratch import scratch_dir

MERGE_DIR = "linkage"
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# The member fields a matched record may propose to correct (its own values); a KK or a village
# that differs is listed, not proposed: a family that moved is another process.
PROPOSED_FIELDS = ("name", "nik", "birth_date", "sex")
COMPARED_FIELDS = (*PROPOSED_FIELDS, "kk_number", "village_code")
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")
CHUNK = 1000
Progress = Callable[[str], None]
STEPS = ("membaca ekspor", "mencocokkan", "mengusulkan", "mencatat")


@dataclass(slots=True)
class SourceRecord:
    """One member row of the export, with its family's row, as the export wrote them."""

    row: int
    cells: dict[str, str]  # the member's cells (exchange format columns)
    household: dict[str, str] | None  # its family's cells (None: no row with its KK)
    kk_number: str
    nik: str
    outcome: str = "new"
    member_id: int | None = None
    household_id: int | None = None
    # the matched member's NIK, family KK and family version now (what a proposal names)
    registry_nik: str | None = None
    registry_kk: str | None = None
    registry_version: int | None = None
    candidates: int = 0
    match_weight: float | None = None
    differs: list[str] = field(default_factory=list)
    changes: dict[str, str] = field(default_factory=dict)  # field → the export's value
    village_code: str | None = None
    outside: bool = False
    note: str | None = None
    proposal_key: str | None = None
    change_request_id: int | None = None
    proposed: bool = False


@dataclass(slots=True)
class MergeSummary:
    merge_id: int
    source: str
    release: str
    model_run: int
    records: int = 0
    matched: int = 0
    matched_differing: int = 0  # of the matched, those with a field that differs
    new: int = 0
    conflicting: int = 0
    outside: int = 0
    proposals: int = 0  # change requests proposed now
    proposals_open: int = 0  # records whose request from this source was open already
    proposals_refused: int = 0  # records the workflow's checks refused a proposal for
    proposals_deferred: int = 0  # past merge_proposals.MAX_PROPOSALS: the next merge's
    by_kind: dict[str, int] = field(default_factory=dict)  # proposals now, by request kind

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def may_merge(actor: User) -> None:
    """Raise PermissionDenied unless `actor` may merge another registry (module docstring)."""
    authorize(actor, Action.MERGE_REGISTRY)
    scope = actor.region_code
    if scope is not None and len(scope) > 5:
        raise PermissionDenied(
            f"{actor.username} berwenang untuk wilayah {scope}; data registry lain digabungkan "
            "oleh admin nasional, provinsi atau kabupaten/kota."
        )


def check_source_name(source: str) -> str:
    if not SOURCE_NAME.fullmatch(source):
        raise ValidationFailed(
            f"Nama sumber {source!r}: huruf, angka, titik, garis bawah atau tanda hubung, "
            "paling banyak 64 (misalnya dinsos-jabar-2026)."
        )
    return source


def merge_source(
    session: Session,
    *,
    actor: User,
    paths: list[Path],
    source: str,
    data_dir: Path,
    releases_dir: Path,
    limit: int = merge_proposals.MAX_PROPOSALS,
    progress: Progress | None = None,
) -> MergeSummary:
    """Merge another registry's export (the module docstring); what the merge found and
    proposed."""
    import duckdb

    may_merge(actor)
    check_source_name(source)
    step = progress or (lambda _: None)
    trained = against_release.latest_trained_release(
        session, data_dir=data_dir, releases_dir=releases_dir
    )
    step(STEPS[0])
    with scratch_dir() as scratch:
        try:
            batch = open_batch(paths, scratch)
        except BatchFileError as exc:
            raise ValidationFailed(
                f"Ekspor tidak bisa dibaca: {exc}",
                details=[
                    {
                        "file": e.file,
                        "row": e.row,
                        "column": e.column,
                        "code": e.code,
                        "message": e.message,
                    }
                    for e in exc.errors
                ],
            ) from None
        households = _read_table(batch.households.csv_path, batch.households.delimiter)
        members = _read_table(batch.members.csv_path, batch.members.delimiter)
    by_kk = {_digits(h.get("kk_number", "")): h for _, h in households}
    records = [
        SourceRecord(
            row=row,
            cells=cells,
            household=by_kk.get(_digits(cells.get("kk_number", ""))),
            kk_number=_digits(cells.get("kk_number", ""))[:32],
            nik=_digits(cells.get("nik", ""))[:32],
        )
        for row, cells in members
    ]
    if not records:
        raise ValidationFailed("Ekspor tidak punya baris anggota: tidak ada yang digabungkan.")

    merge = LinkMerge(
        source=source,
        release_id=trained.release.id,
        model_run_id=trained.run.id,
        sha256=batch.sha256,
        files=batch.sources,
        folder="",
        actor=actor.username,
        region_code=actor.region_code,
        records=len(records),
        matched=0,
        new=0,
        conflicting=0,
        proposals=0,
        proposals_open=0,
        proposals_refused=0,
        proposals_deferred=0,
        outside=0,
        summary={},
    )
    session.add(merge)
    session.flush()
    relative = Path(MERGE_DIR) / f"merge-{merge.id}"
    merge.folder = str(relative)
    folder = data_dir / relative
    # A folder of this number is a rolled-back merge's (SQLite may give its id again).
    shutil.rmtree(folder, ignore_errors=True)

    step(STEPS[1])
    con = duckdb.connect()
    try:
        con.register("merge_source_rows", _base_table(records))
        pairs = against_release.link_source(trained, _BASE_SQL, folder, con=con)
        matches = against_release.source_matches(pairs, trained.match_weight(), con=con)
    finally:
        con.close()
    _outcomes(session, records, matches)
    for record in records:
        _place(record, actor)

    step(STEPS[2])
    made = merge_proposals.propose_records(session, actor, records, source=source, limit=limit)

    step(STEPS[3])
    summary = MergeSummary(merge.id, source, trained.release.label, trained.run.id)
    _count(summary, records, made)
    for name in (
        "matched",
        "new",
        "conflicting",
        "proposals",
        "proposals_open",
        "proposals_refused",
        "proposals_deferred",
        "outside",
    ):
        setattr(merge, name, getattr(summary, name))
    merge.summary = summary.as_dict()
    _store(session, merge.id, records)
    audit.record(
        session,
        actor=actor.username,
        action="link.merge",
        entity="link_merge",
        entity_id=merge.id,
        diff={
            "source": source,
            "release": trained.release.label,
            "model_run": trained.run.id,
            "sha256": batch.sha256,
            **{k: v for k, v in summary.as_dict().items() if isinstance(v, int)},
        },
    )
    return summary


def _read_table(path: Path, delimiter: str) -> list[tuple[int, dict[str, str]]]:
    """(row as the file numbers it, {column: cell}) per row: a converted or renumbered table
    carries its own `_row`, a plain one counts from 2 (the header is 1)."""
    rows: list[tuple[int, dict[str, str]]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = [h.strip().lower() for h in next(reader, [])]
        for n, values in enumerate(reader, start=2):
            cells = {k: (v or "").strip() for k, v in zip(header, values, strict=False)}
            if not any(cells.values()):
                continue
            row = int(cells.pop("_row")) if "_row" in cells else n
            rows.append((row, cells))
    return rows


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text or "")


def _date(text: str) -> date | None:
    for form in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
    return None


def _village(text: str | None) -> str | None:
    """A village code as the registry writes it (`PP.KK.CC.DDDD`), or None."""
    digits = _digits(text or "")
    if len(digits) != 10:
        return None
    return f"{digits[:2]}.{digits[2:4]}.{digits[4:6]}.{digits[6:]}"


def _base_table(records: list[SourceRecord]) -> Any:
    import pyarrow as pa

    def column(get: Callable[[SourceRecord], Any], kind: Any = None) -> Any:
        return pa.array([get(r) for r in records], type=kind or pa.string())

    home = [r.household or {} for r in records]
    return pa.table(
        {
            "record_id": pa.array([r.row for r in records], type=pa.int64()),
            "name": column(lambda r: r.cells.get("name") or None),
            "birth_date": pa.array(
                [_date(r.cells.get("birth_date", "")) for r in records], type=pa.date32()
            ),
            "nik": column(lambda r: r.nik or None),
            "sex": column(lambda r: r.cells.get("sex") or None),
            "kk_number": column(lambda r: r.kk_number or None),
            "village_code": pa.array([h.get("village_code") or None for h in home], pa.string()),
            "rt": pa.array([h.get("rt") or None for h in home], pa.string()),
            "rw": pa.array([h.get("rw") or None for h in home], pa.string()),
            "address": pa.array([h.get("address") or None for h in home], pa.string()),
        }
    )


_BASE_SQL = """(
SELECT record_id, CAST(NULL AS BIGINT) AS household_id, name, birth_date, nik, sex, kk_number,
    village_code, CAST(NULL AS VARCHAR) AS district_code, rt, rw, address
FROM merge_source_rows
)"""


def _outcomes(
    session: Session, records: list[SourceRecord], matches: dict[int, list[tuple[int, float]]]
) -> None:
    """Each record's outcome, and for a matched one the fields that differ from the registry
    as it is now (a member the release holds but the registry no longer has is no match)."""
    ids = sorted({m for found in matches.values() for m, _ in found})
    now: dict[int, tuple[Member, Household]] = {}
    for at in range(0, len(ids), CHUNK):
        for member, household in session.execute(
            select(Member, Household)
            .join(Household, Household.id == Member.household_id)
            .where(Member.id.in_(ids[at : at + CHUNK]))
        ).all():
            now[member.id] = (member, household)
    claimed: dict[int, list[SourceRecord]] = {}
    for record in records:
        found = [(m, w) for m, w in matches.get(record.row, []) if m in now]
        record.candidates = len(found)
        record.match_weight = found[0][1] if found else None
        if not found:
            record.outcome = "new"
        elif len(found) > 1:
            record.outcome = "conflicting"
            record.note = f"Cocok dengan {len(found)} orang di registry; tidak diusulkan."
        else:
            member, household = now[found[0][0]]
            record.outcome = "matched"
            record.member_id, record.household_id = member.id, household.id
            record.registry_nik, record.registry_kk = member.nik, household.kk_number
            record.registry_version = household.version
            record.village_code = household.village_code
            claimed.setdefault(member.id, []).append(record)
            _differences(record, member, household)
    for same in claimed.values():
        if len(same) > 1:  # several records of the export are one registry person
            for record in same:
                record.outcome = "conflicting"
                record.note = (
                    f"{len(same)} baris ekspor cocok dengan orang yang sama di registry; "
                    "tidak diusulkan."
                )
                record.changes = {}


def _differences(record: SourceRecord, member: Member, household: Household) -> None:
    cells = record.cells
    name = " ".join(cells.get("name", "").split())
    sex = cells.get("sex", "").strip().upper()
    born = _date(cells.get("birth_date", ""))
    village = _village((record.household or {}).get("village_code"))
    values: dict[str, tuple[bool, str]] = {
        # (differs, the export's value when it may be proposed)
        "name": (bool(name) and name.upper() != " ".join(member.name.split()).upper(), name),
        "nik": (bool(record.nik) and record.nik != member.nik, record.nik),
        "birth_date": (
            born is not None and born != member.birth_date,
            born.isoformat() if born else "",
        ),
        "sex": (bool(sex) and sex != (member.sex or "").upper(), sex),
        "kk_number": (bool(record.kk_number) and record.kk_number != household.kk_number, ""),
        "village_code": (village is not None and village != household.village_code, ""),
    }
    record.differs = [f for f in COMPARED_FIELDS if values[f][0]]
    record.changes = {f: values[f][1] for f in PROPOSED_FIELDS if values[f][0]}


def _place(record: SourceRecord, actor: User) -> None:
    """The record's region (the registry family's when matched, else the export's) and
    whether it lies outside the merger's."""
    if record.village_code is None:
        record.village_code = _village((record.household or {}).get("village_code"))
    if actor.region_code is not None and (
        record.village_code is None or not in_scope(actor.region_code, record.village_code)
    ):
        record.outside = True


def _count(
    summary: MergeSummary, records: list[SourceRecord], made: merge_proposals.Proposed
) -> None:
    summary.records = len(records)
    for record in records:
        if record.outcome == "matched":
            summary.matched += 1
            summary.matched_differing += bool(record.differs)
        elif record.outcome == "new":
            summary.new += 1
        else:
            summary.conflicting += 1
        summary.outside += record.outside
    summary.proposals = made.requests
    summary.proposals_open = made.open_records
    summary.proposals_refused = made.refused_records
    summary.proposals_deferred = made.deferred_records
    summary.by_kind = dict(made.by_kind)


def _store(session: Session, merge_id: int, records: list[SourceRecord]) -> None:
    rows = [
        {
            "merge_id": merge_id,
            "row": r.row,
            "kk_number": r.kk_number,
            "nik": r.nik,
            "outcome": r.outcome,
            "member_id": r.member_id,
            "household_id": r.household_id,
            "candidates": r.candidates,
            "match_weight": r.match_weight,
            "differs": ",".join(r.differs),
            "proposal_key": r.proposal_key,
            "change_request_id": r.change_request_id,
            "proposed": r.proposed,
            "note": r.note,
            "outside": r.outside,
            "village_code": r.village_code,
            "regency_code": r.village_code[:5] if r.village_code else None,
            "province_code": r.village_code[:2] if r.village_code else None,
        }
        for r in records
    ]
    for at in range(0, len(rows), CHUNK):
        session.execute(insert(LinkMergeRecord), rows[at : at + CHUNK])
