"""Simulations as files: one or several side by side, as CSV or XLSX, headed in Indonesian.

Every file says it is a simulation (the first line of the CSV's `catatan` column, the top of
every sheet). Rupiah are integers (a year, exactly; `simulation/results.py`). Regions carry
their names. Text cells never run as formulas (`spreadsheets.safe_cell`; in the workbook,
string cells with the quote prefix, as reports/exports.py writes them).

- CSV: one long table, a row per simulation, program, level (nasional, provinsi, kabupaten,
  desil) and region or desil.
- XLSX: `Ringkasan` (each simulation and program side by side: beneficiaries and budget,
  scenario against baseline), `Provinsi`, `Kabupaten`, `Desil` (the differences), `Komponen`
  (members by component), `Keluarga` (entering, leaving, gaining, losing).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.reports.exports import _text
from lumbung.simulation.service import LABEL_WORDS, compare_simulations
from lumbung.spreadsheets import safe_cell

FORMATS = ("csv", "xlsx")
LEVELS = {"province": "provinsi", "regency": "kabupaten/kota", "decile": "desil"}
HEAD = [
    "simulasi",
    "program",
    "tingkat",
    "kode",
    "nama",
    "penerima_skenario",
    "penerima_pembanding",
    "selisih_penerima",
    "anggaran_setahun_skenario_idr",
    "anggaran_setahun_pembanding_idr",
    "selisih_setahun_idr",
    "keluarga_masuk",
    "keluarga_keluar",
    "keluarga_naik",
    "keluarga_turun",
    "catatan",
]
MONEY_FORMAT = '#,##0;-#,##0;"-"'


def export_simulations(
    session: Session, *, actor: User, labels: Sequence[str], fmt: str
) -> tuple[str, bytes]:
    """(file name, content) of the simulations `labels` in `fmt` (csv or xlsx)."""
    if fmt not in FORMATS:
        from lumbung.errors import ValidationFailed

        raise ValidationFailed(f"Format `{fmt}` tidak dikenal; pilih csv atau xlsx.")
    found = compare_simulations(session, actor=actor, labels=labels)
    names: dict[str, str] = {}
    for simulation in found:
        names |= simulation.get("region_names", {})
    name = "simulasi-" + "-".join(labels)[:80] + f".{fmt}"
    if fmt == "csv":
        return name, to_csv(found, names).encode("utf-8")
    return name, to_xlsx(found, names)


def rows(found: list[dict[str, Any]], names: dict[str, str]) -> Iterator[list[Any]]:
    """The long table (module docstring), the national line of each program first."""
    for s in found:
        for code, p in s["programs"].items():
            sc, bl = p["scenario"], p["baseline"]
            moves = p["families"]
            yield [
                s["label"],
                code,
                "nasional",
                "",
                "Indonesia",
                sc["beneficiaries"],
                bl["beneficiaries"],
                sc["beneficiaries"] - bl["beneficiaries"],
                sc["per_year_idr"],
                bl["per_year_idr"],
                sc["per_year_idr"] - bl["per_year_idr"],
                moves["entered"]["families"],
                moves["left"]["families"],
                moves["gained"]["families"],
                moves["lost"]["families"],
                f"{LABEL_WORDS}: {s['title']}",
            ]
            for level, word in LEVELS.items():
                for g in p["by"][level]:
                    key = "" if g["key"] is None else str(g["key"])
                    yield [
                        s["label"],
                        code,
                        word,
                        key,
                        names.get(key, "") if level != "decile" else f"desil {key}",
                        g["scenario_beneficiaries"],
                        g["baseline_beneficiaries"],
                        g["difference_beneficiaries"],
                        g["scenario_year_idr"],
                        g["baseline_year_idr"],
                        g["difference_year_idr"],
                        g["entered"],
                        g["left"],
                        g["gained"],
                        g["lost"],
                        "",
                    ]


def to_csv(found: list[dict[str, Any]], names: dict[str, str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEAD)
    for values in rows(found, names):
        writer.writerow([safe_cell(v) if isinstance(v, str) else v for v in values])
    return buffer.getvalue()


def to_xlsx(found: list[dict[str, Any]], names: dict[str, str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    bold = Font(bold=True)
    summary = book.active
    summary.title = "Ringkasan"
    _title(summary, "Perbandingan simulasi", bold)
    head = [
        "simulasi",
        "judul",
        "program",
        "rilis",
        "model PMT",
        "pembanding",
        "penerima skenario",
        "penerima pembanding",
        "per bulan skenario",
        "per tahun skenario",
        "per tahun pembanding",
        "selisih per tahun",
    ]
    _line(summary, 3, head, bold)
    line = 4
    for s in found:
        for code, p in s["programs"].items():
            _line(
                summary,
                line,
                [
                    s["label"],
                    s["title"],
                    code,
                    s["release"],
                    s["model"],
                    _baseline_words(p),
                    p["scenario"]["beneficiaries"],
                    p["baseline"]["beneficiaries"],
                    p["scenario"]["per_month_idr"],
                    p["scenario"]["per_year_idr"],
                    p["baseline"]["per_year_idr"],
                    p["scenario"]["per_year_idr"] - p["baseline"]["per_year_idr"],
                ],
                None,
            )
            line += 1
    for level, sheet_name in (
        ("province", "Provinsi"),
        ("regency", "Kabupaten"),
        ("decile", "Desil"),
    ):
        sheet = book.create_sheet(sheet_name)
        _title(sheet, f"Selisih per {LEVELS[level]}", bold)
        _line(sheet, 3, HEAD[:-1], bold)
        line = 4
        for values in rows(found, names):
            if values[2] == LEVELS[level]:
                _line(sheet, line, values[:-1], None)
                line += 1
    parts = book.create_sheet("Komponen")
    _title(parts, "Anggota per komponen (per siklus)", bold)
    _line(
        parts,
        3,
        [
            "simulasi",
            "program",
            "komponen",
            "orang skenario",
            "orang pembanding",
            "jumlah skenario",
            "jumlah pembanding",
        ],
        bold,
    )
    line = 4
    for s in found:
        for code, p in s["programs"].items():
            sc, bl = p["scenario"]["by_component"], p["baseline"]["by_component"]
            for name in sorted(set(sc) | set(bl)):
                a = sc.get(name, {"persons": 0, "amount_idr": 0})
                b = bl.get(name, {"persons": 0, "amount_idr": 0})
                label = p.get("labels", {}).get(name, name)
                _line(
                    parts,
                    line,
                    [
                        s["label"],
                        code,
                        label,
                        a["persons"],
                        b["persons"],
                        a["amount_idr"],
                        b["amount_idr"],
                    ],
                    None,
                )
                line += 1
    families = book.create_sheet("Keluarga")
    _title(families, "Keluarga masuk, keluar, naik, turun", bold)
    _line(families, 3, ["simulasi", "program", "gerak", "keluarga", "selisih per tahun"], bold)
    line = 4
    for s in found:
        for code, p in s["programs"].items():
            for move, word in (
                ("entered", "masuk"),
                ("left", "keluar"),
                ("gained", "naik"),
                ("lost", "turun"),
                ("same", "sama"),
            ):
                m = p["families"][move]
                _line(
                    families,
                    line,
                    [s["label"], code, word, m["families"], m["difference_year_idr"]],
                    None,
                )
                line += 1
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _baseline_words(program: dict[str, Any]) -> str:
    base = program.get("baseline_source") or {}
    kind = base.get("kind")
    if kind == "cycle":
        return f"siklus {base.get('cycle')}"
    if kind == "definitions":
        return f"definisi tanpa perubahan (versi {base.get('version')})"
    return "tidak ada (program baru)"


def _title(sheet: Any, text: str, bold: Any) -> None:
    _text(sheet, 1, 1, f"{text} — {LABEL_WORDS}", bold)


def _line(sheet: Any, row: int, values: list[Any], font: Any) -> None:
    for column, value in enumerate(values, start=1):
        if isinstance(value, str):
            _text(sheet, row, column, value, font)
            continue
        cell = sheet.cell(row=row, column=column)
        if value is None:
            continue
        cell.value = int(value)
        cell.number_format = MONEY_FORMAT
        if font is not None:
            cell.font = font
