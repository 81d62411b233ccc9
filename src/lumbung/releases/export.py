"""Reading the approved registry out of the operational database into DuckDB, fast.

Both tables are read at once, each through its own ADBC connection (Arrow straight from the
driver, no Python objects per row; for SQLite in a child process, see sqlite_reader.py):
households into a DuckDB table, members streamed and joined to them in DuckDB. The caller's
transaction holds the registry still meanwhile (`bulk.lock_for_reading`), so the two
connections see one and the same registry: what is committed.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.registry import vocab

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
MEMBER_OWN_COLUMNS: dict[str, str] = {
    "id": "BIGINT",
    "household_id": "BIGINT",
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
# What a release's members table holds: the member, and its family's KK and province.
MEMBER_COLUMNS: dict[str, str] = {
    **{c: t for c, t in MEMBER_OWN_COLUMNS.items() if c in ("id", "household_id")},
    "kk_number": "VARCHAR",
    "province_code": "VARCHAR",
    **{c: t for c, t in MEMBER_OWN_COLUMNS.items() if c not in ("id", "household_id")},
}
# SQLite has no column types to speak of; the ADBC driver infers each column's type from the
# first rows it sees, and fails if a NULL-only start turns into text later. A first row with
# a value of the right kind in every column settles the types; it is dropped in DuckDB.
EMPTY_TEXT = "''"
_SQLITE_TYPE_HINT = {"BIGINT": "0", "INTEGER": "0", "BOOLEAN": "0", "DOUBLE": "0.5"}


def _select(table: str, columns: dict[str, str], where: str, sqlite: bool) -> str:
    body = f"SELECT 1 AS _real, {', '.join(columns)} FROM {table} WHERE {where}"
    if not sqlite:
        return body
    hint = ", ".join(f"{_SQLITE_TYPE_HINT.get(t, EMPTY_TEXT)} AS {c}" for c, t in columns.items())
    return f"SELECT 0 AS _real, {hint} UNION ALL {body}"


def _typed(columns: dict[str, str]) -> str:
    return ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in columns.items())


@contextmanager
def _arrow_rows(url: URL, sql: str) -> Iterator[Any]:
    """A RecordBatchReader over the query's rows, straight from the driver (ADBC)."""
    if url.get_backend_name() == "sqlite":
        process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", "lumbung.releases.sqlite_reader", str(url.database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(sql.encode())
        process.stdin.close()
        try:
            yield pa.ipc.open_stream(process.stdout)
        finally:
            process.stdout.close()
            error = process.stderr.read().decode() if process.stderr else ""
            if process.wait() != 0:
                raise RuntimeError(f"reading {url.database} failed: {error[-2000:]}")
        return
    import adbc_driver_postgresql.dbapi

    uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with adbc_driver_postgresql.dbapi.connect(uri) as source, source.cursor() as cursor:
        cursor.execute(sql)
        yield cursor.fetch_record_batch()


def load_snapshot(session: Session, con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB table `households` and view `members`: the approved registry, typed."""
    bulk.lock_for_reading(session, ("household", "member"))
    url = session.get_bind().engine.url
    sqlite = url.get_backend_name() == "sqlite"
    jobs = (
        (
            "households",
            HOUSEHOLD_COLUMNS,
            _select("household", HOUSEHOLD_COLUMNS, "status = 'approved'", sqlite),
        ),
        (
            "member_rows",
            MEMBER_OWN_COLUMNS,
            _select("member", MEMBER_OWN_COLUMNS, "status = 'active'", sqlite),
        ),
    )
    failures: list[BaseException] = []

    def read(name: str, columns: dict[str, str], sql: str) -> None:
        try:
            with _arrow_rows(url, sql) as rows:
                duck = con.cursor()
                duck.register("incoming", rows)
                duck.execute(
                    f"CREATE TABLE {name} AS SELECT {_typed(columns)} FROM incoming WHERE _real = 1"
                )
                duck.close()
        except BaseException as exc:  # re-raised on the calling thread
            failures.append(exc)

    threads = [threading.Thread(target=read, args=job, name=f"release-{job[0]}") for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    member_columns = ", ".join(
        f"h.{c}" if c in ("kk_number", "province_code") else f"m.{c}" for c in MEMBER_COLUMNS
    )
    con.execute(
        f"CREATE VIEW members AS SELECT {member_columns} "
        "FROM member_rows m JOIN households h ON h.id = m.household_id"
    )
