"""What an admin does to another user's credentials: set (or reset) a password, lift a lock,
remove a TOTP. Each is authorised (`Action.MANAGE_USERS`), recorded in the audit chain, and
ends the user's sessions where a stolen one could outlive the change. The user's own changes
(a new password, a TOTP enrolled) sit with signing in (auth/signin.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth import passwords, sessions
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, authorize_user_admin
from lumbung.errors import NotFound, ValidationFailed


def _target(session: Session, actor: User, username: str) -> User:
    """The user `actor` manages (an admin with a region: only users inside it)."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"Pengguna '{username}' tidak ada.")
    authorize_user_admin(actor, user.region_code)
    return user


def set_password(
    session: Session,
    *,
    actor: User,
    username: str,
    new: str,
    force_change: bool = True,
    now: datetime | None = None,
) -> User:
    """An admin sets (or resets) a user's password. With `force_change` (the default) the
    user must choose their own at the next sign-in; `force_change=False` is for accounts made
    by a script (`lumbung demo`). Unlocks the account and ends its sessions."""
    authorize(actor, Action.MANAGE_USERS)
    now = sessions.instant(now)
    user = _target(session, actor, username)
    passwords.refuse_weak(new, user.username)
    user.password_hash = passwords.hash_password(new)
    user.must_change_password = force_change
    user.password_changed_at = now
    user.failed_sign_ins = 0
    user.locked_until = None
    ended = sessions.end_all(session, user=user, now=now)
    audit.record(
        session,
        actor=actor.username,
        action="user.password_set",
        entity="user",
        entity_id=user.id,
        diff={"username": user.username, "force_change": force_change, "sessions_ended": ended},
    )
    return user


def unlock(session: Session, *, actor: User, username: str) -> User:
    """An admin lifts a lock now (and clears the failure count)."""
    authorize(actor, Action.MANAGE_USERS)
    user = _target(session, actor, username)
    if not user.failed_sign_ins and user.locked_until is None:
        raise ValidationFailed(f"Pengguna '{username}' tidak terkunci.")
    failures = user.failed_sign_ins
    user.failed_sign_ins = 0
    user.locked_until = None
    audit.record(
        session,
        actor=actor.username,
        action="user.unlock",
        entity="user",
        entity_id=user.id,
        diff={"username": user.username, "failures": failures},
    )
    return user


def reset_totp(
    session: Session, *, actor: User, username: str, reason: str, now: datetime | None = None
) -> User:
    """An admin removes a user's TOTP (a lost phone): they enrol again at their next sign-in.
    Their sessions end (whoever holds the phone may hold one)."""
    authorize(actor, Action.MANAGE_USERS)
    from lumbung.registry.check_sql import plain_text

    reason = plain_text(reason, "Alasan", limit=500)
    user = _target(session, actor, username)
    if user.totp_secret is None:
        raise ValidationFailed(f"Pengguna '{username}' belum memakai TOTP.")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    ended = sessions.end_all(session, user=user, now=sessions.instant(now))
    audit.record(
        session,
        actor=actor.username,
        action="user.totp_reset",
        entity="user",
        entity_id=user.id,
        diff={"username": user.username, "reason": reason, "sessions_ended": ended},
    )
    return user
