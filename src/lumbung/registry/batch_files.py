"""Finding and opening the two files of a batch: headers checked, XLSX turned into CSV.

Everything here is streaming: headers are read alone, an XLSX sheet is converted row by row,
and the large-file scans read fixed-size blocks.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lumbung import driver_errors
from lumbung.registry import vocab
from lumbung.registry.check_sql import printable
from lumbung.registry.errors import BatchFileError, RowError
from lumbung.releases.hashing import sha256_file

BLOCK = 1 << 24  # the large-file scans (blank lines, line endings)
ID_COLUMNS = ("kk_number", "nik")
# What is read of a file is bounded: a header line (every column of the format, quoted, fits
# many times over), and any line of a table (an address is at most 500 characters; a row is
# a few hundred bytes). DuckDB's reader is given the same line bound (`max_line_size`).
MAX_HEADER = 1 << 16
MAX_LINE = 1 << 20
MAX_XLSX_UNPACKED = 2 << 30
HEADER_ERRORS = 50  # the header problems listed one by one; the rest counted
# A column name the messages repeat: one that looks like a column name, never other content.
NAME_SHOWN = re.compile(r"[A-Za-z0-9_ .()/-]{1,40}")


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


def refused(display: str, line: int, message: str) -> BatchFileError:
    return BatchFileError([RowError(display, line, "", "file_unreadable", message)])


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


def _check_header(display: str, header: list[str]) -> tuple[str, list[str]]:
    """Which table a header belongs to, and its normalised column names; raise on any problem."""
    columns = [h.strip().lower() for h in header]
    if not set(columns) & (set(vocab.MEMBER_COLUMNS) | set(vocab.HOUSEHOLD_COLUMNS)):
        # Not a table of the format at all (another file, a system file behind a link): said
        # so, without repeating what the file holds.
        raise refused(
            display,
            1,
            "Baris pertama bukan header tabel households atau members (tidak ada satu pun "
            "nama kolom format ini); ini bukan berkas batch.",
        )
    kind = "members" if "nik" in columns else "households"
    expected = vocab.MEMBER_COLUMNS if kind == "members" else vocab.HOUSEHOLD_COLUMNS
    optional = vocab.MEMBER_OPTIONAL if kind == "members" else vocab.HOUSEHOLD_OPTIONAL
    errors = [
        RowError(
            display,
            1,
            c if NAME_SHOWN.fullmatch(c) else "",
            "unknown_column",
            (f"Kolom '{c}'" if NAME_SHOWN.fullmatch(c) else f"Kolom ke-{n}")
            + f" tidak dikenal dalam format {kind}; hapus atau perbaiki namanya.",
        )
        for n, c in enumerate(columns, start=1)
        if c not in expected
    ]
    errors += [
        RowError(display, 1, c, "duplicate_column", f"Kolom '{c}' muncul lebih dari sekali.")
        for c in sorted({c for c in columns if columns.count(c) > 1 and c in expected})
    ]
    errors += [
        RowError(display, 1, c, "missing_column", f"Kolom wajib '{c}' tidak ada.")
        for c in expected
        if c not in columns and c not in optional
    ]
    if len(errors) > HEADER_ERRORS:  # a header of thousands of strange columns: a few said
        more = len(errors) - HEADER_ERRORS
        said = f"… dan {more} masalah header lain; periksa bahwa ini tabel {kind}."
        errors = [*errors[:HEADER_ERRORS], RowError(display, 1, "", errors[-1].code, said)]
    if errors:
        raise BatchFileError(errors)
    return kind, columns


def _csv_table(path: Path, workdir: Path) -> BatchFile:
    header = _header(path)
    # Excel in an Indonesian locale saves "CSV" with semicolons.
    delimiter = ";" if header.count(";") > header.count(",") else ","
    try:
        fields = next(csv.reader([header], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        raise unreadable(path.name, 1, UNCLOSED_QUOTE) from exc
    kind, columns = _check_header(path.name, fields)
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


NOT_XLSX = (
    "Berkas bukan XLSX yang bisa dibuka (rusak, terenkripsi, atau berkas jenis lain yang "
    "diberi akhiran .xlsx); simpan ulang sebagai Excel Workbook (.xlsx)."
)


def _unpacked_size(path: Path) -> int:
    """What the workbook's parts hold once decompressed (as its zip directory says, which is
    also as far as Python's zip reader will read each part)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(item.file_size for item in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise refused(path.name, 0, NOT_XLSX) from exc


def _convert_xlsx(path: Path, workdir: Path) -> list[tuple[BatchFile, list[RowError]]]:
    from openpyxl import load_workbook

    # A few megabytes can unpack to gigabytes (openpyxl holds a workbook's shared strings in
    # memory): refused before anything is unpacked. Excel's own limit, a million rows, fits.
    if _unpacked_size(path) > MAX_XLSX_UNPACKED:
        raise refused(
            path.name,
            0,
            f"Isi XLSX lebih dari {MAX_XLSX_UNPACKED >> 30} GB setelah dibuka; bagi batch ini "
            "menjadi beberapa berkas, atau kirim sebagai CSV.",
        )
    try:
        workbook = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise refused(path.name, 0, NOT_XLSX) from exc
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
            try:
                results.append(_convert_sheet(workbook[sheets[kind][0]], path, kind, workdir))
            except BatchFileError:
                raise
            except Exception as exc:  # a sheet whose XML breaks off or is not XML
                raise refused(
                    f"{path.name}:{kind}",
                    0,
                    "Sheet tidak bisa dibaca sampai habis (isi XLSX rusak); simpan ulang dari "
                    "Excel lalu impor lagi.",
                ) from exc
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


SCRATCH_PREFIX = "lumbung-import-"
OWNER_LOCK = ".owner"
YOUNG = 60  # seconds: a folder this new is left alone, its owner may be about to lock it
UNLOCKED_GRACE = 3600  # seconds: a folder without its lock file (made before locks) left alone


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A scratch folder for one import (converted tables, DuckDB's spill, the staged reject
    file), removed afterwards. Its owner holds a lock on a file in it for as long as it runs:
    an import killed outright (SIGKILL, a machine that lost power) cannot remove its folder,
    which holds copies of the batch's rows, so every import first removes the folders of
    imports that no live process holds any more (`sweep_scratch`)."""
    base = Path(tempfile.gettempdir())
    sweep_scratch(base)
    path = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=base))
    lock = os.open(path / OWNER_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(lock)


def sweep_scratch(base: Path) -> list[Path]:
    """Remove the scratch folders under `base` that belong to this user and whose lock no
    process holds (their import died); those of running imports stay. What was removed."""
    removed = []
    for entry in base.glob(SCRATCH_PREFIX + "*"):
        try:
            info = entry.lstat()
        except OSError:  # gone meanwhile
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        if time.time() - info.st_mtime <= YOUNG:
            # Made this instant: its owner may not hold its lock yet (between creating the
            # lock file and locking it); taking the lock here would remove a live import's
            # folder and fail its own lock.
            continue
        try:
            fd = os.open(entry / OWNER_LOCK, os.O_RDWR)
        except FileNotFoundError:
            # No lock file: made by an older version, or made this instant and not yet locked.
            if time.time() - info.st_mtime > UNLOCKED_GRACE:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: an import is running in it
            continue
        else:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        finally:
            os.close(fd)
    return removed
