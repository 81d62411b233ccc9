"""An extract of the civil registry read and checked row by row, into DuckDB.

The extract is `nik,kk_number,name,birth_place,birth_date,sex,death_date` (ISO dates, the
death date empty for the living), a CSV of up to a whole province (millions of rows). It is
streamed through Python's CSV reader (exact row numbers as a spreadsheet gives them, blank
lines skipped, Windows and Unix line ends alike) into DuckDB in Arrow chunks, and checked there
in SQL, every row at once. A file that cannot be read as such (not UTF-8, a quote never
closed, another header, no rows) is refused whole: `FileRefused`, nothing marked. A row with a
problem is left out of the matching, and the member its NIK names is left unmarked (a broken
row never makes a member "not found").
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from lumbung.errors import ValidationFailed
from lumbung.identity.names import normalise_name_sql
from lumbung.registry.check_sql import CONTROL_OR_BREAK_RE2, lit, printable
from lumbung.registry.errors import RowError

HEADER = ("nik", "kk_number", "name", "birth_place", "birth_date", "sex", "death_date")
MAX_LINE = 1 << 20  # a line of an extract is ~100 bytes; a megabyte is no extract's
MAX_TEXT = 200
CHUNK = 100_000  # rows per Arrow chunk handed to DuckDB
RAW_SCHEMA = pa.schema(
    [("_row", pa.int64()), ("_fields", pa.int32())] + [(c, pa.string()) for c in HEADER]
)
LABELS = {
    "nik": "NIK",
    "kk_number": "Nomor KK",
    "name": "Nama",
    "birth_date": "Tanggal lahir",
    "sex": "Jenis kelamin",
}


class FileRefused(ValidationFailed):
    """The extract refused whole (encoding, quoting, header, no rows): nothing is marked."""

    def __init__(self, problem: RowError) -> None:
        super().__init__(f"{problem.file}: {problem.message}", details=[problem.as_dict()])
        self.problem = problem


def refused(file: str, code: str, message: str, row: int = 0) -> FileRefused:
    return FileRefused(RowError(file, row, "", code, message))


def _shown(value: str, limit: int = 120) -> str:
    text = printable(value)
    return text if len(text) <= limit else text[:limit] + "…"


class _Lines:
    """The file's text lines for `csv.reader`, decoded as UTF-8 as they come (a byte that is
    not names its line), none longer than `MAX_LINE`."""

    def __init__(self, path: Path, file: str) -> None:
        self.handle = path.open("rb")
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.number = 0
        self.file = file

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self.handle.readline(MAX_LINE + 1)
        if not raw:
            raise StopIteration
        self.number += 1
        if len(raw) > MAX_LINE:
            raise refused(
                self.file,
                "file_unreadable",
                f"baris {self.number} lebih dari 1 MB; ini bukan ekstrak Dukcapil.",
                self.number,
            )
        try:
            return self.decoder.decode(raw)
        except UnicodeDecodeError as exc:
            raise refused(
                self.file,
                "file_unreadable",
                f"baris {self.number} bukan teks UTF-8; simpan berkas sebagai CSV UTF-8.",
                self.number,
            ) from exc

    def close(self) -> None:
        self.handle.close()


def _delimiter(path: Path) -> str:
    """`;` when the header has more of them than commas (Excel in an Indonesian locale)."""
    with path.open("rb") as handle:
        first = handle.readline(MAX_LINE)
    return ";" if first.count(b";") > first.count(b",") else ","


def _rows(path: Path, file: str) -> Iterator[pa.RecordBatch]:
    """The rows after the header as Arrow batches (`RAW_SCHEMA`): each row's number (the line it
    starts on), how many fields it has, and its first seven fields as text."""
    lines = _Lines(path, file)
    reader = csv.reader(lines, delimiter=_delimiter(path), strict=True)
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE))
    columns: list[list[object]] = [[] for _ in RAW_SCHEMA]
    count = 0
    start = 1
    try:
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header] != list(HEADER):
            raise refused(
                file,
                "bad_header",
                f"baris judul harus tepat {','.join(HEADER)} (ditemukan: "
                f"{_shown(','.join(header or [])) or 'berkas kosong'}).",
                1,
            )
        while True:
            start = lines.number + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            if not any(c.strip() for c in cells):  # a blank line
                continue
            count += 1
            columns[0].append(start)
            columns[1].append(len(cells))
            for i in range(len(HEADER)):
                columns[2 + i].append(cells[i] if i < len(cells) else None)
            if len(columns[0]) >= CHUNK:
                yield pa.record_batch(columns, schema=RAW_SCHEMA)
                columns = [[] for _ in RAW_SCHEMA]
        if count == 0:
            raise refused(file, "no_rows", "berkas hanya berisi baris judul, tanpa data.")
        if columns[0]:
            yield pa.record_batch(columns, schema=RAW_SCHEMA)
    except csv.Error as exc:
        raise refused(
            file,
            "file_unreadable",
            f"baris {start} tidak bisa dibaca sebagai CSV (tanda kutip tidak ditutup?); berkas "
            "tidak dibaca, perbaiki baris ini lalu impor lagi.",
            start,
        ) from exc
    finally:
        lines.close()


def read_extract(con: duckdb.DuckDBPyConnection, path: Path, file: str) -> int:
    """The extract into DuckDB table `raw` (every row as text, with `_row` and `_fields`);
    the number of rows. Raises `FileRefused` for a file that is not an extract."""
    con.execute(
        "CREATE TABLE raw (_row BIGINT, _fields INTEGER, "
        + ", ".join(f"{c} VARCHAR" for c in HEADER)
        + ")"
    )
    total = 0
    for batch in _rows(path, file):
        con.register("incoming", pa.Table.from_batches([batch]))
        con.execute("INSERT INTO raw SELECT * FROM incoming")
        con.unregister("incoming")
        total += batch.num_rows
    return total


ISO = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _date(column: str) -> str:
    """The ISO date in `column` (trimmed), NULL when it is not a real date."""
    return (
        f"CASE WHEN regexp_matches(trim({column}), '{ISO}') "
        f"THEN TRY_CAST(trim({column}) AS DATE) END"
    )


def check_extract(con: duckdb.DuckDBPyConnection, file: str, as_of: date) -> None:
    """Tables `problems(row, column_name, code, message, severity)` (every problem of every
    row), `extract` (the rows without an error, typed, `name_norm` the normalised name) and
    `refused_nik` (the NIKs of rows with an error, as written: their members stay unmarked)."""
    con.execute(
        "CREATE TABLE typed AS SELECT _row, _fields, trim(nik) AS nik, trim(kk_number) AS kk, "
        "trim(name) AS name, trim(birth_place) AS birth_place, "
        f"{_date('birth_date')} AS birth_date, upper(trim(sex)) AS sex, "
        f"{_date('death_date')} AS death_date, birth_date AS birth_text, "
        "death_date AS death_text, sex AS sex_text FROM raw"
    )
    today = f"DATE '{as_of.isoformat()}'"
    checks: list[tuple[str, str, str, str]] = [
        (
            "",
            "field_count",
            f"_fields <> {len(HEADER)}",
            f"'Baris ini punya ' || _fields || ' kolom, judulnya {len(HEADER)}; ada koma tanpa "
            "tanda kutip di sebuah nilai?'",
        ),
    ]
    for column, label in LABELS.items():
        source = {"kk_number": "kk", "birth_date": "birth_text", "sex": "sex_text"}.get(
            column, column
        )
        checks.append(
            (
                column,
                "required",
                f"_fields = {len(HEADER)} AND coalesce(trim({source}), '') = ''",
                lit(f"{label} wajib diisi."),
            )
        )
    checks += [
        (
            "nik",
            "invalid_nik",
            "nik <> '' AND NOT regexp_matches(nik, '^[0-9]{16}$')",
            "'NIK harus 16 angka, bukan ' || sql_shown(nik) || '.'",
        ),
        (
            "kk_number",
            "invalid_kk",
            "kk <> '' AND NOT regexp_matches(kk, '^[0-9]{16}$')",
            "'Nomor KK harus 16 angka, bukan ' || sql_shown(kk) || '.'",
        ),
        (
            "birth_date",
            "invalid_date",
            "trim(coalesce(birth_text, '')) <> '' AND birth_date IS NULL",
            "'Tanggal lahir ' || sql_shown(trim(birth_text)) || ' bukan tanggal YYYY-MM-DD.'",
        ),
        (
            "birth_date",
            "future_date",
            f"birth_date > {today}",
            "'Tanggal lahir ' || CAST(birth_date AS VARCHAR) || ' di masa depan.'",
        ),
        (
            "death_date",
            "invalid_date",
            "trim(coalesce(death_text, '')) <> '' AND death_date IS NULL",
            "'Tanggal meninggal ' || sql_shown(trim(death_text)) || ' bukan tanggal YYYY-MM-DD "
            "(kosongkan bila masih hidup).'",
        ),
        (
            "death_date",
            "future_date",
            f"death_date > {today}",
            "'Tanggal meninggal ' || CAST(death_date AS VARCHAR) || ' di masa depan.'",
        ),
        (
            "death_date",
            "death_before_birth",
            "death_date < birth_date",
            "'Tanggal meninggal ' || CAST(death_date AS VARCHAR) || ' sebelum tanggal lahir ' "
            "|| CAST(birth_date AS VARCHAR) || '.'",
        ),
        (
            "sex",
            "invalid_sex",
            "sex <> '' AND sex NOT IN ('L', 'P')",
            "'Jenis kelamin harus L atau P, bukan ' || sql_shown(trim(sex_text)) || '.'",
        ),
    ]
    for column, label in (("name", "Nama"), ("birth_place", "Tempat lahir")):
        checks += [
            (
                column,
                "control_character",
                f"regexp_matches(coalesce({column}, ''), '{CONTROL_OR_BREAK_RE2}')",
                lit(
                    f"{label} memuat karakter kendali atau tanda arah teks; tulis ulang sebagai "
                    "teks biasa."
                ),
            ),
            (
                column,
                "too_long",
                f"length(coalesce({column}, '')) > {MAX_TEXT}",
                lit(f"{label} lebih dari {MAX_TEXT} karakter."),
            ),
        ]
    con.execute(
        "CREATE TABLE problems (row BIGINT, column_name VARCHAR, code VARCHAR, message VARCHAR, "
        "severity VARCHAR)"
    )
    con.execute(
        "CREATE MACRO sql_shown(x) AS '\"' || regexp_replace(left(x, 40), "
        f"'{CONTROL_OR_BREAK_RE2}', '?', 'g') || '\"'"
    )
    for column, code, condition, message in checks:
        # A row of another length has only that problem: its cells are not where they belong.
        gate = "" if code == "field_count" else f"_fields = {len(HEADER)} AND "
        con.execute(
            f"INSERT INTO problems SELECT _row, '{column}', '{code}', {message}, 'error' "
            f"FROM typed WHERE {gate}({condition})"
        )
    # A NIK on several rows: which of them is the person's is not known, so none is used.
    con.execute(
        "INSERT INTO problems SELECT t._row, 'nik', 'duplicate_nik', 'NIK ini ada di ' || "
        "d.n || ' baris ekstrak (baris ' || d.rows || '); tidak ada yang dipakai.', 'error' "
        "FROM typed t JOIN (SELECT nik, count(*) AS n, string_agg(CAST(_row AS VARCHAR), ', ' "
        "ORDER BY _row) AS rows FROM typed WHERE regexp_matches(nik, '^[0-9]{16}$') "
        "GROUP BY nik HAVING count(*) > 1) d USING (nik)"
    )
    con.execute(
        "CREATE TABLE extract AS SELECT nik, kk, name, "
        f"{normalise_name_sql('name')} AS name_norm, birth_place, birth_date, sex, death_date, "
        "_row FROM typed WHERE _row NOT IN (SELECT row FROM problems)"
    )
    con.execute(
        "CREATE TABLE refused_nik AS SELECT DISTINCT nik FROM typed "
        "WHERE _row IN (SELECT row FROM problems) AND nik <> ''"
    )


def listed(con: duckdb.DuckDBPyConnection, file: str, limit: int) -> list[RowError]:
    """The first `limit` problems, by row and column."""
    rows = con.execute(
        "SELECT row, column_name, code, message, severity FROM problems "
        "ORDER BY row, column_name, code LIMIT ?",
        [limit],
    ).fetchall()
    return [RowError(file, r, c, code, m, s) for r, c, code, m, s in rows]
