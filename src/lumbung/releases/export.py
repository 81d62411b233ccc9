"""Reading the approved registry out of the operational database as Arrow, fast.

The registry is read in slices of at most `SLICE` families (by id range; a family's members
come with it), so that memory stays bounded however large the registry. Within a slice the
families and their members are read at once, each by an ADBC driver in a child process of
its own (see arrow_reader.py: the drivers hold Python's lock while they convert rows), the
Arrow stream coming back over a pipe. Columns with few distinct values (codes, categories)
come dictionary-encoded, which makes sorting rows into provinces and writing them cheap.

The caller's transaction holds the registry still meanwhile (`bulk.lock_for_reading`), so all
connections and all slices see one and the same registry: what is committed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
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
ARROW_TYPES: dict[str, pa.DataType] = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
}
# Families per slice (with their members, about 3.5 times as many); two slices in memory at most.
SLICE = 500_000
# SQLite has no column types to speak of; the ADBC driver infers each column's type from the
# first rows it sees, and fails if a NULL-only start turns into text later. A first row with
# a value of the right kind in every column settles the types; it is dropped after reading.
EMPTY_TEXT = "''"
_SQLITE_TYPE_HINT = {"BIGINT": "0", "INTEGER": "0", "BOOLEAN": "0", "DOUBLE": "0.5"}


# Columns with few distinct values: read and written dictionary-encoded (still text in Parquet).
CATEGORIES = frozenset(
    {
        "village_code",
        "district_code",
        "regency_code",
        "province_code",
        "rt",
        "rw",
        "status",
        *vocab.HOUSEHOLD_ENUMS,
        *vocab.MEMBER_ENUMS,
    }
)


def arrow_schema(columns: dict[str, str]) -> pa.Schema:
    """Arrow types of `columns`; categories as dictionaries of text."""
    return pa.schema(
        (c, pa.dictionary(pa.int32(), pa.string()) if c in CATEGORIES else ARROW_TYPES[t])
        for c, t in columns.items()
    )


@dataclass(frozen=True, slots=True)
class Query:
    """One table's rows of one slice: `SELECT columns FROM table WHERE where AND key range`."""

    table: str
    columns: dict[str, str]
    where: str
    key: str  # the family id column, for the slice's range
    low: int | None = None  # inclusive
    high: int | None = None  # exclusive

    def condition(self) -> str:
        """The WHERE clause. The bounds are written in as numbers (ids out of the database,
        made integers here): with bound parameters, the PostgreSQL driver would not stream the
        rows through COPY but hold the whole result in memory first."""
        parts = [self.where]
        if self.low is not None:
            parts.append(f"{self.key} >= {int(self.low)}")
        if self.high is not None:
            parts.append(f"{self.key} < {int(self.high)}")
        return " AND ".join(parts)


def _sql(query: Query, sqlite: bool) -> str:
    columns = ", ".join(query.columns)
    if not sqlite:
        return f"SELECT {columns} FROM {query.table} WHERE {query.condition()}"
    body = f"SELECT 1 AS _real, {columns} FROM {query.table} WHERE {query.condition()}"
    hint = ", ".join(
        f"{_SQLITE_TYPE_HINT.get(t, EMPTY_TEXT)} AS {c}" for c, t in query.columns.items()
    )
    return f"SELECT 0 AS _real, {hint} UNION ALL {body}"


Readers = set[subprocess.Popen[bytes]]


def _tail(errors: IO[bytes]) -> str:
    """The end of what a reader process wrote to its error file."""
    errors.seek(0)
    return errors.read().decode(errors="replace")[-2000:]


def read_rows(url: URL, query: Query, running: Readers | None = None) -> pa.Table:
    """The query's rows, typed as its columns say (categories dictionary-encoded). The child
    process is in `running` while it reads (so that an abandoned release can stop it)."""
    sqlite = url.get_backend_name() == "sqlite"
    request = {
        "driver": "sqlite" if sqlite else "postgresql",
        "uri": str(url.database)
        if sqlite
        else url.set(drivername="postgresql").render_as_string(hide_password=False),
        "sql": _sql(query, sqlite),
        "dictionary": [c for c in query.columns if c in CATEGORIES],
    }
    running = set() if running is None else running
    with (
        tempfile.TemporaryFile() as errors,  # a file: a pipe left unread could fill and block
        subprocess.Popen(
            [sys.executable, "-m", "lumbung.releases.arrow_reader"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
        ) as process,
    ):
        running.add(process)
        try:
            assert process.stdin is not None
            assert process.stdout is not None
            process.stdin.write(json.dumps(request).encode())
            process.stdin.close()
            rows = pa.ipc.open_stream(process.stdout).read_all()
            status = process.wait()
        except BaseException as exc:
            process.kill()
            process.wait()
            if detail := _tail(errors):
                raise RuntimeError(f"reading {query.table} failed: {detail}") from exc
            raise
        finally:
            running.discard(process)
        if status != 0:
            raise RuntimeError(f"reading {query.table} failed: {_tail(errors)}")
    # One array per column: the provinces are gathered from it 38 times.
    return rows.cast(arrow_schema(query.columns)).unify_dictionaries().combine_chunks()


@dataclass(frozen=True, slots=True)
class Slice:
    """One slice of the registry, its two tables being read meanwhile."""

    _households: Future[pa.Table]
    _members: Future[pa.Table]

    def households(self) -> pa.Table:
        """HOUSEHOLD_COLUMNS (waits for the families, not for their members)."""
        return self._households.result()

    def members(self) -> pa.Table:
        """MEMBER_COLUMNS: each member with its family's KK and province."""
        return _with_family(self._members.result(), self.households())


def _bounds(session: Session) -> list[tuple[int | None, int | None]]:
    """Family id ranges of at most `SLICE` families each (counting every family, approved or
    not: the members read for a range are those of all its families)."""
    count = session.execute(text("SELECT count(*) FROM household")).scalar_one()
    if count <= SLICE:
        return [(None, None)]
    edges = [
        int(edge)
        for edge in session.execute(
            text(
                "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n "
                "FROM household) AS numbered WHERE n % :slice = 1 AND n > 1 ORDER BY id"
            ),
            {"slice": SLICE},
        ).scalars()
    ]
    return list(zip([None, *edges], [*edges, None], strict=True))


def _with_family(members: pa.Table, households: pa.Table) -> pa.Table:
    """Members of the slice's families, with the family's KK and province (others dropped:
    a member of a family that is not approved is not in the release)."""
    at = pc.index_in(members.column("household_id"), value_set=households.column("id"))
    if at.null_count:
        keep = pc.is_valid(at)
        members, at = members.filter(keep), at.filter(keep)
    family = households.select(["kk_number", "province_code"]).take(at)
    columns = {
        **{c: members.column(c) for c in members.column_names},
        **{c: family.column(c) for c in family.column_names},
    }
    return pa.table([columns[c] for c in MEMBER_COLUMNS], schema=arrow_schema(MEMBER_COLUMNS))


@contextmanager
def approved_registry(session: Session) -> Iterator[Iterator[Slice]]:
    """The approved families and their active members, slice by slice in family id order.

    The next slice is already being read while the caller writes this one (so at most two
    slices are in memory). Leaving the block stops any reading still under way."""
    bulk.lock_for_reading(session, ("household", "member"))
    url = session.get_bind().engine.url
    running: Readers = set()

    def slices(readers: ThreadPoolExecutor) -> Iterator[Slice]:
        def start(low: int | None, high: int | None) -> Slice:
            households = Query(
                "household", HOUSEHOLD_COLUMNS, "status = 'approved'", "id", low, high
            )
            members = Query(
                "member", MEMBER_OWN_COLUMNS, "status = 'active'", "household_id", low, high
            )
            return Slice(
                readers.submit(read_rows, url, households, running),
                readers.submit(read_rows, url, members, running),
            )

        bounds = _bounds(session)
        ahead = start(*bounds[0])
        for following in bounds[1:]:
            current, ahead = ahead, start(*following)
            yield current
        yield ahead

    readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="release-read")
    try:
        yield slices(readers)
    finally:
        readers.shutdown(wait=False, cancel_futures=True)
        for process in list(running):  # readers of slices nobody will write
            process.kill()
        readers.shutdown(wait=True)
