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


# Degrees written after a name without a comma ("SUTRISNO S.H", "ANI S.PD. M.SI"): a
# one-letter grade, a dot, a short field ("s.pd", "m.si", "s.h"), or a few written without dots.
_DEGREE = (
    r"((s|m|a|d)\.\s?[a-z]{1,4}\.?|a\.?md\.?"
    r"|amd|ama|bsc|mba|phd|sh|se|st|sag|sip|skm|ssi|spd|spdi|ssos|skom|mpd|msi|mm)"
)

# (pattern, replacement), applied in order after `RULES` (to the normalised name, a-z and
# single spaces): the canonical form that matching compares. Each is a regular expression
# in the common subset of Python `re` and RE2 (no back-references, no look-around).
CANONICAL_PRE_RULES: tuple[tuple[str, str], ...] = (
    (r"(\s+" + _DEGREE + r")+\s*$", ""),
    (r"^\s*((" + "|".join(TITLES) + r")(\.\s*|\s+))+", ""),
)
CANONICAL_RULES: tuple[tuple[str, str], ...] = (
    # Muhammad in all its spellings and abbreviations, as a whole word.
    (r"\bm[ou]c?h?am+[ae]d\b", "muhamad"),
    (r"\b(m|mhd|moh|muh|mohd|mhmd|md|muhd|moch|much|mch|mochd)\b", "muhamad"),
    # The old spelling (before 1972): Soekarno, Djoko, Tjahjo, Sjahrir, Chairul.
    ("oe", "u"),
    # "ch" before "m" was the Dutch spelling of "h": Achmad, Rachmat, Rochman.
    ("chm", "hm"),
    ("dj", "j"),
    ("tj", "c"),
    ("sj", "sy"),
    ("ch", "kh"),
    # Doubled letters: Sitti, Nurrahman, Muhammad (RE2 has no back-references: one per letter).
    *((letter + "{2,}", letter) for letter in "abcdefghijklmnopqrstuvwxyz"),
)


def canonical_name(name: str) -> str:
    """The name as the matching engine compares it (see `CANONICAL_RULES`).

    "H. Moch. Soekarno, S.H." and "Muhamad Sukarno" are both "muhamad sukarno"."""
    text = name.replace("\u0130", "I").translate(_ACCENTS_TABLE).lower()
    for pattern, replacement in CANONICAL_PRE_RULES:
        text = re.sub(pattern, replacement, text)
    text = normalise_name(text)
    for pattern, replacement in CANONICAL_RULES:
        text = re.sub(pattern, replacement, text)
    return text


def canonical_name_sql(column: str) -> str:
    """`canonical_name` as a DuckDB expression over `column`."""
    expr = (
        f"lower(CASE WHEN strlen({column}) = length({column}) THEN {column} "
        f"ELSE translate({column}, '{_ACCENTS_FROM}', '{_ACCENTS_TO}') END)"
    )
    for pattern, replacement in CANONICAL_PRE_RULES:
        expr = f"regexp_replace({expr}, '{pattern}', '{replacement}', 'g')"
    for pattern, replacement in RULES:
        quoted = pattern.replace("'", "''")
        expr = f"regexp_replace({expr}, '{quoted}', '{replacement}', 'g')"
    for pattern, replacement in CANONICAL_RULES:
        expr = f"regexp_replace({expr}, '{pattern}', '{replacement}', 'g')"
    return expr


# The sound key of a word: its first letter, then its consonants with the letters that sound
# alike in Indonesian spellings made one (f/v/p, z/s, q/k) and vowels, h, w and y dropped:
# "nurhaliza" and "nurhalisah" are both "nrls". Used for blocking, never for scoring.
SOUND_FROM = "fvzqx"
SOUND_TO = "ppskk"
_SOUND_TABLE = str.maketrans(SOUND_FROM, SOUND_TO)
SOUND_DROP = r"[aeiouhwy]"


def sound_key(word: str) -> str:
    """The sound key of one canonical word ("" for "")."""
    if not word:
        return ""
    alike = word.translate(_SOUND_TABLE)
    rest = re.sub(SOUND_DROP, "", alike[1:])
    for letter in "abcdefghijklmnopqrstuvwxyz":
        rest = re.sub(letter + "{2,}", letter, rest)
    return alike[0] + rest


def sound_key_sql(column: str) -> str:
    """`sound_key` as a DuckDB expression over `column` (a canonical word)."""
    alike = f"translate({column}, '{SOUND_FROM}', '{SOUND_TO}')"
    rest = f"regexp_replace(substr({alike}, 2), '{SOUND_DROP}', '', 'g')"
    for letter in "abcdefghijklmnopqrstuvwxyz":
        rest = f"regexp_replace({rest}, '{letter}{{2,}}', '{letter}', 'g')"
    return f"(substr({alike}, 1, 1) || {rest})"
