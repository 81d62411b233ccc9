"""API tokens for partners and services: `lmb_<prefix>_<secret>`, shown once, stored as the
SHA-256 of the whole token, with the owner's role and region at issue, an expiry (default 90
days, at most 365), revocable with a reason; the time and address of the last use are kept.

A token acts as its owner, and only while the owner is active and still has the role and the
region the token was issued for: a user moved to another role or region needs a new token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.selectable import ScalarSelect

from lumbung.audit import service as audit
from lumbung.auth.models import ApiToken, User
from lumbung.auth.roles import Action, Role
from lumbung.auth.service import authorize, authorize_user_admin, within
from lumbung.auth.sessions import aware
from lumbung.db import utcnow
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

PREFIX = "lmb"
DEFAULT_DAYS = 90
MAX_DAYS = 365
# last_used_at/last_used_ip are written at most this often per token: reads stay reads.
RECORD_USE_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class TokenView:
    """A token as lists show it (never its secret)."""

    id: int
    name: str
    prefix: str
    username: str
    role: str
    region_code: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None
    last_used_ip: str | None
    state: str  # active, expired, revoked

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": f"{PREFIX}_{self.prefix}",
            "username": self.username,
            "role": self.role,
            "region_code": self.region_code,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_by": self.revoked_by,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "last_used_ip": self.last_used_ip,
            "state": self.state,
        }


def _now(now: datetime | None) -> datetime:
    return aware(now).astimezone(UTC) if now else utcnow()


def token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def new_secret(kind: str) -> tuple[str, str]:
    """A new raw token `KIND_<8 hex>_<43>` (256 random bits) and its public prefix (the 8 hex,
    shown in lists): users' API tokens (`lmb`) and PT Pos counters' (`lmc`) alike."""
    prefix = secrets.token_hex(4)
    return prefix, f"{kind}_{prefix}_{secrets.token_urlsafe(32)}"


def issue(
    session: Session,
    *,
    actor: User,
    username: str,
    name: str,
    expires_days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> tuple[str, ApiToken]:
    """A new token for `username` (admin only): the raw token, to show once, and its row."""
    authorize(actor, Action.MANAGE_USERS)
    from lumbung.registry.check_sql import plain_text

    name = plain_text(name, "Nama token", limit=100)
    if not 1 <= expires_days <= MAX_DAYS:
        raise ValidationFailed(f"Masa berlaku token {expires_days} hari: harus 1–{MAX_DAYS} hari.")
    owner = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if owner is None or not owner.active:
        raise NotFound(f"Pengguna '{username}' tidak ada atau tidak aktif.")
    authorize_user_admin(actor, owner.region_code)
    now = _now(now)
    prefix, raw = new_secret(PREFIX)
    token = ApiToken(
        name=name,
        prefix=prefix,
        token_hash=token_hash(raw),
        user_id=owner.id,
        role=owner.role,
        region_code=owner.region_code,
        created_by_id=actor.id,
        created_at=now,
        expires_at=now + timedelta(days=expires_days),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        action="token.issue",
        entity="api_token",
        entity_id=token.id,
        diff={
            "name": name,
            "prefix": f"{PREFIX}_{prefix}",
            "username": owner.username,
            "role": owner.role.value,
            "region_code": owner.region_code,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return raw, token


@dataclass(frozen=True, slots=True)
class TokenState:
    """What a request's check reads of its token (plain values, not the row)."""

    id: int
    prefix: str
    name: str
    role: Role
    region_code: str | None
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Checked:
    """A live token, its owner, and the values of the columns the caller asked for beside."""

    token: TokenState
    owner: User
    also: tuple[Any, ...]


_STATE = tuple(getattr(ApiToken, name) for name in TokenState.__dataclass_fields__)
_STATE_END = len(_STATE)
# The check's statement for each set of `also` columns (by their identity: callers pass the
# same prebuilt columns every time), built once: a statement made per request cost more of
# the server's CPU than PostgreSQL spent answering it.
_CHECKS: dict[tuple[int, ...], tuple[Select[Any], tuple[Any, ...]]] = {}


def _check_statement(also: Sequence[ColumnElement[Any] | ScalarSelect[Any]]) -> Select[Any]:
    key = tuple(map(id, also))
    found = _CHECKS.get(key)
    if found is None:
        statement: Select[Any] = (
            select(*_STATE, User, *also)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == bindparam("token_hash"))
        )
        found = _CHECKS[key] = (statement, tuple(also))  # the columns kept: their ids stay theirs
    return found[0]


def check(
    session: Session,
    raw_token: str,
    *,
    also: Sequence[ColumnElement[Any] | ScalarSelect[Any]] = (),
    params: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Checked:
    """The live token `raw_token` is and its owner, read in one statement (with the columns
    `also` and the values of their parameters `params`, for a caller that checks more per
    request: build them once, the statement is kept for them) that changes nothing;
    PermissionDenied, saying why, when it is unknown, expired, revoked, its owner deactivated,
    or the owner's role or region no longer the token's."""
    now = _now(now)
    parts = raw_token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise PermissionDenied("Token API tidak dikenal (bentuknya lmb_…_…).")
    row = session.execute(
        _check_statement(also), {**(params or {}), "token_hash": token_hash(raw_token.strip())}
    ).one_or_none()
    if row is None:
        raise PermissionDenied("Token API tidak dikenal.")
    token = TokenState(*row[:_STATE_END])
    owner: User = row[_STATE_END]
    values = tuple(row[_STATE_END + 1 :])
    label = f"Token API {PREFIX}_{token.prefix} ({token.name})"
    if token.revoked_at is not None:
        raise PermissionDenied(f"{label} sudah dicabut.")
    if now >= aware(token.expires_at):
        raise PermissionDenied(
            f"{label} kedaluwarsa pada {aware(token.expires_at):%Y-%m-%d %H:%M} UTC."
        )
    if not owner.active:
        raise PermissionDenied(f"{label}: pemiliknya tidak aktif.")
    if owner.role is not token.role or owner.region_code != token.region_code:
        raise PermissionDenied(
            f"{label}: peran atau wilayah pemiliknya berubah sejak token dibuat; minta token baru."
        )
    return Checked(token, owner, values)


def use_due(token: TokenState | ApiToken, *, now: datetime | None = None) -> bool:
    """Whether the token's last use is older than RECORD_USE_EVERY (so is to be recorded)."""
    return token.last_used_at is None or _now(now) - aware(token.last_used_at) >= RECORD_USE_EVERY


def record_use(
    session: Session, token_id: int, *, ip: str | None, now: datetime | None = None
) -> None:
    """Record a use of the token now, from `ip` (in a writing transaction)."""
    token = session.get(ApiToken, token_id)
    if token is not None:
        token.last_used_at = _now(now)
        token.last_used_ip = ip[:45] if ip else None
        session.flush()


def revoke(
    session: Session,
    *,
    actor: User,
    token_id: int,
    reason: str,
    now: datetime | None = None,
) -> ApiToken:
    """End a token now, with the reason in the audit trail: by its holder (their own, a
    token leaked or no longer used), or by an admin whose region covers the holder's."""
    from lumbung.registry.check_sql import plain_text

    token = session.get(ApiToken, token_id)
    own = token is not None and token.user_id == actor.id
    if not own:  # another's token (or none): for admins only, as before
        authorize(actor, Action.MANAGE_USERS)
    reason = plain_text(reason, "Alasan", limit=500)
    if token is None:
        raise NotFound(f"Token API {token_id} tidak ada.")
    if token.revoked_at is not None:
        raise Conflict(f"Token API {token_id} ({token.name}) sudah dicabut.")
    if not own:
        holder = session.get(User, token.user_id)
        authorize_user_admin(actor, holder.region_code if holder else None)
    token.revoked_at = _now(now)
    token.revoked_by_id = actor.id
    session.flush()
    owner = session.get(User, token.user_id)
    audit.record(
        session,
        actor=actor.username,
        action="token.revoke",
        entity="api_token",
        entity_id=token.id,
        diff={
            "name": token.name,
            "prefix": f"{PREFIX}_{token.prefix}",
            "username": owner.username if owner else None,
            "reason": reason,
        },
    )
    return token


def list_tokens(
    session: Session, actor: User, *, username: str | None = None, now: datetime | None = None
) -> list[TokenView]:
    """Tokens, newest first: every token for admins and auditors (or one user's), a user's
    own for anyone else."""
    if actor.role not in (Role.ADMIN, Role.AUDITOR):
        if username not in (None, actor.username):
            raise PermissionDenied(
                f"Peran {actor.role.value} hanya boleh melihat token miliknya sendiri."
            )
        username = actor.username
    now = _now(now)
    owner, creator, revoker = aliased(User), aliased(User), aliased(User)
    query = (
        select(ApiToken, owner.username, creator.username, revoker.username)
        .join(owner, owner.id == ApiToken.user_id)
        .join(creator, creator.id == ApiToken.created_by_id)
        .outerjoin(revoker, revoker.id == ApiToken.revoked_by_id)
        .order_by(ApiToken.id.desc())
    )
    if username is not None:
        query = query.where(owner.username == username)
    if actor.region_code is not None:  # an admin or auditor of a region: its users' tokens
        query = query.where(within(owner.region_code, actor.region_code))
    views: list[TokenView] = []
    for token, owner_name, creator_name, revoker_name in session.execute(query):
        expires = aware(token.expires_at)
        state = (
            "revoked" if token.revoked_at is not None else "expired" if now >= expires else "active"
        )
        views.append(
            TokenView(
                id=token.id,
                name=token.name,
                prefix=token.prefix,
                username=owner_name,
                role=token.role.value,
                region_code=token.region_code,
                created_by=creator_name,
                created_at=aware(token.created_at),
                expires_at=expires,
                revoked_at=aware(token.revoked_at) if token.revoked_at else None,
                revoked_by=revoker_name,
                last_used_at=aware(token.last_used_at) if token.last_used_at else None,
                last_used_ip=token.last_used_ip,
                state=state,
            )
        )
    return views
