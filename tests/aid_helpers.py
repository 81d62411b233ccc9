"""Distribution files for the in-kind aid tests, and running an import as a command does."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from conftest import user
from factories import VILLAGE, nik
from lumbung.aid.importer import AidImportSummary, import_distributions
from lumbung.aid.rows import HEADER
from lumbung.db import session_scope

AS_OF = date(2026, 12, 1)
OUTSIDER = nik(date(1950, 1, 1), "L", 901)  # no family in the registry
OUTSIDER_2 = nik(date(1960, 2, 2), "P", 902)


def row(**over: Any) -> dict[str, Any]:
    """A valid handover: a wheelchair to a person outside the registry, in Gambir."""
    values: dict[str, Any] = {
        "program": "INDONESIA_MELANGKAH",
        "nik": OUTSIDER,
        "name": "SUTRISNO",
        "item": "kursi_roda",
        "quantity": "1",
        "unit_value_idr": "2500000",
        "date": "2026-11-20",
        "village_code": VILLAGE,
    }
    values.update(over)
    return values


def write_file(path: Path, rows: list[dict[str, Any]], *, header: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or list(HEADER))
        for r in rows:
            writer.writerow([r[c] for c in HEADER])
    return path


def run_aid_import(
    engine: Engine, path: Path, *, actor: str = "admin", dry_run: bool = False
) -> AidImportSummary:
    with session_scope(engine) as session:
        summary = import_distributions(
            session,
            actor=user(session, actor),
            path=path,
            rejects_dir=path.parent / "data" / "rejects",
            dry_run=dry_run,
            as_of=AS_OF,
        )
        if dry_run:
            session.rollback()
    return summary


def problems(summary: AidImportSummary) -> set[tuple[int, str, str]]:
    return {(e["row"], e["column"], e["code"]) for e in summary.errors}
