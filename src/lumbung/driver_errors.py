"""What a third party's error means: every reading of a driver's or library's error in one place.

Database errors are read by their codes where the driver gives one (psycopg's SQLSTATE,
sqlite3's `sqlite_errorcode`); only what has no code is read from the English text, here and
nowhere else, so that a driver that rewords a message breaks one tested function. The same for
the DuckDB CSV reader, Python's `csv` module and `tokenize`, whose errors carry no code at all.
`tests/test_driver_errors.py` raises each error with the real library and checks its reading.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

# SQLSTATE (PostgreSQL appendix A)
UNIQUE_VIOLATION = "23505"
SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
LOCK_NOT_AVAILABLE = "55P03"
UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"
INVALID_CATALOG_NAME = "3D000"  # the database does not exist

# SQLite result codes (https://sqlite.org/rescode.html); extended codes keep the primary one in
# their low byte.
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_CONSTRAINT_PRIMARYKEY = 1555
SQLITE_CONSTRAINT_UNIQUE = 2067

LOCKED_MESSAGE = "Database sedang dipakai proses lain; coba lagi."


def _driver_error(exc: BaseException) -> BaseException:
    """The driver's own exception behind SQLAlchemy's wrapper (or `exc` itself)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return exc.orig
    return exc


def is_database_error(exc: BaseException) -> bool:
    """Whether `exc` came from the database (through SQLAlchemy)."""
    return isinstance(exc, DBAPIError)


def sqlstate(exc: BaseException) -> str | None:
    """PostgreSQL's SQLSTATE of the error, if it has one (psycopg 3)."""
    code = getattr(_driver_error(exc), "sqlstate", None)
    return code if isinstance(code, str) else None


def sqlite_code(exc: BaseException) -> int | None:
    """SQLite's (extended) result code of the error, if it is SQLite's."""
    orig = _driver_error(exc)
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return code if isinstance(code, int) else None
    return None


def _first_line(exc: BaseException) -> str:
    text = str(_driver_error(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_locked(exc: BaseException) -> bool:
    """Another process holds the lock the statement needed (SQLite's busy or locked database,
    PostgreSQL's lock_not_available)."""
    code = sqlite_code(exc)
    if code is not None:
        return code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)
    return sqlstate(exc) == LOCK_NOT_AVAILABLE


def is_unique_violation(exc: BaseException) -> bool:
    """A row would have duplicated a unique key (a primary key too)."""
    code = sqlite_code(exc)
    if code is not None:
        return code in (SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY)
    return sqlstate(exc) == UNIQUE_VIOLATION


def is_serialization_failure(exc: BaseException) -> bool:
    """PostgreSQL gave up a transaction that raced another (serialization failure, deadlock):
    running it again may succeed. SQLite, with one writer at a time, never says this."""
    return sqlstate(exc) in (SERIALIZATION_FAILURE, DEADLOCK_DETECTED)


def is_missing_table(exc: BaseException) -> bool:
    """A table or column the statement names is not in the database: a schema not (yet)
    migrated. SQLite has no code of its own for it (SQLITE_ERROR): its text is read."""
    code = sqlite_code(exc)
    if code is not None:
        line = _first_line(exc)
        return line.startswith(("no such table", "no such column"))
    return sqlstate(exc) in (UNDEFINED_TABLE, UNDEFINED_COLUMN)


_ABSENT_DATABASE = re.compile(r'database "([^"]+)" does not exist')


def missing_database(exc: BaseException) -> str | None:
    """The name of a PostgreSQL database that does not exist on the server, if that is why the
    connection failed. psycopg gives a failed connection no SQLSTATE: its text is read."""
    if sqlstate(exc) not in (None, INVALID_CATALOG_NAME):
        return None
    found = _ABSENT_DATABASE.search(str(_driver_error(exc)))
    return found.group(1) if found else None


@dataclass(frozen=True, slots=True)
class DatabaseProblem:
    """A database error in the operator's words (`message`), and the driver's (`detail`)."""

    message: str
    detail: str


def database_problem(exc: BaseException) -> DatabaseProblem:
    """What to tell an operator of a database error: a database missing, not yet migrated or
    busy said plainly; anything else as the driver's first line."""
    detail = _first_line(exc)
    absent = missing_database(exc)
    if absent is not None:  # the server is there, the database is not
        message = (
            f"Database {absent} belum ada di server: buat dulu (`createdb {absent}`), lalu "
            "jalankan `lumbung db upgrade`."
        )
    elif is_missing_table(exc):
        message = (
            "Database belum disiapkan; jalankan `lumbung db upgrade` (dan `lumbung regions load`)."
        )
    elif is_locked(exc):
        message = LOCKED_MESSAGE
    else:
        message = f"Galat database: {detail}"
    return DatabaseProblem(message, detail)


# --- DuckDB's CSV reader ---------------------------------------------------------------------


class CsvReadProblem:
    """Why DuckDB's CSV reader failed on a file, as the operator is told."""

    LINE_TOO_LONG = "line_too_long"
    NOT_UTF8 = "not_utf8"
    FIELD_COUNT = "field_count"
    UNCLOSED_QUOTE = "unclosed_quote"


def duckdb_csv_needs_serial_reader(exc: BaseException) -> bool:
    """DuckDB's parallel CSV reader refused a file (quoted line breaks it cannot pad): read it
    again without `parallel`."""
    return "parallel" in str(exc)


def duckdb_csv_problem(exc: BaseException) -> tuple[str, int]:
    """What DuckDB's CSV reader said of a file, as a `CsvReadProblem` kind and the line it
    names (0 when it names none)."""
    said = str(exc)
    line = re.search(r"Line: (\d+)", said)
    at = int(line.group(1)) if line else 0
    if "Maximum line size" in said:
        return CsvReadProblem.LINE_TOO_LONG, at
    if "unicode" in said.lower() or "utf-8" in said.lower():
        return CsvReadProblem.NOT_UTF8, at
    if any(x.startswith("Expected Number") for x in said.splitlines()):
        return CsvReadProblem.FIELD_COUNT, at
    return CsvReadProblem.UNCLOSED_QUOTE, at


# --- Python's csv and tokenize ---------------------------------------------------------------


def csv_field_too_long(exc: BaseException) -> bool:
    """Python's `csv` module stopped at a field longer than its limit (rather than at a quote
    left open)."""
    return "field limit" in str(exc)


def tokenize_unterminated_string(exc: BaseException) -> bool:
    """`tokenize` stopped at a string left open (which the parser reports in its own words)."""
    return "string" in str(exc)


def splink_probability_underflow(exc: BaseException) -> bool:
    """Splink's refusal of an m or u probability that EM drove below 1e-300 (a level seen only
    among non-matches of a session's sample): a ValueError, its text the only sign."""
    return isinstance(exc, ValueError) and "below the minimum allowed value" in str(exc)


def splink_prior_degenerate(exc: BaseException) -> bool:
    """Splink's EM step taking the log of a match proportion driven to 0 or 1 (a session whose
    pairs hold no match at all: a release without duplicates): Python's own ValueError."""
    return isinstance(exc, ValueError) and str(exc) == "math domain error"
