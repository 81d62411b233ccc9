"""What every endpoint is given: the settings, the authenticated user, and one database
transaction for the request (a reading one for GET, a writing one otherwise).

Authentication runs in a short transaction of its own, committed before the request's: the
token's last use is recorded, and a failure is recorded (and counts against the address's
limit) even though the request itself then fails. The request's own transaction is then
either a reading one (`lumbung.db.read_scope`: on SQLite a deferred BEGIN that takes no writer
lock, on PostgreSQL READ ONLY) or a writing one (`session_scope`: BEGIN IMMEDIATE on SQLite),
committed when the endpoint returns and rolled back when it raises.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lumbung.api.problems import RateLimited, Unauthenticated
from lumbung.audit.service import set_channel
from lumbung.auth import throttle, tokens
from lumbung.auth.models import User
from lumbung.config import Settings
from lumbung.db import DbEngine, DbSession, create_engine, read_scope, session_scope
from lumbung.errors import PermissionDenied

MAX_PAGE = 500
# A token's public part, as recorded beside a failure (never the secret).
TOKEN_PREFIX = re.compile(r"lmb_[A-Za-z0-9]{1,12}")


class Database:
    """The settings' database, connected on first use (nothing connects at import or start)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: DbEngine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> DbEngine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    # One connection per request the process runs at once (create_app sets the
                    # thread limit): a request never waits for a connection that another holds
                    # while it waits for a thread (a deadlock under overload, measured).
                    self._engine = create_engine(
                        self.settings.database_url, connections=self.settings.server_threads
                    )
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token (`lmb_…`) issued by an admin: `Authorization: Bearer lmb_…`.",
)


def client_ip(request: Request) -> str:
    """The caller's address (behind a proxy: as uvicorn's --forwarded-allow-ips trusts it)."""
    return request.client.host if request.client else "unknown"


def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The user the bearer token acts for; 401 without a valid one, 429 after too many
    failures from the caller's address."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Sertakan token API: header Authorization: Bearer lmb_….")
    ip = client_ip(request)
    db = database(request)
    with session_scope(db.engine) as session:
        wait = throttle.retry_after(session, ip=ip)
        if wait is not None:
            raise RateLimited(
                f"Terlalu banyak token yang gagal dari alamat {ip}; coba lagi {wait} detik lagi.",
                retry_after=wait,
            )
        set_channel(session, "api")
        try:
            return tokens.resolve(session, credentials.credentials, ip=ip)
        except PermissionDenied as refused:
            prefix = TOKEN_PREFIX.match(credentials.credentials)
            throttle.record_failure(session, ip=ip, who=prefix.group() if prefix else "?")
            reason = refused.message
    raise Unauthenticated(reason)


@dataclass(frozen=True, slots=True)
class Context:
    """One request's unit of work: its transaction, the acting user, the settings."""

    session: DbSession
    actor: User
    settings: Settings


def reading(request: Request, actor: Annotated[User, Depends(authenticated)]) -> Iterator[Context]:
    with read_scope(database(request).engine) as session:
        set_channel(session, "api")
        yield Context(session, actor, settings(request))


def writing(request: Request, actor: Annotated[User, Depends(authenticated)]) -> Iterator[Context]:
    with session_scope(database(request).engine) as session:
        set_channel(session, "api")
        yield Context(session, actor, settings(request))


# `scope="function"`: the transaction ends (commits) when the endpoint returns, before the
# response is sent: a client is never told of a change that then failed to commit.
Read = Annotated[Context, Depends(reading, scope="function")]
Write = Annotated[Context, Depends(writing, scope="function")]
Actor = Annotated[User, Depends(authenticated)]


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    offset: int


def window(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows per page.")] = 50,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000_000, description="Rows to skip before the page.")
    ] = 0,
) -> Window:
    return Window(limit, offset)


Paging = Annotated[Window, Depends(window)]
