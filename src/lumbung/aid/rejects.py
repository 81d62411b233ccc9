"""The reject file of a distribution import, and handing it back to whoever may import.

As a batch's (registry/importer.py): one CSV per run, each problem a line with the file, row,
column, code, message and severity, with the row's program, NIK, item and date as the file has
them (what an operator looks for to correct the row); errors first. Every cell that a
spreadsheet would read as a formula is written as text (`spreadsheets.safe_cell`).

The name carries 128 random bits beside the file's hash and the time
(`aid-<sha256:16>-<YYYYMMDD-HHMMSS>-<32 hex>.csv`): the pages and the API hand the file back
by its name to users who may import, and a name cannot be guessed. There is no job row to
hold it: an import that loads nothing leaves nothing in the database.
"""

from __future__ import annotations

import csv
import os
import re
import secrets
from pathlib import Path

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.db import utcnow
from lumbung.errors import NotFound
from lumbung.registry.errors import RowError
from lumbung.spreadsheets import safe_cell

COLUMNS = ("file", "row", "column", "code", "message", "severity", "program", "nik", "item", "date")
NAME = re.compile(r"aid-[0-9a-f]{16}-\d{8}-\d{6}-[0-9a-f]{32}(-dry-run)?\.csv")


def write_rejects(
    rejects_dir: Path,
    *,
    sha256: str,
    problems: list[RowError],
    cells: dict[int, dict[str, str]],
    dry_run: bool,
) -> Path:
    """Write the problems (errors, then warnings) to a new reject file; its path."""
    rejects_dir.mkdir(parents=True, exist_ok=True)
    suffix = "-dry-run" if dry_run else ""
    target = rejects_dir / (
        f"aid-{sha256[:16]}-{utcnow():%Y%m%d-%H%M%S}-{secrets.token_hex(16)}{suffix}.csv"
    )
    staged = target.with_name("." + target.name + ".part")
    ordered = sorted(problems, key=lambda p: (p.severity != "error", p.row, p.column, p.code))
    with open(
        os.open(staged, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640),
        "w",
        encoding="utf-8",
        newline="",
    ) as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for p in ordered:
            row = cells.get(p.row, {})
            writer.writerow(
                [
                    safe_cell(str(v))
                    for v in (
                        p.file,
                        p.row,
                        p.column,
                        p.code,
                        p.message,
                        p.severity,
                        row.get("program", ""),
                        row.get("nik", ""),
                        row.get("item", ""),
                        row.get("date", ""),
                    )
                ]
            )
    staged.rename(target)
    return target


def reject_file(actor: User, *, name: str, rejects_dir: Path) -> Path:
    """The reject file of that name, for a user who may import; a name that is no reject file
    of an in-kind import, or a file no longer there, is not found."""
    authorize(actor, Action.IMPORT)
    path = rejects_dir / name
    if not NAME.fullmatch(name) or not path.is_file():
        raise NotFound("Berkas tolakan itu tidak ada (atau sudah dihapus).")
    return path
