"""The match rate report as CSV and as an XLSX workbook, safe against formula injection (a text
cell starting with = + - @, a tab or a carriage return gets a leading apostrophe, and every
text cell of the workbook is stored as text, never as a formula)."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from lumbung.spreadsheets import safe_cell, workbook_bytes

if TYPE_CHECKING:
    from lumbung.civil.report import CivilReport, Rates

OUTCOME_HEADINGS = (
    ("members", "anggota"),
    ("matched", "padan"),
    ("mismatched", "tidak_padan"),
    ("deceased", "meninggal"),
    ("not_found", "tidak_ditemukan"),
)
FIELD_HEADINGS = (
    ("nik", "beda_nik"),
    ("name", "beda_nama"),
    ("birth_date", "beda_tanggal_lahir"),
    ("birth_date_swapped", "tanggal_lahir_tertukar"),
    ("sex", "beda_jenis_kelamin"),
    ("kk_number", "beda_kk"),
)


def _headings() -> list[str]:
    return [
        "kode_wilayah",
        "nama_wilayah",
        *(h for _, h in OUTCOME_HEADINGS),
        *(f"persen_{h}" for k, h in OUTCOME_HEADINGS if k != "members"),
        *(h for _, h in FIELD_HEADINGS),
        *(f"persen_{h}" for _, h in FIELD_HEADINGS),
    ]


def _line(code: str, name: str, rates: Rates) -> list[Any]:
    counts = rates.as_dict()
    return [
        code,
        name,
        *(counts[k] for k, _ in OUTCOME_HEADINGS),
        *(rates.percent[k] for k, _ in OUTCOME_HEADINGS if k != "members"),
        *(rates.fields[k] for k, _ in FIELD_HEADINGS),
        *(rates.percent[k] for k, _ in FIELD_HEADINGS),
    ]


def _table(report: CivilReport) -> list[list[Any]]:
    lines: list[list[Any]] = [_headings()]
    lines += [_line(r.region_code, r.region_name, r.rates) for r in report.rows]
    lines.append(_line("*", f"jumlah {report.region or 'nasional'}", report.total))
    return lines


def _cell(value: Any) -> Any:
    return safe_cell(value) if isinstance(value, str) else value


def report_csv(report: CivilReport) -> str:
    """One line per region, then the total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for line in _table(report):
        writer.writerow([_cell(v) for v in line])
    return out.getvalue()


def report_xlsx(report: CivilReport) -> bytes:
    """The report as a workbook: `wilayah` (as the CSV) and `keterangan` (what each counts)."""

    sheets = {
        "wilayah": _table(report),
        "keterangan": [[key, text] for key, text in report.labels.items()],
    }
    return workbook_bytes(sheets)
