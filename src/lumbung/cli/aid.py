"""`lumbung aid …`: in-kind aid (ATENSI, Tagana): the catalogue, importing handovers, the
realisation report."""

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

aid_app = typer.Typer(
    help="In-kind aid: item catalogue, handovers imported from CSV, realisation report.",
    no_args_is_help=True,
)

IMPORT_LABELS = {
    "rows_read": "baris dibaca",
    "accepted": "penyerahan dimuat",
    "unchanged": "sudah tercatat, tidak berubah",
    "rejected": "baris ditolak",
    "accepted_in_registry": "dimuat untuk orang yang terdaftar di registry",
    "errors_total": "galat",
    "warnings_total": "peringatan",
}


@aid_app.command("import")
@handled
def import_command(
    path: Path = typer.Argument(
        ..., help="CSV: program,nik,name,item,quantity,unit_value_idr,date,village_code."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check everything, load nothing."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Import handovers of in-kind aid; every rejected row gets its reason."""
    from lokal.rupiah import format_rupiah

    from lumbung.aid.importer import import_distributions

    with unit_of_work() as session:
        summary = import_distributions(
            session,
            actor=acting_user(session, actor),
            path=path,
            rejects_dir=settings().rejects_dir,
            dry_run=dry_run,
        )
        if dry_run:
            session.rollback()
    result = summary.as_dict()

    def human() -> None:
        rows = [[label, grouped(result[key])] for key, label in IMPORT_LABELS.items()]
        rows.append(["nilai dimuat", format_rupiah(summary.accepted_value_idr)])
        out.print(table("Impor bantuan barang", ["", "jumlah"], rows))
        for e in summary.errors[:20]:
            out.print(error_line(e), highlight=False)
        if summary.errors_total > 20:
            say(f"… dan {grouped(summary.errors_total - 20)} galat lain.")
        say(summary.message)
        if summary.reject_file:
            say(f"Berkas tolakan: {summary.reject_file}")

    emit(as_json, result, human)
    if summary.refused:  # a file that is not one: as a batch that cannot be read
        raise typer.Exit(2)


@aid_app.command("report")
@handled
def report_command(
    program: str | None = typer.Option(None, "--program", help="One program (default: all)."),
    region: str | None = RegionOption,
    level: str | None = typer.Option(
        None, "--level", help="province, regency, district or village (default: one below)."
    ),
    csv_path: Path | None = typer.Option(None, "--csv", help="Also write the report as CSV."),
    xlsx_path: Path | None = typer.Option(None, "--xlsx", help="Also write it as XLSX."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Realisation of in-kind aid per program and region: distinct persons, distributions,
    quantity and value."""
    from lokal.rupiah import format_rupiah

    from lumbung.aid import export, report

    with unit_of_work() as session:
        found = report.realisation(
            session, acting_user(session, actor), program=program, region=region, level=level
        )
    if csv_path is not None:
        csv_path.write_text(export.report_csv(found), encoding="utf-8")
    if xlsx_path is not None:
        xlsx_path.write_bytes(export.report_xlsx(found))

    def human() -> None:
        out.print(
            table(
                f"Realisasi bantuan barang ({found.region or 'nasional'}, per {found.level})",
                ["program", "wilayah", "orang berbeda", "penyerahan", "jumlah barang", "nilai"],
                [
                    [
                        r.program,
                        f"{r.region_name} ({r.region_code})",
                        grouped(r.persons),
                        grouped(r.distributions),
                        grouped(r.quantity),
                        format_rupiah(r.value_idr),
                    ]
                    for r in found.rows
                ]
                + [
                    [
                        code,
                        "jumlah program",
                        grouped(c.persons),
                        grouped(c.distributions),
                        grouped(c.quantity),
                        format_rupiah(c.value_idr),
                    ]
                    for code, c in sorted(found.programs.items())
                ]
                + [
                    [
                        "semua program",
                        "",
                        grouped(found.persons),
                        grouped(found.distributions),
                        grouped(found.quantity),
                        format_rupiah(found.value_idr),
                    ]
                ],
            )
        )
        for key in ("persons", "distributions"):
            say(found.labels[key])
        for written in (csv_path, xlsx_path):
            if written is not None:
                say(f"Ditulis: {written}")

    emit(as_json, found.as_dict(), human)


@aid_app.command("list")
@handled
def list_command(
    program: str | None = typer.Option(None, "--program", help="One program."),
    region: str | None = RegionOption,
    nik: str | None = typer.Option(None, "--nik", help="One person's distributions."),
    limit: int = LimitOption,
    offset: int = OffsetOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Distributions within your region, newest first (NIKs masked)."""
    from lokal.rupiah import format_rupiah

    from lumbung.aid import views

    with unit_of_work() as session:
        found = views.list_distributions(
            session,
            acting_user(session, actor),
            program=program,
            region=region,
            nik=nik,
            limit=limit,
            offset=offset,
        )

    def human() -> None:
        out.print(
            table(
                window_title("Penyerahan", offset, len(found.items), found.total),
                ["tanggal", "program", "barang", "NIK", "nama", "jumlah", "nilai", "desa"],
                [
                    [
                        d.distributed_on.isoformat(),
                        d.program,
                        d.item,
                        d.nik,
                        d.name,
                        grouped(d.quantity),
                        format_rupiah(d.value_idr),
                        d.village_code,
                    ]
                    for d in found.items
                ],
            )
        )

    emit(as_json, found.as_dict(), human)


@aid_app.command("programs")
@handled
def programs_command(actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """The in-kind programs and the items each gives."""
    from lumbung.aid import catalog

    with unit_of_work() as session:
        found = catalog.list_programs(session, acting_user(session, actor))

    def human() -> None:
        out.print(
            table(
                "Program bantuan barang",
                ["kode", "nama", "jenis", "barang"],
                [[p.code, p.name, p.kind, ", ".join(p.items)] for p in found],
            )
        )

    emit(as_json, [p.as_dict() for p in found], human)


@aid_app.command("items")
@handled
def items_command(
    program: str | None = typer.Option(None, "--program", help="Only this program's items."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """The item catalogue: label, unit, reference value per unit, programs."""
    from lokal.rupiah import format_rupiah

    from lumbung.aid import catalog

    with unit_of_work() as session:
        found = catalog.list_items(session, acting_user(session, actor), program=program)

    def human() -> None:
        out.print(
            table(
                "Katalog barang bantuan",
                ["kode", "nama", "satuan", "nilai acuan", "program"],
                [
                    [
                        i.code,
                        i.label,
                        i.unit,
                        format_rupiah(i.unit_value_idr),
                        ", ".join(i.programs),
                    ]
                    for i in found
                ],
            )
        )

    emit(as_json, [i.as_dict() for i in found], human)


@aid_app.command("item-add")
@handled
def item_add_command(
    code: str = typer.Argument(..., help="The item's code, e.g. kursi_roda_anak."),
    label: str = typer.Option(..., "--label", help="Its name as people read it."),
    unit: str = typer.Option(..., "--unit", help="Its unit: unit, buah, pasang, paket…"),
    value: int = typer.Option(..., "--value", help="Reference value per unit, whole rupiah."),
    programs: list[str] = typer.Option(..., "--program", help="A program giving it (repeat)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Add an item to the catalogue (a national admin)."""
    from lumbung.aid import catalog

    with unit_of_work() as session:
        item = catalog.add_item(
            session,
            actor=acting_user(session, actor),
            code=code,
            label=label,
            unit=unit,
            unit_value_idr=value,
            programs=programs,
        )
    emit(as_json, item.as_dict(), lambda: say(f"Barang {item.code} ditambahkan ke katalog."))
