"""`lumbung users set-password|unlock|reset-totp`, `lumbung tokens …`: credentials for the web
application and the API, managed by an admin at the server."""

from __future__ import annotations

import sys

import typer

from lumbung.auth import credentials, tokens
from lumbung.cli.admin import users_app
from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    acting_user,
    emit,
    handled,
    out,
    say,
    shown,
    table,
    unit_of_work,
)
from lumbung.errors import ValidationFailed

tokens_app = typer.Typer(
    help="API tokens for partners and services: shown once, stored hashed, expiring.",
    no_args_is_help=True,
)


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise ValidationFailed("Tidak ada kata sandi di masukan standar (--password-stdin).")
        return line.rstrip("\r\n")
    value: str = typer.prompt(
        "Kata sandi baru",
        hide_input=True,
        confirmation_prompt="Ulangi kata sandi baru",
        err=True,
    )
    return value


@users_app.command("set-password")
@handled
def users_set_password(
    username: str,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    no_forced_change: bool = typer.Option(
        False,
        "--no-forced-change",
        help="Do not make the user choose a new password at the next sign-in.",
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Set or reset a user's password (admin); asked twice, never on the command line. The
    user must choose their own at the next sign-in; their sessions end and any lock is lifted."""
    password = _new_password(password_stdin)
    with unit_of_work() as session:
        user = credentials.set_password(
            session,
            actor=acting_user(session, actor),
            username=username,
            new=password,
            force_change=not no_forced_change,
        )
        payload = {"username": user.username, "must_change_password": not no_forced_change}
    emit(
        as_json,
        payload,
        lambda: say(
            f"Kata sandi {username} disetel"
            + ("; wajib diganti saat masuk berikutnya." if not no_forced_change else ".")
        ),
    )


@users_app.command("unlock")
@handled
def users_unlock(
    username: str, actor: str | None = ActorOption, as_json: bool = JsonOption
) -> None:
    """Lift a sign-in lock now (admin), and clear the count of failed attempts."""
    with unit_of_work() as session:
        user = credentials.unlock(session, actor=acting_user(session, actor), username=username)
        payload = {"username": user.username, "locked": False}
    emit(as_json, payload, lambda: say(f"Kunci masuk {username} dibuka."))


@users_app.command("reset-totp")
@handled
def users_reset_totp(
    username: str,
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit trail)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove a user's TOTP second factor (admin; a lost phone): they enrol again at their next
    sign-in. Their sessions end."""
    with unit_of_work() as session:
        user = credentials.reset_totp(
            session, actor=acting_user(session, actor), username=username, reason=reason
        )
        payload = {"username": user.username, "totp": False}
    emit(
        as_json,
        payload,
        lambda: say(f"TOTP {username} direset; daftarkan lagi saat masuk berikutnya."),
    )


@tokens_app.command("create")
@handled
def tokens_create(
    username: str = typer.Option(..., "--user", help="The user the token acts as."),
    name: str = typer.Option(..., "--name", help="What the token is for (a partner, a service)."),
    expires_days: int = typer.Option(
        tokens.DEFAULT_DAYS, "--expires-days", help=f"Days until it expires (1–{tokens.MAX_DAYS})."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Issue an API token (admin): printed once, only its hash is kept."""
    with unit_of_work() as session:
        raw, token = tokens.issue(
            session,
            actor=acting_user(session, actor),
            username=username,
            name=name,
            expires_days=expires_days,
        )
        payload = {
            "id": token.id,
            "token": raw,
            "prefix": f"{tokens.PREFIX}_{token.prefix}",
            "username": username,
            "role": token.role.value,
            "region_code": token.region_code,
            "expires_at": token.expires_at.isoformat(),
        }

    def human() -> None:
        say(
            f"Token {payload['id']} untuk {username} ({payload['role']}, "
            f"{payload['region_code'] or 'nasional'}), berlaku sampai "
            f"{token.expires_at:%Y-%m-%d}. Simpan sekarang: token ini tidak ditampilkan lagi."
        )
        say(raw)

    emit(as_json, payload, human)


@tokens_app.command("list")
@handled
def tokens_list(
    username: str | None = typer.Option(None, "--user", help="Only this user's tokens."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """API tokens (admins and auditors: all; others: their own), never their secrets."""
    with unit_of_work() as session:
        views = tokens.list_tokens(session, acting_user(session, actor), username=username)
        rows = [v.as_dict() for v in views]
    emit(
        as_json,
        rows,
        lambda: out.print(
            table(
                "Token API",
                [
                    "id",
                    "nama",
                    "awalan",
                    "pengguna",
                    "peran",
                    "wilayah",
                    "berlaku s.d.",
                    "status",
                    "terakhir dipakai",
                    "dari",
                ],
                [
                    [
                        r["id"],
                        r["name"],
                        r["prefix"],
                        r["username"],
                        r["role"],
                        r["region_code"] or "nasional",
                        str(r["expires_at"])[:10],
                        {"active": "aktif", "expired": "kedaluwarsa", "revoked": "dicabut"}[
                            str(r["state"])
                        ],
                        shown(str(r["last_used_at"])[:16] if r["last_used_at"] else None),
                        shown(r["last_used_ip"]),
                    ]
                    for r in rows
                ],
            )
        ),
    )


@tokens_app.command("revoke")
@handled
def tokens_revoke(
    token_id: int = typer.Argument(..., metavar="ID"),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit trail)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Revoke an API token now (admin)."""
    with unit_of_work() as session:
        token = tokens.revoke(
            session, actor=acting_user(session, actor), token_id=token_id, reason=reason
        )
        payload = {"id": token.id, "revoked": True}
    emit(as_json, payload, lambda: say(f"Token {token_id} dicabut."))
