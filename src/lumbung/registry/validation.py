"""Checking single families with the very checks the bulk import runs (registry/checks.py).

A proposal made one family at a time goes through the same DuckDB pipeline as a million-row
batch, so the two can never disagree about what a valid family is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.regions.models import Region
from lumbung.registry.check_sql import (
    HOUSEHOLD_CELLS,
    HOUSEHOLD_VALUE_COLUMNS,
    MEMBER_CELLS,
    MEMBER_VALUE_COLUMNS,
    CheckOptions,
)
from lumbung.registry.checks import run_checks
from lumbung.registry.errors import RowError
from lumbung.registry.importer import EXISTING_HH_SCHEMA, EXISTING_MB_SCHEMA
from lumbung.registry.models import Household, Member

HOUSEHOLD_FILE = "household"
MEMBERS_FILE = "members"


def cell(value: Any) -> str | None:
    """A stored value as a cell that the checks read back exactly.

    A fraction gets a decimal comma: "36.125" reads in Indonesian notation as 36125 (a
    thousands separator), so a stored 36.125 m² would not survive the round trip.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value).replace(".", ",")
    return str(value)


_KINDS = {c.name: c.kind for c in (*HOUSEHOLD_CELLS, *MEMBER_CELLS)}


def typed(column: str, value: str | None) -> Any:
    """A cell of `column` as `cell` wrote it, back as a value: a flag true/false, a count a
    whole number, a measure a number; anything else (codes, names, dates, status) as written."""
    if value is None:
        return None
    kind = _KINDS.get(column)
    if kind == "flag":
        return value == "1"
    if kind == "count":
        return int(value)
    if kind in ("number", "coord"):
        return float(value.replace(",", "."))
    return value


def typed_changes(changes: dict[str, list[str | None]]) -> dict[str, list[Any]]:
    """An audit diff's column → [before, after] cells, typed (`typed`)."""
    return {c: [typed(c, v) for v in pair] for c, pair in changes.items()}


def household_cells(household: Household) -> dict[str, str | None]:
    return {c: cell(getattr(household, c)) for c in HOUSEHOLD_VALUE_COLUMNS}


def member_cells(member: Member, kk_number: str) -> dict[str, str | None]:
    values = {c: cell(getattr(member, c)) for c in MEMBER_VALUE_COLUMNS if c != "kk_number"}
    return {"kk_number": kk_number, **values}


def _table(rows: Sequence[Mapping[str, Any]], columns: tuple[str, ...]) -> pa.Table:
    data: dict[str, list[Any]] = {"_row": list(range(2, len(rows) + 2))}
    for c in columns:
        data[c] = [None if r.get(c) is None else str(r.get(c)) for r in rows]
    return pa.table(
        {k: pa.array(v, type=pa.int64() if k == "_row" else pa.string()) for k, v in data.items()}
    )


@dataclass(frozen=True, slots=True)
class FamilyCheck:
    """The verdict on one family, and its values typed exactly as the import types them."""

    errors: list[RowError]
    household: dict[str, Any] | None
    members: list[dict[str, Any]]
    warnings: list[RowError] = field(default_factory=list)  # noted, not refused


def validate_family(
    session: Session,
    *,
    household: Mapping[str, Any],
    members: Sequence[Mapping[str, Any]],
    scope: str | None,
    as_of: date | None = None,
) -> FamilyCheck:
    """Every error of one family (household cells + member rows), as the import would report."""
    unknown = [k for k in household if k not in HOUSEHOLD_VALUE_COLUMNS]
    unknown += [k for m in members for k in m if k not in MEMBER_VALUE_COLUMNS]
    if unknown:
        return FamilyCheck(
            [
                RowError(HOUSEHOLD_FILE, 0, k, "unknown_column", f"Kolom '{k}' tidak dikenal.")
                for k in sorted(set(unknown))
            ],
            None,
            [],
        )
    village = str(household.get("village_code") or "")
    regions = bulk.fetch_arrow(
        session,
        select(Region.code, Region.level).where(
            or_(Region.level < 4, Region.code == village, Region.code == _dotted(village))
        ),
    )
    con = bulk.duck_connect()
    try:
        bulk.duck_table(con, "ref_region", {"code": "VARCHAR", "level": "INTEGER"}, regions)
        con.register("hh_in", _table([household], HOUSEHOLD_VALUE_COLUMNS))
        con.register("mb_in", _table(members, MEMBER_VALUE_COLUMNS))
        con.execute("CREATE VIEW hh_src AS SELECT * FROM hh_in")
        con.execute("CREATE VIEW mb_src AS SELECT * FROM mb_in")
        bulk.duck_table(con, "existing_hh", EXISTING_HH_SCHEMA, pa.table({}))
        bulk.duck_table(con, "existing_mb", EXISTING_MB_SCHEMA, pa.table({}))
        con.execute(
            "CREATE TABLE pre_errors (file VARCHAR, row BIGINT, column_name VARCHAR, "
            "code VARCHAR, message VARCHAR, severity VARCHAR)"
        )
        run_checks(
            con,
            CheckOptions(
                as_of=as_of or date.today(),
                households_file=HOUSEHOLD_FILE,
                members_file=MEMBERS_FILE,
                scope=scope,
            ),
        )
        rows = con.execute(
            "SELECT file, row, column_name, code, message, severity FROM errors "
            "ORDER BY file, row, column_name"
        ).fetchall()
        typed_household = _records(con, "SELECT * EXCLUDE (_row) FROM hh_new")
        typed_members = _records(con, "SELECT * EXCLUDE (_row) FROM mb_new ORDER BY _row")
    finally:
        con.close()
    found = [RowError(*r) for r in rows]
    return FamilyCheck(
        [e for e in found if e.severity == "error"],
        typed_household[0] if typed_household else None,
        typed_members,
        [e for e in found if e.severity == "warning"],
    )


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    result = con.execute(sql)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _dotted(code: str) -> str:
    if code.isdigit() and len(code) == 10:
        return f"{code[:2]}.{code[2:4]}.{code[4:6]}.{code[6:]}"
    return code
