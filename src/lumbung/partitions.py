"""Tables partitioned by the run that wrote them (PostgreSQL): `entitlement` by cycle,
`pmt_score` by scoring.

Loading: a run's rows go into a new table `<table>_p<run id>` created in the same transaction
with a check constraint on the run (COPY … FREEZE: no index, no foreign-key trigger, and no
later vacuum to mark the rows visible). Attaching it, last thing before commit, needs no scan
(the constraint proves every row belongs), builds the partition's index by one sort and checks
its foreign key by one join: 3.2 M entitlements took 6.6 s so, where the shared table took
18.8 s (a trigger per row, two index insertions per row). There is no default partition: a row
of no run's partition is an error, and attaching never has to scan or lock one.

Locks: the caller takes `bulk.lock_for_writing` on the partitioned table *before* it inserts
the run's own row (cycle, scoring). Attaching copies the foreign key onto the partition,
which locks the referenced table (SHARE ROW EXCLUSIVE) until commit; two runs that had each
inserted their row before waiting for the other would deadlock. Emptying a replaced run is a
TRUNCATE of its partition (the other runs stay readable); dropping the emptied partition locks
the whole table, so it comes last, just before commit.

The database role needs to own these tables and may create tables in the schema.

SQLite has no partitions: there a run's rows go into the one table and are deleted from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.orm import Session

from lumbung.db import is_postgres

if TYPE_CHECKING:  # DuckDB loads with the commands that load rows, not with every migration
    import duckdb

PARTITIONED = {"entitlement": "cycle_id", "pmt_score": "scoring_id"}
# For Alembic and the tests: partitions are data, not schema.
PARTITION_NAME = re.compile(rf"({'|'.join(PARTITIONED)})_p[0-9]+")


def partition_name(table: str, run_id: int) -> str:
    if table not in PARTITIONED:
        raise ValueError(f"{table} is not partitioned")
    return f"{table}_p{int(run_id)}"


def load(
    session: Session,
    con: duckdb.DuckDBPyConnection,
    query: str,
    table: str,
    run_id: int,
    columns: Sequence[str],
    scratch: Path,
    *,
    same: Mapping[str, str] | None = None,
) -> int:
    """Insert the run's rows (a DuckDB query giving `columns`); on PostgreSQL into its new
    partition, which `attach` then makes part of `table`. Returns the number of rows.

    The run's own column, and the columns in `same` (name → one word every row has, such as
    the channel of a cycle), are not in the query: on PostgreSQL they are the partition's
    defaults while it loads, so 95 M rows do not carry them through COPY."""
    from lumbung import bulk

    column, run = PARTITIONED[table], int(run_id)
    constants = {column: str(run), **{k: _word(v) for k, v in (same or {}).items()}}
    if not is_postgres(session):
        literal = ", ".join(f"{value} AS {name}" for name, value in constants.items())
        return bulk.insert_from_duckdb(
            session,
            con,
            f"SELECT *, {literal} FROM ({query})",
            table,
            [*columns, *constants],
            scratch,
        )
    name = partition_name(table, run_id)
    # The check that lets `attach` skip a scan is checked row by row as the rows come in,
    # rather than by a pass over the whole table afterwards.
    session.execute(
        text(
            f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS, "
            f"CONSTRAINT {name}_run CHECK ({column} = {run}))"
        )
    )
    defaults = ", ".join(f"ALTER {k} SET DEFAULT {v}" for k, v in constants.items())
    session.execute(text(f"ALTER TABLE {name} {defaults}"))
    loaded = bulk.insert_from_duckdb(session, con, query, name, columns, scratch, freeze=True)
    session.execute(
        text(f"ALTER TABLE {name} " + ", ".join(f"ALTER {k} DROP DEFAULT" for k in constants))
    )
    return loaded


def _word(value: str) -> str:
    """A constant column's value (a program's channel, a state) as an SQL literal."""
    if not re.fullmatch(r"[a-z0-9_-]{1,32}", value):
        raise ValueError(f"not a plain word: {value!r}")
    return f"'{value}'"


def attach(session: Session, table: str, run_id: int) -> None:
    """Make the loaded partition part of `table`: indexed, its foreign key checked, attached
    without a scan thanks to the check constraint `load` created it with (PostgreSQL)."""
    if not is_postgres(session):
        return
    name, run = partition_name(table, run_id), int(run_id)
    session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    session.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES IN ({run})"))
    session.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_run"))


def empty(session: Session, table: str, run_id: int) -> None:
    """Remove a run's rows; on PostgreSQL its partition stays, empty, until `drop`."""
    if not is_postgres(session):
        session.execute(
            text(f"DELETE FROM {table} WHERE {PARTITIONED[table]} = :run"), {"run": int(run_id)}
        )
        return
    name = partition_name(table, run_id)
    if session.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar_one():
        session.execute(text(f"TRUNCATE {name}"))


def drop(session: Session, table: str, run_id: int) -> None:
    """Remove an emptied run's partition (PostgreSQL): last before commit."""
    if is_postgres(session):
        session.execute(text(f"DROP TABLE IF EXISTS {partition_name(table, run_id)}"))
