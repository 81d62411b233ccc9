"""`lumbung civil import`: a civil registry extract checked, every member of the area it covers
marked, and the changes it shows proposed, in the caller's transaction; an import's result.

The flow: the file's sha256 (an extract imported before changes nothing and says when) → the
file read and every row checked in DuckDB (`extract.py`; a file that is not an extract is
refused whole) → the active members of the area streamed in (`matching.py`) → each member's
outcome → one import row, the members' `dukcapil_match` set true to their outcome (sealed rows,
`audit/seal.update_sealed`), the change requests proposed (`updates.py`), one result row per
member, one audit event → the reject file. A failure anywhere rolls the caller's transaction
back: nothing half-marked.

Who: an admin of the nation, a province or a regency (`Action.MATCH_CIVIL`). Extracts come
from Dukcapil nationally or from a province's or regency's office, and an admin already
imports and migrates registries; a verifier does not, because the import proposes changes
under the importer's name and a verifier who proposed would then verify their own proposals
(the workflow's four eyes: proposed by one, verified by the regency, determined by the
ministry). A district or village admin is refused: no Dukcapil office hands out extracts there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.audit import service as audit
from lumbung.audit.seal import update_sealed
from lumbung.auth.models import User
from lumbung.auth.roles import Action, entitled_to_identity, in_scope
from lumbung.auth.service import authorize, reading_area
from lumbung.civil import matching, updates
from lumbung.civil.extract import FileRefused, check_extract, listed, read_extract
from lumbung.civil.models import CivilImport, CivilMatch
from lumbung.civil.rejects import write_rejects
from lumbung.errors import NotFound, PermissionDenied, ValidationFailed
from lumbung.identity.masking import mask_id, mask_name
from lumbung.installation.datafolder import owned
from lumbung.numbers import grouped
from lumbung.paging import Page, check_window
from lumbung.registry.models import Member
from lumbung.registry.scratch import scratch_dir
from lumbung.releases.hashing import sha256_file

STEPS = ("membaca ekstrak", "mengambil data registry", "mencocokkan", "mengusulkan", "mencatat")
DUCKDB_MEMORY = "2GB"
# An extract that leaves more than this share of an area's members not found is most likely
# not the area's (a regency's extract imported for the nation): refused unless forced.
NOT_FOUND_LIMIT = 0.5
NOT_FOUND_FLOOR = 20  # below this many members, any share is believed
# An extract that leaves more than this share of the area's members not found covers only
# part of it (a district's file for a regency): said in words beside the confirmation.
PARTIAL_SHARE = 0.1
MATCH_COLUMNS = (
    "import_id",
    "member_id",
    "household_id",
    "outcome",
    "nik_differs",
    "name_differs",
    "birth_date_differs",
    "birth_date_swapped",
    "sex_differs",
    "kk_differs",
    "extract_nik",
    "death_date",
    "change_request_id",
    "note",
    "village_code",
    "district_code",
    "regency_code",
    "province_code",
)
FIELD_COLUMNS = {
    "nik": "nik_differs",
    "name": "name_differs",
    "birth_date": "birth_date_differs",
    "birth_date_swapped": "birth_date_swapped",
    "sex": "sex_differs",
    "kk_number": "kk_differs",
}
Progress = Callable[[str], None]


@dataclass(slots=True)
class CivilImportSummary:
    file: str
    sha256: str
    region: str | None = None
    rows_read: int = 0
    rows_rejected: int = 0
    members: int = 0  # members of the area marked by this import
    unmarked: int = 0  # members left unmarked: their NIK is on a row the checks refused
    matched: int = 0
    mismatched: int = 0
    deceased: int = 0
    not_found: int = 0
    # mismatched members by the field that differs (one member may count under several)
    mismatched_fields: dict[str, int] = field(default_factory=dict)
    proposals: int = 0  # change requests proposed now
    proposals_open: int = 0  # members whose request of the same kind was open already
    proposals_refused: int = 0  # members the workflow's checks refused a proposal for
    proposals_deferred: int = 0  # past `updates.MAX_PROPOSALS`: proposed by the next import
    dukcapil_match_changed: int = 0
    errors_total: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    reject_file: str | None = None
    import_id: int | None = None
    already_imported: bool = False
    refused: bool = False  # the file refused whole: its one problem in `errors`
    # Members not found in the extract, each of whom the import would propose to remove: not
    # done until the importer confirms this very number (`confirm_removals`); until then
    # nothing is marked or proposed, and `needs_confirmation` says why.
    removals: int = 0
    needs_confirmation: bool = False
    warning: str = ""  # the extract covers only part of the area (PARTIAL_SHARE)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def may_import(actor: User) -> None:
    """Raise PermissionDenied unless `actor` may import an extract (module docstring)."""
    authorize(actor, Action.MATCH_CIVIL)
    scope = actor.region_code
    if scope is not None and len(scope) > 5:
        raise PermissionDenied(
            f"{actor.username} berwenang untuk wilayah {scope}; ekstrak Dukcapil diimpor oleh "
            "admin nasional, provinsi atau kabupaten/kota."
        )


def import_extract(
    session: Session,
    *,
    actor: User,
    path: Path,
    rejects_dir: Path,
    region: str | None = None,
    file_name: str | None = None,
    as_of: date | None = None,
    force: bool = False,
    confirm_removals: int | None = None,
    progress: Progress | None = None,
    max_listed: int = 1000,
    max_proposals: int = updates.MAX_PROPOSALS,
) -> CivilImportSummary:
    """Import one extract for the members of `region` (default: the actor's own region); see
    the module docstring. `force`: mark even when most members are not found in it.
    `confirm_removals`: the number of members not found (each proposed for removal) that the
    importer saw and confirms; an extract with any is otherwise answered with that number
    (`needs_confirmation`) and nothing is marked or proposed."""
    may_import(actor)
    area = reading_area(actor, region)
    display = file_name or path.name
    say = progress or (lambda _step: None)
    if not path.is_file():
        raise NotFound(f"Berkas {display} tidak ada.")
    sha256 = sha256_file(path)
    before = session.execute(
        select(CivilImport).where(CivilImport.sha256 == sha256)
    ).scalar_one_or_none()
    if before is not None:
        return CivilImportSummary(
            file=display,
            sha256=sha256,
            region=before.region_code,
            import_id=before.id,
            already_imported=True,
            message=f"Ekstrak ini sudah diimpor (impor {before.id}, {before.at:%Y-%m-%d}, oleh "
            f"{before.actor}); tidak ada yang berubah.",
        )
    try:
        with scratch_dir() as scratch:
            con = bulk.duck_connect(scratch / "spill", memory_limit=DUCKDB_MEMORY)
            try:
                return _import(
                    session,
                    con,
                    actor=actor,
                    path=path,
                    display=display,
                    sha256=sha256,
                    area=area,
                    rejects_dir=rejects_dir,
                    scratch=scratch,
                    as_of=as_of or date.today(),
                    force=force,
                    confirm_removals=confirm_removals,
                    say=say,
                    max_listed=max_listed,
                    max_proposals=max_proposals,
                )
            finally:
                con.close()
    except FileRefused as refusal:
        return CivilImportSummary(
            file=display,
            sha256=sha256,
            region=area,
            errors_total=1,
            errors=[refusal.problem.as_dict()],
            refused=True,
            message=f"Berkas ditolak seluruhnya, tidak ada yang ditandai: {refusal.message}",
        )


def _import(
    session: Session,
    con: duckdb.DuckDBPyConnection,
    *,
    actor: User,
    path: Path,
    display: str,
    sha256: str,
    area: str | None,
    rejects_dir: Path,
    scratch: Path,
    as_of: date,
    force: bool,
    confirm_removals: int | None,
    say: Progress,
    max_listed: int,
    max_proposals: int,
) -> CivilImportSummary:
    say(STEPS[0])
    rows_read = read_extract(con, path, display)
    check_extract(con, display, as_of)
    # One import at a time: two would mark the same members and propose the same changes.
    bulk.lock_for_writing(session, ("civil_import", "civil_match"))
    say(STEPS[1])
    in_area = matching.load_registry(session, con, area)
    say(STEPS[2])
    matching.match(con)
    counts = matching.counts(con)
    members = sum(counts.values())
    summary = CivilImportSummary(
        file=display,
        sha256=sha256,
        region=area,
        rows_read=rows_read,
        rows_rejected=bulk.duck_count(con, "SELECT count(DISTINCT row) FROM problems"),
        members=members,
        unmarked=in_area - members,
        errors_total=bulk.duck_count(con, "SELECT count(*) FROM problems"),
        errors=[p.as_dict() for p in listed(con, display, max_listed)],
        mismatched_fields={
            name: bulk.duck_count(
                con, f"SELECT count(*) FROM outcome WHERE outcome = 'mismatched' AND {column}"
            )
            for name, column in FIELD_COLUMNS.items()
        },
        matched=counts["matched"],
        mismatched=counts["mismatched"],
        deceased=counts["deceased"],
        not_found=counts["not_found"],
    )
    if not force and members >= NOT_FOUND_FLOOR and summary.not_found > NOT_FOUND_LIMIT * members:
        raise ValidationFailed(
            f"{grouped(summary.not_found)} dari {grouped(members)} anggota wilayah "
            f"{area or 'nasional'} tidak ada di ekstrak ini: ekstrak ini tampaknya bukan untuk "
            "wilayah itu. Pilih wilayah yang dicakup ekstrak, atau paksa impor bila memang "
            "demikian.",
            command="lumbung civil import BERKAS --region KODE (atau --force)",
        )
    summary.removals = summary.not_found
    summary.warning = _partial_warning(summary, area)
    if summary.removals and confirm_removals != summary.removals:
        summary.needs_confirmation = True
        summary.message = _confirmation_message(summary, area, confirm_removals)
        return summary  # nothing added to the session: nothing marked, nothing proposed
    owned(session, rejects_dir.parent)
    record = CivilImport(
        file_name=display[:255],
        sha256=sha256,
        actor=actor.username,
        region_code=area,
        rows_read=rows_read,
        rows_rejected=summary.rows_rejected,
        members=members,
        matched=summary.matched,
        mismatched=summary.mismatched,
        deceased=summary.deceased,
        not_found=summary.not_found,
        proposals=0,
        summary={},
    )
    session.add(record)
    session.flush()
    summary.import_id = record.id
    summary.dukcapil_match_changed = _set_match_flags(session, con, scratch)
    say(STEPS[3])
    proposed = updates.propose_updates(
        session, actor, updates.candidates(con), record.id, limit=max_proposals
    )
    summary.proposals = sum(1 for p in proposed if p.new)
    summary.proposals_open = sum(1 for p in proposed if p.request_id and not p.new)
    summary.proposals_refused = sum(1 for p in proposed if p.note and not p.deferred)
    summary.proposals_deferred = sum(1 for p in proposed if p.deferred)
    say(STEPS[4])
    bulk.duck_table(
        con,
        "proposed",
        {"member_id": "BIGINT", "request_id": "BIGINT", "note": "VARCHAR"},
        pa.table(
            {
                "member_id": pa.array([p.member_id for p in proposed], pa.int64()),
                "request_id": pa.array([p.request_id for p in proposed], pa.int64()),
                "note": pa.array([p.note for p in proposed], pa.string()),
            }
        ),
    )
    bulk.insert_from_duckdb(
        session,
        con,
        f"SELECT {record.id} AS import_id, o.member_id, o.household_id, o.outcome, "
        "o.nik_differs, o.name_differs, o.birth_date_differs, o.birth_date_swapped, "
        "o.sex_differs, o.kk_differs, o.extract_nik, o.death_date, p.request_id, p.note, "
        "o.village_code, o.district_code, o.regency_code, o.province_code "
        "FROM outcome o LEFT JOIN proposed p USING (member_id)",
        "civil_match",
        MATCH_COLUMNS,
        scratch,
        unescaped=("outcome", "extract_nik", "village_code", "district_code", "regency_code"),
    )
    digest = con.execute(
        "SELECT sha256(coalesce(string_agg(member_id || ':' || outcome || ':' || "
        "coalesce(extract_nik, ''), chr(10) ORDER BY member_id), '')) FROM outcome"
    ).fetchall()[0][0]
    if summary.errors_total:
        try:
            target = write_rejects(con, rejects_dir, file=display, sha256=sha256)
        except OSError as exc:
            raise ValidationFailed(
                f"Berkas tolakan tidak bisa ditulis di {rejects_dir} (izin tulis? disk penuh?); "
                "impor dibatalkan, tidak ada yang ditandai."
            ) from exc
        summary.reject_file = str(target)
        record.reject_file = target.name
    record.proposals = summary.proposals
    summary.message = (
        f"{grouped(members)} anggota ditandai: {grouped(summary.matched)} padan, "
        f"{grouped(summary.mismatched)} tidak padan, {grouped(summary.deceased)} meninggal, "
        f"{grouped(summary.not_found)} tidak ditemukan; {grouped(summary.proposals)} usulan "
        "perubahan dibuat."
    )
    record.summary = {
        k: v for k, v in summary.as_dict().items() if k not in ("reject_file", "import_id")
    }
    audit.record(
        session,
        actor=actor.username,
        action="civil.import",
        entity="civil_import",
        entity_id=record.id,
        diff={
            "file": display,
            "file_sha256": sha256,
            "region": area,
            "rows_read": rows_read,
            "rows_rejected": summary.rows_rejected,
            "members": members,
            **counts,
            "mismatched_fields": summary.mismatched_fields,
            "results_sha256": str(digest),
            "dukcapil_match_changed": summary.dukcapil_match_changed,
            "proposals": summary.proposals,
        },
    )
    return summary


def _partial_warning(summary: CivilImportSummary, area: str | None) -> str:
    """Words for an extract that covers only part of the area, or nothing."""
    members = summary.members
    if not members or summary.not_found <= PARTIAL_SHARE * members:
        return ""
    found = members - summary.not_found
    return (
        f"Perhatian: hanya {grouped(found)} dari {grouped(members)} anggota wilayah "
        f"{area or 'nasional'} ({found * 100 // members} %) ada di ekstrak ini "
        f"({grouped(summary.rows_read)} baris). Ekstrak ini tampaknya hanya sebagian wilayah: "
        f"{grouped(summary.not_found)} anggota lainnya akan diusulkan dihapus. Pastikan "
        "ekstrak mencakup seluruh wilayah, atau pilih wilayah yang lebih kecil."
    )


def _confirmation_message(
    summary: CivilImportSummary, area: str | None, confirmed: int | None
) -> str:
    stale = (
        f"Jumlah yang dikonfirmasi ({grouped(confirmed)}) tidak sama dengan hitungan sekarang. "
        if confirmed is not None
        else ""
    )
    deceased = (
        f"; {grouped(summary.deceased)} lainnya meninggal, juga diusulkan keluar"
        if summary.deceased
        else ""
    )
    return (
        f"{stale}Impor ini akan mengusulkan penghapusan {grouped(summary.removals)} anggota "
        f"wilayah {area or 'nasional'} yang tidak ditemukan di ekstrak (dari "
        f"{grouped(summary.members)} anggota{deceased}). Belum ada yang ditandai atau "
        "diusulkan: konfirmasi jumlah itu untuk mengimpor."
    )


def _set_match_flags(session: Session, con: duckdb.DuckDBPyConnection, scratch: Path) -> int:
    """Each marked member's `dukcapil_match` as its outcome says (true only when matched),
    written only where it changes, the rows sealed again; how many changed."""
    changed = 0
    for value in (True, False):
        ids = [
            int(r[0])
            for r in con.execute(
                "SELECT member_id FROM outcome WHERE match_before IS DISTINCT FROM "
                "(outcome = 'matched') AND (outcome = 'matched') = ? ORDER BY member_id",
                [value],
            ).fetchall()
        ]
        if ids:
            changed += update_sealed(
                session,
                "member",
                ids,
                {"dukcapil_match": value},
                where=Member.status == "active",
                scratch=scratch,
            )
    return changed


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportView:
    id: int
    file_name: str
    actor: str
    at: str
    region_code: str | None
    rows_read: int
    rows_rejected: int
    members: int
    matched: int
    mismatched: int
    deceased: int
    not_found: int
    proposals: int
    has_rejects: bool
    summary: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


IDENTITY_COLUMNS = frozenset({"nik", "name", "kk_number", "birth_place"})
MASKED_MESSAGE = "(disamarkan: isi data pribadi tidak ditampilkan untuk peran Anda)"


def _view(record: CivilImport, actor: User) -> ImportView:
    summary = dict(record.summary or {})
    if not entitled_to_identity(actor.role):
        summary["errors"] = [
            {**e, "message": MASKED_MESSAGE} if e.get("column") in IDENTITY_COLUMNS else e
            for e in summary.get("errors") or []
        ]
    return ImportView(
        record.id,
        record.file_name,
        record.actor,
        record.at.isoformat(),
        record.region_code,
        record.rows_read,
        record.rows_rejected,
        record.members,
        record.matched,
        record.mismatched,
        record.deceased,
        record.not_found,
        record.proposals,
        record.reject_file is not None,
        summary,
    )


def _visible(actor: User, record: CivilImport) -> bool:
    """An import is read by those whose region covers the area it marked."""
    scope = actor.region_code
    return scope is None or (record.region_code is not None and in_scope(scope, record.region_code))


def list_imports(session: Session, actor: User) -> list[ImportView]:
    """The imports the reader's region covers, newest first."""
    authorize(actor, Action.READ)
    records = session.execute(select(CivilImport).order_by(CivilImport.id.desc())).scalars()
    return [_view(r, actor) for r in records if _visible(actor, r)]


def get_import(session: Session, actor: User, *, import_id: int) -> ImportView:
    authorize(actor, Action.READ)
    record = session.get(CivilImport, import_id)
    if record is None or not _visible(actor, record):
        raise NotFound(f"Impor Dukcapil {import_id} tidak ada di wilayah Anda.")
    return _view(record, actor)


def import_rejects(session: Session, actor: User, *, import_id: int, rejects_dir: Path) -> Path:
    """The reject file of an import, for a user who may import extracts and reads it."""
    may_import(actor)
    record = session.get(CivilImport, import_id)
    if record is None or not _visible(actor, record) or record.reject_file is None:
        raise NotFound(f"Impor Dukcapil {import_id} tidak punya berkas tolakan.")
    path = rejects_dir / record.reject_file
    if not path.is_file():
        raise NotFound(f"Berkas tolakan impor {import_id} sudah tidak ada di folder data.")
    return path


@dataclass(frozen=True, slots=True)
class MemberResult:
    """One member as an import found them; NIK and name masked for readers not entitled."""

    import_id: int
    kk_number: str
    nik: str
    name: str
    outcome: str
    fields: list[str]
    extract_nik: str | None
    death_date: str | None
    change_request_id: int | None
    note: str | None
    village_code: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def list_results(
    session: Session,
    actor: User,
    *,
    import_id: int,
    outcome: str | None = None,
    region: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[MemberResult]:
    """The members an import marked, within the reader's region, optionally of one outcome."""
    from lumbung.civil.models import OUTCOMES
    from lumbung.registry.models import Household

    check_window(limit, offset)
    get_import(session, actor, import_id=import_id)
    area = reading_area(actor, region)
    if outcome is not None and outcome not in OUTCOMES:
        raise ValidationFailed(f"Hasil {outcome!r} tidak dikenal; pilihan: {', '.join(OUTCOMES)}.")
    c = CivilMatch
    where = [c.import_id == import_id]
    if outcome is not None:
        where.append(c.outcome == outcome)
    if area is not None:
        column = {2: c.province_code, 5: c.regency_code, 8: c.district_code}.get(
            len(area), c.village_code
        )
        where.append(column == area)
    total = session.execute(select(func.count()).select_from(c).where(*where)).scalar_one()
    rows = session.execute(
        select(c, Member.nik, Member.name, Household.kk_number)
        .join(Member, Member.id == c.member_id)
        .join(Household, Household.id == c.household_id)
        .where(*where)
        .order_by(c.id)
        .limit(limit)
        .offset(offset)
    ).all()
    full = entitled_to_identity(actor.role)
    items = []
    for match, nik, name, kk in rows:
        items.append(
            MemberResult(
                import_id=match.import_id,
                kk_number=kk if full else mask_id(kk),
                nik=nik if full else mask_id(nik, distinct=True),
                name=name if full else mask_name(name),
                outcome=match.outcome,
                fields=[f for f, col in FIELD_COLUMNS.items() if getattr(match, col)],
                extract_nik=(
                    match.extract_nik
                    if full or match.extract_nik is None
                    else mask_id(match.extract_nik, distinct=True)
                ),
                death_date=match.death_date.isoformat() if match.death_date else None,
                change_request_id=match.change_request_id,
                note=match.note,
                village_code=match.village_code,
            )
        )
    return Page(items, int(total), limit, offset)
