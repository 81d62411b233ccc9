"""`lumbung import`, `lumbung registry …`, `lumbung request …`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    acting_user,
    console,
    emit,
    error_line,
    handled,
    out,
    say,
    settings,
    shown,
    table,
    unit_of_work,
)
from lumbung.errors import ValidationFailed
from lumbung.identity import mask_id
from lumbung.numbers import grouped
from lumbung.registry import decisions, views
from lumbung.registry import service as requests_service
from lumbung.registry.check_sql import printable
from lumbung.registry.duplicates import open_reviews
from lumbung.registry.importer import ImportRequest, import_batch

registry_app = typer.Typer(
    help="Keluarga di registry: keputusan, duplikat, ringkasan.", no_args_is_help=True
)
request_app = typer.Typer(
    help="Usulan perubahan: diajukan desa, diverifikasi kabupaten/kota, ditetapkan kementerian.",
    no_args_is_help=True,
)


# The import summary's counts, as an operator reads them (the JSON keeps the field names).
SUMMARY_LABELS = {
    "households_read": "keluarga dibaca",
    "members_read": "anggota dibaca",
    "households_accepted": "keluarga diterima",
    "members_accepted": "anggota diterima",
    "households_rejected": "keluarga ditolak",
    "members_rejected": "anggota ditolak",
    "households_unchanged": "keluarga sudah terdaftar, tidak berubah",
    "members_unchanged": "anggota sudah terdaftar, tidak berubah",
    "duplicates_for_review": "NIK ganda untuk diperiksa",
    "errors_total": "galat",
    "warnings_total": "peringatan",
    "reject_file_rows": "masalah di berkas tolakan",
    "reject_file_omitted": "masalah tidak ditulis (batas berkas tolakan)",
}


@handled
def import_command(
    paths: list[Path] = typer.Argument(
        ..., help="households.csv + members.csv, an XLSX, or a folder."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check everything, load nothing."),
    status: str = typer.Option(
        "proposed",
        help="Entry status: proposed, or verified/approved "
        "when migrating an existing registry (admin).",
    ),
    allow_duplicates: bool = typer.Option(
        False, "--allow-duplicates", help="Load duplicate NIKs and queue them for review."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Check a batch of families and load the good rows; every rejected row gets its reason."""
    s = settings()
    request = ImportRequest(
        paths=paths,
        rejects_dir=s.rejects_dir,
        status=status,
        dry_run=dry_run,
        allow_duplicates=allow_duplicates,
    )
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("impor", total=None)
        with unit_of_work() as session:
            user = acting_user(session, actor)
            summary = import_batch(
                session,
                actor=user,
                request=request,
                progress=lambda stage: progress.update(task, description=stage),
            )
            if dry_run:
                session.rollback()
    result = summary.as_dict()

    def human() -> None:
        rows = [[label, grouped(result[key])] for key, label in SUMMARY_LABELS.items()]
        if summary.batch_id is not None:
            rows.append(["nomor batch (untuk --batch)", str(summary.batch_id)])
        out.print(
            table(
                "Hasil impor" + (" (dry run: tidak ada yang dimuat)" if dry_run else ""),
                ["", "jumlah"],
                rows,
            )
        )
        for e in summary.errors[:20]:
            out.print(error_line(e), highlight=False)
        if summary.errors_total > 20:
            say(f"… dan {grouped(summary.errors_total - 20)} galat lain.")
        if summary.reject_file:
            say(f"Berkas tolakan: {summary.reject_file}")
        if summary.reject_file_omitted:
            say(
                f"Berkas tolakan memuat {grouped(summary.reject_file_rows)} masalah pertama "
                f"(galat lebih dulu); {grouped(summary.reject_file_omitted)} masalah lain tidak "
                "ditulis."
            )

    emit(as_json, result, human)


def _decide(
    decision: str,
    region: str | None,
    batch: int | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
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


RegionOption = typer.Option(
    None, "--region", help="Region code at any level (default: your scope)."
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


PAYLOAD_BYTES = 1 << 20  # a family's proposal is a few kilobytes


def _payload(text: str) -> dict[str, Any]:
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
    kind: str = typer.Option(..., "--kind", help=", ".join(requests_service.KINDS)),
    payload: str = typer.Option(..., "--payload", help="JSON text or a JSON file."),
    kk_number: str | None = typer.Option(None, "--kk"),
    version: int | None = typer.Option(None, "--version", help="The family's version you edited."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Propose a new family or a change (village operator)."""
    with unit_of_work() as session:
        user = acting_user(session, actor)
        proposal = requests_service.propose(
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
    with unit_of_work() as session:
        user = acting_user(session, actor)
        if name == "verify":
            request = requests_service.verify(session, actor=user, request_id=request_id)
        elif name == "reject":
            request = requests_service.reject(
                session, actor=user, request_id=request_id, reason=reason or ""
            )
        else:
            request = requests_service.determine(session, actor=user, request_id=request_id)
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
