"""Users with one role and one region scope; their credentials, browser sessions, API tokens
and sign-in attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lumbung.auth.roles import Role
from lumbung.db import ID, Base, utcnow


def role_column() -> Mapped[Role]:
    return mapped_column(
        Enum(
            Role,
            native_enum=False,
            create_constraint=True,
            length=20,
            values_callable=lambda e: [m.value for m in e],
            name="role",
        )
    )


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = role_column()
    # A region code at any level ("32", "32.76", "32.76.01.1001"); NULL means national.
    region_code: Mapped[str | None] = mapped_column(String(13), ForeignKey("region.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Credentials (migration 0008). No password: the user cannot sign in on the web or API
    # (the CLI, on the server, acts with --as). An argon2id hash in PHC form.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Set by an admin's set or reset: the next sign-in must choose a new password first.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The TOTP secret (RFC 6238), encrypted under the registry's key; enabled once confirmed
    # by a first code. Required for determiners and admins before they can act on the web.
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Lockout with backoff: consecutive failures, and the time before which no attempt counts.
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A browser session: the cookie carries a random token, the row only its SHA-256."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # The token every form of this session must carry back (CSRF), compared in constant time.
    csrf_token: Mapped[str] = mapped_column(String(64))
    # False until the second factor was given (for users who need one): such a session can
    # only reach the TOTP page.
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # An absolute limit beside the idle timeout.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class ApiToken(Base):
    """A token for a partner or a service: shown once, stored as its SHA-256, acting as its
    owner within a role and region no wider than the owner's, until it expires or is revoked."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the token, shown in lists so that a holder can tell which it is.
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[Role] = role_column()
    region_code: Mapped[str | None] = mapped_column(String(13), ForeignKey("region.code"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_ip: Mapped[str | None] = mapped_column(String(45))


class SignInAttempt(Base):
    """Every sign-in attempt, for rate limits per address and for the record."""

    __tablename__ = "sign_in_attempt"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    channel: Mapped[str] = mapped_column(String(8))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    # Why it failed, as a code: password, locked, totp, inactive, rate_limited.
    reason: Mapped[str | None] = mapped_column(String(24))

    __table_args__ = (
        Index("ix_sign_in_attempt_ip_at", "ip", "at"),
        Index("ix_sign_in_attempt_username_at", "username", "at"),
    )
