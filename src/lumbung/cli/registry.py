"""`lumbung registry …`: decisions on families in bulk, duplicates, counts, a family, name
search, history."""

from __future__ import annotations

import json
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

registry_app = typer.Typer(
    help="Keluarga di registry: keputusan, duplikat, ringkasan.", no_args_is_help=True
)


def _decide(
    decision: str,
    region: str | None,
    batch: int | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    from lumbung.registry import decisions

    with unit_of_work() as session:
        user = acting_user(session, actor)
        result = decisions.decide(
            session,
            actor=user,
            decision=decision,
            region_code=region,
            import_batch_id=batch,
            reason=reason,
        )
    emit(
        as_json,
        result.as_dict(),
        lambda: say(
            f"{grouped(result.households)} keluarga: {result.status_from} → {result.status_to}"
            f" ({result.region or 'nasional'})"
        ),
    )


BatchOption = typer.Option(None, "--batch", help="Only families of this import batch.")


@registry_app.command("verify")
@handled
def verify(
    region: str | None = RegionOption,
    batch: int | None = BatchOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Verify proposed families (Dinas Sosial): proposed → verified."""
    _decide("verify", region, batch, None, actor, as_json)


@registry_app.command("reject")
@handled
def reject(
    reason: str = typer.Option(..., "--reason"),
    region: str | None = RegionOption,
    batch: int | None = BatchOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Reject proposed families with a reason: proposed → rejected."""
    _decide("reject", region, batch, reason, actor, as_json)


@registry_app.command("determine")
@handled
def determine(
    region: str | None = RegionOption,
    batch: int | None = BatchOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Determine verified families (penetapan, ministry): verified → approved."""
    _decide("determine", region, batch, None, actor, as_json)


@registry_app.command("duplicates")
@handled
def duplicates(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """The review list of NIKs loaded twice with --allow-duplicates (within your region)."""
    from lumbung.identity import mask_id
    from lumbung.registry.duplicates import open_reviews

    with unit_of_work() as session:
        rows = open_reviews(session, actor=acting_user(session, actor))
    emit(
        as_json,
        {"open": len(rows), "reviews": rows},
        lambda: out.print(
            table(
                f"Duplikat NIK menunggu pemeriksaan ({len(rows)})",
                ["id", "NIK", "KK", "KK lain", "batch"],
                [
                    [
                        r["id"],
                        mask_id(r["nik"], distinct=True),
                        r["kk_number"],
                        r["other_kk_number"],
                        r["import_batch_id"],
                    ]
                    for r in rows
                ],
            )
        ),
    )


@registry_app.command("stats")
@handled
def stats(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Families and members by status (within your region)."""
    from lumbung.registry import views

    with unit_of_work() as session:
        found = views.stats(session, acting_user(session, actor))
    emit(
        as_json,
        found.as_dict(),
        lambda: out.print(
            table(
                f"Registry ({found.region or 'nasional'})",
                ["", "status", "jumlah"],
                [["keluarga", k, grouped(v)] for k, v in sorted(found.households.items())]
                + [["anggota", k, grouped(v)] for k, v in sorted(found.members.items())],
            )
        ),
    )


# The member columns `registry show` prints (what PKH and an operator look at first).
MEMBER_SUMMARY = (
    ("NIK", "nik"),
    ("nama", "name"),
    ("L/P", "sex"),
    ("lahir", "birth_date"),
    ("hubungan", "relationship"),
    ("sekolah", "school_level"),
    ("hamil", "pregnant"),
    ("disabilitas", "disability_severity"),
    ("status", "status"),
)


@registry_app.command("show")
@handled
def show(
    kk_number: str | None = typer.Argument(None, help="The family's KK number."),
    nik: str | None = typer.Option(None, "--nik", help="Or a member's NIK."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """One family with its members, by KK or by a member's NIK (for users whose region
    covers it)."""
    from lumbung.registry import views

    if (kk_number is None) == (nik is None):
        raise ValidationFailed("Beri KK, atau --nik NIK (salah satu).")
    with unit_of_work() as session:
        user = acting_user(session, actor)
        # Outside the reader's region, the answer of a KK that does not exist.
        if kk_number is not None:
            found = views.family(session, user, kk=kk_number)
        else:
            found = views.family_by_nik(session, user, nik=str(nik))
    payload = found.as_dict()
    kk_number = found.kk_number

    def human() -> None:
        fields = [
            [c, shown(v)]
            for c, v in payload.items()
            if c not in ("kk_number", "members", "status", "status_reason", "version")
        ]
        why = f", alasan: {payload['status_reason']}" if payload["status_reason"] else ""
        title = f"KK {kk_number} — {payload['status']}{why} (versi {payload['version']})"
        out.print(table(title, ["kolom", "nilai"], fields))
        out.print(
            table(
                "Anggota (semua kolom: --json)",
                [label for label, _ in MEMBER_SUMMARY],
                [[shown(m[c]) for _, c in MEMBER_SUMMARY] for m in payload["members"]],
            )
        )

    emit(as_json, payload, human)


@registry_app.command("search")
@handled
def search(
    name: str = typer.Argument(..., help="The start of a member's name (titles ignored)."),
    region: str | None = RegionOption,
    limit: int = typer.Option(50, "--limit", help="Families per page (at most 1,000)."),
    offset: int = typer.Option(0, "--offset", help="Families to skip (the next page)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Families with a member whose name starts so, within your region (NIKs masked)."""
    from lumbung.registry import views

    with unit_of_work() as session:
        page = views.search_families(
            session,
            acting_user(session, actor),
            name=name,
            region=region,
            limit=limit,
            offset=offset,
        )

    def human() -> None:
        rows = page.items
        shown_rows = f"{grouped(offset + 1)}–{grouped(offset + len(rows))}" if rows else "tidak ada"
        out.print(
            table(
                f"Keluarga dengan nama {name}: {shown_rows} dari {grouped(page.total)} "
                "(rinciannya: lumbung registry show KK)",
                ["KK", "desa", "status", "kepala keluarga", "nama cocok"],
                [
                    [
                        f.kk_number,
                        f.village_code,
                        f.status,
                        shown(f.head_name),
                        "; ".join(f"{m.name} ({m.nik})" for m in f.matches),
                    ]
                    for f in rows
                ],
            )
        )

    emit(as_json, page.as_dict(), human)


@registry_app.command("history")
@handled
def history(kk_number: str, actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """One family's history from the audit chain: its import, every request on it, and what
    each determination changed (for users whose region covers it)."""
    from lumbung.registry import views

    with unit_of_work() as session:
        found = views.history(session, acting_user(session, actor), kk=kk_number)
    payload = found.as_dict()

    def human() -> None:
        reason = f", alasan: {payload['status_reason']}" if payload["status_reason"] else ""
        say(
            f"KK {payload['kk_number']} — desa {payload['village_code']}, {payload['status']}"
            f"{reason} (versi {payload['version']})"
        )
        rows = [
            [
                e["id"],
                e["at"][:19],
                e["actor"],
                e["action"],
                shown(e["request"]),
                "; ".join(
                    part
                    for part in (
                        _changes_said(e["changes"]),
                        f"alasan: {e['reason']}" if e["reason"] else "",
                    )
                    if part
                ),
            ]
            for e in payload["events"]
        ]
        out.print(
            table(
                "Riwayat (isi lengkap: --json; keputusan massal tidak diulang per keluarga)",
                ["id", "waktu", "pelaku", "aksi", "usulan", "perubahan"],
                rows,
            )
        )

    emit(as_json, payload, human)


def _changes_said(changes: dict[str, Any]) -> str:
    """What an event changed, in one line: `toilet: sendiri → umum; 3171…: pregnant: 0 → 1`."""
    parts = [f"{c}: {shown(a)} → {shown(b)}" for c, (a, b) in changes.get("household", {}).items()]
    for member in changes.get("members", []):
        said = ", ".join(f"{c}: {shown(a)} → {shown(b)}" for c, (a, b) in member["changes"].items())
        parts.append(f"anggota {member['nik']}: {said}")
    if "proposed" in changes:
        proposed = json.dumps(changes["proposed"], ensure_ascii=False, default=str)
        parts.append("usul: " + (proposed if len(proposed) <= 70 else proposed[:69] + "…"))
    if changes.get("duplicate_reviews_resolved"):
        parts.append(f"tinjauan duplikat selesai: {changes['duplicate_reviews_resolved']}")
    if "import_batch" in changes:
        parts.append(f"batch impor {changes['import_batch']} (masuk sebagai {changes['status']})")
    return "; ".join(parts)
