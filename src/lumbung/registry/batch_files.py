"""Finding and opening the two files of a batch: headers checked, a CSV that DuckDB cannot read
as it is re-numbered, a workbook's sheets converted (registry/xlsx.py).

Everything here is streaming: headers are read alone, an XLSX sheet is converted row by row,
and the large-file scans read fixed-size blocks.
"""

from __future__ import annotations

import csv
import hashlib
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumbung import driver_errors
from lumbung.registry.batch_tables import BatchFile, check_header, refused
from lumbung.registry.errors import BatchFileError, RowError
from lumbung.registry.xlsx import convert_xlsx
from lumbung.releases.hashing import sha256_file

BLOCK = 1 << 24  # the large-file scans (blank lines, line endings)
# What is read of a file is bounded: a header line (every column of the format, quoted, fits
# many times over), and any line of a table (an address is at most 500 characters; a row is
# a few hundred bytes). DuckDB's reader is given the same line bound (`max_line_size`).
MAX_HEADER = 1 << 16
MAX_LINE = 1 << 20


@dataclass(slots=True)
class Batch:
    households: BatchFile
    members: BatchFile
    sources: list[dict[str, Any]]  # [{"file", "sha256", "bytes"}]
    sha256: str
    pre_errors: list[RowError] = field(default_factory=list)


def open_batch(paths: list[Path], workdir: Path) -> Batch:
    """Find the households and members tables among `paths` (files or folders) and check them."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.suffix.lower() in (".csv", ".xlsx") and not p.is_dir()
                )
            )
        elif path.exists():
            files.append(path)
        else:
            raise BatchFileError(
                [RowError(str(path), 0, "", "file_unreadable", "Berkas tidak ditemukan.")]
            )
    for path in files:
        _regular(path)
    tables: dict[str, BatchFile] = {}
    pre_errors: list[RowError] = []
    for path in files:
        if path.suffix.lower() == ".xlsx":
            for table, errors in convert_xlsx(path, workdir):
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


def _regular(path: Path) -> None:
    """Only a regular file (or a link to one) is read: a device (`/dev/zero`), a pipe or a
    socket never ends, or ends when someone else decides."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise refused(path.name, 0, "Berkas tidak bisa dibuka (izin baca?).") from exc
    if not stat.S_ISREG(mode):
        raise refused(
            path.name,
            0,
            "Bukan berkas biasa (perangkat, pipa atau soket); batch hanya dibaca dari berkas "
            "CSV atau XLSX.",
        )


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


def _csv_table(path: Path, workdir: Path) -> BatchFile:
    header = _header(path)
    # Excel in an Indonesian locale saves "CSV" with semicolons.
    delimiter = ";" if header.count(";") > header.count(",") else ","
    try:
        fields = next(csv.reader([header], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        raise unreadable(path.name, 1, UNCLOSED_QUOTE) from exc
    kind, columns = check_header(path.name, fields)
    if _needs_rewriting(path):
        return _renumber_csv(path, workdir, kind, columns, delimiter)
    return BatchFile(kind, path.name, path, columns, delimiter)


def _header(path: Path) -> str:
    """The first line, read no further than `MAX_HEADER` bytes (a file of a gigabyte without a
    line break is not read into memory to find its end)."""
    try:
        with path.open("rb") as handle:
            raw = handle.readline(MAX_HEADER + 1)
    except OSError as exc:
        raise refused(path.name, 0, "Berkas tidak bisa dibaca (izin baca?).") from exc
    if len(raw) > MAX_HEADER:
        raise refused(
            path.name,
            1,
            f"Baris header lebih dari {MAX_HEADER // 1024} KB; ini bukan berkas batch "
            "(header format ini jauh lebih pendek).",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refused(path.name, 1, NOT_UTF8) from exc
    return re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]


NOT_UTF8 = (
    "Berkas bukan teks UTF-8 (mungkin disimpan dengan pengodean lain, atau bukan CSV); "
    "simpan ulang sebagai CSV UTF-8."
)


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
LINE_TOO_LONG = f"baris lebih dari {MAX_LINE // (1 << 20)} MB"
NOT_UTF8_LINE = "bukan teks UTF-8 (pengodean lain?)"


def unreadable(display: str, line: int, cause: str) -> BatchFileError:
    """A CSV that cannot be read past `line` (0: not known): the whole file is refused."""
    where = "Baris CSV rusak" if line else "CSV rusak"
    return refused(
        display,
        line,
        f"{where}: {cause}; berkas tidak dibaca, perbaiki baris ini lalu impor lagi.",
    )


class _Lines:
    """The lines of a text file for `csv.reader`, none longer than `MAX_LINE` characters
    (Python's reader would otherwise gather a line of a gigabyte before judging it)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.number = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line: str = self.handle.readline(MAX_LINE + 1)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > MAX_LINE:
            raise _LineTooLong(self.number)
        return line


class _LineTooLong(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _renumber_csv(
    path: Path, workdir: Path, kind: str, columns: list[str], delimiter: str
) -> BatchFile:
    """The file as a plain CSV with its own row numbers (`_row`: the line each row starts on,
    as a spreadsheet numbers it), blank lines dropped; broken quoting refuses the file, as
    DuckDB's reader does, naming the line where the broken row starts."""
    out = workdir / f"{kind}.numbered.csv"
    # A field may be as long as a line may (the module's default, 131,072 characters, is
    # shorter than `MAX_LINE`: a long address made the file "unreadable" for the wrong reason).
    csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE))
    with path.open(encoding="utf-8-sig", newline="") as src, out.open("w", newline="") as dst:
        lines = _Lines(src)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        writer = csv.writer(dst)
        start = 1
        try:
            next(reader)
            writer.writerow(["_row", *columns])
            while True:
                start = reader.line_num + 1
                try:
                    record = next(reader)
                except StopIteration:
                    break
                if any(cell.strip() for cell in record):
                    writer.writerow([start, *record])
        except _LineTooLong as exc:
            raise unreadable(path.name, exc.line, LINE_TOO_LONG) from exc
        except UnicodeDecodeError as exc:
            raise unreadable(path.name, start, NOT_UTF8_LINE) from exc
        except csv.Error as exc:
            cause = LINE_TOO_LONG if driver_errors.csv_field_too_long(exc) else UNCLOSED_QUOTE
            raise unreadable(path.name, start, cause) from exc
    return BatchFile(kind, path.name, out, columns, ",", numbered=True)
