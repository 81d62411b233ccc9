"""An XLSX workbook as the import reads it: its `households` and `members` sheets converted, row
by row, into numbered CSVs (`convert_xlsx`), with the problems only a spreadsheet has (an NIK or
KK stored as a number, a cell right of the header) as row errors; a workbook that unpacks too
large, or is not one, refused before it is read.
"""

from __future__ import annotations

import csv
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lumbung.registry.batch_tables import BatchFile, check_header, refused
from lumbung.registry.check_sql import printable
from lumbung.registry.errors import BatchFileError, RowError

ID_COLUMNS = ("kk_number", "nik")
MAX_XLSX_UNPACKED = 2 << 30


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


def convert_xlsx(path: Path, workdir: Path) -> list[tuple[BatchFile, list[RowError]]]:
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
    _, columns = check_header(display, header)
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
