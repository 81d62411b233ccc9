"""Bulk loading from DuckDB into the operational database, on both databases."""

from __future__ import annotations

from pathlib import Path

import duckdb
from sqlalchemy import text
from sqlalchemy.engine import Engine

from lumbung import bulk
from lumbung.db import session_scope

AWKWARD = [
    "plain",
    "back\\slash",
    "\\N",
    "tab\there",
    "two\nlines",
    "carriage\rreturn",
    'quote " and , comma',
    "",
    None,
]


def test_rows_in_the_text_format_arrive_exactly_as_sent(engine: Engine, tmp_path: Path) -> None:
    """The faster text format (`plain`) escapes what it must: a backslash, tab or line break
    in a value arrives unchanged, `\\N` stays text and only a NULL is NULL."""
    con = duckdb.connect()
    con.execute("CREATE TABLE source (n BIGINT, word VARCHAR)")
    con.executemany("INSERT INTO source VALUES (?, ?)", list(enumerate(AWKWARD)))
    try:
        for plain in (True, False):
            with session_scope(engine) as session:
                session.execute(text("CREATE TABLE bulk_probe (n BIGINT, word TEXT)"))
                loaded = bulk.insert_from_duckdb(
                    session,
                    con,
                    "SELECT n, word FROM source",
                    "bulk_probe",
                    ["n", "word"],
                    tmp_path,
                    plain=plain,
                )
                rows = session.execute(text("SELECT n, word FROM bulk_probe ORDER BY n")).all()
                session.execute(text("DROP TABLE bulk_probe"))
            assert loaded == len(AWKWARD)
            assert [word for _, word in rows] == AWKWARD, plain
    finally:
        con.close()
