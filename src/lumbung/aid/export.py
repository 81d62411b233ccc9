"""The realisation report as CSV and as an XLSX workbook (openpyxl), safe against formula
injection: a text cell starting with = + - @, a tab or a carriage return is written with a
leading apostrophe (which Excel and LibreOffice read as "text"), and every text cell of the
workbook is stored with the explicit string type, never as a formula."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from lumbung.spreadsheets import safe_cell, workbook_bytes

if TYPE_CHECKING:
    from lumbung.aid.report import InkindReport

# What a spreadsheet reads as a formula when a cell starts with it (OWASP "CSV injection").

ROW_COLUMNS = (
    ("program", "program"),
    ("region_code", "kode_wilayah"),
    ("region_name", "nama_wilayah"),
    ("persons", "orang_berbeda"),
    ("distributions", "penyerahan"),
    ("quantity", "jumlah_barang"),
    ("value_idr", "nilai_rp"),
)
ITEM_COLUMNS = (
    ("program", "program"),
    ("item", "barang"),
    ("label", "nama_barang"),
    ("unit", "satuan"),
    ("persons", "orang_berbeda"),
    ("distributions", "penyerahan"),
    ("quantity", "jumlah_barang"),
    ("value_idr", "nilai_rp"),
)


def _cell(value: Any) -> Any:
    return safe_cell(value) if isinstance(value, str) else value


def _table(report: InkindReport) -> list[list[Any]]:
    lines: list[list[Any]] = [[heading for _, heading in ROW_COLUMNS]]
    for row in report.rows:
        lines.append([getattr(row, name) for name, _ in ROW_COLUMNS])
    for code, total in sorted(report.programs.items()):
        lines.append(
            [
                code,
                "*",
                "jumlah program (orang dihitung sekali)",
                total.persons,
                total.distributions,
                total.quantity,
                total.value_idr,
            ]
        )
    lines.append(
        [
            "*",
            "*",
            "jumlah seluruh program (orang dihitung sekali)",
            report.persons,
            report.distributions,
            report.quantity,
            report.value_idr,
        ]
    )
    return lines


def report_csv(report: InkindReport) -> str:
    """The report's rows by program and region, then each program's and the whole total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for line in _table(report):
        writer.writerow([_cell(v) for v in line])
    return out.getvalue()


def report_xlsx(report: InkindReport) -> bytes:
    """The report as a workbook: `wilayah` (as the CSV), `barang` (per program and item) and
    `keterangan` (what each count counts)."""
    sheets = {
        "wilayah": _table(report),
        "barang": [[heading for _, heading in ITEM_COLUMNS]]
        + [[getattr(i, name) for name, _ in ITEM_COLUMNS] for i in report.items],
        "keterangan": [[key, text] for key, text in report.labels.items()],
    }
    return workbook_bytes(sheets)
