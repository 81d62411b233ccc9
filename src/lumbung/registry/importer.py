"""`lumbung import`: check a batch set-based in DuckDB, load the good rows in one transaction.

The flow: open the files (headers checked, XLSX converted) → DuckDB tables → registry rows the
batch touches (fetched by key) → every check (registry/checks.py) → bulk insert of accepted
households and members → duplicate review entries → one audit event → reject file.
A failure anywhere rolls the caller's transaction back; the database keeps no trace.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Table, column, func, select, text, union
from sqlalchemy import table as table_clause
from sqlalchemy.orm import Session

from lumbung import bulk, driver_errors
from lumbung.audit import service as audit
from lumbung.audit import tally
from lumbung.audit.keys import keyring
from lumbung.audit.seal import prepare_duckdb, seal_sql
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.db import is_postgres, utcnow
from lumbung.errors import ValidationFailed
from lumbung.identity.names import normalise_name_sql
from lumbung.installation.datafolder import owned
from lumbung.numbers import grouped
from lumbung.regions.models import Region
from lumbung.registry import vocab
from lumbung.registry.batch_files import (
    LINE_TOO_LONG,
    MAX_LINE,
    NOT_UTF8_LINE,
    UNCLOSED_QUOTE,
    Batch,
    BatchFile,
    open_batch,
    scratch_dir,
    unreadable,
)
from lumbung.registry.check_sql import CODED_KINDS, lit
from lumbung.registry.checks import (
    HOUSEHOLD_CELLS,
    HOUSEHOLD_VALUE_COLUMNS,
    MEMBER_CELLS,
    MEMBER_VALUE_COLUMNS,
    CheckOptions,
    run_checks,
)
from lumbung.registry.errors import BatchFileError, RowError
from lumbung.registry.models import Household, ImportBatch, Member

HOUSEHOLD_TABLE: Table = Household.__table__  # type: ignore[assignment]
MEMBER_TABLE: Table = Member.__table__  # type: ignore[assignment]
ENTRY_STATUSES = ("proposed", "verified", "approved")
DUCKDB_MEMORY = "768MB"
# The most problems a reject file holds (~120 bytes each: ~25 MB). A workbook of junk made
# millions (7.2 M errors, a 670 MB file, from a 2.9 MB XLSX); past this, the errors come first,
# the file ends with a line saying how many more there were, and the summary counts them.
REJECT_LINES = 200_000
ABSENT = "\x01"  # what DuckDB reads for a field a row does not have

EXISTING_HH_SCHEMA = {
    "id": "BIGINT",
    "kk_number": "VARCHAR",
    "status": "VARCHAR",
    "village_code": "VARCHAR",
    "address": "VARCHAR",
    "rt": "VARCHAR",
    "rw": "VARCHAR",
    "latitude": "DOUBLE",
    "longitude": "DOUBLE",
    "floor_area_m2": "DOUBLE",
    **dict.fromkeys(vocab.HOUSEHOLD_ENUMS, "VARCHAR"),
    **dict.fromkeys(vocab.HOUSEHOLD_FLAGS, "BOOLEAN"),
    **dict.fromkeys(vocab.HOUSEHOLD_COUNTS, "INTEGER"),
}
EXISTING_MB_SCHEMA = {
    "nik": "VARCHAR",
    "kk_number": "VARCHAR",
    "village_code": "VARCHAR",
    "household_id": "BIGINT",
    "relationship": "VARCHAR",
    # The member's other values: a row already registered says which of them it would change.
    "name": "VARCHAR",
    "sex": "VARCHAR",
    "birth_date": "DATE",
    **{c: "VARCHAR" for c in vocab.MEMBER_ENUMS if c not in ("sex", "relationship")},
    "pregnant": "BOOLEAN",
    "mother_name": "VARCHAR",
}
LOAD_HOUSEHOLD = (
    "id",
    *HOUSEHOLD_VALUE_COLUMNS,
    "district_code",
    "regency_code",
    "province_code",
    "status",
    "import_batch_id",
    "version",
    "created_at",
    "updated_at",
    "seal",
)
LOAD_MEMBER = (
    "id",
    "household_id",
    *(c for c in MEMBER_VALUE_COLUMNS if c != "kk_number"),
    "name_normalised",
    "status",
    "version",
    "created_at",
    "updated_at",
    "seal",
)
# Loaded text columns that the checks confine to codes, digits and dates (a code list, RT/RW
# digits, a known village, a valid date; the KK and the NIK: 16 digits, `_kk_error` and
# `_nik_checks`), or that the import writes itself (region codes cut from the village's,
# status, stamps): nothing in them needs escaping on the way into PostgreSQL. Every other text
# column is escaped, a new one included, until it is named here.
CODED = frozenset(
    {c.name for c in (*HOUSEHOLD_CELLS, *MEMBER_CELLS) if c.kind in CODED_KINDS}
    | {"kk_number", "nik", "district_code", "regency_code", "province_code"}
    | {"status", "created_at", "updated_at", "seal"}
)


@dataclass(slots=True)
class ImportSummary:
    households_read: int = 0
    members_read: int = 0
    households_accepted: int = 0
    members_accepted: int = 0
    households_rejected: int = 0
    members_rejected: int = 0
    households_unchanged: int = 0
    members_unchanged: int = 0
    duplicates_for_review: int = 0
    errors_total: int = 0
    warnings_total: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    reject_file: str | None = None
    # Problems written to the reject file, and those left out past its bound (`REJECT_LINES`).
    reject_file_rows: int = 0
    reject_file_omitted: int = 0
    batch_id: int | None = None
    batch_sha256: str = ""
    status: str = "proposed"
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class ImportRequest:
    paths: list[Path]
    rejects_dir: Path
    status: str = "proposed"
    dry_run: bool = False
    allow_duplicates: bool = False
    as_of: date | None = None
    max_listed: int = 1000
    reject_lines: int | None = None  # the reject file's bound; None: REJECT_LINES


Progress = Callable[[str], None]


def import_batch(
    session: Session, *, actor: User, request: ImportRequest, progress: Progress | None = None
) -> ImportSummary:
    """Check and load one batch inside the caller's transaction; see the module docstring."""
    say = progress or (lambda _stage: None)
    if request.status not in ENTRY_STATUSES:
        raise ValidationFailed(
            f"Status masuk '{request.status}' tidak dikenal; pilihan: {', '.join(ENTRY_STATUSES)}."
        )
    authorize(actor, Action.IMPORT if request.status == "proposed" else Action.MIGRATE)
    with scratch_dir() as scratch:
        say("membaca berkas")
        batch = open_batch(request.paths, scratch)
        con = bulk.duck_connect(scratch / "spill", memory_limit=DUCKDB_MEMORY)
        try:
            _read_sources(con, batch)
            bulk.lock_for_writing(session, ("household", "member"))
            say("mengambil data registry")
            _reference_tables(session, con, batch)
            say("memeriksa")
            run_checks(
                con,
                CheckOptions(
                    as_of=request.as_of or date.today(),
                    households_file=batch.households.display_name,
                    members_file=batch.members.display_name,
                    scope=actor.region_code,
                    allow_duplicates=request.allow_duplicates,
                ),
            )
            summary = _summarise(con, batch, request)
            # Reject files go into this registry's data folder, or nowhere; checked once the
            # files were read as a batch (a file that is not one is refused before, and no
            # folder beside it is claimed).
            owned(session, request.rejects_dir.parent)
            # A batch with nothing new (e.g. loaded before) leaves no trace at all.
            if not request.dry_run and (summary.households_accepted or summary.members_accepted):
                _load(session, con, batch, request, summary, actor, scratch, say)
            try:
                _write_rejects(con, batch, request, scratch, summary)
            except OSError as exc:  # the whole import rolls back with it: nothing half-said
                raise ValidationFailed(
                    f"Berkas tolakan tidak bisa ditulis di {request.rejects_dir} (izin tulis? "
                    "disk penuh?); impor dibatalkan, tidak ada yang dimuat."
                ) from exc
        finally:
            con.close()
    return summary


def _read_sources(con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    pre = batch.pre_errors
    con.execute(
        "CREATE TABLE pre_errors (file VARCHAR, row BIGINT, column_name VARCHAR, "
        "code VARCHAR, message VARCHAR, severity VARCHAR)"
    )
    if pre:  # as one Arrow table: a workbook of junk has one per row (executemany: minutes)
        fields = ("file", "row", "column", "code", "message", "severity")
        con.register(
            "pre_in",
            pa.table({f: [getattr(e, f) for e in pre] for f in fields}),
        )
        con.execute("INSERT INTO pre_errors SELECT * FROM pre_in")
        con.unregister("pre_in")
    for table, columns in (
        (batch.households, HOUSEHOLD_VALUE_COLUMNS),
        (batch.members, MEMBER_VALUE_COLUMNS),
    ):
        _read_csv(con, table, columns)


def _read_csv(con: duckdb.DuckDBPyConnection, table: BatchFile, columns: tuple[str, ...]) -> None:
    raw = f"{table.kind}_raw"
    names = (["_row"] if table.numbered else []) + table.columns
    # One column more than the header, and absent fields as NULL but empty ones as '': a row
    # with a stray unquoted comma (one field too many, even an empty one) or with fields
    # missing is then visible row by row instead of being silently shifted or padded.
    # The names were checked against the format's column list, so they are safe to spell out.
    types = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in [*names, "_extra"]) + "}"
    read = (
        f"CREATE TABLE {raw} AS SELECT * FROM read_csv($path, header = true, delim = $delim, "
        f"quote = '\"', escape = '\"', auto_detect = false, columns = {types}, "
        "null_padding = true, nullstr = $absent, parallel = $parallel, "
        "max_line_size = $max_line)"
    )
    params = {
        "path": str(table.csv_path),
        "delim": table.delimiter,
        "absent": ABSENT,
        "max_line": MAX_LINE,
    }
    try:
        try:
            con.execute(read, {**params, "parallel": True})
        except duckdb.Error as exc:
            # DuckDB's parallel reader cannot pad rows of a file with quoted line breaks.
            if not driver_errors.duckdb_csv_needs_serial_reader(exc):
                raise
            con.execute(read, {**params, "parallel": False})
    except duckdb.Error as exc:
        kind, line = driver_errors.duckdb_csv_problem(exc)
        cause = {
            driver_errors.CsvReadProblem.LINE_TOO_LONG: LINE_TOO_LONG,
            driver_errors.CsvReadProblem.NOT_UTF8: NOT_UTF8_LINE,
            driver_errors.CsvReadProblem.FIELD_COUNT: "jumlah kolom berbeda dari header",
        }.get(kind, UNCLOSED_QUOTE)
        # In the operator's words, never DuckDB's own (English, and quoting the file).
        raise unreadable(table.display_name, line, cause) from exc
    row = "CAST(_row AS BIGINT)" if table.numbered else "rowid + 2"
    con.execute(
        "INSERT INTO pre_errors SELECT $file, " + row + ", '', 'field_count', "
        "'Jumlah kolom baris ini berbeda dari header (' || $expected || "
        "'); ada koma atau titik koma tanpa tanda kutip?', 'error' "
        f"FROM {raw} WHERE _extra IS NOT NULL OR {names[-1]} IS NULL",
        {"file": table.display_name, "expected": str(len(table.columns))},
    )
    present = set(table.columns)
    cols = ", ".join(c if c in present else f"CAST(NULL AS VARCHAR) AS {c}" for c in columns)
    short = "hh_src" if table.kind == "households" else "mb_src"
    con.execute(f"CREATE VIEW {short} AS SELECT {row} AS _row, {cols} FROM {raw}")


def _reference_tables(session: Session, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    """Regions, and the registry households and members that the batch's keys touch."""
    regions = bulk.fetch_arrow(session, select(Region.code, Region.level))
    if regions.num_rows == 0:
        raise BatchFileError(
            [
                RowError(
                    "",
                    0,
                    "",
                    "file_unreadable",
                    "Tabel wilayah kosong: jalankan `lumbung regions load` dulu.",
                )
            ]
        )
    bulk.duck_table(con, "ref_region", {"code": "VARCHAR", "level": "INTEGER"}, regions)
    hh = Household.__table__.c
    mb = Member.__table__.c
    hh_columns = [hh[c] for c in EXISTING_HH_SCHEMA]
    mb_columns = [
        hh[c] if c in ("kk_number", "village_code") else mb[c] for c in EXISTING_MB_SCHEMA
    ]
    batch_kk_keys = (
        "SELECT DISTINCT trim(kk_number) FROM hh_src WHERE kk_number IS NOT NULL UNION "
        "SELECT DISTINCT trim(kk_number) FROM mb_src WHERE kk_number IS NOT NULL"
    )
    registered = session.execute(select(func.count()).select_from(Household)).scalar_one()
    if registered <= bulk.duck_count(con, f"SELECT count(*) FROM ({batch_kk_keys})"):
        # A registry smaller than the batch: read it whole rather than shipping keys over
        # (the batch's keys stay in DuckDB: fetching a million families' 4.5 M keys into
        # Python took 3 s of a first import).
        households = bulk.fetch_arrow(session, select(*hh_columns))
        members = bulk.fetch_arrow(
            session,
            select(*mb_columns)
            .join(Household, Household.id == Member.household_id)
            .where(Member.status == "active"),
        )
    else:
        # A longer key matches nothing registered (the columns hold 16 characters).
        kk_keys = [
            r[0]
            for r in con.execute(
                f"SELECT k FROM ({batch_kk_keys}) keys(k) WHERE length(k) <= 16"
            ).fetchall()
        ]
        nik_keys = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT trim(nik) FROM mb_src "
                "WHERE nik IS NOT NULL AND length(trim(nik)) <= 16"
            ).fetchall()
        ]
        bulk.push_keys(session, "tmp_batch_kk", kk_keys)
        bulk.push_keys(session, "tmp_batch_nik", nik_keys)
        batch_kk = table_clause("tmp_batch_kk", column("k"))
        batch_nik = table_clause("tmp_batch_nik", column("k"))
        households = bulk.fetch_arrow(
            session,
            select(*hh_columns).select_from(
                batch_kk.join(Household, Household.kk_number == batch_kk.c.k)
            ),
        )
        # Two joins that each use an index, not one scan with `nik IN … OR kk IN …`
        # (PostgreSQL ran that as a nested loop: minutes for 100,000 keys).
        by_nik = (
            select(*mb_columns)
            .select_from(batch_nik)
            .join(Member, Member.nik == batch_nik.c.k)
            .join(Household, Household.id == Member.household_id)
            .where(Member.status == "active")
        )
        by_family = (
            select(*mb_columns)
            .select_from(batch_kk)
            .join(Household, Household.kk_number == batch_kk.c.k)
            .join(Member, Member.household_id == Household.id)
            .where(Member.status == "active")
        )
        members = bulk.fetch_arrow(session, union(by_nik, by_family))
        bulk.drop_temp(session, "tmp_batch_kk")
        bulk.drop_temp(session, "tmp_batch_nik")
    bulk.duck_table(con, "existing_hh", EXISTING_HH_SCHEMA, households)
    bulk.duck_table(con, "existing_mb", EXISTING_MB_SCHEMA, members)


def _listed(con: duckdb.DuckDBPyConnection, severity: str, limit: int) -> list[dict[str, Any]]:
    rows = con.execute(
        "SELECT file, row, column_name, code, message FROM errors WHERE severity = ? "
        "ORDER BY file, row, column_name LIMIT ?",
        [severity, limit],
    ).fetchall()
    return [
        RowError(file, row, column, code, message, severity).as_dict()
        for file, row, column, code, message in rows
    ]


def _summarise(
    con: duckdb.DuckDBPyConnection, batch: Batch, request: ImportRequest
) -> ImportSummary:
    def one(sql: str) -> int:
        return bulk.duck_count(con, sql)

    return ImportSummary(
        households_read=one("SELECT count(*) FROM hh"),
        members_read=one("SELECT count(*) FROM mb"),
        households_accepted=one("SELECT count(*) FROM hh_new"),
        members_accepted=one("SELECT count(*) FROM mb_new"),
        households_rejected=one("SELECT count(*) FROM hh_state WHERE state = 'rejected'"),
        members_rejected=one("SELECT count(*) FROM mb_state WHERE state = 'rejected'"),
        households_unchanged=one("SELECT count(*) FROM hh_state WHERE state = 'unchanged'"),
        members_unchanged=one("SELECT count(*) FROM mb_state WHERE state = 'unchanged'"),
        duplicates_for_review=one("SELECT count(*) FROM review_nik"),
        errors_total=one("SELECT count(*) FROM errors WHERE severity = 'error'"),
        warnings_total=one("SELECT count(*) FROM errors WHERE severity = 'warning'"),
        errors=_listed(con, "error", request.max_listed),
        warnings=_listed(con, "warning", request.max_listed),
        batch_sha256=batch.sha256,
        status=request.status,
        dry_run=request.dry_run,
    )


def sealed_rows(table: str, query: str, columns: tuple[str, ...]) -> str:
    """`query`'s rows with their seals, as `columns` (the last being the seal). Columns a new
    row leaves NULL (a status reason, a Dukcapil match) are sealed as NULL."""
    nulls = {
        "household": "CAST(NULL AS VARCHAR) AS status_reason",
        "member": "CAST(NULL AS BOOLEAN) AS dukcapil_match",
    }[table]
    chosen = ", ".join(f"q.{c}" for c in columns if c != "seal")
    return f"""
        SELECT {chosen}, {seal_sql(table, "q")} AS seal
        FROM (SELECT r.*, {nulls} FROM ({query}) r) q"""


def _stamp_sql(session: Session) -> str:
    now = utcnow()
    # What each dialect's DateTime column stores (SQLAlchemy's SQLite format has no zone).
    return now.isoformat(sep=" ") if is_postgres(session) else now.strftime("%Y-%m-%d %H:%M:%S.%f")


def _load(
    session: Session,
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    request: ImportRequest,
    summary: ImportSummary,
    actor: User,
    scratch: Path,
    say: Progress,
) -> None:
    prepare_duckdb(con, keyring().current)  # the rows are sealed on their way (audit/seal.py)
    record = ImportBatch(
        sha256=batch.sha256,
        files=batch.sources,
        actor=actor.username,
        entry_status=request.status,
        summary={},
    )
    session.add(record)
    session.flush()
    summary.batch_id = record.id
    # Ids are given here, in file order, rather than by the tables' sequences in the order the
    # rows arrive: the rows can then travel unsorted (bulk.insert_from_duckdb).
    first_household = bulk.reserve_ids(session, "household", summary.households_accepted)
    first_member = bulk.reserve_ids(session, "member", summary.members_accepted)
    now = _stamp_sql(session)
    con.execute(
        f"CREATE TABLE hh_ids AS SELECT _row, kk_number, {int(first_household)} - 1 + "
        "row_number() OVER (ORDER BY _row) AS id FROM hh_new"
    )
    con.execute(
        f"CREATE TABLE mb_ids AS SELECT _row, {int(first_member)} - 1 + "
        "row_number() OVER (ORDER BY _row) AS id FROM mb_new"
    )
    values = ", ".join(f"h.{c}" for c in HOUSEHOLD_VALUE_COLUMNS)
    say("memuat keluarga")
    household_query = f"""
        SELECT i.id, {values}, h.village_code[1:8] AS district_code,
               h.village_code[1:5] AS regency_code, h.village_code[1:2] AS province_code,
               '{request.status}' AS status, {record.id} AS import_batch_id, 1 AS version,
               '{now}' AS created_at, '{now}' AS updated_at
        FROM hh_new h JOIN hh_ids i USING (_row)"""
    household_query = sealed_rows("household", household_query, LOAD_HOUSEHOLD)
    with bulk.deferred_indexes(session, HOUSEHOLD_TABLE, summary.households_accepted):
        bulk.insert_from_duckdb(
            session,
            con,
            household_query,
            "household",
            LOAD_HOUSEHOLD,
            scratch,
            unescaped=CODED,
        )
    say("memuat anggota")
    member_values = ", ".join(
        "CAST(m.birth_date AS VARCHAR) AS birth_date" if c == "birth_date" else f"m.{c}"
        for c in MEMBER_VALUE_COLUMNS
        if c != "kk_number"
    )
    member_query = f"""
        SELECT n.id, coalesce(i.id, x.id) AS household_id, {member_values},
               {normalise_name_sql("m.name")} AS name_normalised,
               'active' AS status, 1 AS version, '{now}' AS created_at, '{now}' AS updated_at
        FROM mb_new m JOIN mb_ids n USING (_row)
                      LEFT JOIN hh_ids i ON i.kk_number = m.kk_number
                      LEFT JOIN existing_hh x ON x.kk_number = m.kk_number"""
    member_query = sealed_rows("member", member_query, LOAD_MEMBER)
    with bulk.deferred_indexes(session, MEMBER_TABLE, summary.members_accepted):
        bulk.insert_from_duckdb(
            session,
            con,
            member_query,
            "member",
            LOAD_MEMBER,
            scratch,
            unescaped=CODED,
        )
    tally.add(session, "household", request.status, summary.households_accepted)
    tally.add(session, "member", "active", summary.members_accepted)
    say("mencatat")
    if summary.duplicates_for_review and summary.members_accepted:
        _queue_reviews(session, con, record.id, first_member)
    counts = {
        k: v
        for k, v in summary.as_dict().items()
        if isinstance(v, int) and not isinstance(v, bool) and not k.startswith("reject_file")
    }
    record.summary = counts
    audit.record(
        session,
        actor=actor.username,
        action="registry.import",
        entity="import_batch",
        entity_id=record.id,
        diff={"sha256": batch.sha256, "files": batch.sources, "status": request.status, **counts},
    )


def _queue_reviews(
    session: Session, con: duckdb.DuckDBPyConnection, batch_id: int, first_member: int
) -> None:
    niks = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT m.nik FROM mb m JOIN review_nik r USING (_row)"
        ).fetchall()
    ]
    bulk.push_keys(session, "tmp_review_nik", niks)
    session.execute(
        text("""
        INSERT INTO duplicate_review (nik, member_id, other_member_id, import_batch_id, state,
                                      created_at)
        SELECT m.nik, m.id,
               (SELECT max(o.id) FROM member o
                WHERE o.nik = m.nik AND o.id < m.id AND o.status = 'active'),
               :batch, 'open', :now
        FROM member m
        WHERE m.id >= :first_member AND m.nik IN (SELECT k FROM tmp_review_nik)
          AND EXISTS (SELECT 1 FROM member o
                      WHERE o.nik = m.nik AND o.id < m.id AND o.status = 'active')
    """),
        {"batch": batch_id, "first_member": first_member, "now": utcnow()},
    )
    bulk.drop_temp(session, "tmp_review_nik")


# What a spreadsheet reads as a formula when a cell starts with it (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(expression: str) -> str:
    """DuckDB SQL: the text `expression` as a spreadsheet shows it and never runs it. A reject
    file repeats what an uploaded file held (a KK, a NIK, a file name); a value starting like a
    formula (`=HYPERLINK(…)`) gets a leading apostrophe, which Excel and LibreOffice read as
    "text". A valid KK or NIK (digits) is never changed."""
    starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_STARTS)
    return (
        f"CASE WHEN left({expression}, 1) IN ({starts}) "
        f"THEN chr(39) || {expression} ELSE {expression} END"
    )


def _write_rejects(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    request: ImportRequest,
    scratch: Path,
    summary: ImportSummary,
) -> None:
    total = bulk.duck_count(con, "SELECT count(*) FROM errors")
    if total == 0:
        return
    limit = REJECT_LINES if request.reject_lines is None else request.reject_lines
    request.rejects_dir.mkdir(parents=True, exist_ok=True)
    # One file per run (the batch's hash, then when): importing the same batch again, or a
    # dry run by someone else, must not overwrite the errors an operator is still working on.
    suffix = "-dry-run" if request.dry_run else ""
    name = f"import-{batch.sha256[:16]}-{utcnow():%Y%m%d-%H%M%S}{suffix}"
    for again in itertools.count(1):
        target = request.rejects_dir / (f"{name}.csv" if again == 1 else f"{name}-{again}.csv")
        try:  # claimed atomically: two runs in the same second never share a name
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            continue
    staged = scratch / target.name
    omitted = max(total - limit, 0)
    # Past the bound, a last line says how many problems were left out (row 0, code
    # `truncated`): an operator who opens only the file knows that it is not all.
    said = (
        f"… {grouped(omitted)} masalah lain tidak ditulis (berkas tolakan dibatasi "
        f"{grouped(limit)} baris, galat lebih dulu). Perbaiki yang tertulis, lalu impor lagi."
    )
    note = f"UNION ALL SELECT '', 0, '', 'truncated', {lit(said)}, 'note', NULL, NULL, 2"
    # With the row's KK and NIK as the file has them: what an operator looks for in the
    # village's own records to correct the row (file-wide errors, row 0, have neither).
    con.execute(
        "COPY (SELECT * EXCLUDE (part) FROM ("
        f"SELECT * FROM (SELECT {inert('e.file')} AS file, e.row, "
        f"{inert('e.column_name')} AS column, e.code, {inert('e.message')} AS message, "
        f"e.severity, {inert('trim(coalesce(h.kk_number, m.kk_number))')} AS kk_number, "
        f"{inert('trim(m.nik)')} AS nik, "
        "CASE WHEN e.severity = 'error' THEN 0 ELSE 1 END AS part "
        "FROM errors e "
        "LEFT JOIN hh_src h ON e.file = $households AND h._row = e.row "
        "LEFT JOIN mb_src m ON e.file = $members AND m._row = e.row "
        "ORDER BY part, e.file, e.row, e.column_name, e.code LIMIT $limit) "
        f'{note if omitted else ""}) ORDER BY part, file, row, "column", code) '
        f"TO {bulk.sql_path(staged)} (FORMAT csv, HEADER true)",
        {
            "households": batch.households.display_name,
            "members": batch.members.display_name,
            "limit": limit,
        },
    )
    shutil.move(staged, target)
    summary.reject_file = str(target)
    summary.reject_file_rows = total - omitted
    summary.reject_file_omitted = omitted
