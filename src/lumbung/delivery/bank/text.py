"""Text as a bank file may carry it: the ISO 20022 Latin character set, escaped for XML, and
(for CSV) in cells no spreadsheet reads as a formula (`lumbung.spreadsheets`).

The ISO 20022 XSD itself allows any Unicode in a `Max140Text`, but banks' clearing (and the
SWIFT "x" set that most of their guidelines require) accept only
`a-z A-Z 0-9 / - ? : ( ) . , ' +` and the space. A name is transliterated into that set
(`Dédé Müller` → `Dede Muller`, `ß` → `ss`), a few characters get their conventional stand-ins
(`&` → `+`, `<` and `>` → `(` and `)`, a double quote → `'`), and anything else (another
script, a control character) becomes a space; runs of spaces collapse, and the result is cut
to the field's length. What comes out needs no XML escaping, yet `xml_text` escapes anyway, so
that a change to the set can never open the file to markup.
"""

from __future__ import annotations

import re
import unicodedata
from xml.sax.saxutils import escape

ALLOWED = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]*")
_SIMPLE = re.compile(r"[A-Za-z0-9/\-?:().,'+]+(?: [A-Za-z0-9/\-?:().,'+]+)*")
_SPACES = re.compile(r" {2,}")
# What needs no change at all (nor any XML escaping) in a field of 140: most names.
PLAIN = re.compile(r"(?=.{1,140}\Z)[A-Za-z0-9/\-?:().,'+]+(?: [A-Za-z0-9/\-?:().,'+]+)*")
# Letters NFKD does not take apart, and punctuation with a conventional stand-in.
_STAND_INS = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "TH",
        "ı": "i",
        "&": "+",
        "<": "(",
        ">": ")",
        "[": "(",
        "]": ")",
        "{": "(",
        "}": ")",
        '"': "'",
        "`": "'",
        "‘": "'",
        "’": "'",
        "“": "'",
        "”": "'",
        "_": "-",
        "–": "-",
        "—": "-",
        ";": ",",
        "!": ".",
        "#": " ",
        "@": " ",
        "*": " ",
        "=": " ",
        "%": " ",
        "\\": "/",
        "|": "/",
        "~": "-",
        "^": " ",
        "$": " ",
    }
)
NOT_PROVIDED = "NOTPROVIDED"  # ISO 20022's conventional stand-in for a name not given


def latin(value: str | None, length: int) -> str:
    """`value` in the bank character set, at most `length` characters, never empty
    (`NOTPROVIDED` for nothing left)."""
    if not value:
        return NOT_PROVIDED
    if len(value) <= length and _SIMPLE.fullmatch(value):
        return value  # the common case: plain Latin letters and single spaces
    decomposed = unicodedata.normalize("NFKD", value.translate(_STAND_INS))
    kept = "".join(
        c if ALLOWED.fullmatch(c) else " "
        for c in decomposed
        if not unicodedata.combining(c)  # the accents NFKD took off the letters
    )
    cleaned = _SPACES.sub(" ", kept).strip()[:length].rstrip()
    return cleaned or NOT_PROVIDED


def xml_text(value: str | None, length: int) -> str:
    """`latin`, escaped for an XML element's text."""
    return escape(latin(value, length))
