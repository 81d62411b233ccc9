"""Bulk loading from DuckDB into the operational database, on both databases."""

from __future__ import annotations

from datetime import date, timedelta
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


def test_rows_arrive_exactly_as_sent(engine: Engine, tmp_path: Path) -> None:
    """PostgreSQL's text format, which the rows travel in, is escaped where it must be: a
    backslash, tab or line break in a value arrives unchanged, `\\N` stays text and only a
    NULL is NULL; dates, numbers and flags arrive as themselves."""
    con = duckdb.connect()
    columns = "n BIGINT, word VARCHAR, born DATE, score DOUBLE PRECISION, ok BOOLEAN"
    con.execute(f"CREATE TABLE source ({columns})")
    con.executemany(
        "INSERT INTO source VALUES (?, ?, DATE '2024-02-29' - CAST(? AS INT), ? / 8, ? % 2 = 0)",
        [(n, word, n, n, n) for n, word in enumerate(AWKWARD)],
    )
    try:
        with session_scope(engine) as session:
            session.execute(text(f"CREATE TABLE bulk_probe ({columns.replace('VARCHAR', 'TEXT')})"))
            session.execute(text("ALTER TABLE bulk_probe ADD COLUMN doc TEXT"))
            loaded = bulk.insert_from_duckdb(
                session,
                con,
                "SELECT n, word, born, score, ok, to_json(word) AS doc FROM source",
                "bulk_probe",
                ["n", "word", "born", "score", "ok", "doc"],
                tmp_path,
            )
            docs = session.execute(text("SELECT doc FROM bulk_probe ORDER BY n")).scalars().all()
            rows = session.execute(
                text("SELECT n, word, born, score, ok FROM bulk_probe ORDER BY n")
            ).all()
            session.execute(text("DROP TABLE bulk_probe"))
        assert loaded == len(AWKWARD)
        assert [row[1] for row in rows] == AWKWARD
        # A JSON value (escaped backslashes and all) arrives as DuckDB wrote it.
        sent = con.execute(
            "SELECT CAST(to_json(word) AS VARCHAR) FROM source ORDER BY n"
        ).fetchall()
        assert docs == [doc for (doc,) in sent]
        assert any(doc is not None and "\\" in doc for doc in docs)
        assert [(str(row[2]), row[3], bool(row[4])) for row in rows] == [
            (str(date(2024, 2, 29) - timedelta(days=n)), n / 8, n % 2 == 0)
            for n in range(len(AWKWARD))
        ]
    finally:
        con.close()
