"""Users: creating them, finding the acting user, and checking role and region."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth import sessions
from lumbung.auth.models import User
from lumbung.auth.roles import ACTION_WORDS, Action, Role, in_scope, may
from lumbung.errors import NotFound, PermissionDenied, ValidationFailed
from lumbung.regions.models import Region


def get_user(session: Session, *, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        raise NotFound(f"Pengguna '{username}' tidak ada atau tidak aktif.")
    return user


def user_exists(session: Session, *, username: str) -> bool:
    """Whether a user of this name exists (active or not)."""
    found = session.execute(select(User.id).where(User.username == username)).first()
    return found is not None


def require_national(user: User, what: str) -> None:
    """Raise PermissionDenied unless `user` has no regional scope (decisions for the nation)."""
    if user.region_code is not None:
        raise PermissionDenied(
            f"{user.username} berwenang untuk wilayah {user.region_code}; {what} "
            "hanya oleh pengguna nasional."
        )


def authorize(user: User, action: Action, region_code: str | None = None) -> None:
    """Raise PermissionDenied unless `user` may do `action` in `region_code`."""
    if not may(user.role, action):
        raise PermissionDenied(
            f"Peran {user.role.value} tidak boleh {ACTION_WORDS[action]} ('{action.value}')."
        )
    if region_code is not None and not in_scope(user.region_code, region_code):
        raise PermissionDenied(
            f"Wilayah {region_code} di luar kewenangan {user.username} "
            f"({user.region_code or 'nasional'})."
        )


REGION_CODE = re.compile(r"\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?")


def authorize_user_admin(actor: User, region_code: str | None) -> None:
    """Raise PermissionDenied unless `actor` may manage a user (or a token) of `region_code`:
    an admin with a region manages only the users inside it (never a national user, never
    one of another region); a national admin manages everyone."""
    authorize(actor, Action.MANAGE_USERS)
    scope = actor.region_code
    if scope is not None and (region_code is None or not in_scope(scope, region_code)):
        whom = "pengguna nasional" if region_code is None else f"pengguna wilayah {region_code}"
        raise PermissionDenied(
            f"{actor.username} mengelola pengguna wilayah {scope} saja; {whom} di luar "
            "kewenangannya."
        )


def reading_area(actor: User, region: str | None) -> str | None:
    """The region a read covers: `region` narrowed to the actor's scope (None = the nation).

    A region containing the actor's scope reads as the scope; a region outside it is refused,
    said as such (nothing about what the region holds)."""
    scope = actor.region_code
    if region is None:
        return scope
    if not REGION_CODE.fullmatch(region):
        raise ValidationFailed(
            f"Wilayah {region!r}: kode wilayah seperti 31, 31.71, 31.71.01 atau 31.71.01.1001."
        )
    if in_scope(scope, region):
        return region
    if scope is not None and in_scope(region, scope):
        return scope
    raise PermissionDenied(
        f"Wilayah {region} di luar wilayah Anda ({scope}); Anda hanya melihat wilayah sendiri."
    )


def within(column: Any, area: str | None) -> ColumnElement[bool]:
    """SQL: the region code in `column` lies in `area` (None = the nation, always true)."""
    if area is None:
        return true()
    return or_(column == area, column.startswith(area + "."))


@dataclass(frozen=True, slots=True)
class UserRow:
    """A user as `users list` shows it."""

    username: str
    full_name: str
    role: str
    region_code: str | None
    active: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "region_code": self.region_code,
            "active": self.active,
        }


def list_users(session: Session, actor: User) -> list[UserRow]:
    """Every user with role and region, by username; a reader with a region sees the users
    whose region lies within it."""
    authorize(actor, Action.READ)
    query = select(User).order_by(User.username)
    if actor.region_code is not None:
        query = query.where(within(User.region_code, actor.region_code))
    return [
        UserRow(u.username, u.full_name, u.role.value, u.region_code, u.active)
        for u in session.execute(query).scalars()
    ]


def create_user(
    session: Session,
    *,
    actor: User | None,
    username: str,
    full_name: str,
    role: Role,
    region_code: str | None,
) -> User:
    """A new user; the very first user of an empty system must be an admin and needs no actor."""
    existing = session.execute(select(func.count()).select_from(User)).scalar_one()
    if existing == 0:
        if role is not Role.ADMIN:
            raise ValidationFailed("Pengguna pertama harus berperan admin.")
    elif actor is None:
        raise PermissionDenied("Membuat pengguna butuh admin (--as).")
    else:
        authorize_user_admin(actor, region_code)
    if role is Role.OPERATOR and region_code is None:
        # An operator proposes for their own village: one without a region would propose
        # for the whole nation.
        raise ValidationFailed(
            f"Wilayah (region) wajib diisi untuk pengguna '{username}' berperan operator: "
            "operator desa/kelurahan bekerja untuk satu wilayah, tidak untuk seluruh negeri."
        )
    if region_code is not None and session.get(Region, region_code) is None:
        raise ValidationFailed(
            f"Kode wilayah {region_code} tidak dikenal di daftar wilayah Kemendagri.",
            command="lumbung regions load (bila daftar wilayah belum dimuat)",
        )
    taken = session.execute(
        select(User.username).where(func.lower(User.username) == username.lower())
    ).scalar_one_or_none()
    if taken is not None:  # `PUSDATIN` beside `pusdatin` would read as the same person
        raise ValidationFailed(f"Nama pengguna '{username}' sudah dipakai ('{taken}').")
    user = User(username=username, full_name=full_name, role=role, region_code=region_code)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor.username if actor else username,
        action="user.create",
        entity="user",
        entity_id=user.id,
        diff={"username": username, "role": role.value, "region_code": region_code},
    )
    return user


def set_active(session: Session, *, actor: User, username: str, active: bool, reason: str) -> User:
    """Deactivate a user (they can no longer act or sign in, their browser sessions end, their
    API tokens are refused; their past actions stay theirs), or activate them again. Refused
    for oneself, and for the last active admin."""
    authorize(actor, Action.MANAGE_USERS)
    if not reason.strip():
        raise ValidationFailed("Beri alasan: dicatat di jejak audit.")
    from lumbung.registry.check_sql import plain_text

    reason = plain_text(reason, "Alasan")
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"Pengguna '{username}' tidak ada.")
    authorize_user_admin(actor, user.region_code)
    if user.active == active:
        raise ValidationFailed(
            f"Pengguna '{username}' sudah {'aktif' if active else 'tidak aktif'}."
        )
    if not active:
        if user.id == actor.id:
            raise ValidationFailed("Tidak bisa menonaktifkan diri sendiri.")
        admins = session.execute(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active)
        ).scalar_one()
        if user.role is Role.ADMIN and admins <= 1:
            raise ValidationFailed("Admin aktif terakhir tidak bisa dinonaktifkan.")
    user.active = active
    session.flush()
    diff: dict[str, object] = {"username": username, "active": active, "reason": reason}
    if not active:
        # Their browser sessions end now; their API tokens stop working while they are
        # inactive (`tokens.check` checks the owner) and work again if they are reactivated.
        diff["sessions_ended"] = sessions.end_all(session, user=user)
    audit.record(
        session,
        actor=actor.username,
        action="user.activate" if active else "user.deactivate",
        entity="user",
        entity_id=user.id,
        diff=diff,
    )
    return user
