"""Moving many rows between DuckDB and the operational database, one dialect difference each.

PostgreSQL gets COPY (DuckDB writes PostgreSQL's text format, psycopg streams it); SQLite
gets executemany in large chunks. Both run inside the caller's transaction; nothing here
commits.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
from sqlalchemy import Constraint, Table, UniqueConstraint, select, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint
from sqlalchemy.sql import ClauseElement, Executable

from lumbung.db import is_postgres

CHUNK = 50_000
BLOCK = 1 << 22


def driver_connection(session: Session) -> Any:
    """The DBAPI connection under the session's current transaction."""
    return session.connection().connection.driver_connection


def reserve_ids(session: Session, table: str, count: int) -> int:
    """Reserve `count` consecutive primary keys of `table`; return the first.

    The caller holds a lock that keeps other writers of `table` out until commit.
    """
    if count == 0:
        return 0
    if is_postgres(session):
        last = session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                "nextval(pg_get_serial_sequence(:t, 'id')) + :n - 1)"
            ),
            {"t": table, "n": count},
        ).scalar_one()
        return int(last) - count + 1
    top = session.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
    return int(top) + 1


def lock_for_writing(session: Session, tables: Sequence[str]) -> None:
    """Keep other writers of `tables` out until this transaction ends (readers go on)."""
    _lock(session, tables, "SHARE ROW EXCLUSIVE")


def lock_for_reading(session: Session, tables: Sequence[str]) -> None:
    """Keep writers of `tables` out until this transaction ends, so that other connections
    reading them meanwhile all see the same rows."""
    _lock(session, tables, "SHARE")


def _lock(session: Session, tables: Sequence[str], mode: str) -> None:
    if is_postgres(session):
        session.execute(text(f"LOCK TABLE {', '.join(tables)} IN {mode} MODE"))
    else:
        # BEGIN IMMEDIATE (db.py) already holds SQLite's single writer lock; touch the
        # connection so that the transaction has begun.
        session.execute(text("SELECT 1"))


SQLITE_BULK_CACHE_KIB = 256 * 1024
DEFER_INDEXES_FROM = 50_000


def _named(constraint: Constraint) -> str:
    return str(constraint.name)


@contextmanager
def deferred_indexes(session: Session, table: Table, incoming: int) -> Iterator[bool]:
    """Load into an empty `table` without its secondary indexes, then build them once.

    Building an index over sorted data after the load is several times faster than keeping it
    up to date row by row (measured: 3.5 M members into SQLite, 32 s → 12 s). Only an empty
    table qualifies, i.e. a first load or the migration of a whole registry; a batch into a
    populated registry keeps every index. Yields whether indexes were deferred.

    On PostgreSQL the keys go too, and come back once the rows are in (what pg_restore does):
    the primary key and unique constraints, each built by one sort instead of an index
    insertion per row, and the foreign keys, each checked by one join instead of a trigger per
    row. Foreign keys of other tables that point at this one go and come back with its key: the
    table is empty, so they point at nothing yet. A failing key (a duplicate the checks missed)
    fails the load, and the transaction with it. Dropping a pointing table's foreign key locks
    that table (`change_request`, `duplicate_review`) until commit: on the first load of an empty
    registry nobody is working in them yet. The foreign keys are taken from PostgreSQL's catalog,
    not the models: a command that did not import every model still finds them all.
    """
    empty = session.execute(select(table.c.id).limit(1)).first() is None
    indexes = sorted(table.indexes, key=lambda index: str(index.name))
    defer = empty and incoming >= DEFER_INDEXES_FROM and bool(indexes)
    postgres = is_postgres(session)
    keys: list[Constraint] = []
    foreign_keys: list[tuple[str, str, str]] = []
    if defer and postgres:
        unique = (c for c in table.constraints if isinstance(c, UniqueConstraint))
        keys = [table.primary_key, *sorted(unique, key=_named)]
        foreign_keys = _foreign_keys_touching(session, table.name)
    connection = session.connection()
    if defer:
        for owner, name, _ in foreign_keys:
            session.execute(text(f"ALTER TABLE {owner} DROP CONSTRAINT {name}"))
        for index in indexes:
            index.drop(bind=connection)
        for key in keys:
            connection.execute(DropConstraint(key))
    yield defer
    if defer:
        if postgres:
            session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for key in keys:
            connection.execute(AddConstraint(key))
        for index in indexes:
            index.create(bind=connection)
        for owner, name, definition in reversed(foreign_keys):
            session.execute(text(f"ALTER TABLE {owner} ADD CONSTRAINT {name} {definition}"))
        if postgres:
            preparer = session.get_bind().dialect.identifier_preparer
            # The table has no column statistics yet (the index builds count its rows, no
            # more), and with autovacuum off it never gets them: every filter and join on the
            # registry would be planned with default selectivities. ANALYZE reads a sample
            # (1 M families: ~0.5 s) and commits with the load.
            session.execute(text(f"ANALYZE {preparer.format_table(table)}"))


def _foreign_keys_touching(session: Session, table: str) -> list[tuple[str, str, str]]:
    """(table, name, definition) of the foreign keys pointing at `table` from other tables,
    then of `table`'s own, as PostgreSQL's catalog has them: every one the database enforces,
    whichever models the running command happened to import. Names come quoted for SQL."""
    rows = session.execute(
        text("""
            SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid),
                   conrelid = CAST(:table AS regclass) AS own
            FROM pg_constraint
            WHERE contype = 'f' AND (confrelid = CAST(:table AS regclass)
                                     OR conrelid = CAST(:table AS regclass))
            ORDER BY own, conname
        """),
        {"table": table},
    ).all()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def insert_from_duckdb(
    session: Session,
    con: duckdb.DuckDBPyConnection,
    query: str,
    table: str,
    columns: Sequence[str],
    scratch: Path,
    *,
    freeze: bool = False,
    unescaped: Collection[str] = (),
) -> int:
    """Insert the result of a DuckDB query into `table`; return the number of rows.

    `freeze`: `table` was created in this transaction, so PostgreSQL may write the rows as
    already visible to all (COPY … FREEZE), sparing a later pass of vacuum over them.
    `unescaped`: text columns that the caller has confined to codes, digits and dates, which
    need no escaping for PostgreSQL's text format (`_text_escaped`); every other text column is
    escaped.

    The rows go in the order DuckDB makes them: a caller that wants ids in some order gives
    them in its query rather than sorting there (an ORDER BY over 3.5 M members took DuckDB
    4 s, more than PostgreSQL's COPY of them; DuckDB keeps a scan's order without one, as
    `duck_connect` asks, so SQLite's B-trees still grow mostly at their end)."""
    if is_postgres(session):
        return _copy_through_pipe(session, con, query, table, columns, scratch, freeze, unescaped)
    # SQLite's default page cache (2 MB) makes every index update a disk read.
    session.execute(text(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}"))
    result = con.execute(query)
    placeholders = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    cursor = driver_connection(session).cursor()
    total = 0
    while rows := result.fetchmany(CHUNK):
        cursor.executemany(statement, rows)
        total += len(rows)
    cursor.close()
    return total


def _copy_through_pipe(
    session: Session,
    con: duckdb.DuckDBPyConnection,
    query: str,
    table: str,
    columns: Sequence[str],
    scratch: Path,
    freeze: bool = False,
    unescaped: Collection[str] = (),
) -> int:
    """COPY the query's rows into PostgreSQL while DuckDB is still producing them.

    DuckDB writes the rows into a named pipe on its own thread; this thread streams the pipe
    into `COPY … FROM STDIN`, so the two engines work at the same time on the two cores. The
    rows travel in PostgreSQL's text format (tab-separated, nothing quoted, NULL as `\\N`,
    text columns escaped by `_text_escaped`), which PostgreSQL parses a little faster than
    CSV (benchmarks/README.md, fourth session).
    """
    fifo = scratch / f"{table}.fifo"
    os.mkfifo(fifo)
    failure: list[BaseException] = []
    query = _text_escaped(con, query, unescaped)

    def produce() -> None:
        try:
            con.execute(f"COPY ({query}) TO {sql_path(fifo)} ({TEXT_FORMAT})")
        except BaseException as exc:  # handed to the reading thread, which re-raises it
            failure.append(exc)
            with fifo.open("wb"):  # a reader still waiting to open the pipe gets end-of-file
                pass

    producer = threading.Thread(target=produce, name=f"duckdb-{table}", daemon=True)
    producer.start()
    cursor = driver_connection(session).cursor()
    with fifo.open("rb") as pipe:
        try:
            with cursor:
                with cursor.copy(
                    f"COPY {table} ({', '.join(columns)}) FROM STDIN "
                    f"(FORMAT text{', FREEZE' if freeze else ''})"
                ) as copy:
                    while block := pipe.read(BLOCK):
                        copy.write(block)
                    producer.join()
                    if failure:
                        raise failure[0]
                count = int(cursor.rowcount)  # set when the COPY ends, lost when the cursor closes
        except BaseException:
            while pipe.read(BLOCK):  # let DuckDB finish writing, or it would wait forever
                pass
            raise
        finally:
            producer.join()
            fifo.unlink()
    return count


# PostgreSQL's text format as DuckDB writes it: tab-separated, nothing quoted, NULL as \N.
TEXT_FORMAT = (
    "FORMAT csv, DELIMITER '\t', QUOTE '', ESCAPE '', NULLSTR '\\N', HEADER false, "
    "USE_TMP_FILE false"
)
# DuckDB types whose text never holds a backslash, tab or line break.
PLAIN_TYPES = re.compile(
    r"(BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT|DOUBLE|FLOAT"
    r"|BOOLEAN|DATE|TIME|TIMESTAMP|TIMESTAMP WITH TIME ZONE|DECIMAL\(\d+,\d+\))"
)


def _text_escaped(
    con: duckdb.DuckDBPyConnection, query: str, unescaped: Collection[str] = ()
) -> str:
    r"""The query with its text columns escaped for PostgreSQL's text format: a backslash,
    tab, line feed or carriage return becomes `\\`, `\t`, `\n`, `\r`. Any column that is not a
    number, a flag or a date (JSON, a list, an enum) goes as its text, escaped the same way,
    except the columns `unescaped` names, which hold none of these characters (four replacements
    per value were a third of DuckDB's time writing 3.5 M members, for codes that hold none)."""
    columns = []
    for name, kind, *_ in con.execute(f"DESCRIBE {query}").fetchall():
        quoted = '"' + str(name).replace('"', '""') + '"'
        if name not in unescaped and not PLAIN_TYPES.fullmatch(str(kind)):
            escaped = f"replace(CAST({quoted} AS VARCHAR), '\\', '\\\\')"
            for letter, code in (("t", 9), ("n", 10), ("r", 13)):
                escaped = f"replace({escaped}, chr({code}), '\\{letter}')"
            quoted = f"{escaped} AS {quoted}"
        columns.append(quoted)
    return f"SELECT {', '.join(columns)} FROM ({query})"


def fetch_arrow(session: Session, statement: Executable) -> pa.Table:
    """A query's rows as an Arrow table (column types inferred from the values)."""
    result = session.execute(statement)
    names = list(result.keys())
    columns: list[list[Any]] = [[] for _ in names]
    for row in result:
        for i, value in enumerate(row):
            columns[i].append(value)
    return pa.table({name: pa.array(values) for name, values in zip(names, columns, strict=True)})


def push_keys(session: Session, name: str, keys: Iterable[str]) -> None:
    """A temporary one-column table `name(k)` in the operational database holding `keys`."""
    session.execute(text(f"CREATE TEMPORARY TABLE {name} (k VARCHAR(16) PRIMARY KEY)"))
    if is_postgres(session):
        cursor = driver_connection(session).cursor()
        with cursor, cursor.copy(f"COPY {name} (k) FROM STDIN") as copy:
            for key in keys:
                copy.write_row((key,))
        session.execute(text(f"ANALYZE {name}"))  # so the planner knows how many keys
        return
    cursor = driver_connection(session).cursor()
    batch: list[tuple[str]] = []
    for key in keys:
        batch.append((key,))
        if len(batch) >= CHUNK:
            cursor.executemany(f"INSERT INTO {name} (k) VALUES (?)", batch)
            batch.clear()
    cursor.executemany(f"INSERT INTO {name} (k) VALUES (?)", batch)
    cursor.close()


def roomy(session: Session) -> None:
    """On PostgreSQL, memory enough for the rest of this transaction's joins and sorts over a
    national cycle (millions of rows) to stay off the disk: the server's default `work_mem`
    is a few megabytes."""
    if is_postgres(session):
        session.execute(text("SET LOCAL work_mem = '256MB'"))


def drop_temp(session: Session, name: str) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS {name}"))


def sql_path(path: Path) -> str:
    """A file path as a SQL string literal (DuckDB's COPY … TO takes no bound parameter)."""
    return "'" + str(path).replace("'", "''") + "'"


def duck_connect(
    spill_dir: Path | None = None, *, memory_limit: str = "1GB"
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for batch work: bounded memory, spilling to `spill_dir`, quiet.

    In memory rather than a database file: nothing needs to outlive the command, and a file
    would be written twice (its WAL, then the checkpoint). Past `memory_limit` DuckDB moves
    data to `spill_dir`, so inputs larger than memory still work. DuckDB draws a progress bar
    on stdout for long queries; that would corrupt `--json`, so it is off.
    """
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = true")
    if spill_dir is not None:
        con.execute("SET temp_directory = $dir", {"dir": str(spill_dir)})
    return con


def duck_count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The single number a DuckDB query such as `SELECT count(*) …` gives."""
    return int(con.execute(sql).fetchall()[0][0])


def duck_table(
    con: duckdb.DuckDBPyConnection, name: str, schema: dict[str, str], rows: pa.Table
) -> None:
    """A DuckDB table with the given column types, filled from an Arrow table (may be empty)."""
    con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in schema.items())})")
    if rows.num_rows:
        con.register("incoming", rows)
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming")
        con.unregister("incoming")


def stream_tuples(
    session: Session, statement: ClauseElement, chunk: int = CHUNK
) -> Iterator[Sequence[Sequence[Any]]]:
    """A query's rows as the driver's own tuples, `chunk` at a time, in the session's
    transaction: PostgreSQL through a server-side cursor (the rows never all in memory), SQLite
    through its cursor. No Row object per row and no result processing: for columns the driver
    already gives as Python values (integers, text), when millions of rows are written out."""
    dialect = session.get_bind().dialect
    # an IN of a list of values becomes its parameters here (the driver gets plain SQL)
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    connection = driver_connection(session)
    if is_postgres(session):
        cursor = connection.cursor(name=f"lumbung_stream_{threading.get_ident()}")
        cursor.itersize = chunk
        parameters: Any = compiled.params
    else:
        cursor = connection.cursor()
        order = getattr(compiled, "positiontup", None) or ()  # qmark: parameters by position
        parameters = [compiled.params[name] for name in order]
    try:
        cursor.execute(str(compiled), parameters)
        while rows := cursor.fetchmany(chunk):
            yield rows
    finally:
        cursor.close()


_END = object()
_T = TypeVar("_T")


def ahead(chunks: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """`chunks` read by a thread of their own, up to `depth` ahead of the caller: while the
    caller works on one chunk (formatting a bank file), the database makes the next instead of
    waiting for the next fetch, and the two overlap on two cores. Only for an iterator nobody
    else uses meanwhile (PostgreSQL's `stream_tuples`: the caller does not touch the session
    until it is done); an error in the thread is raised here, and a caller that stops early
    stops the thread, which closes `chunks`."""
    handed: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand(item: Any) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=0.05)
            except queue.Full:
                continue
            return True
        return False

    def read() -> None:
        try:
            for chunk in chunks:
                if not hand(chunk):
                    return
            hand(_END)
        except BaseException as error:  # handed to the caller, raised there
            hand(error)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="lumbung-ahead", daemon=True)
    reader.start()
    try:
        while (item := handed.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def stream_ahead(
    session: Session, statement: ClauseElement, chunk: int = CHUNK
) -> Iterator[Sequence[Sequence[Any]]]:
    """`stream_tuples`, on PostgreSQL read `ahead` of the caller (who must leave the session
    alone until the rows are exhausted or it stops)."""
    chunks = stream_tuples(session, statement, chunk)
    return ahead(chunks) if is_postgres(session) else chunks
