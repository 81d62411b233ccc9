"""What every endpoint is given: the settings, the authenticated user, and one database
transaction for the request (a reading one for GET, a writing one otherwise).

A request's database work runs as one call on one thread, as a page's does (`web.context`):
the token is checked, the endpoint runs and the transaction ends inside one `with` on the
endpoint's thread (`UnitOfWorkRoute`). Nothing of it is left to the event loop: a request
whose client gave up is cancelled there, and a transaction closed by the loop after the
cancellation would never close (the connection lost, measured under overload in session 10).

The transaction is a reading one (`lumbung.db.read_scope`: on SQLite a deferred BEGIN that
takes no writer lock, on PostgreSQL READ ONLY) or a writing one (`session_scope`: BEGIN
IMMEDIATE on SQLite), committed when the endpoint returns and rolled back when it raises. The
token is checked in it; what authentication writes is written apart, in a short writing
transaction: a failed token (it counts against the address's limit although the request
fails), and a reading request's token use (at most once a minute per token; on SQLite left
for a later request while another writer holds the lock). A request that cannot have SQLite's
writer lock in time answers 503 "sedang sibuk" (`db.busy_refused`).
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import TypeAdapter

from lumbung.api.problems import RateLimited, Unauthenticated
from lumbung.audit.service import set_channel
from lumbung.auth import throttle, tokens
from lumbung.auth.models import User
from lumbung.config import Settings
from lumbung.db import (
    DbEngine,
    DbSession,
    aside,
    busy_refused,
    create_engine,
    read_scope,
    session_scope,
)
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


@dataclass(frozen=True, slots=True)
class Context:
    """One request's unit of work: its transaction, the acting user, the settings."""

    session: DbSession
    actor: User
    settings: Settings


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Call:
    """A request as its dependencies leave it, before any database work: the token it
    carries, its address, whether it writes. `UnitOfWorkRoute` runs it (`unit`) on the
    endpoint's thread and gives the endpoint the `Context` instead."""

    database: Database
    settings: Settings
    token: str
    ip: str
    writes: bool

    @contextmanager
    def unit(self) -> Iterator[Context]:
        engine = self.database.engine
        due: int | None = None  # the token whose use is to be recorded after a read
        try:
            with busy_refused(), (session_scope if self.writes else read_scope)(engine) as session:
                set_channel(session, "api")
                actor, token_id, due_now = self._authenticate(session)
                if due_now and self.writes:
                    tokens.record_use(session, token_id, ip=self.ip)
                elif due_now:
                    due = token_id
                yield Context(session, actor, self.settings)
        except _Refused as refused:
            with session_scope(engine) as session:
                set_channel(session, "api")
                self._hold_back(throttle.retry_after(session, ip=self.ip))
                prefix = TOKEN_PREFIX.match(self.token)
                throttle.record_failure(session, ip=self.ip, who=prefix.group() if prefix else "?")
            raise Unauthenticated(refused.reason) from None
        if due is not None:  # on SQLite, left for a later request while a job writes
            with aside(engine) as session:
                tokens.record_use(session, due, ip=self.ip)

    def _authenticate(self, session: DbSession) -> tuple[User, int, bool]:
        """The token's owner, the token's id, and whether its use is due to be recorded, in
        one statement with the address's recent failures: 429 while the address is held back
        (a valid token too: guessing is not told apart from using)."""
        try:
            checked = tokens.check(
                session,
                self.token,
                also=throttle.FAILURES,
                params=throttle.failure_params(self.ip),
            )
        except PermissionDenied as refused:
            raise _Refused(refused.message) from None
        self._hold_back(throttle.wait_for(*checked.also))
        return checked.owner, checked.token.id, tokens.use_due(checked.token)

    def _hold_back(self, wait: int | None) -> None:
        if wait is not None:
            raise RateLimited(
                f"Terlalu banyak token yang gagal dari alamat {self.ip}; "
                f"coba lagi {wait} detik lagi.",
                retry_after=wait,
            )


def _call(request: Request, credentials: HTTPAuthorizationCredentials | None, writes: bool) -> Call:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Sertakan token API: header Authorization: Bearer lmb_….")
    return Call(
        database(request), settings(request), credentials.credentials, client_ip(request), writes
    )


# Dependencies without I/O: `async`, so that they cost no thread of their own.
async def reading(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Call:
    return _call(request, credentials, writes=False)


async def writing(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Call:
    return _call(request, credentials, writes=True)


# An endpoint declares `ctx: Read` or `ctx: Write` and is given the `Context` (the route runs
# the `Call` the dependency returns).
Read = Annotated[Context, Depends(reading)]
Write = Annotated[Context, Depends(writing)]


def in_unit_of_work(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """`endpoint` run inside its request's unit of work: the `Call` argument replaced by the
    `Context` it opens, on the thread the (sync) endpoint runs on."""
    if getattr(endpoint, "in_unit_of_work", False):
        return endpoint
    if inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: API endpoints are plain functions (run on a thread)")

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        pending = [name for name, value in kwargs.items() if isinstance(value, Call)]
        if not pending:
            return endpoint(*args, **kwargs)
        [name] = pending
        with kwargs[name].unit() as ctx:
            return endpoint(*args, **{**kwargs, name: ctx})

    run.in_unit_of_work = True  # type: ignore[attr-defined]
    return run


class UnitOfWorkRoute(APIRoute):
    """An API route whose endpoint runs in its request's unit of work (`in_unit_of_work`)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, in_unit_of_work(endpoint), **kwargs)


def routes(**kwargs: Any) -> APIRouter:
    """A router of API endpoints (each in its unit of work)."""
    return APIRouter(route_class=UnitOfWorkRoute, **kwargs)


# One serialiser per answer type, made once (the type FastAPI would describe and serialise).
_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def answer(value: Any, kind: Any) -> Response:
    """`value` (of type `kind`) as the JSON answer FastAPI would make of it, made here, on the
    endpoint's thread: for the hot reads (a family by KK or NIK, a name search), which declare
    `response_model=kind` for the OpenAPI and return this. FastAPI would validate the value
    again on another trip through the thread pool and then serialise it, about a tenth of a
    lookup's CPU; the services' results are typed (mypy), so there is nothing to validate."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return Response(adapter.dump_json(value, by_alias=True), media_type="application/json")


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
