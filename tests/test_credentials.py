"""Sign-in and credentials: argon2id passwords, lockout and rate limits, TOTP, browser sessions,
API tokens, their audit events, and the commands that manage them (real argon2id at low cost:
tests/conftest.py)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

from conftest import user
from lumbung.audit import keys
from lumbung.audit import service as audit
from lumbung.audit.models import AuditEvent
from lumbung.auth import credentials, passwords, sessions, signin, tokens, totp
from lumbung.auth.models import ApiToken, SignInAttempt, User, WebSession
from lumbung.auth.roles import Role
from lumbung.auth.service import set_active
from lumbung.cli import app, common
from lumbung.config import get_settings
from lumbung.db import session_scope
from lumbung.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    SignInRefused,
    ValidationFailed,
)

PASSWORD = "Rahasia-Kuat-2026"
NOW = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


def set_password(engine: Engine, username: str, password: str = PASSWORD, **kw: Any) -> None:
    with session_scope(engine) as session:
        credentials.set_password(
            session,
            actor=user(session, "admin"),
            username=username,
            new=password,
            force_change=kw.get("force_change", False),
        )


def attempt(
    engine: Engine,
    username: str,
    password: str = PASSWORD,
    *,
    ip: str = "10.0.0.1",
    now: datetime = NOW,
) -> signin.SignInOutcome | SignInRefused:
    """One sign-in as a request makes it: its own transaction, rolled back on a refusal."""
    try:
        with session_scope(engine) as session:
            audit.set_channel(session, "web")
            return signin.sign_in(
                session, username=username, password=password, ip=ip, channel="web", now=now
            )
    except SignInRefused as refused:
        return refused


def refused(result: signin.SignInOutcome | SignInRefused) -> SignInRefused:
    assert isinstance(result, SignInRefused), result
    return result


def accepted(result: signin.SignInOutcome | SignInRefused) -> signin.SignInOutcome:
    assert isinstance(result, signin.SignInOutcome), result
    return result


def column(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def events(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(
            session.execute(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            ).scalars()
        )


# Passwords ------------------------------------------------------------------------------------


def test_argon2id_hashes_verify_and_are_redone_when_the_costs_change() -> None:
    hashed = passwords.hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=1024,t=1,p=1$")  # the test settings' costs
    assert passwords.verify_password(hashed, PASSWORD)
    assert not passwords.verify_password(hashed, PASSWORD + "x")
    assert not passwords.verify_password("not a hash", PASSWORD)
    assert not passwords.needs_rehash(hashed)
    older = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
    assert passwords.verify_password(older, PASSWORD)  # other costs still verify
    assert passwords.needs_rehash(older)
    assert passwords.hash_password(PASSWORD) != hashed  # salted
    assert not passwords.needs_rehash(passwords.dummy_hash())


def test_production_costs_meet_owasp() -> None:
    fields = type(get_settings()).model_fields
    assert fields["argon2_time_cost"].default >= 2
    assert fields["argon2_memory_cost"].default >= 19 * 1024


def test_password_policy() -> None:
    assert passwords.password_problems(PASSWORD, "budi") == []
    assert any("minimal 10" in p for p in passwords.password_problems("Ab1-", "budi"))
    assert any("nama pengguna" in p for p in passwords.password_problems("Budi-2026-xyz", "budi"))
    assert any("dua jenis" in p for p in passwords.password_problems("abcdefghijkl", "budi"))
    assert any("dua jenis" in p for p in passwords.password_problems("123456789012", "budi"))
    assert passwords.password_problems("kuda lumping pagi", "budi") == []  # spaces count


def test_a_hash_with_old_costs_is_redone_at_sign_in(engine: Engine, users: Any) -> None:
    older = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE user_account SET password_hash = :h WHERE username = 'operator'"),
            {"h": older},
        )
    accepted(attempt(engine, "operator"))
    stored = column(engine, "SELECT password_hash FROM user_account WHERE username='operator'")
    assert stored != older and stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")


# Signing in -----------------------------------------------------------------------------------


def test_wrong_password_and_unknown_user_are_refused_alike(engine: Engine, users: Any) -> None:
    set_password(engine, "operator")
    wrong = refused(attempt(engine, "operator", "Salah-sekali-1"))
    unknown = refused(attempt(engine, "nobody", "Salah-sekali-1"))
    no_password = refused(attempt(engine, "verifier", "Salah-sekali-1"))  # none set
    assert wrong.message == unknown.message == no_password.message == signin.WRONG
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.retry_after is None and unknown.retry_after is None
    assert "operator" not in wrong.message
    # Every attempt is recorded, though the refusal rolled the request back.
    assert column(engine, "SELECT count(*) FROM sign_in_attempt WHERE NOT succeeded") == 3
    assert column(engine, "SELECT failed_sign_ins FROM user_account WHERE username='operator'") == 1
    outcome = accepted(attempt(engine, "OPERATOR"))  # the case typed does not matter
    assert outcome.user.username == "operator"
    assert not outcome.needs_totp and not outcome.must_enrol_totp
    assert not outcome.must_change_password
    assert column(engine, "SELECT failed_sign_ins FROM user_account WHERE username='operator'") == 0
    assert column(engine, "SELECT count(*) FROM sign_in_attempt WHERE succeeded") == 1


def test_lockout_after_five_failures_doubles_and_a_success_resets(
    engine: Engine, users: Any
) -> None:
    set_password(engine, "operator")
    for i in range(4):
        assert refused(attempt(engine, "operator", "x", now=NOW + timedelta(seconds=i))).message
    assert accepted(attempt(engine, "operator", now=NOW + timedelta(seconds=5)))  # resets
    for i in range(5):
        refused(attempt(engine, "operator", "x", now=NOW + timedelta(seconds=10 + i)))
    # Locked for a minute from the fifth failure: even the right password is refused.
    locked = refused(attempt(engine, "operator", now=NOW + timedelta(seconds=44)))
    assert locked.status_code == 429 and locked.code == "too_many_attempts"
    assert locked.retry_after == 30
    assert "Coba lagi dalam 30 detik" in locked.message
    # A failure after the lock ends: two minutes; the attempts during the lock did not count.
    refused(attempt(engine, "operator", "x", now=NOW + timedelta(seconds=80)))
    assert column(engine, "SELECT failed_sign_ins FROM user_account WHERE username='operator'") == 6
    again = refused(attempt(engine, "operator", now=NOW + timedelta(seconds=81)))
    assert again.retry_after == 119
    outcome = accepted(attempt(engine, "operator", now=NOW + timedelta(seconds=201)))
    assert outcome.user.failed_sign_ins == 0 and outcome.user.locked_until is None
    locks = events(engine, "user.lock")
    assert [e.diff["failures"] for e in locks] == [5, 6]
    assert {(e.actor, e.channel) for e in locks} == {("anonymous", "web")}
    assert column(engine, "SELECT count(*) FROM sign_in_attempt WHERE reason = 'locked'") == 2


def test_lock_durations_double_up_to_an_hour() -> None:
    assert signin.lock_duration(4) == timedelta(0)
    assert [signin.lock_duration(n).total_seconds() / 60 for n in range(5, 13)] == [
        1,
        2,
        4,
        8,
        16,
        32,
        60,
        60,
    ]
    assert signin.lock_duration(500) == timedelta(hours=1)


def test_a_name_that_is_no_user_locks_as_a_user_would(engine: Engine, users: Any) -> None:
    set_password(engine, "operator")
    for name in ("operator", "ghost"):
        for i in range(5):
            refused(attempt(engine, name, "x", ip=f"10.1.0.{i}", now=NOW))
    known = refused(attempt(engine, "operator", now=NOW + timedelta(seconds=10)))
    unknown = refused(attempt(engine, "ghost", now=NOW + timedelta(seconds=10)))
    assert known.message == unknown.message and known.retry_after == unknown.retry_after == 50


def test_an_admin_unlocks_at_once(engine: Engine, users: Any) -> None:
    set_password(engine, "operator")
    for _ in range(5):
        refused(attempt(engine, "operator", "x"))
    refused(attempt(engine, "operator"))
    with session_scope(engine) as session, pytest.raises(PermissionDenied):
        credentials.unlock(session, actor=user(session, "verifier"), username="operator")
    with session_scope(engine) as session:
        audit.set_channel(session, "api")
        credentials.unlock(session, actor=user(session, "admin"), username="operator")
    accepted(attempt(engine, "operator", now=NOW + timedelta(seconds=1)))
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match="tidak terkunci"):
        credentials.unlock(session, actor=user(session, "admin"), username="operator")
    [event] = events(engine, "user.unlock")
    assert (event.actor, event.channel, event.diff["failures"]) == ("admin", "api", 5)


def test_one_address_is_limited_across_usernames(engine: Engine, users: Any) -> None:
    set_password(engine, "operator")
    for i in range(signin.IP_LIMIT):
        refused(attempt(engine, f"tebak{i}", "x", ip="203.0.113.9", now=NOW + timedelta(seconds=i)))
    limited = refused(attempt(engine, "operator", ip="203.0.113.9", now=NOW + timedelta(minutes=1)))
    assert limited.status_code == 429
    assert limited.retry_after == 9 * 60  # the oldest failure leaves the window at 10 minutes
    assert "dari alamat ini" in limited.message
    accepted(attempt(engine, "operator", ip="203.0.113.10", now=NOW + timedelta(minutes=1)))
    accepted(attempt(engine, "operator", ip="203.0.113.9", now=NOW + timedelta(minutes=10)))
    assert column(engine, "SELECT count(*) FROM sign_in_attempt WHERE reason = 'rate_limited'") == 1


def test_a_deactivated_user_cannot_sign_in(engine: Engine, users: Any) -> None:
    set_password(engine, "operator")
    with session_scope(engine) as session:
        set_active(
            session, actor=user(session, "admin"), username="operator", active=False, reason="x"
        )
    assert refused(attempt(engine, "operator")).message == signin.INACTIVE
    assert refused(attempt(engine, "operator", "salah-salah-1")).message == signin.WRONG


def test_an_admins_password_must_be_changed_at_first_sign_in(engine: Engine, users: Any) -> None:
    set_password(engine, "operator", force_change=True)
    outcome = accepted(attempt(engine, "operator"))
    assert outcome.must_change_password
    with session_scope(engine) as session:
        me = user(session, "operator")
        with pytest.raises(ValidationFailed, match="sama dengan yang lama"):
            signin.change_password(session, user=me, old=PASSWORD, new=PASSWORD)
        with pytest.raises(ValidationFailed, match="minimal 10") as weak:
            signin.change_password(session, user=me, old=PASSWORD, new="Pendek-1")
        assert weak.value.details[0]["code"] == "weak_password"
        signin.change_password(session, user=me, old=PASSWORD, new="Baru-Sekali-2026")
    assert not accepted(attempt(engine, "operator", "Baru-Sekali-2026")).must_change_password
    refused(attempt(engine, "operator", PASSWORD))
    with session_scope(engine) as session:
        me = user(session, "operator")
        me_id = me.id
    with pytest.raises(SignInRefused, match="lama salah"), session_scope(engine) as session:
        signin.change_password(session, user=user(session, "operator"), old="x", new=PASSWORD)
    failures = column(engine, "SELECT failed_sign_ins FROM user_account WHERE id = :i", i=me_id)
    assert failures == 2  # the sign-in above and the wrong old password, though rolled back
    [changed] = events(engine, "user.password_change")
    assert changed.actor == "operator" and PASSWORD not in json.dumps(changed.diff)
    assert [e.diff["force_change"] for e in events(engine, "user.password_set")] == [True]


def test_only_an_admin_sets_passwords(engine: Engine, users: Any) -> None:
    with session_scope(engine) as session:
        with pytest.raises(PermissionDenied):
            credentials.set_password(
                session, actor=user(session, "determiner"), username="operator", new=PASSWORD
            )
        with pytest.raises(NotFound):
            credentials.set_password(
                session, actor=user(session, "admin"), username="nobody", new=PASSWORD
            )
        with pytest.raises(ValidationFailed, match="nama pengguna"):
            credentials.set_password(
                session, actor=user(session, "admin"), username="operator", new="operator-2026"
            )


# TOTP -----------------------------------------------------------------------------------------


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


def enrol(engine: Engine, username: str, at: datetime = NOW) -> str:
    with session_scope(engine) as session:
        enrolment = signin.enrol_totp(session, user=user(session, username))
    assert enrolment.uri.startswith("otpauth://totp/Lumbung:")
    assert f"secret={enrolment.secret}" in enrolment.uri
    with session_scope(engine) as session:
        signin.confirm_totp(
            session, user=user(session, username), code=code_at(enrolment.secret, at), now=at
        )
    return enrolment.secret


def totp_check(
    engine: Engine, username: str, code: str, now: datetime, ip: str = "10.0.0.1"
) -> SignInRefused | None:
    try:
        with session_scope(engine) as session:
            signin.check_totp(session, user=user(session, username), code=code, ip=ip, now=now)
    except SignInRefused as refusal:
        return refusal
    return None


def test_totp_is_required_for_determiners_and_admins(engine: Engine, users: Any) -> None:
    for name in ("determiner", "admin", "operator"):
        set_password(engine, name)
    assert accepted(attempt(engine, "determiner")).must_enrol_totp
    assert accepted(attempt(engine, "admin")).must_enrol_totp
    assert not accepted(attempt(engine, "operator")).must_enrol_totp
    with session_scope(engine) as session:
        enrolment = signin.enrol_totp(session, user=user(session, "determiner"))
    stored = column(engine, "SELECT totp_secret FROM user_account WHERE username='determiner'")
    assert enrolment.secret not in stored and stored.startswith("v1:k1:")
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match="tidak cocok"):
        signin.confirm_totp(session, user=user(session, "determiner"), code="000000", now=NOW)
    with session_scope(engine) as session:
        signin.confirm_totp(
            session,
            user=user(session, "determiner"),
            code=code_at(enrolment.secret, NOW),
            now=NOW,
        )
    outcome = accepted(attempt(engine, "determiner"))
    assert outcome.needs_totp and not outcome.must_enrol_totp
    [enrolled] = events(engine, "user.totp_enrol")
    assert enrolled.actor == "determiner" and enrolment.secret not in json.dumps(enrolled.diff)
    with session_scope(engine) as session, pytest.raises(Conflict, match="sudah aktif"):
        signin.enrol_totp(session, user=user(session, "determiner"))
    # Deactivated between the password and the code: the code is refused.
    with session_scope(engine) as session:
        set_active(
            session, actor=user(session, "admin"), username="determiner", active=False, reason="x"
        )
    later = NOW + timedelta(minutes=1)
    refusal = totp_check(engine, "determiner", code_at(enrolment.secret, later), later)
    assert refusal is not None and refusal.message == signin.INACTIVE


def test_a_totp_code_is_accepted_once_within_one_step(engine: Engine, users: Any) -> None:
    set_password(engine, "determiner")
    secret = enrol(engine, "determiner")
    # The code used to confirm cannot be used again, nor any code of its step or before.
    assert totp_check(engine, "determiner", code_at(secret, NOW), NOW) is not None
    later = NOW + timedelta(minutes=5)
    assert totp_check(engine, "determiner", code_at(secret, later), later) is None
    refusal = totp_check(engine, "determiner", code_at(secret, later), later)
    assert refusal is not None and "sudah dipakai" in refusal.message
    # One step either side of the clock is accepted, two steps are not.
    base = later + timedelta(minutes=5)
    assert (
        totp_check(engine, "determiner", code_at(secret, base - timedelta(seconds=30)), base)
        is None
    )
    assert (
        totp_check(engine, "determiner", code_at(secret, base + timedelta(seconds=30)), base)
        is None
    )
    base2 = base + timedelta(minutes=5)
    assert totp_check(engine, "determiner", code_at(secret, base2 + timedelta(seconds=60)), base2)
    assert totp_check(engine, "determiner", code_at(secret, base2 - timedelta(seconds=60)), base2)
    assert totp_check(engine, "determiner", "12345", base2) is not None  # not six digits
    last_step = column(
        engine, "SELECT totp_last_step FROM user_account WHERE username='determiner'"
    )
    assert last_step == totp.step_at(base) + 1


def test_wrong_totp_codes_lock_and_a_password_does_not_reset_them(
    engine: Engine, users: Any
) -> None:
    set_password(engine, "determiner")
    secret = enrol(engine, "determiner")
    later = NOW + timedelta(minutes=1)
    for i in range(4):
        assert totp_check(engine, "determiner", "000000", later + timedelta(seconds=i))
    accepted(attempt(engine, "determiner", now=later + timedelta(seconds=5)))
    assert totp_check(engine, "determiner", "000000", later + timedelta(seconds=6))
    assert (
        column(engine, "SELECT failed_sign_ins FROM user_account WHERE username='determiner'") == 5
    )
    locked = totp_check(engine, "determiner", code_at(secret, later), later + timedelta(seconds=7))
    assert locked is not None and locked.retry_after == 59
    assert column(engine, "SELECT count(*) FROM sign_in_attempt WHERE reason='totp'") == 5
    fine = later + timedelta(minutes=2)
    assert totp_check(engine, "determiner", code_at(secret, fine), fine) is None
    assert (
        column(engine, "SELECT failed_sign_ins FROM user_account WHERE username='determiner'") == 0
    )


def test_totp_secrets_are_bound_to_their_user_and_survive_key_rotation(
    engine: Engine, users: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = enrol(engine, "determiner")
    enrol(engine, "approver")
    # A secret copied onto another user's row does not decrypt.
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE user_account SET totp_secret = (SELECT totp_secret FROM user_account "
                "WHERE username = 'determiner') WHERE username = 'approver'"
            )
        )
    with pytest.raises(Conflict, match="tidak bisa dibuka"):
        totp_check(engine, "approver", code_at(secret, NOW + timedelta(minutes=1)), NOW)
    # After a key rotation the secret still decrypts, and is encrypted again under the new key.
    rotated = tmp_path / "lumbung.key"
    shutil.copy(get_settings().key_file, rotated)
    rotated.chmod(0o600)
    keys.rotate(rotated)
    monkeypatch.setenv("LUMBUNG_KEY_FILE", str(rotated))
    get_settings.cache_clear()
    try:
        later = NOW + timedelta(minutes=1)
        assert totp_check(engine, "determiner", code_at(secret, later), later) is None
        stored = column(engine, "SELECT totp_secret FROM user_account WHERE username='determiner'")
        assert stored.startswith("v1:k2:")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_an_admin_resets_a_lost_totp(engine: Engine, users: Any) -> None:
    set_password(engine, "determiner")
    enrol(engine, "determiner")
    with session_scope(engine) as session:
        raw, _ = sessions.start(
            session, user=user(session, "determiner"), ip=None, user_agent=None, verified=True
        )
    with session_scope(engine) as session:
        with pytest.raises(PermissionDenied):
            credentials.reset_totp(
                session, actor=user(session, "auditor"), username="determiner", reason="hilang"
            )
        credentials.reset_totp(
            session, actor=user(session, "admin"), username="determiner", reason="ponsel hilang"
        )
    assert accepted(attempt(engine, "determiner")).must_enrol_totp
    with session_scope(engine) as session:
        assert sessions.live(session, raw) is None
    [event] = events(engine, "user.totp_reset")
    assert event.actor == "admin" and event.diff["reason"] == "ponsel hilang"
    assert event.diff["sessions_ended"] == 1


# Browser sessions -----------------------------------------------------------------------------


def start_session(engine: Engine, username: str, at: datetime = NOW) -> tuple[str, int]:
    with session_scope(engine) as session:
        raw, row = sessions.start(
            session,
            user=user(session, username),
            ip="10.0.0.1",
            user_agent="Firefox",
            verified=False,
            now=at,
        )
        return raw, row.id


def alive(engine: Engine, raw: str, at: datetime) -> bool:
    with session_scope(engine) as session:
        return sessions.live(session, raw, now=at) is not None


def test_a_session_stores_only_its_tokens_hash(engine: Engine, users: Any) -> None:
    raw, session_id = start_session(engine, "operator")
    assert len(raw) >= 43
    stored = column(engine, "SELECT token_hash FROM web_session WHERE id = :i", i=session_id)
    assert stored == hashlib.sha256(raw.encode()).hexdigest()
    with session_scope(engine) as session:
        assert (
            session.execute(
                select(func.count()).select_from(WebSession).where(WebSession.token_hash == raw)
            ).scalar_one()
            == 0
        )
        live = sessions.live(session, raw, now=NOW)
        assert live is not None and live[1].username == "operator"
        found = live[0]
        assert not found.verified
        sessions.mark_verified(session, found)
        assert sessions.live(session, "not-a-token", now=NOW) is None
        assert sessions.live(session, None, now=NOW) is None
        assert sessions.csrf_ok(found, found.csrf_token)
        assert not sessions.csrf_ok(found, found.csrf_token[:-1] + "x")
        assert not sessions.csrf_ok(found, "")
        assert not sessions.csrf_ok(found, None)
        sessions.end(session, found)
    assert not alive(engine, raw, NOW)
    assert column(engine, "SELECT verified FROM web_session WHERE id = :i", i=session_id)


def test_a_session_ends_when_idle_and_at_its_absolute_expiry(engine: Engine, users: Any) -> None:
    raw, session_id = start_session(engine, "operator")
    assert alive(engine, raw, NOW + timedelta(minutes=20))
    assert alive(engine, raw, NOW + timedelta(minutes=45))  # 25 minutes idle since the last
    assert not alive(engine, raw, NOW + timedelta(minutes=76))  # 31 minutes idle
    assert column(engine, "SELECT ended_at FROM web_session WHERE id = :i", i=session_id)
    busy, _ = start_session(engine, "operator")
    moment = NOW
    while moment < NOW + timedelta(hours=12) - timedelta(minutes=20):
        moment += timedelta(minutes=20)
        assert alive(engine, busy, moment)
    assert not alive(engine, busy, NOW + timedelta(hours=12))


def test_sessions_end_on_password_change_reset_and_deactivation(engine: Engine, users: Any) -> None:
    set_password(engine, "operator")
    current, current_id = start_session(engine, "operator")
    other, _ = start_session(engine, "operator")
    with session_scope(engine) as session:
        keep = session.get(WebSession, current_id)
        signin.change_password(
            session, user=user(session, "operator"), old=PASSWORD, new="Baru-Sekali-2026", keep=keep
        )
    assert alive(engine, current, NOW) and not alive(engine, other, NOW)
    set_password(engine, "operator")
    assert not alive(engine, current, NOW)
    again, _ = start_session(engine, "operator")
    with session_scope(engine) as session:
        set_active(
            session, actor=user(session, "admin"), username="operator", active=False, reason="x"
        )
    assert not alive(engine, again, NOW)
    [event] = events(engine, "user.deactivate")
    assert event.diff["sessions_ended"] == 1


# API tokens -----------------------------------------------------------------------------------


def issue(engine: Engine, username: str = "verifier", days: int = 90) -> tuple[str, int]:
    with session_scope(engine) as session:
        audit.set_channel(session, "api")
        raw, token = tokens.issue(
            session,
            actor=user(session, "admin"),
            username=username,
            name="Mitra BPJS",
            expires_days=days,
            now=NOW,
        )
        return raw, token.id


def resolve_token(engine: Engine, raw: str, at: datetime, ip: str = "198.51.100.7") -> User:
    """As a writing API request authenticates: the token checked, its use recorded when due."""
    with session_scope(engine) as session:
        checked = tokens.check(session, raw, now=at)
        if tokens.use_due(checked.token, now=at):
            tokens.record_use(session, checked.token.id, ip=ip, now=at)
        return checked.owner


def test_a_token_is_shown_once_and_stored_hashed(engine: Engine, users: Any) -> None:
    raw, token_id = issue(engine)
    assert re.fullmatch(r"lmb_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", raw)
    with engine.connect() as conn:
        row = (
            conn.execute(text("SELECT * FROM api_token WHERE id = :i"), {"i": token_id})
            .mappings()
            .one()
        )
    assert raw not in json.dumps(dict(row), default=str)
    assert row["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.split("_")[1] == row["prefix"]
    assert (row["role"], row["region_code"]) == ("verifier", "31.71")
    owner = resolve_token(engine, raw, NOW + timedelta(hours=1))
    assert owner.username == "verifier"
    [event] = events(engine, "token.issue")
    assert (event.actor, event.channel) == ("admin", "api")
    assert raw not in json.dumps(event.diff) and event.diff["prefix"] == f"lmb_{row['prefix']}"


def test_a_tokens_last_use_is_recorded_at_most_once_a_minute(engine: Engine, users: Any) -> None:
    raw, token_id = issue(engine)
    first = NOW + timedelta(hours=1)
    resolve_token(engine, raw, first, ip="198.51.100.7")
    resolve_token(engine, raw, first + timedelta(seconds=30), ip="198.51.100.8")
    with session_scope(engine) as session:
        token = session.get(ApiToken, token_id)
        assert token is not None
        assert sessions.aware(token.last_used_at or NOW) == first
        assert token.last_used_ip == "198.51.100.7"
    resolve_token(engine, raw, first + timedelta(seconds=61), ip="198.51.100.8")
    assert column(engine, "SELECT last_used_ip FROM api_token WHERE id=:i", i=token_id) == (
        "198.51.100.8"
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("expired", "kedaluwarsa"),
        ("revoked", "dicabut"),
        ("deactivated", "tidak aktif"),
        ("role", "berubah"),
        ("region", "berubah"),
        ("unknown", "tidak dikenal"),
    ],
)
def test_a_token_stops_working(engine: Engine, users: Any, change: str, words: str) -> None:
    raw, token_id = issue(engine, days=30)
    at = NOW + timedelta(days=1)
    with session_scope(engine) as session:
        admin = user(session, "admin")
        owner = user(session, "verifier")
        if change == "expired":
            at = NOW + timedelta(days=30)
        elif change == "revoked":
            tokens.revoke(session, actor=admin, token_id=token_id, reason="kontrak selesai")
        elif change == "deactivated":
            set_active(session, actor=admin, username="verifier", active=False, reason="pindah")
        elif change == "role":
            owner.role = Role.AUDITOR
        elif change == "region":
            owner.region_code = "31"
        else:
            raw = raw[:-2] + ("AA" if not raw.endswith("AA") else "BB")
    with pytest.raises(PermissionDenied, match=words):
        resolve_token(engine, raw, at)


def test_token_expiry_is_bounded_and_only_admins_issue_and_revoke(
    engine: Engine, users: Any
) -> None:
    with session_scope(engine) as session:
        admin = user(session, "admin")
        for days in (0, 366):
            with pytest.raises(ValidationFailed, match="1–365"):
                tokens.issue(session, actor=admin, username="verifier", name="x", expires_days=days)
        with pytest.raises(PermissionDenied):
            tokens.issue(session, actor=user(session, "determiner"), username="verifier", name="x")
        with pytest.raises(ValidationFailed):
            tokens.issue(session, actor=admin, username="verifier", name="  ")
    _, token_id = issue(engine)
    with session_scope(engine) as session:
        with pytest.raises(PermissionDenied):
            tokens.revoke(
                session, actor=user(session, "auditor"), token_id=token_id, reason="tidak perlu"
            )
        with pytest.raises(NotFound):
            tokens.revoke(session, actor=user(session, "admin"), token_id=999, reason="x")
        tokens.revoke(session, actor=user(session, "admin"), token_id=token_id, reason="bocor")
    with session_scope(engine) as session, pytest.raises(Conflict, match="sudah dicabut"):
        tokens.revoke(session, actor=user(session, "admin"), token_id=token_id, reason="lagi")
    [event] = events(engine, "token.revoke")
    assert event.actor == "admin" and event.diff["reason"] == "bocor"


def test_a_holder_revokes_their_own_token_and_no_one_elses(engine: Engine, users: Any) -> None:
    _, mine = issue(engine, "verifier")
    _, theirs = issue(engine, "operator")
    with session_scope(engine) as session:
        verifier = user(session, "verifier")
        with pytest.raises(PermissionDenied):  # another's token: admins only, as before
            tokens.revoke(session, actor=verifier, token_id=theirs, reason="bukan milik saya")
        with pytest.raises(PermissionDenied):
            tokens.revoke(session, actor=verifier, token_id=999, reason="tidak ada")
        with pytest.raises(ValidationFailed):  # a reason, as for an admin
            tokens.revoke(session, actor=verifier, token_id=mine, reason="  ")
        done = tokens.revoke(session, actor=verifier, token_id=mine, reason="bocor di log")
        assert done.revoked_at is not None and done.revoked_by_id == verifier.id
    with session_scope(engine) as session, pytest.raises(Conflict, match="sudah dicabut"):
        tokens.revoke(session, actor=user(session, "verifier"), token_id=mine, reason="lagi")
    [event] = events(engine, "token.revoke")
    assert (event.actor, event.diff["username"], event.diff["reason"]) == (
        "verifier",
        "verifier",
        "bocor di log",
    )
    states = {t.id: t.state for t in tokens_of(engine, "admin")}
    assert (states[mine], states[theirs]) == ("revoked", "active")


def tokens_of(engine: Engine, username: str) -> list[tokens.TokenView]:
    with session_scope(engine) as session:
        return tokens.list_tokens(session, user(session, username), now=NOW)


def test_who_lists_which_tokens(engine: Engine, users: Any) -> None:
    issue(engine, "verifier")
    issue(engine, "operator")
    with session_scope(engine) as session:
        everyone = tokens.list_tokens(session, user(session, "auditor"), now=NOW)
        assert {v.username for v in everyone} == {"verifier", "operator"}
        assert {v.state for v in everyone} == {"active"}
        mine = tokens.list_tokens(session, user(session, "operator"), now=NOW)
        assert [v.username for v in mine] == ["operator"]
        with pytest.raises(PermissionDenied):
            tokens.list_tokens(session, user(session, "operator"), username="verifier")
        later = tokens.list_tokens(
            session, user(session, "admin"), username="verifier", now=NOW + timedelta(days=91)
        )
        assert [v.state for v in later] == ["expired"]
        assert later[0].created_by == "admin"


# The audit channel ----------------------------------------------------------------------------


def test_the_channel_is_checked_and_cli_by_default(engine: Engine, users: Any) -> None:
    with session_scope(engine) as session:
        assert audit.channel_of(session) == "cli"
        with pytest.raises(ValueError, match="unknown audit channel"):
            audit.set_channel(session, "ftp")
        audit.set_channel(session, "web")
        assert session.info[audit.CHANNEL] == "web"
        credentials.set_password(
            session, actor=user(session, "admin"), username="operator", new=PASSWORD
        )
    [event] = events(engine, "user.password_set")
    assert (event.actor, event.channel) == ("admin", "web") and event.os_user
    assert PASSWORD not in json.dumps(event.diff)
    with session_scope(engine) as session:
        assert audit.verify(session).ok


# The commands ---------------------------------------------------------------------------------


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def run(self, *args: str, input: str | None = None) -> Result:
        get_settings.cache_clear()
        return self.runner.invoke(app, list(args), input=input)

    def json(self, *args: str, input: str | None = None) -> Any:
        result = self.run(*args, "--json", input=input)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return json.loads(result.stdout)


def _reset() -> None:
    get_settings.cache_clear()
    for cached in common._engines.values():
        cached.dispose()
    common._engines.clear()


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LUMBUNG_ACTOR", raising=False)
    monkeypatch.chdir(tmp_path)
    _reset()
    yield Cli()
    _reset()


def test_the_credential_commands(engine: Engine, users: Any, cli: Cli) -> None:
    # A password asked twice; a mismatch is asked again.
    result = cli.run(
        "users", "set-password", "operator", "--as", "admin",
        input=f"{PASSWORD}\nlain\n{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wajib diganti" in result.stdout and PASSWORD not in result.stdout
    assert accepted(attempt(engine, "operator")).must_change_password
    body = cli.json(
        "users", "set-password", "operator", "--password-stdin", "--no-forced-change",
        "--as", "admin", input=f"{PASSWORD}\n",
    )  # fmt: skip
    assert body == {"username": "operator", "must_change_password": False}
    weak = cli.run("users", "set-password", "operator", "--password-stdin", "--as", "admin",
                   input="pendek\n")  # fmt: skip
    assert weak.exit_code == 1 and "minimal 10" in weak.output
    denied = cli.run("users", "set-password", "operator", "--password-stdin", "--as", "verifier",
                     input=f"{PASSWORD}\n")  # fmt: skip
    assert denied.exit_code == 1 and "permission_denied" in denied.output

    for _ in range(5):
        refused(attempt(engine, "operator", "x"))
    assert cli.json("users", "unlock", "operator", "--as", "admin")["locked"] is False
    accepted(attempt(engine, "operator", now=NOW + timedelta(seconds=1)))

    enrol(engine, "determiner")
    body = cli.json(
        "users", "reset-totp", "determiner", "--reason", "ponsel hilang", "--as", "admin"
    )
    assert body == {"username": "determiner", "totp": False}
    assert (
        column(engine, "SELECT totp_secret FROM user_account WHERE username='determiner'") is None
    )

    created = cli.run(
        "tokens", "create", "--user", "verifier", "--name", "Mitra", "--expires-days", "30",
        "--as", "admin",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    raw = re.search(r"lmb_[0-9a-f]{8}_\S+", created.stdout)
    assert raw is not None and "tidak ditampilkan lagi" in " ".join(created.stdout.split())
    assert resolve_token(engine, raw.group(), datetime.now(UTC)).username == "verifier"
    listed = cli.json("tokens", "list", "--as", "auditor")
    assert [t["username"] for t in listed] == ["verifier"]
    assert listed[0]["last_used_ip"] == "198.51.100.7" and "token" not in listed[0]
    assert raw.group() not in json.dumps(listed)
    shown_list = cli.run("tokens", "list", "--user", "verifier", "--as", "admin")
    assert shown_list.exit_code == 0 and listed[0]["prefix"] in shown_list.stdout
    assert cli.run("tokens", "revoke", str(listed[0]["id"]), "--reason", "x", "--as",
                   "operator").exit_code == 1  # fmt: skip
    body = cli.json(
        "tokens", "revoke", str(listed[0]["id"]), "--reason", "selesai", "--as", "admin"
    )
    assert body == {"id": listed[0]["id"], "revoked": True}
    assert cli.json("tokens", "list", "--as", "admin")[0]["state"] == "revoked"

    # Every event of the commands: the acting user, the channel, the operating-system user.
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor, AuditEvent.channel, AuditEvent.os_user)
            .where(AuditEvent.action.in_(
                ("user.password_set", "user.unlock", "user.totp_reset", "token.issue",
                 "token.revoke")
            ))
        ).all()  # fmt: skip
    assert {r.action for r in rows} == {
        "user.password_set", "user.unlock", "user.totp_reset", "token.issue", "token.revoke"
    }  # fmt: skip
    assert all(r.actor == "admin" and r.channel == "cli" and r.os_user for r in rows)


def test_sign_in_attempts_name_their_channel(engine: Engine, users: Any) -> None:
    set_password(engine, "operator")
    with session_scope(engine) as session, pytest.raises(ValueError, match="channel"):
        signin.sign_in(session, username="operator", password=PASSWORD, ip=None, channel="x")
    with session_scope(engine) as session:
        signin.sign_in(session, username="operator", password=PASSWORD, ip=None, channel="api")
    with session_scope(engine) as session:
        attempt_row = session.execute(select(SignInAttempt)).scalar_one()
        assert (attempt_row.channel, attempt_row.succeeded, attempt_row.username) == (
            "api",
            True,
            "operator",
        )
