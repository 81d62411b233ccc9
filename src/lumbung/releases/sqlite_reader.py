"""Stream a SQLite query's rows as Arrow IPC on stdout, from a process of its own.

    python -m lumbung.releases.sqlite_reader DATABASE_PATH < query.sql

The ADBC SQLite driver turns rows into Arrow in C, five times faster than Python's sqlite3
objects. It brings its own copy of the SQLite library, though, and two SQLite libraries in one
process break each other's file locks (POSIX locks belong to the process). So the driver runs
here, in a child process, and the release command reads the Arrow stream from the pipe.
"""

from __future__ import annotations

import sys


def main() -> None:
    import adbc_driver_sqlite.dbapi
    import pyarrow as pa

    path, query = sys.argv[1], sys.stdin.read()
    with adbc_driver_sqlite.dbapi.connect(path) as connection, connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 60000")
        cursor.execute(query)
        reader = cursor.fetch_record_batch()
        with pa.ipc.new_stream(sys.stdout.buffer, reader.schema) as stream:
            for batch in reader:
                stream.write_batch(batch)


if __name__ == "__main__":
    main()
