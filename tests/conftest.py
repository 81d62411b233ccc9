"""Fixtures: the same tests on real SQLite and, when LUMBUNG_TEST_POSTGRES_URL is set, PostgreSQL.

Each backend is migrated and loaded with the Kemendagri regions once per session; each test
then starts from an empty registry (SQLite: a copy of the template file; PostgreSQL: every
table but the regions truncated).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from lumbung.audit import keys
from lumbung.auth.models import User
from lumbung.auth.roles import Role
from lumbung.auth.service import create_user
from lumbung.db import create_engine, session_scope
from lumbung.migrate import upgrade
from lumbung.models import Base
from lumbung.partitions import PARTITION_NAME
from lumbung.regions.service import load_regions

# The keys that seal the audit chain and the registry's rows: one file for the whole run, made
# before any settings are read (commands and services find it through LUMBUNG_KEY_FILE).
_KEYS = Path(tempfile.mkdtemp(prefix="lumbung-keys-")) / "lumbung.key"
keys.create(_KEYS)
os.environ["LUMBUNG_KEY_FILE"] = str(_KEYS)
# argon2id at the lowest cost for tests (still real argon2id hashes; production costs in
# config.py): a sign-in then takes milliseconds, not a quarter of a second.
os.environ.setdefault("LUMBUNG_ARGON2_TIME_COST", "1")
os.environ.setdefault("LUMBUNG_ARGON2_MEMORY_COST", "1024")
os.environ.setdefault("LUMBUNG_ARGON2_PARALLELISM", "1")

POSTGRES_URL = os.environ.get("LUMBUNG_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
KEEP = {"region", "alembic_version", "installation"}


def _prepare(engine: Engine) -> None:
    upgrade(engine)
    with session_scope(engine) as session:
        load_regions(session, actor="test")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    _prepare(engine)
    engine.dispose()
    with sqlite3.connect(path) as raw:  # fold the WAL into the file so that a copy is whole
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    assert POSTGRES_URL
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    _prepare(engine)
    with engine.connect() as conn:
        SEEDS.update(_seeds(conn))
    yield engine
    engine.dispose()


# Rows the migrations seed (payment partners, say), restored after each test's truncation.
SEEDS: dict[str, list[dict[str, object]]] = {}


def _seeds(conn: Connection) -> dict[str, list[dict[str, object]]]:
    seeded = {}
    for table in Base.metadata.sorted_tables:
        if table.name in KEEP:
            continue
        rows = [dict(r._mapping) for r in conn.execute(table.select())]
        if rows:
            seeded[table.name] = rows
    return seeded


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path / "lumbung.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = create_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("postgres_engine")
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            if r[0] not in KEEP
        ]
        # The partitions of earlier tests' cycles and scorings go (the ids start again).
        for name in tables:
            if PARTITION_NAME.fullmatch(name):
                conn.execute(text(f"DROP TABLE {name}"))
        tables = [t for t in tables if not PARTITION_NAME.fullmatch(t)]
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        for table in Base.metadata.sorted_tables:
            if table.name in SEEDS:
                conn.execute(table.insert(), SEEDS[table.name])
    yield engine


@pytest.fixture
def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def add_user(engine: Engine, username: str, role: Role, region: str | None) -> None:
    with session_scope(engine) as session:
        count = session.execute(text("SELECT count(*) FROM user_account")).scalar_one()
        admin = None
        if count:
            admin = session.execute(
                text("SELECT username FROM user_account WHERE role = 'admin'")
            ).scalar_one()
        actor = session.query(User).filter_by(username=admin).one() if admin else None
        create_user(
            session,
            actor=actor,
            username=username,
            full_name=username,
            role=role,
            region_code=region,
        )


@pytest.fixture
def users(engine: Engine) -> dict[str, str]:
    """admin (national), operator (one village in Gambir), verifier (Jakarta Pusat),
    determiner and approver (national), other_verifier (Kota Bandung), auditor."""
    add_user(engine, "admin", Role.ADMIN, None)
    add_user(engine, "operator", Role.OPERATOR, "31.71.01.1001")
    add_user(engine, "verifier", Role.VERIFIER, "31.71")
    add_user(engine, "determiner", Role.DETERMINER, None)
    add_user(engine, "approver", Role.DETERMINER, None)  # four eyes: approves others' cycles
    add_user(engine, "other_verifier", Role.VERIFIER, "32.73")
    add_user(engine, "auditor", Role.AUDITOR, None)
    return {}


def user(session: Session, username: str) -> User:
    return session.query(User).filter_by(username=username).one()
