"""Stream a query's rows as Arrow IPC on stdout, from a process of its own.

    python -m lumbung.releases.arrow_reader sqlite|postgresql < request.json

The process loads its libraries first and only then reads the request, which the parent sends
when it knows the slices (so the ~0.5 s of imports overlaps the parent's own work). The request
comes as JSON on stdin (never on the command line, where a password would show):
`{"uri": …, "sql": ["SELECT …", …], "columns": [name, …], "dictionary": [column, …],
"packs": {"_pack_0": [column, …], …}, "separator": "|"}`.
Each query's rows go out as an Arrow stream of their own, one after the other on the same pipe
(a stream ends with its end-of-stream marker, so the reader takes them one at a time): one
process, one set of imports and one connection serve all the slices of a table, where a
process per slice cost ~0.5 s of CPU each to start. The columns named in `dictionary` (few
distinct values: codes and categories) are sent dictionary-encoded, which makes sorting them
into provinces and writing them cheap. A pack is several such columns selected as one text
(`L|anak|sd`, see export.PACKS): it is split back into its columns here, once per distinct
combination, and goes out as those columns, in the order `columns` gives.

The ADBC drivers turn rows into Arrow in C, several times faster than Python objects per row,
but they hold Python's lock while they do: in a process of their own, the two tables of a
release are read truly at once. The SQLite driver also brings its own copy of the SQLite
library, and two SQLite libraries in one process break each other's file locks (POSIX locks
belong to the process): one more reason for a child process.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any


def _driver(name: str) -> Any:
    """The ADBC DB-API module of the database `name`."""
    if name == "sqlite":
        import adbc_driver_sqlite.dbapi

        return adbc_driver_sqlite.dbapi
    import adbc_driver_postgresql.dbapi

    return adbc_driver_postgresql.dbapi


def main() -> None:
    driver = sys.argv[1]
    dbapi = _driver(driver)
    import pyarrow.compute  # noqa: F401  (loaded before the request comes, as the driver is)

    request = json.loads(sys.stdin.read())
    shape = Shape(
        request["columns"], set(request["dictionary"]), request["packs"], request["separator"]
    )
    with dbapi.connect(request["uri"]) as connection, connection.cursor() as cursor:
        if driver == "sqlite":
            cursor.execute("PRAGMA busy_timeout = 60000")
        for sql in request["sql"]:
            if driver == "sqlite":
                # Batches of 64 Ki rows, not 1 Ki: each batch carries its own dictionaries.
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "65536"})
            cursor.execute(sql)
            _stream(cursor.fetch_record_batch(), shape)
            sys.stdout.buffer.flush()


@dataclass(frozen=True, slots=True)
class Shape:
    """What goes out: `columns` in this order, those in `dictionary` dictionary-encoded, those
    in a pack taken from it."""

    columns: list[str]
    dictionary: set[str]
    packs: dict[str, list[str]]
    separator: str

    def schema(self, selected: Any) -> Any:
        import pyarrow as pa

        packed = {c for pack in self.packs.values() for c in pack}
        text = pa.dictionary(pa.int32(), pa.string())
        return pa.schema(
            pa.field(c, text)
            if c in packed
            else pa.field(c, pa.dictionary(pa.int32(), selected.field(c).type))
            if c in self.dictionary
            else selected.field(c)
            for c in self.columns
        )

    def columns_of(self, batch: Any) -> list[Any]:
        import pyarrow.compute as pc

        unpacked = {
            column: values
            for name, pack in self.packs.items()
            for column, values in _unpack(batch.column(name), pack, self.separator).items()
        }
        return [
            unpacked[c]
            if c in unpacked
            else pc.dictionary_encode(batch.column(c))
            if c in self.dictionary
            else batch.column(c)
            for c in self.columns
        ]


def _unpack(packed: Any, columns: list[str], separator: str) -> dict[str, Any]:
    """`a|b|c` per row → a dictionary-encoded column per name, each distinct text split once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if packed.null_count:  # one NULL code makes the whole text NULL: its row is not kept
        raise ValueError(f"one of {columns} is empty (NULL) in a row; these must never be NULL")
    combinations = pc.dictionary_encode(packed)
    parts = pc.split_pattern(combinations.dictionary, separator)
    wrong = pc.not_equal(pc.list_value_length(parts), len(columns))
    if pc.any(wrong).as_py():
        value = combinations.dictionary.filter(wrong)[0].as_py()
        raise ValueError(
            f"{value!r} does not split into {columns} at {separator!r}: a code holds the separator"
        )
    unpacked = {}
    for at, column in enumerate(columns):
        part = pc.dictionary_encode(pc.list_element(parts, at))
        indices = part.indices.take(combinations.indices)
        unpacked[column] = pa.DictionaryArray.from_arrays(indices, part.dictionary)
    return unpacked


def _stream(reader: Any, shape: Shape) -> None:
    """One query's rows as one Arrow stream on stdout."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = shape.schema(reader.schema)
    # Not `with`: a query failing halfway must not end its stream as if complete (the reader
    # would take a cut-short slice for a whole one); the process exits with the error instead.
    stream = pa.ipc.new_stream(sys.stdout.buffer, schema)
    for batch in reader:
        if "_real" in batch.schema.names:  # SQLite's first row only settles the types
            batch = batch.filter(pc.equal(batch.column("_real"), 1))
        stream.write_batch(pa.RecordBatch.from_arrays(shape.columns_of(batch), schema=schema))
    stream.close()


if __name__ == "__main__":
    main()
