"""The reject file of an extract import, and handing it back to whoever may import one.

One CSV per import: each problem a line (file, row, column, code, message, severity) with the
row's NIK and KK as the file has them, errors by row; every cell a spreadsheet would read as a
formula written as text. The name carries 128 random bits beside the file's hash and the time
(`civil-<sha256:16>-<YYYYMMDD-HHMMSS>-<32 hex>.csv`), so it cannot be guessed; the import row
keeps it."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import duckdb

from lumbung import bulk
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.db import utcnow
from lumbung.errors import NotFound
from lumbung.spreadsheets import FORMULA_STARTS

NAME = re.compile(r"civil-[0-9a-f]{16}-\d{8}-\d{6}-[0-9a-f]{32}\.csv")


def _inert(expression: str) -> str:
    """DuckDB SQL: the text as a spreadsheet shows it and never runs it."""
    starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_STARTS)
    return (
        f"CASE WHEN left({expression}, 1) IN ({starts}) "
        f"THEN chr(39) || {expression} ELSE {expression} END"
    )


def write_rejects(
    con: duckdb.DuckDBPyConnection, rejects_dir: Path, *, file: str, sha256: str
) -> Path:
    """Every problem of table `problems` into a new reject file; its path."""
    rejects_dir.mkdir(parents=True, exist_ok=True)
    target = rejects_dir / (
        f"civil-{sha256[:16]}-{utcnow():%Y%m%d-%H%M%S}-{secrets.token_hex(16)}.csv"
    )
    staged = target.with_name("." + target.name + ".part")
    con.execute(
        f"COPY (SELECT {_inert('$file')} AS file, p.row, p.column_name AS column, p.code, "
        f"{_inert('p.message')} AS message, p.severity, {_inert('trim(r.nik)')} AS nik, "
        f"{_inert('trim(r.kk_number)')} AS kk_number "
        "FROM problems p LEFT JOIN raw r ON r._row = p.row "
        "ORDER BY p.row, p.column_name, p.code) "
        f"TO {bulk.sql_path(staged)} (FORMAT csv, HEADER true)",
        {"file": file},
    )
    staged.rename(target)
    return target


def reject_file(actor: User, *, name: str, rejects_dir: Path) -> Path:
    """The reject file of that name, for a user who may import extracts."""
    authorize(actor, Action.MATCH_CIVIL)
    path = rejects_dir / name
    if not NAME.fullmatch(name) or not path.is_file():
        raise NotFound("Berkas tolakan itu tidak ada (atau sudah dihapus).")
    return path
