"""A realisation report as files: CSV and XLSX, headed in Indonesian, regions by name.

Safe against formula injection: a text cell that begins with `=`, `+`, `-`, `@`, a tab or a
carriage return (a region name planted in the database, say) is never evaluated. In the CSV
it gets a leading apostrophe (`spreadsheets.safe_cell`, OWASP's advice: a spreadsheet opening
the file shows it as text). In the workbook it is stored as a string cell (openpyxl would
otherwise write a text starting with `=` as a formula) with the quote prefix set, so that
editing the cell in a spreadsheet keeps it text as well."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from lumbung.reports.labels import COLUMNS, LEVEL_WORDS, UNIT_WORDS, region_label, title
from lumbung.reports.realisation import CycleRealisation, Realisation, RealisationReport
from lumbung.spreadsheets import FORMULA_STARTS, safe_cell

HEAD = ("Siklus", "Tanggal acuan", *(heading for _, heading in COLUMNS))
MONEY_FORMAT = "#,##0"
PERCENT_FORMAT = "0.00"


def _values(cycle: CycleRealisation, row: Realisation, total: bool) -> list[Any]:
    shown = row.as_dict()
    if total:
        shown["name"] = "Jumlah " + region_label(row.code, row.name)
    shown["realisation_pct"] = row.share()
    return [cycle.cycle, cycle.reference_date, *(shown[key] for key, _ in COLUMNS)]


def rows(report: RealisationReport) -> Iterator[tuple[list[Any], bool]]:
    """Every line of the report's table with whether it is a cycle's total: each cycle's
    regions, then its total."""
    for cycle in report.cycles:
        for row in cycle.rows:
            yield _values(cycle, row, False), False
        yield _values(cycle, cycle.total, True), True


def to_csv(report: RealisationReport) -> str:
    """The report as CSV (comma-separated, UTF-8; amounts as whole rupiah, the percentage
    with a decimal point), one heading line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEAD)
    for values, _ in rows(report):
        writer.writerow([_csv_cell(v) for v in values])
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_cell(value)
    return value if isinstance(value, int) else str(value)


def to_xlsx(report: RealisationReport) -> bytes:
    """The report as a workbook: sheet `Realisasi` (every region of every cycle, with each
    cycle's total) and sheet `Per siklus` (the totals, the trend)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "Realisasi"
    bold = Font(bold=True)
    _text(sheet, 1, 1, title(report.program, report.level, report.area, report.area_name), bold)
    _text(
        sheet,
        2,
        1,
        f"Program: {report.program_name}; penerima dihitung per "
        f"{UNIT_WORDS.get(report.unit, report.unit)}; tingkat "
        f"{LEVEL_WORDS.get(report.level, report.level)}",
    )
    _header(sheet, 4, bold)
    line = 5
    for values, total in rows(report):
        _line(sheet, line, values, bold if total else None)
        line += 1
    sheet.freeze_panes = "C5"
    widths = [22, 14, 16, 36, *([16] * (len(HEAD) - 4))]
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width

    trend = book.create_sheet("Per siklus")
    where = region_label(report.area or "", report.area_name)
    _text(trend, 1, 1, f"Realisasi {report.program} per siklus — {where}", bold)
    _header(trend, 3, bold)
    for i, cycle in enumerate(report.cycles):
        _line(trend, 4 + i, _values(cycle, cycle.total, True), None)
    for i, width in enumerate(widths, start=1):
        trend.column_dimensions[get_column_letter(i)].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _header(sheet: Any, row: int, font: Any) -> None:
    for column, heading in enumerate(HEAD, start=1):
        _text(sheet, row, column, heading, font)


def _line(sheet: Any, row: int, values: list[Any], font: Any) -> None:
    percent_column = len(HEAD)
    for column, value in enumerate(values, start=1):
        if isinstance(value, str):
            cell = _text(sheet, row, column, value, font)
            continue
        cell = sheet.cell(row=row, column=column)
        if value is None:
            continue
        if column == percent_column:
            cell.value = float(value)
            cell.number_format = PERCENT_FORMAT
        elif column == 2:
            cell.value = value
            cell.number_format = "yyyy-mm-dd"
        else:
            cell.value = int(value)
            cell.number_format = MONEY_FORMAT
        if font is not None:
            cell.font = font


def _text(sheet: Any, row: int, column: int, value: str, font: Any = None) -> Any:
    """A text cell that no spreadsheet evaluates: a string cell, never a formula, with the
    quote prefix where it begins like one."""
    cell = sheet.cell(row=row, column=column)
    cell.value = value
    cell.data_type = "s"  # openpyxl makes a text starting with "=" a formula: undone
    if value.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    if font is not None:
        cell.font = font
    return cell
