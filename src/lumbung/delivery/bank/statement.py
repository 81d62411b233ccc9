"""A bank's CSV statement, read as `OutcomeRow`s.

Columns (a header line, names in any order and case; `,` or `;` between cells; UTF-8):
`end_to_end_id`, `instruction_id` (optional), `status` (paid/failed/returned, berhasil/gagal/
retur, or the ISO codes ACSC/ACCC → paid, RJCT → failed), `reason` (optional), `amount_idr`
(whole rupiah: `300000` or `300000.00`; never `300.000`, which Indonesian writing reads as
three hundred thousand and a computer as three hundred), `date` (`2026-12-31`, or
`31/12/2026`), and optionally `reference` (the bank's own).

DuckDB's CSV reader reads the file and every check runs in its SQL, a column at a time; Python
only turns the good rows into `OutcomeRow`s and the others into problems (one per row: the
first thing wrong with it), fetched a record batch at a time. Rows are numbered as a
spreadsheet shows them (the header is row 1). A file DuckDB cannot read as CSV (a line with
another number of cells, bytes that are not UTF-8) is refused whole, as an import batch is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from lumbung.bulk import duck_connect
from lumbung.delivery.bank.reading import NOT_FINAL, STATUSES, StatusRead, shown
from lumbung.delivery.outcomes import OutcomeRow
from lumbung.errors import ValidationFailed

REQUIRED = ("end_to_end_id", "status", "amount_idr", "date")
OPTIONAL = ("instruction_id", "reason", "reference")
MAX_HEADER = 4096
MAX_LINE = 8192
FETCH = 65_536


def read_statement(path: Path) -> StatusRead:
    """Start reading a CSV statement (its header checked now, its rows as they are asked)."""
    with path.open("rb") as f:
        first = f.readline(MAX_HEADER).decode("utf-8-sig", errors="replace")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    names = [n.strip().strip('"').strip().lower() for n in first.strip("\r\n").split(delimiter)]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValidationFailed(
            f"{path.name}: kolom {', '.join(missing)} tidak ada di baris judul; kolom laporan "
            f"bank: {', '.join(REQUIRED)} (wajib), {', '.join(OPTIONAL)} (boleh)."
        )
    return StatusRead(path.name, "csv", lambda read: _rows(read, path, names, delimiter))


def _sql(names: list[str]) -> str:
    def column(name: str) -> str:
        # the header's names are checked against these constants: no input reaches the SQL
        return f'trim(CAST("{name}" AS VARCHAR))' if name in names else "CAST(NULL AS VARCHAR)"

    words = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STATUSES.items())
    waiting = ", ".join(f"'{s}'" for s in sorted(NOT_FINAL))
    return f"""
    WITH src AS (
      SELECT row_number() OVER () + 1 AS row_number,
             {column("end_to_end_id")} AS e2e, {column("instruction_id")} AS instr,
             {column("status")} AS said, lower({column("status")}) AS st,
             {column("amount_idr")} AS amt, {column("date")} AS d,
             {column("reason")} AS reason, {column("reference")} AS reference
      FROM read_csv($path, header = true, all_varchar = true, delim = $delim, quote = '"',
                    escape = '"', max_line_size = {MAX_LINE}, strict_mode = true)
    ), typed AS (
      SELECT *,
             COALESCE(NULLIF(e2e, ''), regexp_extract(instr, '^(\\d{{1,18}}-\\d{{1,18}})-\\d+$', 1))
               AS entitlement,
             CASE st {words} END AS status,
             TRY_CAST(regexp_extract(amt, '^(\\d{{1,15}})(\\.0{{1,2}})?$', 1) AS BIGINT) AS amount,
             CAST(COALESCE(try_strptime(d, '%Y-%m-%d'), try_strptime(d, '%d/%m/%Y'),
                           try_strptime(d, '%d-%m-%Y')) AS DATE) AS value_date
      FROM src
    )
    SELECT row_number, entitlement, instruction, status, amount, reference, reason, value_date,
           problem,
           -- what the file said, for the message of a refused row only
           CASE WHEN problem IS NOT NULL THEN e2e END, CASE WHEN problem IS NOT NULL THEN instr END,
           CASE WHEN problem IS NOT NULL THEN said END, CASE WHEN problem IS NOT NULL THEN amt END,
           CASE WHEN problem IS NOT NULL THEN d END
    FROM (
    SELECT row_number, entitlement, NULLIF(instr, '') AS instruction, status, amount,
           NULLIF(reference, '') AS reference,
           NULLIF(reason, '') AS reason, value_date,
           CASE
             WHEN instr <> '' AND NOT regexp_full_match(instr, '\\d{{1,18}}-\\d{{1,18}}-\\d{{1,9}}')
               THEN 'instruction_id'
             WHEN COALESCE(entitlement, '') = '' THEN 'end_to_end_id:missing'
             WHEN NOT regexp_full_match(entitlement, '\\d{{1,18}}-\\d{{1,18}}') THEN 'end_to_end_id'
             WHEN instr <> '' AND NOT starts_with(instr, entitlement || '-')
               THEN 'instruction_id:other'
             WHEN status IS NULL AND st IN ({waiting}) THEN 'skip'
             WHEN status IS NULL THEN 'status'
             WHEN COALESCE(amt, '') <> '' AND amount IS NULL THEN 'amount_idr'
             WHEN COALESCE(d, '') <> '' AND value_date IS NULL THEN 'date'
           END AS problem,
           e2e, instr, said, amt, d
    FROM typed
    )
    """


def _rows(read: StatusRead, path: Path, names: list[str], delim: str) -> Iterator[OutcomeRow]:
    con = duck_connect(memory_limit="512MB")
    try:
        try:
            relation = con.sql(_sql(names), params={"path": str(path), "delim": delim})
            reader = relation.to_arrow_reader(FETCH)
            for batch in reader:
                yield from _batch(read, batch.to_pydict())
        except duckdb.Error as error:
            read.refuse(
                0,
                "",
                "unreadable",
                f"Berkas CSV tidak bisa dibaca: {str(error).splitlines()[0][:300]}",
            )
    finally:
        con.close()


def _batch(read: StatusRead, data: dict[str, list[Any]]) -> Iterator[OutcomeRow]:
    columns = list(data.values())
    for (
        row,
        entitlement,
        instruction,
        status,
        amount,
        reference,
        reason,
        value_date,
        problem,
        e2e,
        instr,
        said,
        amt,
        d,
    ) in zip(*columns, strict=True):
        if problem is None:
            read.read += 1
            yield OutcomeRow(
                row, entitlement, instruction, status, amount, reference, reason, value_date
            )
        elif problem == "skip":
            read.skipped += 1
        else:
            _refuse(read, row, problem, e2e or "", instr or "", said or "", amt or "", d or "")


def _refuse(
    read: StatusRead, row: int, problem: str, e2e: str, instr: str, said: str, amt: str, d: str
) -> None:
    if problem == "instruction_id":
        read.refuse(
            row,
            "instruction_id",
            "unknown_id",
            f"Id instruksi {shown(instr)} bukan id pembayaran Lumbung "
            "(SIKLUS-PENERIMA-PERCOBAAN, mis. 12-3456-1).",
        )
    elif problem == "instruction_id:other":
        read.refuse(
            row,
            "instruction_id",
            "unknown_id",
            f"Id instruksi {shown(instr)} bukan percobaan dari id end-to-end {shown(e2e)}.",
        )
    elif problem == "end_to_end_id:missing":
        read.refuse(row, "end_to_end_id", "missing_value", "Id end-to-end kosong.")
    elif problem == "end_to_end_id":
        read.refuse(
            row,
            "end_to_end_id",
            "unknown_id",
            f"Id end-to-end {shown(e2e)} bukan id hak Lumbung (SIKLUS-PENERIMA, mis. 12-3456).",
        )
    elif problem == "status":
        read.refuse(
            row,
            "status",
            "unknown_status",
            f"Status {shown(said, 20)} tidak dikenal; pilihan: paid/berhasil, failed/gagal, "
            "returned/retur, atau kode ISO ACSC, ACCC (dibayar), RJCT (gagal).",
        )
    elif problem == "amount_idr":
        read.refuse(
            row,
            "amount_idr",
            "bad_amount",
            f"Jumlah {shown(amt, 20)} bukan rupiah bulat: tulis angka saja tanpa pemisah "
            "ribuan dan tanpa sen, mis. 300000.",
        )
    else:
        read.refuse(
            row,
            "date",
            "bad_date",
            f"Tanggal {shown(d, 30)} tidak dikenal; tulis TTTT-BB-HH (2026-12-31) atau "
            "HH/BB/TTTT (31/12/2026).",
        )
