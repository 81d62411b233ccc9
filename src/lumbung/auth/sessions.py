"""Browser sessions: rows, not signed cookies, so that a session can be ended at once (sign-out,
a password changed or reset, a user deactivated).

The cookie carries a random token of 32 bytes; the row keeps only its SHA-256, so a copy of the
database does not let anyone take over a session. Each session has its own CSRF token, which
every form sends back. A session ends after `LUMBUNG_SESSION_IDLE_MINUTES` without a request
and `LUMBUNG_SESSION_MAX_HOURS` after sign-in, whichever comes first. The cookie itself (Secure,
HttpOnly, SameSite) is the web application's (`lumbung.web`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from lumbung.auth.models import User, WebSession
from lumbung.config import get_settings
from lumbung.db import aside, is_postgres, utcnow

# last_seen_at is written at most this often: a page of requests does not write a row each.
TOUCH_EVERY = timedelta(seconds=60)


def token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def instant(now: datetime | None) -> datetime:
    """`now` in UTC when given (a test's clock), else the present moment."""
    return aware(now).astimezone(UTC) if now else utcnow()


def aware(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite hands datetimes back without their zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def start(
    session: Session,
    *,
    user: User,
    ip: str | None,
    user_agent: str | None,
    verified: bool,
    now: datetime | None = None,
) -> tuple[str, WebSession]:
    """A new session for `user`: the raw token for the cookie (never stored), and the row.
    `verified` is False while a second factor is still to be given."""
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    web_session = WebSession(
        token_hash=token_hash(raw),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        verified=verified,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=get_settings().session_max_hours),
        ip=ip[:45] if ip else None,
        user_agent=user_agent[:200] if user_agent else None,
    )
    session.add(web_session)
    session.flush()
    return raw, web_session


# The session a cookie names and its user, built once (every page asks it).
_LIVE = (
    select(WebSession, User)
    .join(User, User.id == WebSession.user_id)
    .where(WebSession.token_hash == bindparam("token_hash"))
)


def live(
    session: Session,
    raw_token: str | None,
    *,
    now: datetime | None = None,
    reading: bool = False,
) -> tuple[WebSession, User] | None:
    """The live session the cookie's token names and its user (read together, one statement),
    its last request moved to now; None when the token is unknown, the session ended, idle
    longer than the timeout, past its absolute expiry, or its user deactivated (such a session
    is ended). A session that is not yet `verified` may only reach the second-factor page: the
    caller checks.

    `reading`: the request only reads (a page opened). On SQLite its transaction holds no
    writer lock, and must not take one to say the session was seen: the last request (or the
    session's end) is written in a short transaction of its own, and left for a later request
    when another writer holds the lock (a job at work). PostgreSQL: in the request's own."""
    if not raw_token:
        return None
    now = now or utcnow()
    row = session.execute(_LIVE, {"token_hash": token_hash(raw_token)}).one_or_none()
    if row is None or row[0].ended_at is not None:
        return None
    web_session, user = row
    apart = reading and not is_postgres(session)
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    if (
        now - aware(web_session.last_seen_at) > idle
        or now >= aware(web_session.expires_at)
        or not user.active
    ):
        if apart:
            _write_aside(session, web_session.id, ended_at=now)
        else:
            web_session.ended_at = now
            session.flush()
        return None
    if now - aware(web_session.last_seen_at) >= TOUCH_EVERY:
        if apart:
            _write_aside(session, web_session.id, last_seen_at=now)
        else:
            web_session.last_seen_at = now
            session.flush()
    return web_session, user


# How long a reading request waits to note its session's last request (`live`): the note is
# worth less than the page.
ASIDE_WAIT_MS = 100


def _write_aside(session: Session, session_id: int, **values: datetime) -> None:
    """Write `values` on web session `session_id` in a short transaction of another
    connection, or not at all when SQLite's writer lock is taken (a later request writes it)."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    with aside(engine, wait_ms=ASIDE_WAIT_MS) as other:
        other.execute(update(WebSession).where(WebSession.id == session_id).values(**values))


def mark_verified(session: Session, web_session: WebSession) -> None:
    """The second factor was given: the session may now do what its user may."""
    web_session.verified = True
    session.flush()


def end(session: Session, web_session: WebSession, *, now: datetime | None = None) -> None:
    """Sign-out: the session's token no longer works."""
    if web_session.ended_at is None:
        web_session.ended_at = now or utcnow()
        session.flush()


def end_all(
    session: Session,
    *,
    user: User,
    keep: WebSession | None = None,
    now: datetime | None = None,
) -> int:
    """End every open session of `user` (but `keep`, the one making a change, when given);
    how many were ended."""
    statement = (
        update(WebSession)
        .where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
        .values(ended_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )
    if keep is not None:
        statement = statement.where(WebSession.id != keep.id)
    return session.execute(statement).rowcount  # type: ignore[attr-defined,no-any-return]


def csrf_ok(web_session: WebSession, token: str | None) -> bool:
    """Whether a form's CSRF token is this session's (compared in constant time)."""
    if not token:
        return False
    return hmac.compare_digest(web_session.csrf_token.encode(), token.encode())
