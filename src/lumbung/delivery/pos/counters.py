"""Counters' tokens: a PT Pos counter is a partner's machine, not a ministry user.

`lmc_<8 hex>_<43 url-safe characters>` (`lmc`: a counter's, never taken for a user's `lmb_`
token and refused by every endpoint but the counters'), shown once, stored as the SHA-256 of
the whole token, bound to its partner, a counter id and optionally a region (a regency or a
district: vouchers of families elsewhere are refused), expiring (default 365 days) and
revocable with a reason. Only an admin issues and revokes
(`lumbung delivery voucher counter-token …`).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.auth.tokens import new_secret, token_hash
from lumbung.db import utcnow
from lumbung.delivery.partners import get_partner
from lumbung.delivery.pos.models import PartnerToken
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.regions.models import Region

PREFIX = "lmc"
DEFAULT_DAYS = 365
MAX_DAYS = 730
COUNTER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
# last_used_at written at most this often per token
RECORD_USE_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Counter:
    """An authenticated counter: who redeems."""

    token_id: int | None  # None: recorded by a ministry user from an uploaded file
    partner_code: str
    counter: str
    region_code: str | None

    @property
    def label(self) -> str:
        return f"{self.partner_code}/{self.counter}"


@dataclass(frozen=True, slots=True)
class CounterTokenView:
    id: int
    name: str
    prefix: str
    partner: str
    counter: str
    region_code: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    state: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": f"{PREFIX}_{self.prefix}",
            "partner": self.partner,
            "counter": self.counter,
            "region_code": self.region_code,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "state": self.state,
        }


def _aware(value: datetime) -> datetime:
    from lumbung.auth.sessions import aware

    return aware(value)


def issue(
    session: Session,
    *,
    actor: User,
    partner_code: str,
    counter: str,
    name: str,
    region_code: str | None = None,
    expires_days: int = DEFAULT_DAYS,
) -> tuple[str, CounterTokenView]:
    """A new counter token (admin): the raw token, to show once, and how lists show it."""
    authorize(actor, Action.MANAGE_USERS)
    require_national(actor, "membuat token loket mitra")
    from lumbung.registry.check_sql import plain_text

    name = plain_text(name, "Nama token", limit=100)
    if not COUNTER_ID.fullmatch(counter):
        raise ValidationFailed(
            f"Kode loket {counter!r}: huruf, angka, titik, garis bawah atau tanda hubung, "
            "paling banyak 40."
        )
    if not 1 <= expires_days <= MAX_DAYS:
        raise ValidationFailed(f"Masa berlaku token {expires_days} hari: harus 1–{MAX_DAYS} hari.")
    partner = get_partner(session, partner_code)
    if partner.channel != "pos":
        raise ValidationFailed(f"Mitra {partner_code} bukan mitra saluran pos.")
    if region_code is not None and session.get(Region, region_code) is None:
        raise NotFound(f"Wilayah {region_code} tidak ada.")
    now = utcnow()
    prefix, raw = new_secret(PREFIX)
    row = PartnerToken(
        name=name,
        prefix=prefix,
        token_hash=token_hash(raw),
        partner_code=partner.code,
        counter=counter,
        region_code=region_code,
        created_by=actor.username,
        created_at=now,
        expires_at=now + timedelta(days=expires_days),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        action="delivery.counter_token_issue",
        entity="partner_token",
        entity_id=row.id,
        diff={
            "name": name,
            "prefix": f"{PREFIX}_{prefix}",
            "partner": partner.code,
            "counter": counter,
            "region_code": region_code,
            "expires_at": row.expires_at.isoformat(),
        },
    )
    return raw, _view(row, now)


_T = cast(Table, PartnerToken.__table__)
_CHECK = select(
    _T.c.id,
    _T.c.partner_code,
    _T.c.counter,
    _T.c.region_code,
    _T.c.expires_at,
    _T.c.revoked_at,
    _T.c.last_used_at,
    _T.c.prefix,
).where(_T.c.token_hash == bindparam("p_hash"))
_USED = update(_T).where(_T.c.id == bindparam("p_id")).values(last_used_at=bindparam("p_now"))


# A live token, once read, is believed for a few seconds by this process (a counter redeems
# many vouchers a minute; reading its token each time was one round trip of seven). A
# revocation takes effect at once in the process that made it, within CACHE_SECONDS in others.
CACHE_SECONDS = 5.0
_live: dict[str, tuple[float, datetime, Counter]] = {}
_live_lock = threading.Lock()


def check(session: Session, raw: str, *, now: datetime | None = None) -> Counter:
    """The counter a live token stands for (one statement; PermissionDenied saying why)."""
    now = now or utcnow()
    raw = raw.strip()
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise PermissionDenied("Token loket tidak dikenal (bentuknya lmc_…_…).")
    hashed = token_hash(raw)
    cached = _live.get(hashed)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS and now < cached[1]:
        return cached[2]
    conn = session.connection()
    row = conn.execute(_CHECK, {"p_hash": hashed}).one_or_none()
    if row is None:
        raise PermissionDenied("Token loket tidak dikenal.")
    label = f"Token loket {PREFIX}_{row.prefix}"
    if row.revoked_at is not None:
        raise PermissionDenied(f"{label} sudah dicabut.")
    if now >= _aware(row.expires_at):
        raise PermissionDenied(f"{label} kedaluwarsa.")
    if row.last_used_at is None or now - _aware(row.last_used_at) >= RECORD_USE_EVERY:
        conn.execute(_USED, {"p_id": row.id, "p_now": now})
    counter = Counter(row.id, row.partner_code, row.counter, row.region_code)
    with _live_lock:
        if len(_live) > 10_000:
            _live.clear()
        _live[hashed] = (time.monotonic(), _aware(row.expires_at), counter)
    return counter


def revoke(session: Session, *, actor: User, token_id: int, reason: str) -> CounterTokenView:
    authorize(actor, Action.MANAGE_USERS)
    require_national(actor, "mencabut token loket mitra")
    from lumbung.registry.check_sql import plain_text

    reason = plain_text(reason, "Alasan", limit=500)
    row = session.get(PartnerToken, token_id)
    if row is None:
        raise NotFound(f"Token loket {token_id} tidak ada.")
    if row.revoked_at is not None:
        raise Conflict(f"Token loket {token_id} sudah dicabut.")
    now = utcnow()
    row.revoked_at = now
    row.revoked_by = actor.username
    session.flush()
    with _live_lock:
        _live.pop(row.token_hash, None)
    audit.record(
        session,
        actor=actor.username,
        action="delivery.counter_token_revoke",
        entity="partner_token",
        entity_id=row.id,
        diff={"prefix": f"{PREFIX}_{row.prefix}", "counter": row.counter, "reason": reason},
    )
    return _view(row, now)


def list_tokens(session: Session, *, actor: User) -> list[CounterTokenView]:
    """Every counter token, newest first (admins and auditors)."""
    authorize(actor, Action.MANAGE_USERS if actor.role.value == "admin" else Action.READ)
    if actor.role.value not in ("admin", "auditor"):
        raise PermissionDenied("Hanya admin dan auditor yang melihat token loket.")
    now = utcnow()
    rows = session.execute(select(PartnerToken).order_by(PartnerToken.id.desc())).scalars()
    return [_view(row, now) for row in rows]


def _view(row: PartnerToken, now: datetime) -> CounterTokenView:
    expires = _aware(row.expires_at)
    state = "revoked" if row.revoked_at is not None else "expired" if now >= expires else "active"
    return CounterTokenView(
        row.id,
        row.name,
        row.prefix,
        row.partner_code,
        row.counter,
        row.region_code,
        row.created_by,
        _aware(row.created_at),
        expires,
        _aware(row.revoked_at) if row.revoked_at else None,
        _aware(row.last_used_at) if row.last_used_at else None,
        state,
    )
