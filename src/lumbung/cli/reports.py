"""`lumbung report …`: realisation of a program per cycle and region, as a table, CSV, XLSX
or JSON, with a chart as PNG or SVG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    RegionOption,
    acting_user,
    console,
    handled,
    json_text,
    out,
    print_json,
    say,
    table,
    unit_of_work,
)
from lumbung.errors import ValidationFailed
from lumbung.numbers import grouped

if TYPE_CHECKING:
    from lumbung.reports.realisation import RealisationReport

report_app = typer.Typer(help="Reports: realisation of cash programs.", no_args_is_help=True)

FORMATS = ("table", "csv", "xlsx", "json")
CHART_SUFFIXES = {".png": "png", ".svg": "svg"}


@report_app.command("realisation")
@handled
def realisation_command(
    program: str = typer.Option(..., "--program", help="The program's code, e.g. PKH."),
    cycle: list[str] | None = typer.Option(
        None,
        "--cycle",
        help="A cycle's label; repeat for several (default: every approved cycle of the program).",
    ),
    region: str | None = RegionOption,
    level: str | None = typer.Option(
        None,
        "--level",
        help="province, regency, district or village (default: the level below the region).",
    ),
    output_format: str = typer.Option("table", "--format", help="table, csv, xlsx or json."),
    out_file: Path | None = typer.Option(
        None, "--out", help="Write the CSV, XLSX or JSON to this file (XLSX needs one)."
    ),
    chart_file: Path | None = typer.Option(
        None, "--chart", help="Also draw a chart into this file: .png or .svg."
    ),
    chart_kind: str | None = typer.Option(
        None, "--chart-kind", help="region or trend (default: trend for several cycles)."
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Realisation per program × cycle × region: beneficiaries, transactions, entitled, paid,
    failed, returned, pending and cancelled rupiah, realisation %; within your region."""
    from lumbung.reports.realisation import realisation

    if as_json:  # as every command has it (a refusal then JSON too): --format json
        output_format = "json"
    _check_options(output_format, out_file, chart_file)
    with unit_of_work() as session:
        report = realisation(
            session,
            actor=acting_user(session, actor),
            program=program,
            cycles=list(cycle or []),
            region=region,
            level=level,
        )
    if chart_file is not None:
        from lumbung.reports.charts import chart

        fmt = CHART_SUFFIXES[chart_file.suffix.lower()]
        chart_file.write_bytes(chart(report, fmt=fmt, kind=chart_kind))
        say(f"Grafik ditulis: {chart_file}", to=console)
    if output_format == "table":
        _print_tables(report)
    elif output_format == "json":
        if out_file is None:
            print_json(report.as_dict())
        else:
            out_file.write_text(json_text(report.as_dict()) + "\n", encoding="utf-8")
    elif output_format == "csv":
        from lumbung.reports.exports import to_csv

        text = to_csv(report)
        if out_file is None and out.is_terminal:
            # On a terminal, a control character in a name is shown escaped, not acted on.
            out.print(Text(text.replace("\r\n", "\n")), end="", soft_wrap=True)
        elif out_file is None:
            typer.echo(text, nl=False)
        else:
            out_file.write_text(text, encoding="utf-8", newline="")
    else:
        from lumbung.reports.exports import to_xlsx

        assert out_file is not None
        out_file.write_bytes(to_xlsx(report))
    if out_file is not None:
        say(f"Laporan ditulis: {out_file}", to=console)


def _check_options(output_format: str, out_file: Path | None, chart_file: Path | None) -> None:
    """Refuse what cannot be written before the database is read."""
    if output_format not in FORMATS:
        raise ValidationFailed(f"--format {output_format!r}: pilihan {', '.join(FORMATS)}.")
    if output_format == "xlsx" and out_file is None:
        raise ValidationFailed("--format xlsx menulis berkas: beri --out LAPORAN.xlsx.")
    if output_format == "table" and out_file is not None:
        raise ValidationFailed("--out untuk --format csv, xlsx atau json.")
    if chart_file is not None and chart_file.suffix.lower() not in CHART_SUFFIXES:
        raise ValidationFailed(f"--chart {chart_file}: berkas grafik harus .png atau .svg.")
    for path in (out_file, chart_file):
        if path is not None and not path.parent.is_dir():
            raise ValidationFailed(f"{path}: folder {path.parent} tidak ada.")


def _print_tables(report: RealisationReport) -> None:
    from lumbung.reports.labels import (
        LEVEL_WORDS,
        UNIT_WORDS,
        percent_text,
        region_label,
        rupiah,
        title,
    )

    unit = UNIT_WORDS.get(report.unit, report.unit)
    for cycle in report.cycles:
        lines = [*((r, False) for r in cycle.rows), (cycle.total, True)]
        out.print(
            table(
                f"{title(report.program, report.level, report.area, report.area_name)}; "
                f"siklus {cycle.cycle} ({cycle.reference_date}); penerima = {unit}",
                [
                    LEVEL_WORDS.get(report.level, report.level),
                    *["penerima", "transaksi", "hak", "dibayar", "gagal", "retur"],
                    *["tertunda", "batal", "realisasi"],
                ],
                [
                    [
                        ("Jumlah " if total else "") + region_label(r.code, r.name),
                        grouped(r.beneficiaries),
                        grouped(r.transactions),
                        rupiah(r.entitled_idr),
                        rupiah(r.paid_idr),
                        rupiah(r.failed_idr),
                        rupiah(r.returned_idr),
                        rupiah(r.pending_idr),
                        rupiah(r.cancelled_idr),
                        percent_text(r.share()),
                    ]
                    for r, total in lines
                ],
            )
        )
