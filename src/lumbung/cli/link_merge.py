"""`lumbung link merge|merges|merge-report`: another registry's export merged through the
workflow (linkage/merge.py), the merges listed, and what each source added per region."""

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
    console,
    emit,
    handled,
    out,
    say,
    settings,
    table,
    unit_of_work,
    window_title,
)
from lumbung.numbers import grouped

HEADINGS = ["cocok", "cocok beda", "baru", "konflik", "diusulkan", "usulan terbuka", "di luar"]


@handled
def merge_command(
    source_dir: Path = typer.Argument(
        ..., help="The export: a folder with households.csv and members.csv, or the files."
    ),
    source: str = typer.Option(..., "--source", help="The source's name, e.g. dinsos-jabar."),
    # No default here: the service's bound (merge_proposals.MAX_PROPOSALS) is loaded with the
    # service, when the command runs.
    limit: int | None = typer.Option(
        None,
        "--limit",
        help="At most this many change requests now (default: 1000); the rest by the next merge.",
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Link another registry's export against the latest release; propose its matched
    records' differences and its new families as change requests."""
    from lumbung.linkage import merge, merge_proposals

    with unit_of_work() as session:
        found = merge.merge_source(
            session,
            actor=acting_user(session, actor),
            paths=[source_dir],
            source=source,
            data_dir=settings().data_dir,
            releases_dir=settings().releases_dir,
            limit=merge_proposals.MAX_PROPOSALS if limit is None else limit,
            progress=lambda step: say(f"… {step}", to=console),
        )

    def human() -> None:
        say(
            f"Penggabungan {found.merge_id} ({found.source}, rilis {found.release}): "
            f"{grouped(found.records)} baris; {grouped(found.matched)} cocok "
            f"({grouped(found.matched_differing)} dengan kolom berbeda), {grouped(found.new)} "
            f"baru, {grouped(found.conflicting)} konflik, {grouped(found.outside)} di luar "
            "wilayah."
        )
        say(
            f"Usulan perubahan: {grouped(found.proposals)} dibuat, {grouped(found.proposals_open)} "
            f"baris sudah punya usulan terbuka, {grouped(found.proposals_refused)} ditolak "
            f"pemeriksaan, {grouped(found.proposals_deferred)} ditunda."
        )

    emit(as_json, found.as_dict(), human)


@handled
def merges_command(
    source: str | None = typer.Option(None, "--source", help="One source's merges only."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """The merges, newest first (counts only)."""
    from lumbung.linkage import merge_report

    with unit_of_work() as session:
        found = merge_report.list_merges(session, acting_user(session, actor), source=source)

    def human() -> None:
        out.print(
            table(
                "Penggabungan registry lain",
                ["no", "sumber", "waktu", "oleh", "baris", "cocok", "baru", "konflik", "usulan"],
                [
                    [
                        str(m.id),
                        m.source,
                        m.at.strftime("%Y-%m-%d %H:%M"),
                        m.actor,
                        grouped(m.counts["records"]),
                        grouped(m.counts["matched"]),
                        grouped(m.counts["new"]),
                        grouped(m.counts["conflicting"]),
                        grouped(m.counts["proposals"]),
                    ]
                    for m in found
                ],
            )
        )

    emit(as_json, [m.as_dict() for m in found], human)


@handled
def merge_report_command(
    source: str | None = typer.Option(None, "--source", help="One source (its latest merge)."),
    merge_id: int | None = typer.Option(None, "--merge", help="One merge by its number."),
    region: str | None = RegionOption,
    level: str | None = typer.Option(
        None, "--level", help="province or regency (default: province nationally)."
    ),
    csv_path: Path | None = typer.Option(None, "--csv", help="Also write the report as CSV."),
    xlsx_path: Path | None = typer.Option(None, "--xlsx", help="Also write it as XLSX."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """What each source added per region: matched, new, conflicting, proposed."""
    from lumbung.linkage import merge_report

    with unit_of_work() as session:
        found = merge_report.merge_report(
            session,
            acting_user(session, actor),
            region=region,
            level=level,
            merge_id=merge_id,
            source=source,
        )
    if csv_path is not None:
        csv_path.write_text(merge_report.report_csv(found), encoding="utf-8")
    if xlsx_path is not None:
        xlsx_path.write_bytes(merge_report.report_xlsx(found))

    def human() -> None:
        measures = [m for m in merge_report.MEASURES if m != "records"]
        out.print(
            table(
                f"Sumbangan registry lain ({found.region or 'nasional'}, per {found.level})",
                ["sumber", "wilayah", "baris", *HEADINGS],
                [
                    [
                        r.source,
                        f"{r.region_name} ({r.region_code})",
                        grouped(r.counts["records"]),
                        *(grouped(r.counts[m]) for m in measures),
                    ]
                    for r in found.rows
                ]
                + [
                    ["jumlah", "", grouped(found.total["records"])]
                    + [grouped(found.total[m]) for m in measures]
                ],
            )
        )
        for written in (csv_path, xlsx_path):
            if written is not None:
                say(f"Ditulis: {written}")

    emit(as_json, found.as_dict(), human)


@handled
def merge_records_command(
    merge_id: int = typer.Argument(..., help="The merge's number."),
    outcome: str | None = typer.Option(None, "--outcome", help="matched, new or conflicting."),
    region: str | None = RegionOption,
    limit: int = LimitOption,
    offset: int = OffsetOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """A merge's records within your region: outcome, fields that differ, the request."""
    from lumbung.linkage import merge_report

    with unit_of_work() as session:
        found = merge_report.merge_records(
            session,
            acting_user(session, actor),
            merge_id=merge_id,
            outcome=outcome,
            region=region,
            limit=limit,
            offset=offset,
        )

    def human() -> None:
        out.print(
            table(
                window_title("Baris", offset, len(found.items), found.total),
                ["baris", "KK", "NIK", "hasil", "kolom beda", "usulan"],
                [
                    [
                        str(r.row),
                        r.kk_number,
                        r.nik,
                        r.outcome,
                        ", ".join(r.differs),
                        str(r.change_request_id or "") or (r.note or ""),
                    ]
                    for r in found.items
                ],
            )
        )

    emit(as_json, found.as_dict(), human)


def register(link_app: typer.Typer) -> None:
    """Add the merge commands to `lumbung link`."""
    link_app.command("merge")(merge_command)
    link_app.command("merges")(merges_command)
    link_app.command("merge-report")(merge_report_command)
    link_app.command("merge-records")(merge_records_command)
