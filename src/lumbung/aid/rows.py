"""A distribution file read and checked row by row, before the database is asked anything.

Files of handovers are small (a village's or a disaster's: hundreds to thousands of rows; an
import takes at most `MAX_ROWS`), so the checks are plain Python over `csv`, not the batch
import's DuckDB SQL (built for millions of members). Every problem names the file, the row as
a spreadsheet numbers it (the header is row 1) and the column, in the operator's words; a row
gets every problem it has, not only the first.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from lumbung.aid.catalog import MAX_UNIT_VALUE_IDR, Catalogue
from lumbung.auth.roles import in_scope
from lumbung.errors import ValidationFailed
from lumbung.identity.nik import check_nik
from lumbung.registry.check_sql import CONTROL_OR_BREAK, printable
from lumbung.registry.errors import RowError

HEADER = ("program", "nik", "name", "item", "quantity", "unit_value_idr", "date", "village_code")
MAX_ROWS = 100_000
MAX_BYTES = 32 * 1024 * 1024  # 100,000 rows of ~100 bytes, with room to spare
MAX_QUANTITY = 10_000
MAX_NAME = 200
VILLAGE = re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DIGITS = re.compile(r"[0-9]+")
FORMULA = re.compile(r"[=+\-@]")

Key = tuple[str, str, str, date]  # program, NIK, item, date: one handover


@dataclass(frozen=True, slots=True)
class DistributionRow:
    """A row that passed every check of the file (the registry's are the importer's)."""

    row: int
    program: str
    nik: str
    name: str
    item: str
    quantity: int
    unit_value_idr: int
    distributed_on: date
    village_code: str

    @property
    def key(self) -> Key:
        return (self.program, self.nik, self.item, self.distributed_on)

    def cells(self) -> dict[str, str]:
        """The row's key as the reject file shows it."""
        return {
            "program": self.program,
            "nik": self.nik,
            "item": self.item,
            "date": self.distributed_on.isoformat(),
        }

    @property
    def value_idr(self) -> int:
        return self.quantity * self.unit_value_idr


@dataclass(slots=True)
class CheckedFile:
    rows: list[DistributionRow] = field(default_factory=list)
    problems: list[RowError] = field(default_factory=list)
    read: int = 0
    # The cells of each row with a problem as the file has them (by row number), for the
    # reject file (a file of 100,000 good rows keeps none).
    cells: dict[int, dict[str, str]] = field(default_factory=dict)


def _shown(value: str, limit: int = 60) -> str:
    text = printable(value)
    return text if len(text) <= limit else text[:limit] + "…"


class FileRefused(ValidationFailed):
    """A file refused whole (header, encoding, size): nothing is loaded. The importer reports
    it in its summary (`refused`), as a row's problem is."""

    def __init__(self, problem: RowError) -> None:
        super().__init__(f"{problem.file}: {problem.message}", details=[problem.as_dict()])
        self.problem = problem


def refused(file: str, code: str, message: str, row: int = 0) -> FileRefused:
    """The whole file refused: nothing is loaded."""
    return FileRefused(RowError(file, row, "", code, message))


def read_rows(data: bytes, file: str) -> Iterator[tuple[int, list[str]]]:
    """The file's rows after its header, each with its row number; the file refused whole when
    it is not UTF-8 CSV with exactly the header `HEADER`, or holds more than `MAX_ROWS` rows."""
    if len(data) > MAX_BYTES:
        raise refused(
            file,
            "too_many_rows",
            f"berkas lebih dari {MAX_BYTES // 1024 // 1024} MB; bagi menjadi beberapa impor.",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise refused(
            file,
            "file_unreadable",
            f"baris {line} bukan teks UTF-8; simpan berkas sebagai CSV UTF-8.",
            line,
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != list(HEADER):
            raise refused(
                file,
                "bad_header",
                f"baris judul harus tepat {','.join(HEADER)} (ditemukan: "
                f"{_shown(','.join(header or []), 120) or 'berkas kosong'}).",
                1,
            )
        count = 0
        for number, cells in enumerate(reader, start=2):
            if not cells:  # a blank line: a row of nothing, as a spreadsheet shows it
                continue
            count += 1
            if count > MAX_ROWS:
                raise refused(
                    file,
                    "too_many_rows",
                    f"lebih dari {MAX_ROWS:,} baris; bagi berkas menjadi beberapa impor.".replace(
                        ",", "."
                    ),
                )
            yield number, cells
        if count == 0:
            raise refused(file, "no_rows", "berkas hanya berisi baris judul, tanpa data.")
    except csv.Error as exc:
        raise refused(
            file,
            "file_unreadable",
            f"baris {reader.line_num} tidak bisa dibaca sebagai CSV (tanda kutip tidak ditutup?).",
            reader.line_num,
        ) from exc


@dataclass(frozen=True, slots=True)
class RowContext:
    file: str
    catalogue: Catalogue
    villages: frozenset[str]  # the village codes of the file that are villages
    scope: str | None  # the importer's region
    as_of: date


def check_file(data: bytes, context: RowContext) -> CheckedFile:
    """Every row of the file checked (`check_row`), and repeated handovers found."""
    checked = CheckedFile()
    first_seen: dict[Key, int] = {}
    for number, cells in read_rows(data, context.file):
        checked.read += 1
        problems, row = check_row(number, cells, context)
        key = _key_of(cells)
        if key is not None:
            if key in first_seen:
                problems.append(
                    RowError(
                        context.file,
                        number,
                        "nik",
                        "duplicate_row",
                        f"Program, NIK, barang dan tanggal yang sama sudah ada di baris "
                        f"{first_seen[key]}; satu penyerahan dicatat satu kali (jumlah lebih "
                        "dari satu: isi kolom quantity).",
                    )
                )
                row = None
            else:
                first_seen[key] = number
        checked.problems.extend(problems)
        if problems:  # only a row with a problem is written to the reject file
            checked.cells[number] = dict(zip(HEADER, cells, strict=False))
        if row is not None and not any(p.severity == "error" for p in problems):
            checked.rows.append(row)
    return checked


def _key_of(cells: list[str]) -> Key | None:
    if len(cells) != len(HEADER):
        return None
    program, nik, _, item, _, _, when, _ = (c.strip() for c in cells)
    try:
        day = date.fromisoformat(when) if ISO_DATE.fullmatch(when) else None
    except ValueError:
        day = None
    if not (program and nik and item and day):
        return None
    return (program, nik, item, day)


def check_row(
    number: int, cells: list[str], context: RowContext
) -> tuple[list[RowError], DistributionRow | None]:
    """A row's problems, and the row when it has no error."""
    problems: list[RowError] = []

    def problem(column: str, code: str, message: str, severity: str = "error") -> None:
        problems.append(RowError(context.file, number, column, code, message, severity))

    if len(cells) != len(HEADER):
        problem(
            "",
            "field_count",
            f"Baris ini punya {len(cells)} kolom, judulnya {len(HEADER)}; ada koma tanpa tanda "
            "kutip di sebuah nilai?",
        )
        return problems, None
    program, nik, name, item, quantity, value, when, village = (c.strip() for c in cells)
    labels = {
        "program": "Program",
        "nik": "NIK",
        "name": "Nama",
        "item": "Barang",
        "quantity": "Jumlah",
        "date": "Tanggal",
        "village_code": "Kode desa",
    }
    given = dict(
        zip(HEADER, (program, nik, name, item, quantity, value, when, village), strict=True)
    )
    for column, label in labels.items():
        if not given[column]:
            problem(column, "required", f"{label} wajib diisi.")
    cat = context.catalogue
    if program and program not in cat.programs:
        problem(
            "program",
            "unknown_program",
            f"Program {_shown(program)!r} tidak dikenal; pilihan: "
            f"{', '.join(sorted(cat.programs))}.",
        )
    known_item = cat.items.get(item)
    if item and known_item is None:
        problem("item", "unknown_item", f"Barang {_shown(item)!r} tidak ada di katalog.")
    elif known_item is not None and program in cat.programs and (program, item) not in cat.links:
        problem(
            "item",
            "item_not_in_program",
            f"Barang {item} tidak diberikan oleh program {program} (program barang ini: "
            f"{', '.join(known_item.programs) or 'tidak ada'}).",
        )
    if nik:
        for issue in check_nik(nik, as_of=context.as_of):
            problem("nik", issue.code, issue.message, issue.severity)
    if name:
        if CONTROL_OR_BREAK.search(name):
            problem(
                "name",
                "control_character",
                "Nama memuat karakter kendali atau tanda arah "
                f"teks; tulis ulang sebagai teks biasa: {_shown(name)}",
            )
        elif FORMULA.match(name):
            problem(
                "name",
                "formula",
                f"Nama diawali = + - @ (kemungkinan rumus spreadsheet) ditolak: {_shown(name)}",
            )
        if len(name) > MAX_NAME:
            problem("name", "too_long", f"Nama lebih dari {MAX_NAME} karakter.")
    count = int(quantity) if DIGITS.fullmatch(quantity) else 0
    if quantity and not 1 <= count <= MAX_QUANTITY:
        problem(
            "quantity",
            "invalid_quantity",
            f"Jumlah harus bilangan bulat 1 sampai {MAX_QUANTITY:,} (tanpa titik atau koma), "
            f"bukan {_shown(quantity)!r}.".replace(",", ".", 1),
        )
    unit_value = _unit_value(value, known_item.unit_value_idr if known_item else None)
    if value and unit_value is None:
        problem(
            "unit_value_idr",
            "invalid_amount",
            "Nilai satuan harus rupiah bulat, hanya angka tanpa titik, koma atau 'Rp' (mis. "
            f"2500000), paling besar 10000000000; bukan {_shown(value)!r}. Kosongkan untuk "
            "memakai nilai acuan katalog.",
        )
    day = _day(when)
    if when and day is None:
        problem("date", "invalid_date", f"Tanggal {_shown(when)!r} bukan tanggal YYYY-MM-DD.")
    elif day is not None and day > context.as_of:
        problem("date", "future_date", f"Tanggal {when} di masa depan.")
    if village and not VILLAGE.fullmatch(village):
        problem(
            "village_code",
            "invalid_village",
            f"Kode desa {_shown(village)!r} harus ditulis PP.KK.CC.DDDD (mis. 31.71.01.1001).",
        )
    elif village and village not in context.villages:
        problem(
            "village_code",
            "unknown_village",
            f"Desa/kelurahan {village} tidak ada di daftar wilayah Kemendagri.",
        )
    elif village and not in_scope(context.scope, village):
        problem(
            "village_code",
            "out_of_scope",
            f"Desa {village} di luar wilayah Anda ({context.scope}).",
        )
    if any(p.severity == "error" for p in problems) or unit_value is None or day is None:
        return problems, None
    return problems, DistributionRow(
        number, program, nik, name, item, count, unit_value, day, village
    )


def _unit_value(text: str, reference: int | None) -> int | None:
    if not text:
        return reference
    if not DIGITS.fullmatch(text) or len(text) > 11:
        return None
    value = int(text)
    return value if value <= MAX_UNIT_VALUE_IDR else None


def _day(text: str) -> date | None:
    if not ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
