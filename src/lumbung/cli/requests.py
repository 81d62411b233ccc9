"""`lumbung request …`: change requests proposed, verified, rejected, determined, listed and
shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    RegionOption,
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
from lumbung.numbers import grouped
from lumbung.registry.vocab import REQUEST_KINDS

request_app = typer.Typer(
    help="Usulan perubahan: diajukan desa, diverifikasi kabupaten/kota, ditetapkan kementerian.",
    no_args_is_help=True,
)


PAYLOAD_BYTES = 1 << 20  # a family's proposal is a few kilobytes


def _payload(text: str) -> dict[str, Any]:
    from lumbung.registry.check_sql import printable

    path = Path(text)
    try:
        is_file = path.exists() and not path.is_dir()
    except OSError:  # inline JSON longer than a file name may be ("File name too long")
        is_file = False
    if not is_file and text.strip().lower().endswith(".json"):
        raise ValidationFailed(f"Berkas payload {printable(text)} tidak ditemukan.")
    raw = _payload_file(path) if is_file else text
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"Payload bukan JSON yang sah (baris {exc.lineno}, kolom {exc.colno})."
        ) from exc
    if not isinstance(value, dict):
        raise ValidationFailed("Payload harus objek JSON.")
    return value


def _payload_file(path: Path) -> str:
    """A payload file's text: a regular file of at most `PAYLOAD_BYTES`, UTF-8 (a device such
    as /dev/zero would be read forever)."""
    if not path.is_file():
        raise ValidationFailed("Berkas payload bukan berkas biasa (perangkat atau pipa?).")
    with path.open("rb") as handle:
        raw = handle.read(PAYLOAD_BYTES + 1)
    if len(raw) > PAYLOAD_BYTES:
        raise ValidationFailed(f"Berkas payload lebih dari {PAYLOAD_BYTES // (1 << 20)} MB.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("Berkas payload bukan teks UTF-8.") from exc


@request_app.command("propose")
@handled
def propose(
    kind: str = typer.Option(..., "--kind", help=", ".join(REQUEST_KINDS)),
    payload: str = typer.Option(..., "--payload", help="JSON text or a JSON file."),
    kk_number: str | None = typer.Option(None, "--kk"),
    version: int | None = typer.Option(None, "--version", help="The family's version you edited."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Propose a new family or a change (village operator)."""
    from lumbung.registry import proposals, views

    with unit_of_work() as session:
        user = acting_user(session, actor)
        proposal = proposals.propose(
            session,
            actor=user,
            kind=kind,
            payload=_payload(payload),
            kk_number=kk_number,
            base_version=version,
        )
        row = {
            **views.request_row(session, proposal.request).as_dict(),
            "warnings": proposal.warnings,
        }

    def human() -> None:
        say(f"Usulan {row['id']} ({kind}) diajukan.")
        for w in row["warnings"]:
            who = f"anggota {w['nik']}" if w["nik"] else "keluarga"
            say(f"Peringatan — {who}, {w['column']}: {w['message']} ({w['code']})")

    emit(as_json, row, human)


def _step(
    name: str, request_id: int, actor: str | None, as_json: bool, reason: str | None = None
) -> None:
    from lumbung.registry import views, workflow

    with unit_of_work() as session:
        user = acting_user(session, actor)
        if name == "verify":
            request = workflow.verify(session, actor=user, request_id=request_id)
        elif name == "reject":
            request = workflow.reject(
                session, actor=user, request_id=request_id, reason=reason or ""
            )
        else:
            request = workflow.determine(session, actor=user, request_id=request_id)
        row = views.request_row(session, request).as_dict()
    emit(as_json, row, lambda: say(f"Usulan {request_id}: {row['state']}."))


@request_app.command("verify")
@handled
def request_verify(
    request_id: int, actor: str | None = ActorOption, as_json: bool = JsonOption
) -> None:
    """Verify a proposal (regency social office)."""
    _step("verify", request_id, actor, as_json)


@request_app.command("reject")
@handled
def request_reject(
    request_id: int,
    reason: str = typer.Option(..., "--reason"),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Reject a proposal with a reason."""
    _step("reject", request_id, actor, as_json, reason)


@request_app.command("determine")
@handled
def request_determine(
    request_id: int, actor: str | None = ActorOption, as_json: bool = JsonOption
) -> None:
    """Determine a verified proposal and apply it (ministry)."""
    _step("determine", request_id, actor, as_json)


@request_app.command("list")
@handled
def request_list(
    state: str = typer.Option("proposed", "--state"),
    region: str | None = RegionOption,
    limit: int = typer.Option(1000, "--limit", help="Rows per page (at most 1,000)."),
    offset: int = typer.Option(0, "--offset", help="Rows to skip (the next page)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Proposals in a state, within your region, oldest first."""
    from lumbung.registry import views

    with unit_of_work() as session:
        page = views.requests(
            session,
            acting_user(session, actor),
            status=state,
            region=region,
            limit=limit,
            offset=offset,
        )
    rows = [r.as_dict() for r in page.items]

    def human() -> None:
        out.print(
            table(
                f"Usulan {state} (rinciannya: lumbung request show ID)",
                ["id", "jenis", "KK", "desa", "oleh"],
                [
                    [r["id"], r["kind"], r["kk_number"], r["village_code"], r["proposed_by"]]
                    for r in rows
                ],
            )
        )
        if page.total > offset + len(rows):
            say(f"… {grouped(page.total - offset - len(rows))} usulan lagi (--offset).")

    emit(as_json, rows, human)


@request_app.command("show")
@handled
def request_show(
    request_id: int, actor: str | None = ActorOption, as_json: bool = JsonOption
) -> None:
    """One proposal in full: the family, what is proposed and, for an update, the values now."""
    from lumbung.registry import views

    with unit_of_work() as session:
        detail = views.request_detail(session, acting_user(session, actor), request_id=request_id)
    payload = detail.as_dict()
    emit(as_json, payload, lambda: _print_request(payload))


def _compared(
    decided: bool, before: dict[str, Any], column: str, now: Any, proposed: Any
) -> list[str]:
    """One proposed value's cells: the value now and the proposal; for a determined update the
    value before it (`(tetap)`: it did not change), the proposal and the value now."""
    if not decided:
        return [shown(now), shown(proposed)]
    was = shown(before[column]) if column in before else "(tetap)"
    return [was, shown(proposed), shown(now)]


def _by(who: str | None, at: str | None) -> str:
    """`pusdatin (2026-11-27 03:35 UTC)`, or `—` for a step not taken."""
    if who is None:
        return "—"
    return f"{who} ({at[:16].replace('T', ' ')} UTC)" if at else who


def _print_request(view: dict[str, Any]) -> None:
    family = (
        f"keluarga {view['household_status']}, versi {view['household_version']}"
        if view["household_status"] is not None
        else "keluarga kini di luar wilayah Anda"
    )
    say(
        f"Usulan {view['id']} · {view['kind']} · {view['state']} — KK {view['kk_number']}, "
        f"desa usulan {view['village_code']} ({family}; usulan atas versi "
        f"{view['base_version'] or '—'})"
    )
    say(
        f"Diajukan oleh {_by(view['proposed_by'], view['proposed_at'])}; diverifikasi oleh "
        f"{_by(view['verified_by'], view['verified_at'])}; diputuskan oleh "
        f"{_by(view['decided_by'], view['decided_at'])}"
        + (f"; alasan: {view['reason']}" if view["reason"] else "")
    )
    if view["family_changed"]:
        say(
            "Keluarga ini berubah sejak usulan dibuat: usulan tidak bisa diverifikasi atau "
            f"ditetapkan lagi. Tolak (lumbung request reject {view['id']} --reason …) dan "
            "ajukan ulang atas data terbaru."
        )
    proposed, current, before = view["payload"], view["current"], view["before"]
    # A determined update also shows what it changed from.
    decided = bool(before)
    heads = ["sebelum", "usulan", "sekarang"] if decided else ["sekarang", "usulan"]
    if view["kind"] == "update":
        rows = [
            [c, *_compared(decided, before, c, current.get(c), v)]
            for c, v in proposed.get("changes", {}).items()
        ]
        out.print(table("Perubahan yang diusulkan", ["kolom", *heads], rows))
        return
    if view["kind"] == "update_member":
        rows = [
            [
                item["nik"],
                c,
                *_compared(
                    decided, before.get(item["nik"], {}), c, current.get(item["nik"], {}).get(c), v
                ),
            ]
            for item in proposed["members"]
            for c, v in item["changes"].items()
        ]
        out.print(table("Perubahan anggota yang diusulkan", ["NIK", "kolom", *heads], rows))
        return
    members = proposed.get("members", [])
    fields = proposed.get("household") or proposed.get("member") or proposed
    if fields:
        out.print(table("Data yang diusulkan", ["kolom", "nilai"], list(map(list, fields.items()))))
    if members:
        columns = ["nik", "name", "sex", "birth_date", "relationship"]
        out.print(
            table(
                "Anggota yang diusulkan",
                ["NIK", "nama", "L/P", "lahir", "hubungan"],
                [[m.get(c) or "—" for c in columns] for m in members],
            )
        )
