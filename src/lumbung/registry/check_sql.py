"""SQL building blocks for the batch checks: macros and one error expression per column; the
format's columns as cells (`HOUSEHOLD_CELLS`, `MEMBER_CELLS`) and what a run of the checks is
given (`CheckOptions`).

Every check is an expression over VARCHAR cells, evaluated by DuckDB for all rows at once.
A cell's error expression yields `code|message` for the first check it fails, or NULL.
User data only ever flows through these expressions as values, never as SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from lumbung.errors import ValidationFailed
from lumbung.registry import vocab

# Characters no cell may hold, as (first, last) code points: C0 controls but tab, line feed and
# carriage return (NUL, BEL, ESC and its terminal sequences, …), DEL and the C1 controls, the
# bidirectional marks, embeddings, overrides and isolates (which make text read otherwise than
# it is stored: U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and the line and
# paragraph separators U+2028, U+2029. Tab, line feed and carriage return are refused too
# except in an address, where a spreadsheet cell holds a line break of its own (Alt+Enter).
CONTROL_RANGES: tuple[tuple[int, int], ...] = (
    (0x00, 0x08),
    (0x0B, 0x0C),
    (0x0E, 0x1F),
    (0x7F, 0x9F),
    (0x061C, 0x061C),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2066, 0x2069),
)
LINE_BREAKS: tuple[tuple[int, int], ...] = ((0x09, 0x0A), (0x0D, 0x0D))


def _re2_class(ranges: tuple[tuple[int, int], ...]) -> str:
    """A character class in RE2's syntax, spelled in ASCII (no raw control character in SQL)."""
    parts = (f"\\x{{{a:04X}}}" if a == b else f"\\x{{{a:04X}}}-\\x{{{b:04X}}}" for a, b in ranges)
    return "[" + "".join(parts) + "]"


CONTROL_RE2 = _re2_class(CONTROL_RANGES)
CONTROL_OR_BREAK_RE2 = _re2_class(CONTROL_RANGES + LINE_BREAKS)


def _python_class(ranges: tuple[tuple[int, int], ...]) -> re.Pattern[str]:
    return re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]")


# The same sets for Python (what the command escapes before it prints stored text).
CONTROL = _python_class(CONTROL_RANGES)
CONTROL_OR_BREAK = _python_class(CONTROL_RANGES + LINE_BREAKS)


def plain_text(value: str, what: str, *, limit: int = 2000) -> str:
    """A free text a person typed for the record (a reason, a decree), trimmed: refused when
    empty, longer than `limit`, or holding a control character, line break or bidirectional
    mark (stored text is printed and exported; on PostgreSQL a NUL would fail the command)."""
    trimmed = value.strip()
    if not trimmed:
        raise ValidationFailed(f"{what} wajib diisi.")
    if len(trimmed) > limit:
        raise ValidationFailed(f"{what} terlalu panjang (lebih dari {limit} karakter).")
    if CONTROL_OR_BREAK.search(trimmed):
        raise ValidationFailed(
            f"{what} berisi karakter kendali atau tanda arah teks ({printable(trimmed)[:80]}); "
            "tulis ulang sebagai teks biasa."
        )
    return trimmed


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object) -> str:
    """Text safe to print or to put in a message: every control character, line break and
    bidirectional mark shown escaped (`\\x1b`, `\\u202e`), so that stored or file text can
    neither drive a terminal (escape sequences, bells) nor read otherwise than it is."""
    return CONTROL_OR_BREAK.sub(_escaped, str(value))


MACROS = r"""
CREATE OR REPLACE MACRO lb_strip_rp(x) AS regexp_replace(x, '^[Rr][Pp]\.?\s*', '');
CREATE OR REPLACE MACRO lb_num_kind(x) AS CASE
    WHEN x IS NULL THEN NULL
    WHEN regexp_full_match(lb_strip_rp(x), '-?[0-9]+') THEN 'int'
    WHEN regexp_full_match(lb_strip_rp(x), '-?[0-9]+,[0-9]+') THEN 'comma'
    WHEN regexp_full_match(lb_strip_rp(x), '-?[0-9]{1,3}(\.[0-9]{3})+') THEN 'thousands'
    WHEN regexp_full_match(lb_strip_rp(x), '-?[0-9]{1,3}(\.[0-9]{3})+,[0-9]{3}') THEN 'ambiguous'
    WHEN regexp_full_match(lb_strip_rp(x), '-?[0-9]{1,3}(\.[0-9]{3})+,[0-9]+')
        THEN 'thousands_comma'
    WHEN regexp_full_match(lb_strip_rp(x), '-?[0-9]+\.[0-9]+') THEN 'dot'
    ELSE 'invalid' END;
CREATE OR REPLACE MACRO lb_num(x) AS CASE lb_num_kind(x)
    WHEN 'int' THEN TRY_CAST(lb_strip_rp(x) AS DOUBLE)
    WHEN 'dot' THEN TRY_CAST(lb_strip_rp(x) AS DOUBLE)
    WHEN 'comma' THEN TRY_CAST(replace(lb_strip_rp(x), ',', '.') AS DOUBLE)
    WHEN 'thousands' THEN TRY_CAST(replace(lb_strip_rp(x), '.', '') AS DOUBLE)
    WHEN 'thousands_comma'
        THEN TRY_CAST(replace(replace(lb_strip_rp(x), '.', ''), ',', '.') AS DOUBLE)
    END;
CREATE OR REPLACE MACRO lb_coord(x) AS CASE
    WHEN regexp_full_match(x, '-?[0-9]{1,3}([.,][0-9]+)?')
        THEN TRY_CAST(replace(x, ',', '.') AS DOUBLE)
    END;
CREATE OR REPLACE MACRO lb_formula(x) AS
    regexp_matches(x, '^[=+\-@]') AND NOT regexp_full_match(x, '[-+]?[0-9]+([.,][0-9]+)*');
CREATE OR REPLACE MACRO lb_region(x) AS CASE
    WHEN regexp_full_match(x, '[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}') THEN x
    WHEN regexp_full_match(x, '[0-9]{10}') THEN
        x[1:2] || '.' || x[3:4] || '.' || x[5:6] || '.' || x[7:10]
    END;
CREATE OR REPLACE MACRO lb_date(x) AS CAST(CASE
    WHEN regexp_full_match(x, '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}') THEN try_strptime(x, '%Y-%m-%d')
    WHEN regexp_full_match(x, '[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}') THEN try_strptime(x, '%d-%m-%Y')
    WHEN regexp_full_match(x, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}') THEN try_strptime(x, '%d/%m/%Y')
    END AS DATE);
CREATE OR REPLACE MACRO lb_mask_id(x) AS x[1:4] || '************';
CREATE OR REPLACE MACRO lb_shown(x) AS
    '"' || regexp_replace(left(x, 40), 'CONTROL_OR_BREAK', '?', 'g') || '"';
""".replace("CONTROL_OR_BREAK", CONTROL_OR_BREAK_RE2)


def lit(text: str) -> str:
    """A SQL string literal of a constant from our own code (never of user data)."""
    return "'" + text.replace("'", "''") + "'"


def err(code: str, message_sql: str) -> str:
    return f"{lit(code + '|')} || {message_sql}"


def shown(column: str) -> str:
    """The cell's value, quoted and cut short, for messages; a control character shown as `?`
    (a message goes to terminals and spreadsheets)."""
    return f"lb_shown({column})"


# Kinds of cell whose typed value, once the row is accepted, is a code of a list, digits, a
# region code or a date: never a tab, a line break or a backslash.
CODED_KINDS = frozenset({"enum", "sex", "rt", "region", "date"})


@dataclass(frozen=True, slots=True)
class Cell:
    """How one column is read: its typed value and its error expression."""

    name: str
    kind: str  # text, enum, flag, count, number, coord, rt, region, date, sex, id
    required: bool = True
    values: tuple[str, ...] = ()
    max_length: int = 100
    low: float | None = None
    high: float | None = None
    line_breaks: bool = False  # free text that may hold tab, line feed, carriage return

    def typed(self) -> str:
        v = self.name
        return {
            "text": v,
            "id": v,
            "enum": f"lower({v})",
            "sex": f"upper({v})",
            "flag": f"({v} = '1')",
            "count": f"TRY_CAST(lb_num({v}) AS INTEGER)",
            "number": f"lb_num({v})",
            "coord": f"lb_coord({v})",
            "rt": f"lpad({v}, 3, '0')",
            "region": f"lb_region({v})",
            "date": f"lb_date({v})",
        }[self.kind] + f" AS {v}"

    def error(self) -> str:
        v = self.name
        branches = []
        if self.required:
            branches.append((f"{v} IS NULL", err("required", lit(f"Kolom wajib '{v}' kosong."))))
        else:
            branches.append((f"{v} IS NULL", "NULL"))
        if self.kind == "text":
            # Free text is stored as written, so a control character would reach every screen
            # and file that shows it (terminal escapes, text shown reversed) and PostgreSQL
            # refuses NUL outright. Cells of a fixed shape (codes, numbers, dates, the KK's and
            # NIK's 16 digits) refuse it by that shape's own check. One regular expression per
            # text cell, three columns (measured: ~0.4 s per column of 4.5 M cells).
            allowed = CONTROL_RE2 if self.line_breaks else CONTROL_OR_BREAK_RE2
            what = (
                "karakter kendali (mis. NUL, BEL, ESC) atau pengubah arah teks"
                if self.line_breaks
                else "karakter kendali (mis. NUL, BEL, ESC, tab, ganti baris) atau pengubah "
                "arah teks"
            )
            branches.append(
                (
                    f"regexp_matches({v}, {lit(allowed)})",
                    err(
                        "control_character",
                        lit(f"Kolom '{v}' memuat {what}; hapus karakter itu: ") + f" || {shown(v)}",
                    ),
                )
            )
        branches.append(
            (
                f"lb_formula({v})",
                err(
                    "formula",
                    lit(
                        "Nilai diawali = + - @ dan bukan angka (kemungkinan rumus "
                        "spreadsheet) ditolak: "
                    )
                    + f" || {shown(v)}",
                ),
            )
        )
        branches.extend(self._specific())
        cases = " ".join(f"WHEN {cond} THEN {out}" for cond, out in branches)
        return f"CASE {cases} END AS e_{v}"

    def _specific(self) -> list[tuple[str, str]]:
        v = self.name
        out: list[tuple[str, str]] = []
        if self.kind in ("text", "id") and self.max_length:
            out.append(
                (
                    f"length({v}) > {self.max_length}",
                    err("too_long", lit(f"Lebih dari {self.max_length} karakter.")),
                )
            )
        elif self.kind in ("enum", "sex"):
            fn = "upper" if self.kind == "sex" else "lower"
            allowed = ", ".join(lit(x) for x in self.values)
            out.append(
                (
                    f"{fn}({v}) NOT IN ({allowed})",
                    err(
                        "invalid_value",
                        f"'Nilai ' || {shown(v)} || "
                        + lit(f" tidak dikenal; pilihan: {', '.join(self.values)}."),
                    ),
                )
            )
        elif self.kind == "flag":
            out.append(
                (
                    f"{v} NOT IN ('0', '1')",
                    err("invalid_value", f"'Nilai ' || {shown(v)} || ' harus 0 atau 1.'"),
                )
            )
        elif self.kind in ("count", "number"):
            out.append(
                (
                    f"lb_num_kind({v}) = 'invalid'",
                    err("invalid_number", f"{shown(v)} || ' bukan angka.'"),
                )
            )
            out.append(
                (
                    f"lb_num_kind({v}) = 'ambiguous'",
                    err(
                        "ambiguous_number",
                        f"{shown(v)} || "
                        + lit(
                            " memakai titik dan koma sehingga bisa dibaca dua cara; "
                            "tulis ulang tanpa pemisah ribuan."
                        ),
                    ),
                )
            )
            if self.kind == "count":
                out.append(
                    (
                        f"lb_num({v}) <> floor(lb_num({v})) OR lb_num({v}) < 0 "
                        f"OR lb_num({v}) > {self.high}",
                        err(
                            "out_of_range",
                            f"{shown(v)} || "
                            + lit(f" harus bilangan bulat 0 sampai {self.high:g}."),
                        ),
                    )
                )
            else:
                out.append(
                    (
                        f"lb_num({v}) <= {self.low} OR lb_num({v}) > {self.high}",
                        err(
                            "out_of_range",
                            f"{shown(v)} || "
                            + lit(
                                f" harus lebih dari {self.low:g} dan paling besar {self.high:g}."
                            ),
                        ),
                    )
                )
        elif self.kind == "coord":
            out.append(
                (
                    f"lb_coord({v}) IS NULL",
                    err("invalid_number", f"{shown(v)} || ' bukan koordinat desimal.'"),
                )
            )
            out.append(
                (
                    f"lb_coord({v}) NOT BETWEEN {self.low} AND {self.high}",
                    err(
                        "out_of_range",
                        f"{shown(v)} || "
                        + lit(f" di luar wilayah Indonesia ({self.low:g}…{self.high:g})."),
                    ),
                )
            )
        elif self.kind == "rt":
            out.append(
                (
                    f"NOT regexp_full_match({v}, '[0-9]{{1,3}}')",
                    err("invalid_format", f"{shown(v)} || ' harus 1–3 digit.'"),
                )
            )
        elif self.kind == "region":
            out.append(
                (
                    f"lb_region({v}) IS NULL",
                    err(
                        "invalid_format",
                        f"{shown(v)} || "
                        + lit(" bukan kode desa Kemendagri (PP.KK.CC.DDDD atau 10 digit)."),
                    ),
                )
            )
        elif self.kind == "date":
            out.append(
                (
                    f"lb_date({v}) IS NULL",
                    err(
                        "invalid_date",
                        f"{shown(v)} || "
                        + lit(" bukan tanggal (YYYY-MM-DD, DD-MM-YYYY atau DD/MM/YYYY)."),
                    ),
                )
            )
        return out


# The format's columns, each read and checked as a cell (registry/checks.py).
HOUSEHOLD_CELLS: tuple[Cell, ...] = (
    Cell("kk_number", "id", max_length=0),
    Cell("village_code", "region"),
    Cell("address", "text", required=False, max_length=500, line_breaks=True),
    Cell("rt", "rt", required=False),
    Cell("rw", "rt", required=False),
    Cell("latitude", "coord", required=False, low=-11, high=6),
    Cell("longitude", "coord", required=False, low=95, high=141),
    Cell("floor_area_m2", "number", low=0, high=100_000),
    *(Cell(name, "enum", values=values) for name, values in vocab.HOUSEHOLD_ENUMS.items()),
    *(Cell(name, "flag") for name in vocab.HOUSEHOLD_FLAGS),
    Cell("motorbikes", "count", high=99),
    Cell("large_livestock", "count", high=100_000),
)

MEMBER_CELLS: tuple[Cell, ...] = (
    Cell("kk_number", "id", max_length=0),
    Cell("nik", "id", max_length=0),
    Cell("name", "text", max_length=100),
    Cell("sex", "sex", values=vocab.SEX),
    Cell("birth_date", "date"),
    *(
        Cell(name, "enum", values=values)
        for name, values in vocab.MEMBER_ENUMS.items()
        if name != "sex"
    ),
    Cell("pregnant", "flag"),
    Cell("mother_name", "text", required=False, max_length=100),
)

HOUSEHOLD_VALUE_COLUMNS = tuple(c.name for c in HOUSEHOLD_CELLS)
MEMBER_VALUE_COLUMNS = tuple(c.name for c in MEMBER_CELLS)


@dataclass(frozen=True, slots=True)
class CheckOptions:
    as_of: date
    households_file: str
    members_file: str
    scope: str | None = None  # the importing user's region; None = national
    allow_duplicates: bool = False
