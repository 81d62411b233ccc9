"""Reading the approved registry out of the operational database as Arrow, fast.

The registry is read in slices of at most `SLICE` families (by id range; a family's members
come with it), so that memory stays bounded however large the registry. The families and the
members are read at once, each table by an ADBC driver in a child process of its own that
serves all its slices in turn (see arrow_reader.py: the drivers hold Python's lock while they
convert rows), each slice an Arrow stream of its own coming back over the pipe. Columns with
few distinct values (codes, categories) come dictionary-encoded, which makes sorting rows into
provinces and writing them cheap.

The caller's transaction holds the registry still meanwhile (`bulk.lock_for_reading`), so all
connections and all slices see one and the same registry: what is committed.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
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
# Read beside the released columns and not written: what the rows' seals cover besides, and the
# seals, checked slice by slice before anything is frozen (audit/seal.py, releases/service.py).
SEAL_COLUMNS: dict[str, dict[str, str]] = {
    "household": {
        "status_reason": "VARCHAR",
        "import_batch_id": "BIGINT",
        "version": "INTEGER",
        "seal": "VARCHAR",
    },
    "member": {"version": "INTEGER", "seal": "VARCHAR"},
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
# Family ids per slice, so at most this many families (with their members, about 3.5 times as
# many); two slices in memory at most.
SLICE = 500_000
# Ids are dense unless more than this many ids per family are unused (rolled-back imports):
# slices are then cut by counting families, not by id arithmetic alone (see `_bounds`).
SPARSE = 2
BUCKET = 1 << 16  # ids per bucket when families are counted to cut sparse ids into slices
# Codes that travel from the database packed, each group as one text per row (`L|anak|…`) that
# the reader process splits again into dictionary-encoded columns: the PostgreSQL driver
# spends ~0.25 s of CPU per text column per million rows converting it, so nine codes in one
# column cost a ninth, and the split is done once per distinct combination, not per row.
# Only NOT NULL columns whose values never hold the separator (codes, region codes, status).
SEPARATOR = "|"
PACKS: dict[str, tuple[tuple[str, ...], ...]] = {
    "household": (
        ("village_code", "district_code", "regency_code", "province_code"),
        (*vocab.HOUSEHOLD_ENUMS, "status"),
    ),
    "member": ((*vocab.MEMBER_ENUMS, "status"),),
}
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
    packs: tuple[tuple[str, ...], ...] = ()  # groups of codes that travel as one text (PACKS)

    def selected(self) -> dict[str, str]:
        """What the query selects: name → SQL expression. The columns outside the packs, then
        each pack as `_pack_N`, its codes joined by `SEPARATOR` (all of them NOT NULL)."""
        packed = {c for pack in self.packs for c in pack}
        return {c: c for c in self.columns if c not in packed} | {
            name: f" || '{SEPARATOR}' || ".join(pack)
            for name, pack in packed_names(self.packs).items()
        }

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


def packed_names(packs: tuple[tuple[str, ...], ...]) -> dict[str, tuple[str, ...]]:
    """Each pack's name in the query (`_pack_N`) → its columns."""
    return {f"_pack_{n}": pack for n, pack in enumerate(packs)}


def _sql(query: Query, sqlite: bool) -> str:
    selected = query.selected()
    columns = ", ".join(e if e == name else f"{e} AS {name}" for name, e in selected.items())
    if not sqlite:
        return f"SELECT {columns} FROM {query.table} WHERE {query.condition()}"
    body = f"SELECT 1 AS _real, {columns} FROM {query.table} WHERE {query.condition()}"
    hint = ", ".join(
        f"{_SQLITE_TYPE_HINT.get(query.columns.get(name, 'VARCHAR'), EMPTY_TEXT)} AS {name}"
        for name in selected
    )
    return f"SELECT 0 AS _real, {hint} UNION ALL {body}"


def _tail(errors: IO[bytes]) -> str:
    """The end of what a reader process wrote to its error file."""
    errors.seek(0)
    return errors.read().decode(errors="replace")[-2000:]


class TableReader:
    """One table's slices, read in order by one child process (arrow_reader.py) that sends each
    slice as an Arrow stream of its own. The process starts (and loads its libraries) at once;
    `request(queries)` then gives it the slices (each a `Query` of these columns and packs),
    and `next()` the next slice's rows, typed as its columns say (categories dictionary-encoded).
    Calls of `next()` must not overlap; `stop()` may come from another thread at any time, and a
    `next()` under way then fails."""

    def __init__(
        self,
        url: URL,
        table: str,
        columns: dict[str, str],
        packs: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        self.url, self.table, self.columns, self.packs, self._left = url, table, columns, packs, 0
        self._sqlite = url.get_backend_name() == "sqlite"
        self._stopped = threading.Event()
        # A file, as a pipe left unread could fill up; closed by `stop`.
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            driver = "sqlite" if self._sqlite else "postgresql"
            self._process = subprocess.Popen(  # noqa: S603  (this interpreter, our module, a constant)
                [sys.executable, "-m", "lumbung.releases.arrow_reader", driver],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._errors,
            )
        except BaseException:
            self._errors.close()
            raise

    def request(self, queries: list[Query]) -> None:
        """Have the process read `queries` (this reader's table), in this order."""
        if any((q.columns, q.packs) != (self.columns, self.packs) for q in queries):
            raise ValueError(f"every slice of {self.table} must have the reader's columns")
        request = {
            "uri": str(self.url.database)
            if self._sqlite
            else self.url.set(drivername="postgresql").render_as_string(hide_password=False),
            "sql": [_sql(query, self._sqlite) for query in queries],
            "columns": list(self.columns),
            "dictionary": [c for c in self.columns if c in CATEGORIES],
            "packs": packed_names(self.packs),
            "separator": SEPARATOR,
        }
        self._left = len(queries)
        try:
            assert self._process.stdin is not None
            with self._process.stdin as request_pipe:
                request_pipe.write(json.dumps(request).encode())
        except BaseException as exc:
            raise self._failure(exc) from exc

    def next(self) -> pa.Table:
        if self._stopped.is_set():
            raise RuntimeError(f"reading {self.table} was stopped")
        if self._left <= 0:  # the child would wait for a request and this for its rows
            raise RuntimeError(f"no slice of {self.table} left to read")
        assert self._process.stdout is not None
        try:
            rows = pa.ipc.open_stream(self._process.stdout).read_all()
            self._left -= 1
            if not self._left and self._process.wait() != 0:
                raise RuntimeError("the reader process failed after its last slice")
            # One array per column: the provinces are gathered from it 38 times.
            return rows.cast(arrow_schema(self.columns)).unify_dictionaries().combine_chunks()
        except BaseException as exc:
            raise self._failure(exc) from exc

    def _failure(self, cause: BaseException) -> BaseException:
        """Stop, and say why the child failed: the database's own words when it wrote any.
        An interruption (Ctrl-C) stays what it is."""
        if self._stopped.is_set():
            return RuntimeError(f"reading {self.table} was stopped")
        if not isinstance(cause, Exception):
            self.stop()
            return cause
        self._end()
        try:
            detail = _tail(self._errors)
        except ValueError:  # closed meanwhile by a `stop` from another thread
            detail = ""
        self.stop()
        return RuntimeError(
            f"reading {self.table} failed (reader exit status {self._process.returncode})"
            + (f": {detail}" if detail else "")
        )

    def _end(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()

    def stop(self) -> None:
        """End the child process, reading or not (its rows are not wanted any more)."""
        self._stopped.set()
        self._end()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._errors.close()

    def running(self) -> bool:
        return self._process.poll() is None


@dataclass(frozen=True, slots=True)
class Slice:
    """One slice of the registry, its two tables being read meanwhile."""

    _households: Future[pa.Table]
    _members: Future[pa.Table]

    def sealed_households(self) -> pa.Table:
        """The slice's approved families as read: HOUSEHOLD_COLUMNS and their SEAL_COLUMNS."""
        return self._households.result()

    def sealed_members(self) -> pa.Table:
        """The active members of the slice's families as read, with their SEAL_COLUMNS."""
        return self._members.result()

    def households(self) -> pa.Table:
        """HOUSEHOLD_COLUMNS (waits for the families, not for their members)."""
        return self.sealed_households().select(list(HOUSEHOLD_COLUMNS))

    def members(self) -> pa.Table:
        """MEMBER_COLUMNS: each member with its family's KK and province."""
        return _with_family(self._members.result(), self.households())


def _bounds(session: Session) -> list[tuple[int | None, int | None]]:
    """Family id ranges of at most `SLICE` families each, in id order, covering every family
    (approved or not: the members read for a range are those of all its families).

    Usually the ids are dense and the ranges are `SLICE` ids wide from the lowest id (`edges`):
    a range can hold no more families than ids. Numbering the families in id order instead took
    a sort of the whole table (1.3-1.8 s at 1.1 M families on a registry just determined). When
    most ids are unused (rolled-back imports leave gaps), the families are counted per bucket of
    ids and neighbouring buckets joined, so that sparse ids do not make many near-empty slices."""
    low, high, families = session.execute(
        text("SELECT min(id), max(id), count(*) FROM household")
    ).one()
    if not families:
        return [(None, None)]
    if high - low + 1 <= SPARSE * families:
        cuts = edges(int(low), int(high), SLICE)
    else:
        width = min(BUCKET, SLICE)
        counted = session.execute(
            text("SELECT id / :width, count(*) FROM household GROUP BY 1 ORDER BY 1"),
            {"width": width},
        ).all()
        cuts = joined([(int(bucket) * width, int(n)) for bucket, n in counted], SLICE)
    return list(zip([None, *cuts], [*cuts, None], strict=True))


def edges(low: int, high: int, size: int) -> list[int]:
    """Where to cut the ids `low`..`high` into ranges `size` ids wide (none if one range)."""
    return list(range(low + size, high + 1, size))


def joined(buckets: list[tuple[int, int]], size: int) -> list[int]:
    """Where to cut (first id of bucket, families in it), in id order, into ranges of at most
    `size` families, each bucket holding at most `size`: a cut wherever the next bucket would
    not fit."""
    cuts, in_range = [], 0
    for start, families in buckets:
        if in_range and in_range + families > size:
            cuts.append(start)
            in_range = 0
        in_range += families
    return cuts


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


def whole_table(
    session: Session, table: str, columns: dict[str, str], rows_per_slice: int = 1_000_000
) -> Iterator[pa.Table]:
    """Every row of `table` (the caller's transaction holds writers off), `columns` typed as
    given, slice by slice of ids, read by a child process as a release reads its tables."""
    bulk.lock_for_reading(session, (table,))
    low, high = session.execute(text(f"SELECT min(id), max(id) FROM {table}")).one()
    if low is None:
        return
    cuts = edges(int(low), int(high), rows_per_slice)
    bounds = list(zip([None, *cuts], [*cuts, None], strict=True))
    reader = TableReader(session.get_bind().engine.url, table, columns)
    try:
        reader.request([Query(table, columns, "1 = 1", "id", lo, hi) for lo, hi in bounds])
        for _ in bounds:
            yield reader.next()
    finally:
        reader.stop()


@contextmanager
def approved_registry(session: Session) -> Iterator[Iterator[Slice]]:
    """The approved families and their active members, slice by slice in family id order.

    The next slice is already being read while the caller writes this one (so at most two
    slices are in memory). Leaving the block stops any reading still under way."""
    bulk.lock_for_reading(session, ("household", "member"))
    url = session.get_bind().engine.url
    with ExitStack() as cleanup:  # undone in reverse: cancel, stop the readers, then wait
        # One thread per table: a table's slices are taken from its pipe one after the other.
        threads = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"read-{t}") for t in "hm"]
        for thread in threads:
            cleanup.callback(thread.shutdown, wait=True)  # a stopped reader's read ends at once
        queries = (
            Query(
                "household",
                HOUSEHOLD_COLUMNS | SEAL_COLUMNS["household"],
                "status = 'approved'",
                "id",
                packs=PACKS["household"],
            ),
            Query(
                "member",
                MEMBER_OWN_COLUMNS | SEAL_COLUMNS["member"],
                "status = 'active'",
                "household_id",
                packs=PACKS["member"],
            ),
        )
        readers = []
        for query in queries:  # started first: they load their libraries while slices are cut
            reader = TableReader(url, query.table, query.columns, query.packs)
            cleanup.callback(reader.stop)
            readers.append(reader)
        bounds = _bounds(session)
        for query, reader in zip(queries, readers, strict=True):
            reader.request([replace(query, low=lo, high=hi) for lo, hi in bounds])
        for thread in threads:
            cleanup.callback(thread.shutdown, wait=False, cancel_futures=True)

        def read_slice() -> Slice:
            return Slice(threads[0].submit(readers[0].next), threads[1].submit(readers[1].next))

        def slices() -> Iterator[Slice]:
            ahead = read_slice()
            for _ in bounds[1:]:
                current, ahead = ahead, read_slice()
                yield current
            yield ahead

        yield slices()
