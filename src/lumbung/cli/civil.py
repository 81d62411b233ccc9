"""`lumbung civil …`: civil registry (Dukcapil) matching: importing an extract, the imports,
the members an import marked, and the match rate per region."""

from __future__ import annotations

from pathlib import Path

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    LimitOption,
    OffsetOption,
    RegionOption,
    acting_user,
    emit,
    error_line,
    handled,
    out,
    say,
    settings,
    table,
    unit_of_work,
    window_title,
)
from lumbung.numbers import grouped

civil_app = typer.Typer(
    help="Civil registry (Dukcapil) matching: import an extract, report the match rate.",
    no_args_is_help=True,
)

IMPORT_LABELS = {
    "rows_read": "baris ekstrak dibaca",
    "rows_rejected": "baris ditolak",
    "members": "anggota ditandai",
    "unmarked": "anggota tidak ditandai (barisnya ditolak)",
    "matched": "padan",
    "mismatched": "tidak padan",
    "deceased": "meninggal",
    "not_found": "tidak ditemukan",
    "proposals": "usulan perubahan dibuat",
    "proposals_open": "usulan yang sama masih terbuka",
    "proposals_refused": "usulan ditolak pemeriksaan (lihat catatan anggota)",
    "dukcapil_match_changed": "status padan anggota berubah",
}
OUTCOME_WORDS = {
    "matched": "padan",
    "mismatched": "tidak padan",
    "deceased": "meninggal",
    "not_found": "tidak ditemukan",
}


@civil_app.command("import")
@handled
def import_command(
    path: Path = typer.Argument(
        ..., help="CSV: nik,kk_number,name,birth_place,birth_date,sex,death_date."
    ),
    region: str | None = typer.Option(
        None, "--region", help="The area the extract covers (default: your region)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Mark even when most members of the area are not in the extract."
    ),
    confirm_removals: int | None = typer.Option(
        None,
        "--confirm-removals",
        help="The number of members not found (each proposed for removal) that a first run "
        "without this option counted: required when there are any.",
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Import a Dukcapil extract: mark the members of the area, propose the changes found."""
    from lumbung.civil import service

    with unit_of_work() as session:
        summary = service.import_extract(
            session,
            actor=acting_user(session, actor),
            path=path,
            rejects_dir=settings().rejects_dir,
            region=region,
            force=force,
            confirm_removals=confirm_removals,
        )
    result = summary.as_dict()

    def human() -> None:
        if summary.needs_confirmation:
            if summary.warning:
                say(summary.warning)
            say(summary.message)
            say(
                f"Di baris perintah: `lumbung civil import {path} "
                + (f"--region {region} " if region else "")
                + ("--force " if force else "")
                + f"--confirm-removals {summary.removals}`."
            )
            return
        if summary.warning:
            say(summary.warning)
        if not summary.refused and not summary.already_imported:
            rows = [[label, grouped(result[key])] for key, label in IMPORT_LABELS.items()]
            rows += [
                [f"  beda {name}", grouped(count)]
                for name, count in summary.mismatched_fields.items()
            ]
            out.print(table("Impor ekstrak Dukcapil", ["", "jumlah"], rows))
        for e in summary.errors[:20]:
            out.print(error_line(e), highlight=False)
        if summary.errors_total > 20:
            say(f"… dan {grouped(summary.errors_total - 20)} galat lain.")
        say(summary.message)
        if summary.reject_file:
            say(f"Berkas tolakan: {summary.reject_file}")

    emit(as_json, result, human)
    if summary.refused:
        raise typer.Exit(2)
    if summary.needs_confirmation:  # nothing imported: a script must not take it for done
        raise typer.Exit(3)


@civil_app.command("imports")
@handled
def imports_command(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """The extracts imported within your region, newest first."""
    from lumbung.civil import service

    with unit_of_work() as session:
        found = service.list_imports(session, acting_user(session, actor))

    def human() -> None:
        out.print(
            table(
                "Impor ekstrak Dukcapil",
                [
                    "id",
                    "waktu",
                    "oleh",
                    "wilayah",
                    "anggota",
                    "padan",
                    "tidak padan",
                    "meninggal",
                    "tidak ditemukan",
                    "usulan",
                ],
                [
                    [
                        str(i.id),
                        i.at[:16],
                        i.actor,
                        i.region_code or "nasional",
                        grouped(i.members),
                        grouped(i.matched),
                        grouped(i.mismatched),
                        grouped(i.deceased),
                        grouped(i.not_found),
                        grouped(i.proposals),
                    ]
                    for i in found
                ],
            )
        )

    emit(as_json, [i.as_dict() for i in found], human)


@civil_app.command("members")
@handled
def members_command(
    import_id: int = typer.Argument(..., help="The import's id (lumbung civil imports)."),
    outcome: str | None = typer.Option(
        None, "--outcome", help="matched, mismatched, deceased or not_found."
    ),
    region: str | None = RegionOption,
    limit: int = LimitOption,
    offset: int = OffsetOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """The members an import marked, within your region (NIKs and names masked for readers
    not entitled to them)."""
    from lumbung.civil import service

    with unit_of_work() as session:
        found = service.list_results(
            session,
            acting_user(session, actor),
            import_id=import_id,
            outcome=outcome,
            region=region,
            limit=limit,
            offset=offset,
        )

    def human() -> None:
        out.print(
            table(
                window_title("Anggota", offset, len(found.items), found.total),
                ["KK", "NIK", "nama", "hasil", "kolom beda", "NIK Dukcapil", "meninggal", "usulan"],
                [
                    [
                        m.kk_number,
                        m.nik,
                        m.name,
                        OUTCOME_WORDS[m.outcome],
                        ", ".join(m.fields),
                        m.extract_nik or "",
                        m.death_date or "",
                        str(m.change_request_id or "") or (m.note or ""),
                    ]
                    for m in found.items
                ],
            )
        )

    emit(as_json, found.as_dict(), human)


@civil_app.command("report")
@handled
def report_command(
    region: str | None = RegionOption,
    level: str | None = typer.Option(
        None, "--level", help="province, regency or district (default: one below the region)."
    ),
    import_id: int | None = typer.Option(
        None, "--import", help="One import only (default: each member's latest result)."
    ),
    csv_path: Path | None = typer.Option(None, "--csv", help="Also write the report as CSV."),
    xlsx_path: Path | None = typer.Option(None, "--xlsx", help="Also write it as XLSX."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """The match rate per region: matched, mismatched (by field), deceased, not found."""
    from lumbung.civil import export, report

    with unit_of_work() as session:
        found = report.match_rate(
            session, acting_user(session, actor), region=region, level=level, import_id=import_id
        )
    if csv_path is not None:
        csv_path.write_text(export.report_csv(found), encoding="utf-8")
    if xlsx_path is not None:
        xlsx_path.write_bytes(export.report_xlsx(found))

    def human() -> None:
        def line(name: str, r: report.Rates) -> list[str]:
            return [
                name,
                grouped(r.members),
                f"{grouped(r.matched)} ({r.percent['matched']} %)",
                f"{grouped(r.mismatched)} ({r.percent['mismatched']} %)",
                f"{grouped(r.deceased)} ({r.percent['deceased']} %)",
                f"{grouped(r.not_found)} ({r.percent['not_found']} %)",
                " ".join(f"{k}:{grouped(v)}" for k, v in r.fields.items() if v),
            ]

        out.print(
            table(
                f"Padan Dukcapil ({found.region or 'nasional'}, per {found.level})",
                [
                    "wilayah",
                    "anggota",
                    "padan",
                    "tidak padan",
                    "meninggal",
                    "tidak ditemukan",
                    "kolom beda",
                ],
                [line(f"{r.region_name} ({r.region_code})", r.rates) for r in found.rows]
                + [line("jumlah", found.total)],
            )
        )
        say(found.labels["fields"])
        for written in (csv_path, xlsx_path):
            if written is not None:
                say(f"Ditulis: {written}")

    emit(as_json, found.as_dict(), human)
