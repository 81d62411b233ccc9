"""One table of a batch, as the import reads it: a `BatchFile` (a CSV DuckDB can read, from a
CSV as given, re-numbered, or converted from an XLSX sheet), which table a header names and its
columns checked against the format (`check_header`), and a file refused whole (`refused`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lumbung.registry import vocab
from lumbung.registry.errors import BatchFileError, RowError

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


def refused(display: str, line: int, message: str) -> BatchFileError:
    return BatchFileError([RowError(display, line, "", "file_unreadable", message)])


def check_header(display: str, header: list[str]) -> tuple[str, list[str]]:
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
