"""Finding and opening the two files of a batch: headers checked, XLSX turned into CSV.

Everything here is streaming: headers are read alone, an XLSX sheet is converted row by row,
and the large-file scans read fixed-size blocks.
"""

from __future__ import annotations

import csv
import hashlib
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lumbung.registry import vocab
from lumbung.registry.check_sql import printable
from lumbung.registry.errors import BatchFileError, RowError

BLOCK = 1 << 24
ID_COLUMNS = ("kk_number", "nik")


@dataclass(slots=True)
class BatchFile:
    """One table of the batch as a CSV that DuckDB can read."""

    kind: str  # "households" or "members"
    display_name: str  # what errors call the file: "members.csv", "batch.xlsx:members"
    csv_path: Path
    columns: list[str]  # normalised (lower-case) header, in file order
    delimiter: str = ","
    # True when the CSV carries its own first column `_row` (converted or re-numbered files)
    numbered: bool = False


@dataclass(slots=True)
class Batch:
    households: BatchFile
    members: BatchFile
    sources: list[dict[str, Any]]  # [{"file", "sha256", "bytes"}]
    sha256: str
    pre_errors: list[RowError] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def open_batch(paths: list[Path], workdir: Path) -> Batch:
    """Find the households and members tables among `paths` (files or folders) and check them."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".xlsx")))
        elif path.exists():
            files.append(path)
        else:
            raise BatchFileError(
                [RowError(str(path), 0, "", "file_unreadable", "Berkas tidak ditemukan.")]
            )
    tables: dict[str, BatchFile] = {}
    pre_errors: list[RowError] = []
    for path in files:
        if path.suffix.lower() == ".xlsx":
            for table, errors in _convert_xlsx(path, workdir):
                _keep(tables, table)
                pre_errors.extend(errors)
        else:
            _keep(tables, _csv_table(path, workdir))
    missing = [k for k in ("households", "members") if k not in tables]
    if missing:
        raise BatchFileError(
            [
                RowError(
                    ", ".join(str(p) for p in paths),
                    0,
                    "",
                    "missing_file",
                    f"Batch tidak punya tabel {k}: butuh households.csv dan members.csv "
                    "atau satu XLSX dengan sheet households dan members.",
                )
                for k in missing
            ]
        )
    hashes = [sha256_file(p) for p in files]
    sources: list[dict[str, Any]] = [
        {"file": p.name, "sha256": h, "bytes": p.stat().st_size}
        for p, h in zip(files, hashes, strict=True)
    ]
    combined = hashlib.sha256("".join(sorted(hashes)).encode())
    return Batch(tables["households"], tables["members"], sources, combined.hexdigest(), pre_errors)


def _keep(tables: dict[str, BatchFile], table: BatchFile) -> None:
    if table.kind in tables:
        raise BatchFileError(
            [
                RowError(
                    table.display_name,
                    1,
                    "",
                    "missing_file",
                    f"Dua tabel {table.kind} dalam satu batch "
                    f"({tables[table.kind].display_name}, {table.display_name}).",
                )
            ]
        )
    tables[table.kind] = table


def _check_header(display: str, header: list[str]) -> tuple[str, list[str]]:
    """Which table a header belongs to, and its normalised column names; raise on any problem."""
    columns = [h.strip().lower() for h in header]
    kind = "members" if "nik" in columns else "households"
    expected = vocab.MEMBER_COLUMNS if kind == "members" else vocab.HOUSEHOLD_COLUMNS
    optional = vocab.MEMBER_OPTIONAL if kind == "members" else vocab.HOUSEHOLD_OPTIONAL
    errors = [
        RowError(
            display,
            1,
            c,
            "unknown_column",
            f"Kolom '{c}' tidak dikenal dalam format {kind}; hapus atau perbaiki namanya.",
        )
        for c in columns
        if c not in expected
    ]
    errors += [
        RowError(display, 1, c, "duplicate_column", f"Kolom '{c}' muncul lebih dari sekali.")
        for c in sorted({c for c in columns if columns.count(c) > 1})
    ]
    errors += [
        RowError(display, 1, c, "missing_column", f"Kolom wajib '{c}' tidak ada.")
        for c in expected
        if c not in columns and c not in optional
    ]
    if errors:
        raise BatchFileError(errors)
    return kind, columns


def _csv_table(path: Path, workdir: Path) -> BatchFile:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
    except (UnicodeDecodeError, OSError) as exc:
        raise BatchFileError(
            [
                RowError(
                    path.name,
                    1,
                    "",
                    "file_unreadable",
                    f"Berkas tidak bisa dibaca sebagai CSV UTF-8: {exc}",
                )
            ]
        ) from exc
    # Excel in an Indonesian locale saves "CSV" with semicolons.
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = next(csv.reader([first], delimiter=delimiter), [])
    kind, columns = _check_header(path.name, header)
    if _needs_rewriting(path):
        return _renumber_csv(path, workdir, kind, columns, delimiter)
    return BatchFile(kind, path.name, path, columns, delimiter)


def _needs_rewriting(path: Path) -> bool:
    """Whether DuckDB cannot read the file as it is: blank lines between rows (DuckDB skips
    them, which would shift every row number after them) or lines ending both ways, Windows
    (CR LF) and Unix (LF), as rows appended by another program leave them (DuckDB's reader
    then stops at the first line of the other kind). Python's CSV reader takes both. Blank
    lines at the very end shift nothing."""
    held = b""
    endings = set()
    run = 0  # line feeds at the end of what was read so far (CR LF counted as one)
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            chunk = held + block if held else block
            held = b"\r" if chunk.endswith(b"\r") else b""  # its LF may open the next block
            if held:
                chunk = chunk[:-1]
            if b"\r" in chunk:  # a Unix file (the usual case) pays one search, not three
                windows = chunk.count(b"\r\n")
                if windows:
                    endings.add("crlf")
                if chunk.count(b"\n") > windows:
                    endings.add("lf")
                chunk = chunk.replace(b"\r\n", b"\n")
            elif b"\n" in chunk:
                endings.add("lf")
            if len(endings) > 1:
                return True
            body = chunk.strip(b"\n")
            if not body:  # line feeds only: the run goes on
                run += len(chunk)
                continue
            lead = len(chunk) - len(chunk.lstrip(b"\n"))
            if run + lead >= 2 or b"\n\n" in body:
                return True
            run = len(chunk) - len(chunk.rstrip(b"\n"))
    return False


UNCLOSED_QUOTE = 'tanda kutip (") yang dibuka tidak ditutup, atau jumlah kolom salah'


def unreadable(display: str, line: int, cause: str, detail: str = "") -> BatchFileError:
    """A CSV that cannot be read past `line` (0: not known): the whole file is refused."""
    return BatchFileError(
        [
            RowError(
                display,
                line,
                "",
                "file_unreadable",
                f"Baris CSV rusak: {cause}; berkas tidak dibaca, perbaiki baris ini lalu "
                "impor lagi." + (f" ({detail})" if detail else ""),
            )
        ]
    )


def _renumber_csv(
    path: Path, workdir: Path, kind: str, columns: list[str], delimiter: str
) -> BatchFile:
    """The file as a plain CSV with its own row numbers (`_row`: the line each row starts on,
    as a spreadsheet numbers it), blank lines dropped; broken quoting refuses the file, as
    DuckDB's reader does, naming the line where the broken row starts."""
    out = workdir / f"{kind}.numbered.csv"
    with path.open(encoding="utf-8-sig", newline="") as src, out.open("w", newline="") as dst:
        reader = csv.reader(src, delimiter=delimiter, strict=True)
        writer = csv.writer(dst)
        next(reader)
        writer.writerow(["_row", *columns])
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise unreadable(path.name, start, UNCLOSED_QUOTE) from exc
            if any(cell.strip() for cell in record):
                writer.writerow([start, *record])
    return BatchFile(kind, path.name, out, columns, ",", numbered=True)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _convert_xlsx(path: Path, workdir: Path) -> list[tuple[BatchFile, list[RowError]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise BatchFileError(
            [
                RowError(
                    path.name,
                    0,
                    "",
                    "file_unreadable",
                    "Berkas bukan XLSX yang bisa dibuka (rusak, terenkripsi, atau berkas jenis "
                    "lain yang diberi akhiran .xlsx); simpan ulang sebagai Excel Workbook (.xlsx).",
                )
            ]
        ) from exc
    results = []
    try:
        sheets: dict[str, list[str]] = {}
        for name in workbook.sheetnames:
            sheets.setdefault(name.strip().lower(), []).append(name)
        for kind in ("households", "members"):
            if len(sheets.get(kind, ())) > 1:
                # `households` and `HOUSEHOLDS` (or `Households `): which one is meant cannot be
                # told, and taking one would drop the other's rows in silence.
                raise BatchFileError(
                    [
                        RowError(
                            path.name,
                            0,
                            "",
                            "missing_file",
                            f"Dua tabel {kind} dalam satu batch (sheet "
                            + ", ".join(repr(printable(n)) for n in sheets[kind])
                            + "); hapus atau ganti nama salah satunya.",
                        )
                    ]
                )
        for kind in ("households", "members"):
            if kind not in sheets:
                continue
            results.append(_convert_sheet(workbook[sheets[kind][0]], path, kind, workdir))
    finally:
        workbook.close()
    return results


def _convert_sheet(
    sheet: Any, path: Path, kind: str, workdir: Path
) -> tuple[BatchFile, list[RowError]]:
    """One sheet as a numbered CSV. Every row and every cell the sheet holds is read, whatever
    its `<dimension>` element claims: openpyxl's read-only mode trusts that element and stops at
    it, so a workbook whose writer recorded a smaller range lost its last rows (and columns) in
    silence. A cell right of the header's last column is not dropped either: its row is
    rejected (`field_count`), as a CSV row with a field too many."""
    display = f"{path.name}:{kind}"
    sheet.reset_dimensions()
    rows = sheet.iter_rows(min_row=1, min_col=1, values_only=True)
    header = [_cell_text(v) for v in next(rows, ())]
    while header and not header[-1]:
        header.pop()
    _, columns = _check_header(display, header)
    id_positions = [(i, c) for i, c in enumerate(columns) if c in ID_COLUMNS]
    errors: list[RowError] = []
    out = workdir / f"{kind}.from-xlsx.csv"
    width = len(columns)
    with out.open("w", newline="", encoding="utf-8") as dst:
        writer = csv.writer(dst)
        writer.writerow(["_row", *columns])
        for number, values in enumerate(rows, start=2):
            cells = list(values[:width]) + [None] * (width - len(values))
            beyond = [v for v in values[width:] if not _blank(v)]
            if all(_blank(v) for v in cells) and not beyond:
                continue
            if beyond:
                errors.append(
                    RowError(
                        display,
                        number,
                        "",
                        "field_count",
                        f"Baris ini berisi sel di kanan kolom terakhir header (kolom {width}); "
                        "isinya tidak punya nama kolom. Hapus sel itu atau tambahkan kolomnya.",
                    )
                )
            for i, column in id_positions:
                if isinstance(cells[i], int | float) and not isinstance(cells[i], bool):
                    errors.append(
                        RowError(
                            display,
                            number,
                            column,
                            "numeric_id_cell",
                            f"{column.upper()} tersimpan sebagai angka; Excel hanya "
                            "menyimpan 15 digit sehingga digit terakhir hilang. "
                            "Format kolom sebagai Teks.",
                        )
                    )
            writer.writerow([number, *(_cell_text(v) for v in cells)])
    return BatchFile(kind, display, out, columns, ",", numbered=True), errors


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="lumbung-import-")
