"""Where a first import into PostgreSQL spends its time, piece by piece.

    python benchmarks/import_pieces.py BATCH_DIR            # a `lumbung synth` output folder
    PYTHONPATH=/path/to/other/checkout/src python benchmarks/import_pieces.py BATCH_DIR
    python benchmarks/import_pieces.py BATCH_DIR --template lumbung_bench   # into a registry

Creates the database `lumbung_import_pieces` afresh (on `--postgres-admin-url`'s server), loads
the regions and an admin, imports the batch into the empty registry and prints the import's
stages and, inside the load, the seconds of every COPY, key, index and foreign key rebuilt.
Run it alternately against two checkouts (`PYTHONPATH`) to compare them on a machine whose
speed drifts: the fourth session measured the text-format loads and deferred keys so.
With `--template DB`, the database starts as a copy of DB (say the registry a run of
`registry_pipeline.py` left in `lumbung_bench`, with an admin user): an import into a registry.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

DATABASE = "lumbung_import_pieces"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("batch", type=Path, help="folder with households.csv and members.csv")
    parser.add_argument(
        "--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--template", help="start from a copy of this database")
    args = parser.parse_args()
    import psycopg
    from psycopg import sql

    with psycopg.connect(args.postgres_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        template = sql.SQL(" TEMPLATE {}").format(sql.Identifier(args.template or "template1"))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)) + template)
    url = args.postgres_admin_url.rsplit("/", 1)[0] + f"/{DATABASE}"
    work = Path(tempfile.mkdtemp(prefix="import-pieces-"))
    os.environ["LUMBUNG_DATABASE_URL"] = url
    os.environ["LUMBUNG_DATA_DIR"] = str(work)
    os.environ["LUMBUNG_KEY_FILE"] = str(work / "bench.key")
    from lumbung.cli import app

    for words in (
        ["db", "upgrade"],
        ["regions", "load"],
        *([] if args.template else [["users", "add", "admin", "--role", "admin"]]),
    ):
        app(words, standalone_mode=False)
    pieces = _timed_pieces()

    from lumbung.auth.service import get_user
    from lumbung.db import create_engine, session_scope
    from lumbung.registry.import_run import ImportRequest
    from lumbung.registry.importer import import_batch

    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    with session_scope(create_engine(url)) as session:
        summary = import_batch(
            session,
            actor=get_user(session, username="admin"),
            request=ImportRequest(
                paths=[args.batch / "households.csv", args.batch / "members.csv"],
                rejects_dir=work / "rejects",
            ),
            progress=lambda stage: marks.append((stage, time.perf_counter() - start)),
        )
        marks.append(("commit", time.perf_counter() - start))
    total = time.perf_counter() - start
    stages = {a[0]: round(b[1] - a[1], 2) for a, b in pairwise(marks)}
    print(
        json.dumps(
            {
                "households": summary.households_accepted,
                "seconds": round(total, 2),
                "households_per_s": round(summary.households_accepted / total),
                "stages": stages,
                "load_pieces": [(name, round(seconds, 2)) for name, seconds in pieces],
            },
            indent=1,
        )
    )


def _timed_pieces() -> list[tuple[str, float]]:
    """Wrap the bulk load and the DDL around it so that each piece's seconds are recorded."""
    from sqlalchemy import Index
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql.ddl import AddConstraint

    from lumbung import bulk

    pieces: list[tuple[str, float]] = []

    def timed(name: str, call: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        result = call()
        pieces.append((name, time.perf_counter() - began))
        return result

    insert = bulk.insert_from_duckdb

    def insert_timed(*args: Any, **kwargs: Any) -> Any:
        return timed(f"copy {args[3]}", lambda: insert(*args, **kwargs))

    bulk.insert_from_duckdb = insert_timed  # the importer calls it through `bulk`
    create = Index.create

    def create_timed(self: Index, bind: Any, checkfirst: bool = False) -> None:
        timed(f"index {self.name}", lambda: create(self, bind, checkfirst))

    Index.create = create_timed  # type: ignore[method-assign,assignment]
    execute = Connection.execute

    def execute_timed(self: Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(statement, AddConstraint):
            name = f"constraint {statement.element.name}"
            return timed(name, lambda: execute(self, statement, *args, **kwargs))
        return execute(self, statement, *args, **kwargs)

    Connection.execute = execute_timed  # type: ignore[method-assign]
    return pieces


if __name__ == "__main__":
    main()
