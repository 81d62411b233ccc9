"""Signing in (password, then a TOTP code where one is needed), lockout with backoff, the
per-address rate limit, and the credentials the user sets (a new password, a TOTP enrolled);
an admin's acts on another user's credentials are in auth/credentials.py.

Every attempt is a `sign_in_attempt` row. A refused attempt is committed before the refusal is
raised (`session.commit()`): the caller rolls back on the error, and the record of the failure,
the failure count and the lock must survive it. Call `sign_in` and `check_totp` first in their
transaction, with nothing else pending.

The refusal for a wrong password is the same for a user who does not exist, and takes as long
(the password is checked against a dummy hash); the lock of a name that is no user is worked out
from the attempts recorded for it, as a user's would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth import passwords, sessions, totp
from lumbung.auth.models import SignInAttempt, User, WebSession
from lumbung.auth.roles import Role
from lumbung.errors import Conflict, PermissionDenied, SignInRefused, ValidationFailed

# Lockout: after LOCK_AFTER consecutive failures, locked for FIRST_LOCK, doubling with each
# further failure, up to MAX_LOCK; a success (or an admin's unlock) resets the count.
LOCK_AFTER = 5
FIRST_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)
# One address: at most IP_LIMIT failures (any usernames) within IP_WINDOW.
IP_LIMIT = 20
IP_WINDOW = timedelta(minutes=10)
# How far back the failures of a name that is no user are counted.
UNKNOWN_MEMORY = timedelta(hours=24)
# Roles that must use a second factor before they act on the web.
REQUIRES_TOTP = frozenset({Role.DETERMINER, Role.ADMIN})
ANONYMOUS = "anonymous"  # the actor of a lock: whoever kept trying

WRONG = "Nama pengguna atau kata sandi salah."
INACTIVE = "Akun ini dinonaktifkan; hubungi admin."


@dataclass(frozen=True, slots=True)
class SignInOutcome:
    """A password accepted. The front end then asks for a TOTP code (`needs_totp`), or has the
    user enrol one (`must_enrol_totp`: determiners and admins without one), or choose a new
    password (`must_change_password`) before anything else."""

    user: User
    needs_totp: bool
    must_enrol_totp: bool
    must_change_password: bool


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """A new TOTP secret, to show once (as text and as the `otpauth://` URI in a QR code)."""

    secret: str
    uri: str


def lock_duration(failures: int) -> timedelta:
    """How long `failures` consecutive failures lock an account (zero below LOCK_AFTER)."""
    if failures < LOCK_AFTER:
        return timedelta(0)
    return min(FIRST_LOCK * (1 << min(failures - LOCK_AFTER, 12)), MAX_LOCK)


def _seconds(wait: timedelta) -> int:
    return max(1, -(-int(wait.total_seconds() * 1000) // 1000))


def _in_words(seconds: int) -> str:
    return f"{seconds} detik" if seconds < 60 else f"{-(-seconds // 60)} menit"


def _find(session: Session, username: str) -> User | None:
    # Usernames are unique whatever their case (create_user), so the case typed does not matter.
    # The row is locked (PostgreSQL; SQLite has one writer anyway) so that two attempts at once
    # count two failures, not one.
    return session.execute(
        select(User).where(func.lower(User.username) == username.lower()).with_for_update()
    ).scalar_one_or_none()


def _locked_row(session: Session, user: User) -> None:
    """Read `user` again under a row lock, for the failure count (see `_find`)."""
    session.flush()  # nothing pending on it is lost by the refresh
    session.refresh(user, with_for_update=True)


def _record(
    session: Session,
    *,
    username: str,
    ip: str | None,
    channel: str,
    succeeded: bool,
    reason: str | None,
    now: datetime,
) -> None:
    session.add(
        SignInAttempt(
            at=now,
            username=username.lower()[:64],
            ip=ip[:45] if ip else None,
            channel=channel[:8],
            succeeded=succeeded,
            reason=reason,
        )
    )
    session.flush()


def _address_wait(session: Session, ip: str | None, now: datetime) -> timedelta:
    """How long `ip` must wait before its next attempt (zero: it may try now)."""
    if not ip:
        return timedelta(0)
    times = list(
        session.execute(
            select(SignInAttempt.at)
            .where(
                SignInAttempt.ip == ip[:45],
                SignInAttempt.at > now - IP_WINDOW,
                SignInAttempt.succeeded.is_(False),
                SignInAttempt.reason.in_(("password", "totp")),
            )
            .order_by(SignInAttempt.at)
        ).scalars()
    )
    if len(times) < IP_LIMIT:
        return timedelta(0)
    # Free again when enough of these failures have left the window.
    return sessions.aware(times[len(times) - IP_LIMIT]) + IP_WINDOW - now


def _name_wait(session: Session, user: User | None, username: str, now: datetime) -> timedelta:
    """How long the account (or the name, when it is no user) stays locked."""
    if user is not None:
        if user.locked_until is None:
            return timedelta(0)
        return max(sessions.aware(user.locked_until) - now, timedelta(0))
    count, last = session.execute(
        select(func.count(), func.max(SignInAttempt.at)).where(
            SignInAttempt.username == username.lower()[:64],
            SignInAttempt.at > now - UNKNOWN_MEMORY,
            SignInAttempt.succeeded.is_(False),
            SignInAttempt.reason == "password",
        )
    ).one()
    if last is None:
        return timedelta(0)
    return max(sessions.aware(last) + lock_duration(count) - now, timedelta(0))


def _refuse_waiting(
    session: Session,
    *,
    username: str,
    ip: str | None,
    channel: str,
    reason: str,
    wait: timedelta,
    now: datetime,
) -> SignInRefused:
    _record(
        session, username=username, ip=ip, channel=channel, succeeded=False, reason=reason, now=now
    )
    session.commit()
    seconds = _seconds(wait)
    where = "dari alamat ini" if reason == "rate_limited" else "untuk nama pengguna ini"
    return SignInRefused(
        f"Terlalu banyak percobaan masuk yang gagal {where}. Coba lagi dalam {_in_words(seconds)}.",
        retry_after=seconds,
    )


def _check_waits(
    session: Session,
    *,
    user: User | None,
    username: str,
    ip: str | None,
    channel: str,
    now: datetime,
) -> None:
    wait = _address_wait(session, ip, now)
    if wait > timedelta(0):
        raise _refuse_waiting(
            session,
            username=username,
            ip=ip,
            channel=channel,
            reason="rate_limited",
            wait=wait,
            now=now,
        )
    wait = _name_wait(session, user, username, now)
    if wait > timedelta(0):
        raise _refuse_waiting(
            session, username=username, ip=ip, channel=channel, reason="locked", wait=wait, now=now
        )


def _fail(
    session: Session,
    *,
    user: User | None,
    username: str,
    ip: str | None,
    channel: str,
    reason: str,
    message: str,
    now: datetime,
) -> SignInRefused:
    """Record a failure, count it against the user (locking them at LOCK_AFTER and beyond),
    commit, and give the refusal to raise."""
    _record(
        session, username=username, ip=ip, channel=channel, succeeded=False, reason=reason, now=now
    )
    if user is not None:
        user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
        duration = lock_duration(user.failed_sign_ins)
        if duration:
            user.locked_until = now + duration
            audit.record(
                session,
                actor=ANONYMOUS,
                action="user.lock",
                entity="user",
                entity_id=user.id,
                diff={
                    "username": user.username,
                    "failures": user.failed_sign_ins,
                    "locked_until": user.locked_until.isoformat(),
                    "ip": ip,
                    "reason": reason,
                },
            )
    session.commit()
    return SignInRefused(message)


def _succeeded(user: User, now: datetime) -> None:
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in_at = now


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    ip: str | None,
    channel: str,
    now: datetime | None = None,
) -> SignInOutcome:
    """Check a username and password; raise SignInRefused (wrong, locked, too many attempts
    from `ip`, deactivated) or tell what the user must do next."""
    now = sessions.instant(now)
    if channel not in audit.CHANNELS:
        raise ValueError(f"unknown sign-in channel {channel!r}")
    name = username.strip()[:64]
    user = _find(session, name) if name else None
    stored = user.password_hash if user is not None else None
    # A user without a password is locked as a name that is no user would be.
    counted = user if stored else None
    _check_waits(session, user=counted, username=name, ip=ip, channel=channel, now=now)
    # Verified against a dummy hash when there is nothing to verify against: the same time.
    matches = passwords.verify_password(stored or passwords.dummy_hash(), password)
    if user is None or stored is None or not matches:
        raise _fail(
            session,
            user=counted,
            username=name,
            ip=ip,
            channel=channel,
            reason="password",
            message=WRONG,
            now=now,
        )
    if not user.active:
        _record(
            session,
            username=name,
            ip=ip,
            channel=channel,
            succeeded=False,
            reason="inactive",
            now=now,
        )
        session.commit()
        raise SignInRefused(INACTIVE)
    if passwords.needs_rehash(stored):  # the costs were raised since: the password is at hand
        user.password_hash = passwords.hash_password(password)
    _record(session, username=name, ip=ip, channel=channel, succeeded=True, reason=None, now=now)
    needs_totp = user.totp_enabled_at is not None
    if not needs_totp and user.totp_secret is not None:
        # An enrolment begun in an earlier session and never confirmed: a new session enrols
        # afresh (that secret may have been shown on another screen).
        user.totp_secret = None
        user.totp_last_step = None
    if not needs_totp:
        # With a second factor to come, the count is reset by the code, not by the password:
        # someone who has the password cannot keep guessing codes by signing in again.
        _succeeded(user, now)
    session.flush()
    return SignInOutcome(
        user=user,
        needs_totp=needs_totp,
        must_enrol_totp=user.role in REQUIRES_TOTP and not needs_totp,
        must_change_password=user.must_change_password,
    )


def check_totp(
    session: Session,
    *,
    user: User,
    code: str,
    ip: str | None = None,
    now: datetime | None = None,
) -> None:
    """Accept the TOTP code of `user`'s current 30-second step (or the one before or after),
    never a code already accepted; a wrong code counts towards the lock as a wrong password
    does. Raises SignInRefused."""
    now = sessions.instant(now)
    channel = audit.channel_of(session)
    _locked_row(session, user)
    if not user.active:
        raise SignInRefused(INACTIVE)
    if user.totp_enabled_at is None or user.totp_secret is None:
        raise PermissionDenied(f"{user.username} belum mendaftarkan TOTP.")
    _check_waits(session, user=user, username=user.username, ip=ip, channel=channel, now=now)
    secret = totp.decrypt_secret(user.totp_secret, user_id=user.id)
    step = totp.matching_step(secret, code, now=now, after=user.totp_last_step)
    if step is None:
        raise _fail(
            session,
            user=user,
            username=user.username,
            ip=ip,
            channel=channel,
            reason="totp",
            message="Kode TOTP salah atau sudah dipakai; tunggu kode berikutnya.",
            now=now,
        )
    user.totp_last_step = step
    if totp.key_id_of(user.totp_secret) != totp.current_key_id():  # after a key rotation
        user.totp_secret = totp.encrypt_secret(secret, user_id=user.id)
    _succeeded(user, now)
    session.flush()


def enrol_totp(session: Session, *, user: User) -> TotpEnrolment:
    """The TOTP secret `user` is enrolling: the pending one when there is one, else a new one,
    stored encrypted. It stays pending, the same at every call, until `confirm_totp` turns it
    on or the user signs in again (`sign_in` drops it): a page reloaded during the enrolment
    must show the secret the authenticator has just scanned, not replace it. Refused when TOTP
    is already on (an admin resets it first: `reset_totp`)."""
    if user.totp_enabled_at is not None:
        raise Conflict(
            f"TOTP {user.username} sudah aktif; bila perangkatnya hilang, admin mereset dulu."
        )
    secret = _pending_secret(user)
    if secret is None:
        secret = totp.new_secret()
        user.totp_secret = totp.encrypt_secret(secret, user_id=user.id)
        user.totp_last_step = None
        session.flush()
    return TotpEnrolment(secret=secret, uri=totp.provisioning_uri(secret, username=user.username))


def _pending_secret(user: User) -> str | None:
    """The secret of an enrolment under way (None: none, or one that no key of the key file
    opens any more, which a new enrolment simply replaces)."""
    if user.totp_secret is None:
        return None
    try:
        return totp.decrypt_secret(user.totp_secret, user_id=user.id)
    except Conflict:
        return None


def confirm_totp(session: Session, *, user: User, code: str, now: datetime | None = None) -> None:
    """Turn TOTP on once the user shows a code from the secret of `enrol_totp`."""
    now = sessions.instant(now)
    if user.totp_enabled_at is not None:
        raise Conflict(f"TOTP {user.username} sudah aktif.")
    if user.totp_secret is None:
        raise ValidationFailed("Belum ada pendaftaran TOTP: mulai pendaftaran dulu.")
    secret = totp.decrypt_secret(user.totp_secret, user_id=user.id)
    step = totp.matching_step(secret, code, now=now, after=None)
    if step is None:
        raise ValidationFailed(
            "Kode TOTP tidak cocok: periksa jam ponsel dan masukkan kode yang tampil sekarang."
        )
    user.totp_enabled_at = now
    user.totp_last_step = step
    audit.record(
        session,
        actor=user.username,
        action="user.totp_enrol",
        entity="user",
        entity_id=user.id,
        diff={"username": user.username},
    )


def change_password(
    session: Session,
    *,
    user: User,
    old: str,
    new: str,
    keep: WebSession | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> None:
    """The user's own change: the old password first (a wrong one counts towards the lock).
    Every other session of the user ends (`keep`: the one making the change, if any)."""
    now = sessions.instant(now)
    channel = audit.channel_of(session)
    _locked_row(session, user)
    _check_waits(session, user=user, username=user.username, ip=ip, channel=channel, now=now)
    if user.password_hash is None or not passwords.verify_password(user.password_hash, old):
        raise _fail(
            session,
            user=user,
            username=user.username,
            ip=ip,
            channel=channel,
            reason="password",
            message="Kata sandi lama salah.",
            now=now,
        )
    passwords.refuse_weak(
        new, user.username, ["Kata sandi baru sama dengan yang lama."] if new == old else []
    )
    user.password_hash = passwords.hash_password(new)
    user.must_change_password = False
    user.password_changed_at = now
    ended = sessions.end_all(session, user=user, keep=keep, now=now)
    audit.record(
        session,
        actor=user.username,
        action="user.password_change",
        entity="user",
        entity_id=user.id,
        diff={"username": user.username, "sessions_ended": ended},
    )
