"""SQL building blocks for the batch checks: macros and one error expression per column.

Every check is an expression over VARCHAR cells, evaluated by DuckDB for all rows at once.
A cell's error expression yields `code|message` for the first check it fails, or NULL.
User data only ever flows through these expressions as values, never as SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass

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
CREATE OR REPLACE MACRO lb_mask_id(x) AS x[1:4] || '********' || x[13:16];
"""


def lit(text: str) -> str:
    """A SQL string literal of a constant from our own code (never of user data)."""
    return "'" + text.replace("'", "''") + "'"


def err(code: str, message_sql: str) -> str:
    return f"{lit(code + '|')} || {message_sql}"


def shown(column: str) -> str:
    """The cell's value, quoted and cut short, for messages."""
    return f"'\"' || left({column}, 40) || '\"'"


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
