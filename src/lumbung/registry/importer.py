"""`lumbung import`: check a batch set-based in DuckDB, load the good rows in one transaction.

The flow: open the files (headers checked, XLSX converted) → DuckDB tables → registry rows the
batch touches (fetched by key) → every check (registry/checks.py) → with `link`, the batch
linked against the latest release (probable duplicates as warnings: linkage/batch.py) → bulk
insert of accepted households and members → duplicate review entries → one audit event (the
three: registry/loading.py) → with `link`, the probable duplicates sent to review → reject
file.
A failure anywhere rolls the caller's transaction back; the database keeps no trace.
"""

from __future__ import annotations

import itertools
import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import column, func, select, union
from sqlalchemy import table as table_clause
from sqlalchemy.orm import Session

from lumbung import bulk, driver_errors
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.db import utcnow
from lumbung.errors import ValidationFailed
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
    open_batch,
    unreadable,
)
from lumbung.registry.batch_tables import BatchFile
from lumbung.registry.check_sql import (
    HOUSEHOLD_VALUE_COLUMNS,
    MEMBER_VALUE_COLUMNS,
    CheckOptions,
    lit,
)
from lumbung.registry.checks import run_checks
from lumbung.registry.errors import BatchFileError, RowError
from lumbung.registry.import_run import ImportRequest, ImportSummary, Progress
from lumbung.registry.loading import load_accepted
from lumbung.registry.models import Household, Member
from lumbung.registry.scratch import scratch_dir

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
            links = None
            if request.link is not None:  # the engine only when asked (`--link`)
                say("mencocokkan dengan rilis terakhir")
                links = request.link.link(
                    session,
                    con,
                    actor=actor,
                    members_file=batch.members.display_name,
                    scratch=scratch,
                )
            summary = _summarise(con, batch, request)
            # Reject files go into this registry's data folder, or nowhere; checked once the
            # files were read as a batch (a file that is not one is refused before, and no
            # folder beside it is claimed).
            owned(session, request.rejects_dir.parent)
            # A batch with nothing new (e.g. loaded before) leaves no trace at all.
            if not request.dry_run and (summary.households_accepted or summary.members_accepted):
                load_accepted(session, con, batch, request, summary, actor, scratch, say)
            if links is not None:
                if not request.dry_run:
                    links.queue(session, actor=actor, import_batch_id=summary.batch_id)
                summary.linkage = links.as_dict()
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
                    "Tabel wilayah kosong: daftar wilayah Kemendagri belum dimuat ke database.",
                )
            ],
            command="lumbung regions load",
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
