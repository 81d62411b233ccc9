"""Cells and CSV lines a spreadsheet shows as written and never runs.

Names, addresses and labels are typed by people; a cell that starts with = + - @ (or a tab or
carriage return, which some spreadsheets skip before looking) would be read as a formula by
whoever opens the file. Such a cell gets a leading apostrophe: shown as text, never evaluated.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """`value` as a spreadsheet shows it and never runs it."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_line(cells: Sequence[str]) -> str:
    """One CSV line (quoted where needed, `\\n`-terminated) of safe cells."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([safe_cell(c) for c in cells])
    return buffer.getvalue()


def workbook_bytes(
    sheets: Mapping[str, Sequence[Sequence[Any]]], images: Mapping[str, bytes] | None = None
) -> bytes:
    """An XLSX of one sheet per entry (title → rows), text cells safe and stored as text; then
    a sheet per image (title → PNG bytes), the picture at its top left corner."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image

    book = Workbook()
    for n, (title, lines) in enumerate(sheets.items()):
        sheet = book.active if n == 0 else book.create_sheet()
        assert sheet is not None
        sheet.title = title
        for r, line in enumerate(lines, start=1):
            for c, value in enumerate(line, start=1):
                cell = sheet.cell(row=r, column=c)
                if isinstance(value, str):
                    cell.value = safe_cell(value)
                    cell.data_type = "s"
                else:
                    cell.value = value
    for title, picture in (images or {}).items():
        sheet = book.create_sheet(title)
        sheet.add_image(Image(io.BytesIO(picture)), "A1")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
