"""Cells and CSV lines a spreadsheet shows as written and never runs.

Names, addresses and labels are typed by people; a cell that starts with = + - @ (or a tab or
carriage return, which some spreadsheets skip before looking) would be read as a formula by
whoever opens the file. Such a cell gets a leading apostrophe: shown as text, never evaluated.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """`value` as a spreadsheet shows it and never runs it."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_line(cells: Sequence[str]) -> str:
    """One CSV line (quoted where needed, `\\n`-terminated) of safe cells."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([safe_cell(c) for c in cells])
    return buffer.getvalue()
