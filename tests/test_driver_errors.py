"""Each reading of a third party's error (`lumbung.driver_errors`), on an error the real
library raised: the database's on SQLite and PostgreSQL alike."""

from __future__ import annotations

import csv
import io
import tokenize
from pathlib import Path

import duckdb
import pytest
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from lumbung import driver_errors
from lumbung.driver_errors import CsvReadProblem


def _raised(engine: Engine, sql: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(sql))
    return caught.value


def test_a_duplicate_key_is_a_unique_violation(engine: Engine) -> None:
    # The primary key of a region (SQLite: SQLITE_CONSTRAINT_PRIMARYKEY), then a unique index.
    duplicate = _raised(
        engine, "INSERT INTO region (code, name, level, kind) VALUES ('31', 'X', 1, 'provinsi')"
    )
    assert driver_errors.is_unique_violation(duplicate)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO user_account (username, full_name, role, active, created_at) "
                "VALUES ('u', 'U', 'auditor', true, CURRENT_TIMESTAMP)"
            )
        )
    again = _raised(
        engine,
        "INSERT INTO user_account (username, full_name, role, active, created_at) "
        "VALUES ('u', 'U', 'auditor', true, CURRENT_TIMESTAMP)",
    )
    assert driver_errors.is_unique_violation(again)
    assert driver_errors.is_database_error(again)
    for other in (driver_errors.is_locked, driver_errors.is_missing_table):
        assert not other(again)
    assert driver_errors.database_problem(again).message.startswith("Galat database: ")


def test_a_missing_table_is_a_schema_not_migrated(engine: Engine) -> None:
    missing = _raised(engine, "SELECT * FROM no_such_table_here")
    assert driver_errors.is_missing_table(missing)
    assert not driver_errors.is_unique_violation(missing)
    assert "lumbung db upgrade" in driver_errors.database_problem(missing).message


def test_a_lock_held_elsewhere_is_said_plainly(engine: Engine) -> None:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        # Another process's writer lock, and a connection that will not wait for it.
        impatient = sqlalchemy.create_engine(url, connect_args={"timeout": 0})
        statement = "INSERT INTO region (code, name, level, kind) VALUES ('99', 'X', 1, 'p')"
    else:
        impatient = sqlalchemy.create_engine(url)
        statement = "LOCK TABLE region IN ACCESS EXCLUSIVE MODE NOWAIT"
    try:
        with engine.connect() as holder:
            holder.begin()
            holder.execute(text("UPDATE region SET name = name WHERE code = '31'"))
            with pytest.raises(DBAPIError) as caught, impatient.begin() as conn:
                conn.execute(text(statement))
            holder.rollback()
    finally:
        impatient.dispose()
    assert driver_errors.is_locked(caught.value)
    assert not driver_errors.is_unique_violation(caught.value)
    problem = driver_errors.database_problem(caught.value)
    assert problem.message == "Database sedang dipakai proses lain; coba lagi."
    assert problem.detail  # the driver's own words are kept for the log


def test_a_raced_transaction_is_a_serialization_failure(engine: Engine) -> None:
    if engine.url.get_backend_name() == "sqlite":  # one writer at a time: never raced
        locked = _raised(engine, "SELECT * FROM no_such_table_here")
        assert not driver_errors.is_serialization_failure(locked)
        return
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as first:
        first.begin()
        first.execute(text("SELECT name FROM region WHERE code = '31'")).all()
        with engine.begin() as second:
            second.execute(text("UPDATE region SET name = name WHERE code = '31'"))
        with pytest.raises(DBAPIError) as caught:
            first.execute(text("UPDATE region SET name = name WHERE code = '31'"))
        first.rollback()
    assert driver_errors.is_serialization_failure(caught.value)
    assert driver_errors.sqlstate(caught.value) == "40001"


def test_a_database_absent_from_the_server_is_named(engine: Engine) -> None:
    if engine.url.get_backend_name() == "sqlite":
        assert driver_errors.missing_database(_raised(engine, "SELECT * FROM nowhere")) is None
        return
    absent = sqlalchemy.create_engine(engine.url.set(database="lumbung_never_made_here"))
    try:
        with pytest.raises(DBAPIError) as caught, absent.connect():
            pass
    finally:
        absent.dispose()
    assert driver_errors.missing_database(caught.value) == "lumbung_never_made_here"
    assert (
        "createdb lumbung_never_made_here" in driver_errors.database_problem(caught.value).message
    )


def test_duckdb_csv_reader_errors(tmp_path: Path) -> None:
    long = tmp_path / "long.csv"
    long.write_text("a,b\n" + "x" * 5000 + ",1\n")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"a,b\n\xff\xfe,1\n")
    con = duckdb.connect()
    said = {}
    for path, extra in ((long, ", max_line_size=1000"), (latin, "")):
        with pytest.raises(duckdb.Error) as caught:
            con.execute(f"SELECT * FROM read_csv('{path}', all_varchar=true{extra})").fetchall()
        said[path.name] = driver_errors.duckdb_csv_problem(caught.value)
    assert said["long.csv"][0] == CsvReadProblem.LINE_TOO_LONG
    assert said["latin.csv"] == (CsvReadProblem.NOT_UTF8, 2)
    assert not driver_errors.duckdb_csv_needs_serial_reader(caught.value)


def test_python_csv_and_tokenize_errors() -> None:
    limit = csv.field_size_limit()
    csv.field_size_limit(10)
    try:
        with pytest.raises(csv.Error) as too_long:
            list(csv.reader(io.StringIO("a" * 50 + "\n")))
    finally:
        csv.field_size_limit(limit)
    assert driver_errors.csv_field_too_long(too_long.value)
    with pytest.raises(csv.Error) as quote:
        list(csv.reader(io.StringIO('"abc'), strict=True))
    assert not driver_errors.csv_field_too_long(quote.value)
    with pytest.raises(tokenize.TokenError) as unterminated:
        list(tokenize.generate_tokens(io.StringIO('x == """abc\n').readline))
    assert driver_errors.tokenize_unterminated_string(unterminated.value)
    with pytest.raises(tokenize.TokenError) as bracket:
        list(tokenize.generate_tokens(io.StringIO("(x == 1\n").readline))
    assert not driver_errors.tokenize_unterminated_string(bracket.value)


def test_splink_em_on_pairs_without_a_match_is_told_apart() -> None:
    # Splink's EM takes log2 of the proportion of matches it estimates; driven to 0 (a session
    # whose pairs hold no match) that is Python's own domain error, the one sign there is.
    from splink.internals.misc import prob_to_match_weight

    with pytest.raises(ValueError, match="math domain error") as degenerate:
        prob_to_match_weight(0.0)
    assert driver_errors.splink_prior_degenerate(degenerate.value)
    assert not driver_errors.splink_probability_underflow(degenerate.value)
    assert not driver_errors.splink_prior_degenerate(ValueError("invalid literal for int()"))
