"""Database engine, sessions, naming conventions and the declarative Base."""

from __future__ import annotations

import select as select_module
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVarTuple

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Integer,
    MetaData,
    Row,
    Select,
    String,
    event,
    func,
    select,
)
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.engine import create_engine as sa_create_engine
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import TypeEngine

from lumbung.errors import Busy, NotFound, ValidationFailed

# For front ends, which hold a session or an engine without touching SQLAlchemy themselves
# (tests/test_architecture.py): the types to annotate them with.
DbSession = Session
DbEngine = Engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (stored as UTC everywhere)."""
    return datetime.now(UTC)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, connections: int | None = None) -> Engine:
    """An engine for SQLite or PostgreSQL, with SQLite set up for real transactions.

    `connections`: the pool's size, for a server that runs that many requests at once (each
    holds at most one connection, so none ever waits for another's); default SQLAlchemy's."""
    url = normalise_url(url)
    pool: dict[str, Any] = {} if connections is None else {"pool_size": connections}
    if url.startswith("sqlite"):
        engine = sa_create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000}, **pool)
        _configure_sqlite(engine)
        return engine
    engine = sa_create_engine(url, **pool)
    _configure_postgres(engine)
    return engine


def _configure_postgres(engine: Engine) -> None:
    # A pooled connection the server closed (a restart, a terminated backend, an idle timeout)
    # is replaced at checkout, found without asking the server: its socket has the server's
    # last message and end of file to read while it waits idle. SQLAlchemy's pre-ping asked
    # (`SELECT 1`, a round trip at every checkout: one of a redemption's seven).
    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not connection_alive(dbapi_connection):
            raise DisconnectionError("PostgreSQL closed this pooled connection")


def connection_alive(dbapi_connection: Any) -> bool:
    """Whether an idle psycopg connection is still open at both ends (nothing to read: the
    server sends nothing unasked to an idle session, but a closing one's last words)."""
    if dbapi_connection.closed:
        return False
    poller = select_module.poll()
    poller.register(dbapi_connection.fileno(), select_module.POLLIN | select_module.POLLPRI)
    return not poller.poll(0)


# How long a SQLite connection waits for the single writer lock before giving up ("database
# is locked"): every connection's busy_timeout. A web request waits less (`request_scope`).
SQLITE_BUSY_MS = 60_000
# The total_changes of the SQLite connection when its transaction began (`release_writer`).
_CHANGES_AT_BEGIN = "lumbung_changes_at_begin"


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and never locks for reads; take it
    # over so that a transaction is a real one (BEGIN IMMEDIATE: the writer lock at once).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL: readers never wait for the writer, nor the writer for readers; one writer at a
        # time, the others waiting up to busy_timeout for its lock (said here as well as by
        # the driver's timeout, so that the wait is the same whatever opens the connection).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A reading transaction (`read_scope`, a web page that is read) begins deferred: it
        # takes no lock and, in WAL mode, reads its snapshot while a writer works, instead of
        # queueing for the writer lock.
        options = connection.get_execution_options()
        raw = connection.connection.driver_connection
        connection.info[_CHANGES_AT_BEGIN] = raw.total_changes
        if options.get(READ_ONLY) or options.get(DEFERRED):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def sqlite_busy(error: BaseException) -> bool:
    """Whether `error` is SQLite's "database is locked" (the writer lock not had in time, or
    a reading transaction's snapshot too old to start writing)."""
    if not isinstance(error, OperationalError):
        return False
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text


@contextmanager
def release_writer(session: Session) -> Iterator[None]:
    """Let other connections write while the block runs (a job's minutes of matching or of
    rendering PDFs, which need no database), on SQLite, whose single writer lock a
    transaction begun IMMEDIATE holds until it ends: when the transaction has written
    nothing yet, it ends before the block and a new one begins (IMMEDIATE) after it, and
    every object the session holds is read again. A transaction that has written keeps the
    lock (what it wrote stays one unit with what follows). PostgreSQL, whose locks are
    rows': the transaction goes on untouched.

    The caller reads again, after the block, what it must still be true (the release, the
    batch): another user may have changed it meanwhile."""
    if is_postgres(session) or not session.in_transaction():
        yield
        return
    session.flush()
    conn = session.connection()
    raw = conn.connection.driver_connection
    if (
        raw is None
        or not raw.in_transaction
        or raw.total_changes != conn.info.get(_CHANGES_AT_BEGIN)
    ):
        yield
        return
    raw.execute("COMMIT")  # nothing written: the same as a rollback, the lock let go
    try:
        yield
    finally:
        raw.execute("BEGIN IMMEDIATE")
        session.expire_all()


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    # A Session itself, not a sessionmaker's: a sessionmaker makes a new Session class each time
    # it is made, and the event system registers each (a tenth of an API lookup's CPU).
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class OnDriver:
    """A Core statement that writes (INSERT, UPDATE, DELETE), compiled once and run, on
    PostgreSQL, on psycopg's own connection in the session's transaction: SQLAlchemy's
    execution of even a cached statement costs its caller several times the CPU psycopg spends
    on it (about 640 against 150 µs measured on the benchmark machine), which counts on the
    hottest path only (a counter's redemption, `delivery.pos.redemption`). The statement may
    hold no type that converts values on the way in (checked when it is compiled: psycopg
    adapts dates, times, numbers and text as SQLAlchemy would hand them over), and its rows
    come back as the driver's tuples, values unconverted. On SQLite, whose driver stores times
    otherwise than SQLAlchemy, the statement runs through SQLAlchemy (rows as tuples too)."""

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._compiled: tuple[str, dict[str, Any]] | None = None

    def _sql(self, dialect: Dialect) -> tuple[str, dict[str, Any]]:
        if self._compiled is None:
            compiled = self.statement.compile(dialect=dialect)
            fixed: dict[str, Any] = {}
            for name, bind in compiled.binds.items():
                if bind.type.bind_processor(dialect) is not None:
                    raise TypeError(
                        f"{name}: a {bind.type!r} converts its values: not on the driver"
                    )
                if not bind.required:
                    fixed[name] = bind.effective_value
            self._compiled = (str(compiled), fixed)
        return self._compiled

    def rows(self, session: Session, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows the statement returns (none for one that returns none)."""
        conn = session.connection()
        if conn.dialect.driver != "psycopg":
            result = conn.execute(self.statement, params)
            return [tuple(row) for row in result] if result.returns_rows else []
        dialect = conn.dialect
        sql, fixed = self._sql(dialect)
        driver = conn.connection.driver_connection
        assert driver is not None  # a connection the session has just checked out
        values = {**fixed, **params}
        try:
            cursor = driver.execute(sql, values)
            return cursor.fetchall() if cursor.description else []
        except dialect.loaded_dbapi.Error as error:
            # as SQLAlchemy would raise it (IntegrityError, OperationalError, …), and a
            # connection the server dropped is not handed out again
            gone = dialect.is_disconnect(error, driver, None)
            if gone:
                conn.invalidate(error)
            raise DBAPIError.instance(
                sql, values, error, dialect.loaded_dbapi.Error, connection_invalidated=gone
            ) from error


# The execution option that marks a transaction as one that only reads (`read_scope`).
READ_ONLY = "lumbung_read_only"
# The execution option of a transaction that begins without SQLite's writer lock, but may
# still write (a web page that is read: `request_scope`); PostgreSQL: no different.
DEFERRED = "lumbung_deferred"


# Where an engine keeps its reading variant (`reading_engine`), made once: an engine with
# options is a new object each time it is asked for.
_READING = "_lumbung_reading_engine"


def reading_engine(engine: Engine) -> Engine:
    """`engine` with its transactions marked as only reading (`read_scope`)."""
    found: Engine | None = engine.__dict__.get(_READING)
    if found is None:
        options: dict[str, Any] = {READ_ONLY: True}
        if engine.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        found = engine.execution_options(**options)
        engine.__dict__[_READING] = found
    return found


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work that only reads: on SQLite it begins deferred (no writer lock, so reads
    never queue behind an import), on PostgreSQL it is a READ ONLY transaction (a write in it
    is refused by the database). Rolled back at the end: there is nothing to commit."""
    session = Session(bind=reading_engine(engine), expire_on_commit=False)
    try:
        yield session
    finally:
        # Closing ends the transaction (the pool rolls the connection back) without expiring
        # every object read, which a rollback of the session first would do for nothing.
        session.close()


@contextmanager
def briefly(engine: Engine, *, wait_ms: int = 200, deferred: bool = False) -> Iterator[Session]:
    """A transaction that waits at most `wait_ms` for SQLite's single writer lock (raises
    OperationalError, "database is locked", when it is not had in time). `deferred`: it begins
    without the lock (reads its snapshot; takes the lock only if it writes). PostgreSQL: a
    plain transaction."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
            if deferred:
                conn.execution_options(**{DEFERRED: True})
        try:
            with Session(bind=conn, expire_on_commit=False) as session:
                yield session
                session.commit()
        finally:
            if raw is not None:
                raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")


BUSY = "Sistem sedang sibuk (pekerjaan lain sedang menulis ke database); coba lagi sebentar lagi."


@contextmanager
def busy_refused() -> Iterator[None]:
    """SQLite's "database is locked" raised in the block said as Busy (503, "sedang sibuk,
    coba lagi"), for a front end to answer in words rather than with the driver's error."""
    try:
        yield
    except OperationalError as error:
        if sqlite_busy(error):
            raise Busy(BUSY) from error
        raise


@contextmanager
def request_scope(engine: Engine, *, reading: bool, wait_ms: int) -> Iterator[Session]:
    """One web request's unit of work: committed on success, rolled back on an error. On
    SQLite a request that `reading` (a GET) begins without the writer lock, and any request
    waits at most `wait_ms` for the lock when it writes; one that cannot have it in time
    fails with Busy (`busy_refused`), not with the driver's error. PostgreSQL: a plain
    transaction."""
    with busy_refused(), briefly(engine, wait_ms=wait_ms, deferred=reading) as session:
        yield session


@contextmanager
def aside(engine: Engine, *, wait_ms: int = 100) -> Iterator[Session]:
    """A note worth less than the request that makes it (a session's or a token's last use),
    in a short transaction of its own (`briefly`); on SQLite, dropped without a word when
    another writer holds the lock (a later request writes it)."""
    try:
        with briefly(engine, wait_ms=wait_ms) as session:
            yield session
    except OperationalError as error:
        if not sqlite_busy(error):
            raise


# One engine per database URL for the life of the process (a command, a server).
engines: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    """The process's engine for `url`; a URL of another database than SQLite or PostgreSQL is
    refused with the form expected."""
    if url not in engines:
        try:
            backend = make_url(url).get_backend_name()
        except ArgumentError:
            backend = ""
        if backend not in ("sqlite", "postgresql"):
            raise ValidationFailed(
                "LUMBUNG_DATABASE_URL harus sqlite:///BERKAS.db atau "
                "postgresql://pengguna@host:port/database."
            )
        engines[url] = create_engine(url)
    return engines[url]


def database_name(engine: Engine) -> str:
    """The engine's URL without its password, to show."""
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One transaction for one command or request: commit when it succeeds, roll back when it
    fails.

    A SQLite file that does not exist is not created here (opening it would leave an empty
    file behind, in whatever folder the command ran): only `db upgrade` creates a database."""
    path = engine.url.database
    sqlite_file = (
        engine.url.get_backend_name() == "sqlite"
        and path
        and path != ":memory:"
        and engine.url.query.get("uri") != "true"  # file:…?mode=… URIs: SQLite's to judge
    )
    if sqlite_file and not Path(str(path)).exists():
        raise NotFound(
            f"Database SQLite {path} belum ada (LUMBUNG_DATABASE_URL={database_name(engine)}): "
            "jalankan `lumbung db upgrade`, atau arahkan LUMBUNG_DATABASE_URL ke database yang "
            "ada."
        )
    with session_scope(engine) as session:
        yield session


# Primary keys: BIGINT, but INTEGER on SQLite (only INTEGER PRIMARY KEY is the rowid).
ID = BigInteger().with_variant(Integer, "sqlite")


def identifier(length: int) -> TypeEngine[str]:
    """A code made of digits and dots (NIK, KK number, region codes), compared byte by byte.

    On PostgreSQL the column gets the "C" collation: a database's default collation (say
    `C.UTF-8` or `en_US.UTF-8`) compares text through the C library, and PostgreSQL then cannot
    sort on abbreviated keys; the "C" collation compares bytes, in the same order for digits and
    dots. Building the NIK index of 3.5 M members took 1.6 s instead of 3.1 s, and the first
    import of 1 M families 4 s less (benchmarks/README.md, eighth session). A comparison with a
    column or value of the database's default collation is made in "C" (the one collation in it
    that is not the default), so lookups still use the index; against a column of yet another
    collation PostgreSQL would refuse to choose, and none exists. SQLite compares bytes anyway.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def coded(column: str, values: tuple[str, ...]) -> Any:
    """A VARCHAR column restricted to a code list by a named CHECK constraint.

    The check is an OR chain, not IN (…): SQLite builds a temporary index for every IN list it
    evaluates, which made each inserted row about ten times slower (measured: 1 M members,
    12 s with IN, 2 s with OR).
    """
    condition = " OR ".join(f"{column} = '{value}'" for value in values)
    return mapped_column(String(24), CheckConstraint(condition, name=column))


_Ts = TypeVarTuple("_Ts")


def page_rows(
    session: Session, query: Select[*_Ts], *, limit: int, offset: int
) -> tuple[list[Row[*_Ts]], int]:
    """One page of `query` (ordered) and the number of all its rows. The rows come first:
    a page that ends before `limit` is the last, and says the total itself; only a full page,
    or one past the end, is counted, by a second statement."""
    rows = list(session.execute(query.limit(limit).offset(offset)).all())
    if len(rows) < limit and (rows or offset == 0):
        return rows, offset + len(rows)
    return rows, count_of(session, query)


def count_of(session: Session, query: Select[*_Ts]) -> int:
    """How many rows `query` gives (its order and window dropped)."""
    counted = query.order_by(None).limit(None).offset(None).subquery()
    return int(session.execute(select(func.count()).select_from(counted)).scalar_one())
