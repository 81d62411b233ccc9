"""Name normalisation for matching: one rule set, applied in Python or compiled to SQL.

The rules are data (regular expressions in the common subset of Python `re` and RE2, which
DuckDB uses), so a name normalises identically one at a time and a million at a time.
"""

from __future__ import annotations

import re
import unicodedata

# Titles and honorifics written before a name on Indonesian documents.
TITLES = (
    "h",
    "hj",
    "haji",
    "hajah",
    "hajjah",
    "drs",
    "dra",
    "dr",
    "ir",
    "prof",
    "kh",
    "bapak",
    "bpk",
    "ibu",
    "sdr",
    "sdri",
    "tn",
    "ny",
    "nn",
    "alm",
    "almh",
    "almarhum",
    "almarhumah",
    "raden",
    "rd",
)


def _latin_accents() -> dict[str, str]:
    """Accented Latin letters → their base letter ("é" → "e"), as one fixed table."""
    table = {}
    for code in range(0xC0, 0x250):
        decomposed = unicodedata.normalize("NFD", chr(code))
        if len(decomposed) > 1 and decomposed[0].isascii() and decomposed[0].isalpha():
            table[chr(code)] = decomposed[0]
    return table


# A fixed table rather than Unicode normalisation, so that Python and DuckDB (translate())
# strip exactly the same accents: "JOSÉ" and "JOSE" match, "Müller" is "muller".
ACCENTS = _latin_accents()
_ACCENTS_FROM = "".join(ACCENTS)
_ACCENTS_TO = "".join(ACCENTS.values())
_ACCENTS_TABLE = str.maketrans(ACCENTS)

# (pattern, replacement), applied in order to the lower-cased name.
RULES: tuple[tuple[str, str], ...] = (
    # Degrees follow a comma: "SUTRISNO, S.H., M.Si." → "sutrisno"
    (r",.*$", ""),
    # One or more leading titles: "H. Hj.SITI" → "siti"
    (r"^\s*((" + "|".join(TITLES) + r")(\.\s*|\s+))+", ""),
    # Apostrophes join ("Ma'ruf" → "maruf"); any other non-letter separates.
    (r"['`’]", ""),
    (r"[^a-z]+", " "),
    (r"^ +| +$", ""),
)


def normalise_name(name: str) -> str:
    """The name as matching compares it: lower case, no titles, degrees or punctuation."""
    # Python lowers "İ" (U+0130) to "i" plus a combining dot; DuckDB's lower() gives "i".
    text = name.replace("\u0130", "I").translate(_ACCENTS_TABLE).lower()
    for pattern, replacement in RULES:
        text = re.sub(pattern, replacement, text)
    return text


def normalise_name_sql(column: str) -> str:
    """The same rules as a DuckDB expression over `column`."""
    # translate() is slow in DuckDB (15 s for 3.5 M names); only non-ASCII names need it.
    expr = (
        f"lower(CASE WHEN strlen({column}) = length({column}) THEN {column} "
        f"ELSE translate({column}, '{_ACCENTS_FROM}', '{_ACCENTS_TO}') END)"
    )
    for pattern, replacement in RULES:
        quoted = pattern.replace("'", "''")
        expr = f"regexp_replace({expr}, '{quoted}', '{replacement}', 'g')"
    return expr
