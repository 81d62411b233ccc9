"""Reading the approved registry out of the operational database into DuckDB, fast.

PostgreSQL: `COPY (SELECT …) TO STDOUT` in CSV, streamed to a scratch file that DuckDB reads.
SQLite: the cursor, in chunks, into Arrow record batches that DuckDB reads as a stream.
Both read inside one snapshot (REPEATABLE READ / one SQLite read transaction), so households
and members agree with each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.db import is_postgres
from lumbung.registry import vocab

CHUNK = 100_000

HOUSEHOLD_COLUMNS: dict[str, str] = {
    "id": "BIGINT",
    "kk_number": "VARCHAR",
    "village_code": "VARCHAR",
    "district_code": "VARCHAR",
    "regency_code": "VARCHAR",
    "province_code": "VARCHAR",
    "address": "VARCHAR",
    "rt": "VARCHAR",
    "rw": "VARCHAR",
    "latitude": "DOUBLE",
    "longitude": "DOUBLE",
    "floor_area_m2": "DOUBLE",
    **dict.fromkeys(vocab.HOUSEHOLD_ENUMS, "VARCHAR"),
    **dict.fromkeys(vocab.HOUSEHOLD_FLAGS, "BOOLEAN"),
    **dict.fromkeys(vocab.HOUSEHOLD_COUNTS, "INTEGER"),
    "status": "VARCHAR",
    "updated_at": "TIMESTAMP",
}
MEMBER_COLUMNS: dict[str, str] = {
    "id": "BIGINT",
    "household_id": "BIGINT",
    "kk_number": "VARCHAR",
    "province_code": "VARCHAR",
    "nik": "VARCHAR",
    "name": "VARCHAR",
    "name_normalised": "VARCHAR",
    "sex": "VARCHAR",
    "birth_date": "DATE",
    **{c: "VARCHAR" for c in vocab.MEMBER_ENUMS if c != "sex"},
    "pregnant": "BOOLEAN",
    "mother_name": "VARCHAR",
    "status": "VARCHAR",
    "dukcapil_match": "BOOLEAN",
}
_SQLITE_ARROW = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int64(),
    "BOOLEAN": pa.int64(),
    "DOUBLE": pa.float64(),
}


def _household_sql(postgres: bool) -> str:
    cols = ", ".join(
        "updated_at AT TIME ZONE 'UTC'" if postgres and c == "updated_at" else c
        for c in HOUSEHOLD_COLUMNS
    )
    return f"SELECT {cols} FROM household WHERE status = 'approved' ORDER BY id"


def _member_sql() -> str:
    cols = ", ".join(
        f"h.{c}" if c in ("kk_number", "province_code") else f"m.{c}" for c in MEMBER_COLUMNS
    )
    return (
        f"SELECT {cols} FROM member m JOIN household h ON h.id = m.household_id "
        "WHERE h.status = 'approved' AND m.status = 'active' ORDER BY m.id"
    )


def _typed(columns: dict[str, str], source: str) -> str:
    return ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in columns.items()) + f" FROM {source}"


def load_snapshot(session: Session, con: duckdb.DuckDBPyConnection, scratch: Path) -> None:
    """Create DuckDB tables `households` and `members` holding the approved registry."""
    postgres = is_postgres(session)
    jobs = (
        ("households", HOUSEHOLD_COLUMNS, _household_sql(postgres)),
        ("members", MEMBER_COLUMNS, _member_sql()),
    )
    if postgres:
        # A connection of its own, REPEATABLE READ: both tables from one snapshot of what
        # is committed.
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            _copy_out(conn.connection.driver_connection, con, scratch, jobs)
            conn.rollback()
        return
    for name, columns, sql in jobs:
        schema = pa.schema([(c, _SQLITE_ARROW.get(t, pa.string())) for c, t in columns.items()])
        reader = pa.RecordBatchReader.from_batches(schema, _sqlite_batches(session, sql, schema))
        con.register("src", reader)
        con.execute(f"CREATE TABLE {name} AS SELECT {_typed(columns, 'src')}")
        con.unregister("src")


def _copy_out(
    pg: Any,
    con: duckdb.DuckDBPyConnection,
    scratch: Path,
    jobs: tuple[tuple[str, dict[str, str], str], ...],
) -> None:
    for name, columns, sql in jobs:
        path = scratch / f"{name}.csv"
        cursor = pg.cursor()
        with (
            cursor,
            path.open("wb") as out,
            cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy,
        ):
            for block in copy:
                out.write(block)
        spec = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in columns) + "}"
        source = (
            "read_csv($p, header = false, auto_detect = false, "
            f"columns = {spec}, quote = '\"', escape = '\"')"
        )
        con.execute(f"CREATE TABLE {name} AS SELECT {_typed(columns, source)}", {"p": str(path)})
        path.unlink()


def _sqlite_batches(session: Session, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    cursor = bulk.driver_connection(session).cursor()
    cursor.execute(sql)
    width = len(schema)
    while rows := cursor.fetchmany(CHUNK):
        columns = list(zip(*rows, strict=True)) if rows else [()] * width
        yield pa.record_batch(
            [pa.array(col, type=field.type) for col, field in zip(columns, schema, strict=True)],
            schema=schema,
        )
    cursor.close()
