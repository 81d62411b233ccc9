"""A seal on every family and member row: a keyed digest of its values.

Whoever can write to the database could change a family's `has_car`, a member's name, or set an
exited family back to `approved`, and nothing would show it: the audit chain records what
Lumbung did, not what the rows hold. Every row therefore carries a seal, a digest of its values
under a key the database does not hold (`audit/keys.py`), written by every path that writes the
row (the import in DuckDB, a determination through the ORM, a bulk decision) and checked by
`audit verify` and before a release freezes the registry. A direct edit leaves a row whose
seal does not match; a row inserted directly has none, or one that does not match.

The digest is computed over the row's values as the database returns them, each written in one
canonical text (whole numbers in decimal, floats as Python's `repr`, which DuckDB's cast to text
matches, booleans `true`/`false`, dates ISO, NULL as a NUL), joined and ended by the ASCII unit
separator: `SEAL = KEYID ":" first 32 hex of sha256(KEY_HEX US TABLE US V1 US … Vn US)`. No value
may hold a US or a NUL (Lumbung refuses control characters in every cell; the check reports a
row that holds one), so the text reads one way only, and it always ends in the one US after
the last value: no other row's text can extend it, which is what a secret-prefix hash needs
(no length extension). One hash per row, not HMAC's two: DuckDB hashes ~1 M short rows a
second per core, and a release checks every row it freezes. 128 bits are plenty for a seal.
Timestamps are not sealed (they move on every write); everything else is, the version too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Boolean, Date, Float, Integer, Table, bindparam, column, select, text, update
from sqlalchemy import table as table_clause
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from lumbung import bulk
from lumbung.audit.keys import Key, keyring
from lumbung.errors import Conflict
from lumbung.registry.models import Household, Member

UNSEALED = frozenset({"created_at", "updated_at", "seal"})
# Copies of another table's values kept for an index, checked against their source instead.
DERIVED = {"member": frozenset({"regency_code"})}
SEAL_LENGTH = 32
CHUNK = 20_000


def sealed_columns(table: Table) -> tuple[str, ...]:
    """The columns a seal covers: every column but the timestamps, the seal and copies."""
    derived = DERIVED.get(table.name, frozenset())
    return tuple(c.name for c in table.columns if c.name not in UNSEALED | derived)


HOUSEHOLD_TABLE: Table = Household.__table__  # type: ignore[assignment]
MEMBER_TABLE: Table = Member.__table__  # type: ignore[assignment]
TABLES: dict[str, Table] = {"household": HOUSEHOLD_TABLE, "member": MEMBER_TABLE}


def _kind(table: Table, column: str) -> str:
    kind = table.c[column].type
    if isinstance(kind, Boolean):
        return "BOOLEAN"
    if isinstance(kind, Integer):
        return "BIGINT"
    if isinstance(kind, Float):
        return "DOUBLE"
    if isinstance(kind, Date):
        return "DATE"
    return "VARCHAR"


def _boolean(value: Any) -> str:
    return "true" if value else "false"


def _whole(value: Any) -> str:
    return str(int(value))


def _double(value: Any) -> str:
    return repr(float(value))


def _date(value: Any) -> str:
    return (value if isinstance(value, date) else date.fromisoformat(str(value))).isoformat()


ARROW_TYPE: dict[str, pa.DataType] = {
    "BOOLEAN": pa.bool_(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "DATE": pa.date32(),
    "VARCHAR": pa.string(),
}
TEXT_OF: dict[str, Callable[[Any], str]] = {
    "BOOLEAN": _boolean,
    "BIGINT": _whole,
    "DOUBLE": _double,
    "DATE": _date,
    "VARCHAR": str,
}


@cache
def _plan(table: str) -> tuple[tuple[str, Callable[[Any], str]], ...]:
    """Each sealed column of `table` with the function that writes its value as text."""
    target = TABLES[table]
    return tuple((c, TEXT_OF[_kind(target, c)]) for c in sealed_columns(target))


SEPARATOR = "\x1f"  # between values (ASCII unit separator)
NULL = "\x00"  # a NULL value
# Neither can be in a value Lumbung writes (control characters are refused in every cell, and
# PostgreSQL cannot store a NUL at all); a row holding one is reported, never sealed, so that
# joining the values cannot be read two ways.
FORBIDDEN = (SEPARATOR, NULL)


def seal_of(table: str, row: Mapping[str, Any] | RowMapping, key: Key) -> str:
    """The seal of one row of `table` (values as the database returns them) under `key`."""
    items = [table]
    for name, text_of in _plan(table):
        value = row[name]
        if value is None:
            items.append(NULL)
            continue
        written = text_of(value)
        if SEPARATOR in written or NULL in written:
            raise ValueError(f"{table}.{name} of row {row['id']} holds a control character")
        items.append(written)
    body = key.secret_hex + SEPARATOR + SEPARATOR.join(items) + SEPARATOR
    return f"{key.id}:{hashlib.sha256(body.encode()).hexdigest()[:SEAL_LENGTH]}"


def prepare_duckdb(con: duckdb.DuckDBPyConnection, key: Key) -> None:
    """The current key, as a one-row table that `seal_sql` reads (bound, never spliced)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _seal_key (id VARCHAR, secret VARCHAR)")
    con.execute("INSERT INTO _seal_key VALUES (?, ?)", [key.id, key.secret_hex])


def _message_sql(table: str, alias: str) -> str:
    target = TABLES[table]
    values = [
        f"coalesce(CAST(CAST({alias}.{c} AS {_kind(target, c)}) AS VARCHAR), chr(0))"
        for c in sealed_columns(target)
    ]
    return f"concat_ws(chr(31), '{table}', {', '.join(values)}, '')"


def seal_sql(table: str, alias: str) -> str:
    """DuckDB SQL giving the seal of a row of `alias`, whose columns are named as `table`'s.

    The same text as `seal_of` (a test holds them together): each value cast to the column's
    type, then to text; joined by the separator, ended by it, after the key."""
    body = f"(SELECT secret FROM _seal_key) || chr(31) || {_message_sql(table, alias)}"
    return f"((SELECT id FROM _seal_key) || ':' || substr(sha256({body}), 1, {SEAL_LENGTH}))"


def forbidden_sql(table: str, alias: str) -> str:
    """DuckDB SQL: whether a text value of the row holds the separator or a NUL."""
    target = TABLES[table]
    texts = [f"{alias}.{c}" for c in sealed_columns(target) if _kind(target, c) == "VARCHAR"]
    return f"regexp_matches(concat({', '.join(texts)}), '[\\x00\\x1f]')"


def reseal(connection: Connection, table: str, where: ColumnElement[bool]) -> int:
    """Write the seal of every row of `table` matching `where`, from its values as stored."""
    target = TABLES[table]
    key = keyring().current
    columns = [target.c[c] for c in sealed_columns(target)]
    rows = connection.execute(select(*columns).where(where)).mappings().all()
    seals = [{"_id": row["id"], "_seal": seal_of(table, row, key)} for row in rows]
    if seals:
        statement = (
            update(target)
            .where(target.c.id == bindparam("_id"))
            .values(seal=bindparam("_seal"))
            .execution_options(synchronize_session=False)
        )
        for start in range(0, len(seals), CHUNK):
            connection.execute(statement, seals[start : start + CHUNK])
    return len(seals)


class SealChecker:
    """Rows read as Arrow (a release's slices) checked against their seals in DuckDB, the
    same SQL the import seals with: `require` raises `Conflict` naming the first rows that do
    not match. A table's columns must be named as the database's."""

    def __init__(self) -> None:
        self.con = duckdb.connect(config={"threads": 2})
        self.con.execute("SET enable_progress_bar = false")
        prepare_duckdb(self.con, keyring().current)
        self.ring = keyring()

    def __enter__(self) -> SealChecker:
        return self

    def __exit__(self, *_: object) -> None:
        self.con.close()

    def mismatches(self, table: str, rows: pa.Table, limit: int = 10) -> Mismatches:
        """The rows of `rows` without a seal, and those whose seal does not match."""
        found = Mismatches()
        if rows.num_rows == 0:
            return found
        keys = sorted(self.ring.keys)
        self.con.register("_rows", rows)
        try:
            unsealed, some = self.con.execute(
                "SELECT count(*), list(id ORDER BY id)[1:?] FROM _rows WHERE seal IS NULL",
                [limit],
            ).fetchall()[0]
            found.unsealed, found.unsealed_ids = int(unsealed), [int(i) for i in some or []]
            strangers, some = self.con.execute(  # sealed with a key this file does not hold
                "SELECT count(*), list(id ORDER BY id)[1:?] FROM _rows WHERE seal IS NOT NULL "
                "AND split_part(seal, ':', 1) NOT IN (SELECT unnest(?))",
                [limit, keys],
            ).fetchall()[0]
            found.broken, found.broken_ids = int(strangers), [int(i) for i in some or []]
            # Each key in turn, on the rows it sealed (older keys after a rotation).
            for key_id in keys:
                prepare_duckdb(self.con, self.ring.keys[key_id])
                count, some = self.con.execute(
                    f"SELECT count(*), list(id ORDER BY id)[1:?] FROM _rows "
                    f"WHERE split_part(seal, ':', 1) = ? AND (seal <> {seal_sql(table, '_rows')} "
                    f"OR {forbidden_sql(table, '_rows')})",
                    [limit, key_id],
                ).fetchall()[0]
                found.broken += int(count)
                found.broken_ids = sorted(found.broken_ids + [int(i) for i in some or []])
        finally:
            self.con.unregister("_rows")
            prepare_duckdb(self.con, self.ring.current)
        found.broken_ids = found.broken_ids[:limit]
        return found

    def require(self, table: str, rows: pa.Table) -> None:
        """Raise `Conflict` naming the first rows that are unsealed or do not match."""
        found = self.mismatches(table, rows)
        ids = sorted(found.unsealed_ids + found.broken_ids)[:10]
        if ids:
            shown = ", ".join(
                f"{table} id {i} ({UNSEALED_ROW if i in found.unsealed_ids else 'tidak cocok'})"
                for i in ids
            )
            raise Conflict(
                "Registry berisi baris yang diubah di luar Lumbung (tanpa segel atau tidak "
                f"cocok dengan segelnya: {shown}); rilis tidak dibuat sebelum diperiksa.",
                details=[{"table": table, "id": i} for i in ids],
                command="lumbung audit verify",
            )


@dataclass
class Mismatches:
    unsealed: int = 0
    broken: int = 0
    unsealed_ids: list[int] = field(default_factory=list)
    broken_ids: list[int] = field(default_factory=list)


UNSEALED_ROW = "tanpa segel"
ALTERED_ROW = "isi tidak cocok dengan segelnya (diubah di luar Lumbung)"


def typed_columns(table: str) -> dict[str, str]:
    """The sealed columns of `table` with the types they are sealed as, and the seal."""
    target = TABLES[table]
    return {c: _kind(target, c) for c in sealed_columns(target)} | {"seal": "VARCHAR"}


def check_table(session: Session, table: str, *, limit: int = 20) -> SealReport:
    """Every row of `table` against its seal, read as Arrow by a child process and checked in
    DuckDB (a national registry: minutes, not the hours of a row at a time in Python)."""
    from lumbung.releases.export import whole_table

    report = SealReport(table)
    unsealed: list[int] = []
    broken: list[int] = []
    with SealChecker() as checker:
        for rows in whole_table(session, table, typed_columns(table)):
            found = checker.mismatches(table, rows, limit)
            report.rows += rows.num_rows
            report.unsealed += found.unsealed
            report.broken += found.broken
            unsealed = (unsealed + found.unsealed_ids)[:limit]
            broken = (broken + found.broken_ids)[:limit]
    problems = [(i, UNSEALED_ROW) for i in unsealed] + [(i, ALTERED_ROW) for i in broken]
    report.examples = [f"{table} id {i}: {why}" for i, why in sorted(problems)[:limit]]
    return report


@dataclass
class SealReport:
    table: str
    rows: int = 0
    unsealed: int = 0
    broken: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unsealed or self.broken)


def update_sealed(
    session: Session,
    table: str,
    ids: Sequence[int],
    values: Mapping[str, Any],
    *,
    where: ColumnElement[bool],
    scratch: Path,
) -> int:
    """`UPDATE table SET values, version = version + 1, seal = <new seal> WHERE id IN ids AND
    where`, as one statement: each row written once, its new seal with it.

    The rows are read as they are (in this transaction), given the new values and their seals
    in DuckDB, and the seals go into a temporary table the UPDATE joins. Bulk decisions move a
    whole registry this way; a row at a time, sealing doubled the time of a decision on
    PostgreSQL. Returns the number of rows updated."""
    target = TABLES[table]
    columns = typed_columns(table)
    con = duckdb.connect(config={"threads": 2})
    try:
        con.execute("SET enable_progress_bar = false")
        prepare_duckdb(con, keyring().current)
        rows = _rows_of(session, table, ids, columns, scratch)
        con.register("_before", rows)
        sealed = {c: v for c, v in values.items() if c in columns}  # not the timestamps
        con.execute(
            "CREATE TABLE _after AS SELECT * REPLACE ("
            + ", ".join([f"CAST(? AS {columns[c]}) AS {c}" for c in sealed])
            + (", " if sealed else "")
            + "version + 1 AS version) FROM _before",
            [*sealed.values()],
        )
        session.execute(
            text("CREATE TEMPORARY TABLE _new_seal (id BIGINT PRIMARY KEY, seal VARCHAR(48))")
        )
        try:
            bulk.insert_from_duckdb(
                session,
                con,
                f"SELECT id, {seal_sql(table, '_after')} AS seal FROM _after",
                "_new_seal",
                ["id", "seal"],
                scratch,
                unescaped=("seal",),
            )
            fresh = table_clause("_new_seal", column("id"), column("seal"))
            result = session.execute(
                update(target)
                .where(target.c.id == fresh.c.id, where)
                .values(**values, version=target.c.version + 1, seal=fresh.c.seal)
                .execution_options(synchronize_session=False)
            )
        finally:
            session.execute(text("DROP TABLE _new_seal"))
    finally:
        con.close()
    return int(result.rowcount)  # type: ignore[attr-defined]


def _rows_of(
    session: Session, table: str, ids: Sequence[int], columns: dict[str, str], scratch: Path
) -> pa.Table:
    """The rows `ids` of `table` as this transaction sees them, typed as `columns`."""
    target = TABLES[table]
    schema = pa.schema([pa.field(c, ARROW_TYPE[t]) for c, t in columns.items()])
    wanted = [target.c[c] for c in columns]
    parts: list[pa.Table] = []
    for start in range(0, len(ids), CHUNK):
        part = list(ids[start : start + CHUNK])
        found = session.execute(select(*wanted).where(target.c.id.in_(part))).all()
        arrays = [
            pa.array([row[i] for row in found], type=schema.field(i).type)
            for i in range(len(columns))
        ]
        parts.append(pa.table(arrays, schema=schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()
