"""A limit on failed credentials per network address: after too many failures in a window,
every attempt from that address is refused until the oldest failure leaves the window.

The failures are `sign_in_attempt` rows (channel `api`, reason `token`), so the limit holds
across processes and workers, and the attempts stay on record beside the sign-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from math import ceil
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import ScalarSelect

from lumbung.auth.models import SignInAttempt
from lumbung.db import utcnow

WINDOW = timedelta(minutes=15)
MOST_FAILURES = 20  # failed bearer tokens from one address per window


_RECENT = (
    SignInAttempt.ip == bindparam("throttle_ip"),
    SignInAttempt.at >= bindparam("throttle_since"),
    SignInAttempt.channel == bindparam("throttle_channel"),
    SignInAttempt.succeeded.is_(False),
)
# The number of an address's failures in the window and the time of the oldest, as two scalar
# subqueries built once (their values are `failure_params`): a request that must check them
# adds them to a query it makes anyway.
FAILURES: tuple[ScalarSelect[int], ScalarSelect[Any]] = (
    select(func.count()).where(*_RECENT).scalar_subquery(),
    select(func.min(SignInAttempt.at)).where(*_RECENT).scalar_subquery(),
)


def failure_params(ip: str, channel: str = "api") -> dict[str, Any]:
    """The values of `FAILURES` for `ip`'s failures on `channel` in the window ending now."""
    return {"throttle_ip": ip, "throttle_since": utcnow() - WINDOW, "throttle_channel": channel}


def wait_for(failures: int, oldest: datetime | None) -> int | None:
    """Seconds until an address with `failures` in the window, the oldest at `oldest`, may try
    again; None when it is not held back."""
    if failures < MOST_FAILURES or oldest is None:
        return None
    if oldest.tzinfo is None:  # SQLite gives naive datetimes back (stored as UTC)
        oldest = oldest.replace(tzinfo=UTC)
    return max(1, ceil((oldest + WINDOW - utcnow()).total_seconds()))


def retry_after(session: Session, *, ip: str, channel: str = "api") -> int | None:
    """Seconds until `ip` may try again, or None when it is not held back."""
    failures, oldest = session.execute(select(*FAILURES), failure_params(ip, channel)).one()
    return wait_for(failures, oldest)


def record_failure(
    session: Session, *, ip: str, who: str, reason: str = "token", channel: str = "api"
) -> None:
    """Record one failed attempt from `ip` (`who`: the username or token prefix given)."""
    session.add(
        SignInAttempt(
            ip=ip[:45], username=who[:64], channel=channel, succeeded=False, reason=reason
        )
    )
    session.flush()
