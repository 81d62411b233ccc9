"""How one Indonesian name comes out differently when written a second time.

Each variant takes a name in capitals and uniform random numbers and returns the name as a
second clerk might write it, or None where the variant does not fit the name (no vowel that
the old spelling wrote otherwise, a single word that cannot lose one). Names stay within
what the exchange format carries unquoted: capitals, digits, spaces, full stops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lumbung.synth import noise

# The ways the Prophet's name is written on family cards, abbreviations included.
MUHAMMAD = ("MUHAMMAD", "MUHAMAD", "MOHAMMAD", "MOHAMAD", "MOCHAMMAD", "MOCHAMAD", "MOH.", "M.")
# Pre-1972 spelling (van Ophuijsen and Soewandi) against today's (EYD): old, new.
OLD_SPELLING = (("OE", "U"), ("DJ", "J"), ("TJ", "C"), ("SJ", "SY"), ("CH", "KH"))
# Honorifics before a name (H. and HJ. for those who made the hajj) and degrees after it,
# written without the comma a card shows (the exchange format is never quoted).
PREFIX_MALE = ("H.", "IR.", "DRS.", "DR.")
PREFIX_FEMALE = ("HJ.", "IR.", "DRA.", "DR.")
SUFFIX = ("S.PD", "S.AG", "S.E", "S.H", "S.KOM", "S.SOS", "A.MD", "S.T")
TITLES = frozenset(PREFIX_MALE + PREFIX_FEMALE + SUFFIX)
_DOUBLING = "BDGKLMNPRST"

Variant = Callable[[str, Sequence[float], bool, int], str | None]


def _choose(options: Sequence[str], r: float) -> str:
    return options[min(int(r * len(options)), len(options) - 1)]


def muhammad(name: str, r: Sequence[float], female: bool, age: int) -> str | None:
    """Another way of writing Muhammad, where the name holds one."""
    words = name.split(" ")
    at = [i for i, w in enumerate(words) if w in MUHAMMAD]
    if not at:
        return None
    i = at[0]
    others = [w for w in MUHAMMAD if w != words[i]]
    words[i] = _choose(others, r[0])
    return " ".join(words)


def old_spelling(name: str, r: Sequence[float], female: bool, age: int) -> str | None:
    """One spot written in the other spelling: SUKARNO → SOEKARNO, DJOKO → JOKO, …
    (the old way only for people old enough to have been named in it)."""
    spots: list[tuple[int, str, str]] = []
    for old, new in OLD_SPELLING:
        # Names given before 1972 were written the old way; a younger person's name is only
        # ever modernised by a clerk, not aged.
        ways = ((old, new), (new, old)) if age >= 45 else ((old, new),)
        for source, target in ways:
            start = name.find(source)
            while start >= 0:
                # U → OE only as a vowel (not in the old spelling's own OE), J → DJ not in DJ.
                before = name[start - 1] if start else " "
                inside_old = (source, before) in (("U", "O"), ("J", "D"))
                if not inside_old and not (source == "C" and name[start : start + 2] == "CH"):
                    spots.append((start, source, target))
                start = name.find(source, start + 1)
    if not spots:
        return None
    start, source, target = spots[min(int(r[0] * len(spots)), len(spots) - 1)]
    return name[:start] + target + name[start + len(source) :]


def doubled_letter(name: str, r: Sequence[float], female: bool, age: int) -> str | None:
    """A doubled consonant written once (MUHAMMAD → MUHAMAD), or a single one doubled
    (SITI → SITTI) between two vowels."""
    vowels = "AEIOU"
    single = [
        i
        for i in range(1, len(name) - 1)
        if name[i] in _DOUBLING and name[i - 1] in vowels and name[i + 1] in vowels
    ]
    double = [i for i in range(1, len(name)) if name[i] == name[i - 1] and name[i] in _DOUBLING]
    if double and (r[1] < 0.5 or not single):
        i = double[min(int(r[0] * len(double)), len(double) - 1)]
        return name[:i] + name[i + 1 :]
    if not single:
        return None
    i = single[min(int(r[0] * len(single)), len(single) - 1)]
    return name[: i + 1] + name[i:]


def title(name: str, r: Sequence[float], female: bool, age: int) -> str | None:
    """An honorific before the name (older adults) or a degree after it (adults)."""
    if age < 23:
        return None
    if r[1] < 0.6 and age >= 35:
        prefix = _choose(PREFIX_FEMALE if female else PREFIX_MALE, r[0])
        return f"{prefix} {name}"
    return f"{name} {_choose(SUFFIX, r[0])}"


def single_name(name: str, r: Sequence[float], female: bool, age: int) -> str | None:
    """One word of a name of several: the first (usually) or the last."""
    words = [w for w in name.split(" ") if len(w) >= 3 and "." not in w]
    if len(name.split(" ")) < 2 or not words:
        return None
    return words[0] if r[0] < 0.7 or len(words) == 1 else words[-1]


def typo(name: str, r: Sequence[float], female: bool, age: int) -> str | None:
    """One letter swapped with its neighbour, dropped or doubled."""
    return noise.typo(name, r)


NAME_VARIANTS: dict[str, Variant] = {
    "name_muhammad": muhammad,
    "name_old_spelling": old_spelling,
    "name_doubled_letter": doubled_letter,
    "name_title": title,
    "name_single": single_name,
    "name_typo": typo,
}
