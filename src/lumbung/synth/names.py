"""Indonesian personal names, drawn vectorised and written in capitals as on a KTP."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lumbung.synth.population import CHILD, GRANDCHILD, HEAD, SPOUSE, Members
from lumbung.synth.tables import PROVINCES, BoolArr, IntArr

_LISTS = (
    "given_male",
    "given_female",
    "second_male",
    "second_female",
    "christian_male",
    "christian_female",
    "bali_male",
    "bali_female",
    "bali_order",
    "surname_batak",
    "surname_minahasa",
    "surname_maluku",
    "surname_ntt",
    "surname_papua",
)
# Family names are the norm only in some regions: Batak marga, Minahasa fam, Maluku fam,
# Timor/Flores clan names and Papuan clan names.
_SURNAME_GROUP = {
    "12": "surname_batak",
    "71": "surname_minahasa",
    "81": "surname_maluku",
    "53": "surname_ntt",
    **dict.fromkeys(("91", "92", "93", "94", "95", "96"), "surname_papua"),
}
# Share of people with Christian given names, where that share is large.
_CHRISTIAN = {"12": 0.55, "53": 0.85, "71": 0.65, "81": 0.5, "91": 0.75, "92": 0.6}
_CHRISTIAN.update(dict.fromkeys(("93", "94", "95", "96"), 0.8))
_BALI = "51"


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    words: pa.Array  # all lists concatenated
    offset: dict[str, int]
    size: dict[str, int]


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    """The name lists from the package data, concatenated into one string array."""
    words: list[str] = ["I", "NI"]  # Balinese sex prefixes at positions 0 and 1
    offset: dict[str, int] = {}
    size: dict[str, int] = {}
    data = files("lumbung.synth") / "data"
    for name in _LISTS:
        entries = [w.strip() for w in (data / f"{name}.txt").read_text("utf-8").splitlines()]
        entries = [w for w in entries if w]
        offset[name] = len(words)
        size[name] = len(entries)
        words.extend(entries)
    return _Vocabulary(pa.array(words, type=pa.string()), offset, size)


@lru_cache(maxsize=1)
def _province_tables() -> tuple[IntArr, IntArr, np.ndarray[tuple[int], np.dtype[np.float64]]]:
    """Per province: surname list offset and size (−1/0 when none) and Christian share."""
    vocab = _vocabulary()
    off = np.full(len(PROVINCES), -1, dtype=np.int64)
    size = np.zeros(len(PROVINCES), dtype=np.int64)
    christian = np.zeros(len(PROVINCES), dtype=np.float64)
    for i, p in enumerate(PROVINCES):
        group = _SURNAME_GROUP.get(p.code)
        if group is not None:
            off[i] = vocab.offset[group]
            size[i] = vocab.size[group]
        christian[i] = _CHRISTIAN.get(p.code, 0.02)
    return off, size, christian


def surnames(rng: np.random.Generator, province: IntArr, share: float) -> IntArr:
    """A family name (vocabulary index) for `share` of people where such names are used, else −1."""
    off, size, _ = _province_tables()
    u = rng.random((2, len(province)))
    o, s = off[province], size[province]
    pick = o + np.floor(u[0] * s).astype(np.int64)
    return np.where((o >= 0) & (u[1] < share), pick, -1)


def _pick(u: np.ndarray[tuple[int], np.dtype[np.float64]], off: IntArr, size: IntArr) -> IntArr:
    """Index of a uniformly chosen word in the list at (off, size) per person."""
    return off + np.minimum(np.floor(u * size).astype(np.int64), size - 1)


def _not_twice(idx: IntArr, other: IntArr, off: IntArr, size: IntArr) -> IntArr:
    """Shift a pick to the next word of its list where it repeats the previous part."""
    same = idx == other
    return np.where(same, off + (idx - off + 1) % size, idx)


def person_names(
    rng: np.random.Generator,
    *,
    female: BoolArr,
    age: IntArr,
    province: IntArr,
    surname: IntArr,
) -> pa.Array:
    """Full names: one to three given names, a family name if given, Balinese order names."""
    v = _vocabulary()
    n = len(age)
    u = rng.random((7, n))
    f = female.astype(np.int64)

    def lst(male: str, fem: str) -> tuple[IntArr, IntArr]:
        return (
            np.where(female, v.offset[fem], v.offset[male]).astype(np.int64),
            np.where(female, v.size[fem], v.size[male]).astype(np.int64),
        )

    g_off, g_size = lst("given_male", "given_female")
    s_off, s_size = lst("second_male", "second_female")
    c_off, c_size = lst("christian_male", "christian_female")
    b_off, b_size = lst("bali_male", "bali_female")
    _, _, christian_share = _province_tables()
    christian = u[0] < christian_share[province]
    # Older Indonesians mostly carry one name; younger ones two or three.
    n_parts = np.where(age >= 50, 1 + (u[1] < 0.4), 1 + (u[1] < 0.75) + (u[1] < 0.12))
    first_off = np.where(christian, c_off, g_off)
    first_size = np.where(christian, c_size, g_size)
    p1 = _pick(u[2], first_off, first_size)
    second_from_given = u[3] < 0.4
    p2_off = np.where(second_from_given, g_off, s_off)
    p2_size = np.where(second_from_given, g_size, s_size)
    p2 = _not_twice(_pick(u[4], p2_off, p2_size), p1, p2_off, p2_size)
    p2 = np.where(n_parts >= 2, p2, -1)
    p3 = np.where(n_parts >= 3, _pick(u[5], s_off, s_size), -1)
    has_surname = surname >= 0
    p2 = np.where(has_surname & (n_parts <= 2), surname, p2)
    p3 = np.where(has_surname & (n_parts == 3), surname, p3)
    p0 = np.full(n, -1, dtype=np.int64)
    bali = province == _province_position(_BALI)
    if bali.any():
        order = _pick(u[6], np.full(n, v.offset["bali_order"]), np.full(n, v.size["bali_order"]))
        given = _pick(u[2], b_off, b_size)
        extra = _not_twice(_pick(u[4], b_off, b_size), given, b_off, b_size)
        p0 = np.where(bali, f, p0)  # "I" or "NI"
        p1 = np.where(bali, order, p1)
        p2 = np.where(bali, given, p2)
        p3 = np.where(bali, np.where(u[5] < 0.4, extra, -1), p3)
    parts = [pc.take(v.words, pa.array(p, mask=p < 0)) for p in (p0, p1, p2, p3)]
    return pc.binary_join_element_wise(*parts, " ", null_handling="skip")


@lru_cache(maxsize=1)
def _province_position_table() -> dict[str, int]:
    return {p.code: i for i, p in enumerate(PROVINCES)}


def _province_position(code: str) -> int:
    """Index of a province code in PROVINCES."""
    return _province_position_table()[code]


def _first_in_household(rows: IntArr, household: IntArr) -> IntArr:
    """For each of `rows` (ascending), the first of them in the same household."""
    hh = household[rows]
    _, first = np.unique(hh, return_index=True)
    starts = np.zeros(len(rows), dtype=np.bool_)
    starts[first] = True
    out: IntArr = rows[np.maximum.accumulate(np.where(starts, np.arange(len(rows)), 0))]
    return out


def family_names(
    rng: np.random.Generator, people: Members, age: IntArr, province: IntArr
) -> tuple[pa.Array, pa.Array]:
    """Names and mothers' names of a chunk's members (`province` per household)."""
    hh = people.household
    rel = people.relationship
    m = len(hh)
    prov = province[hh]
    # The family name is the father's: it passes to children and grandchildren, while a
    # wife (or a female head with a husband) keeps her own.
    husband = np.zeros(len(province), dtype=np.bool_)
    husband[hh[(rel == SPOUSE) & ~people.female]] = True
    carries = (np.isin(rel, (HEAD, SPOUSE)) & ~people.female) | (
        (rel == HEAD) & people.female & ~husband[hh]
    )
    inherits = carries | np.isin(rel, (CHILD, GRANDCHILD))
    family = surnames(rng, province, 0.8)[hh]
    own = surnames(rng, prov, 0.7)
    surname = np.where(inherits, family, own)
    names = person_names(rng, female=people.female, age=age, province=prov, surname=surname)
    strangers = person_names(
        rng,
        female=np.ones(m, dtype=np.bool_),
        age=age + 25,
        province=prov,
        surname=surnames(rng, prov, 0.7),
    )
    # A mother who is not in the household is still one mother for all her children there.
    source = np.arange(m, dtype=np.int64)
    for group in (CHILD, GRANDCHILD):
        rows = np.nonzero((rel == group) & (people.mother < 0))[0].astype(np.int64)
        source[rows] = _first_in_household(rows, hh)
    linked = np.where(people.mother >= 0, people.mother, m + source)
    mother_name = pc.take(pa.concat_arrays([names, strangers]), pa.array(linked))
    # Older people often do not know or give their mother's name.
    unknown = rng.random(m) < np.where(age >= 60, 0.2, 0.03)
    return names, pc.if_else(pa.array(unknown), pa.scalar(None, pa.string()), mother_name)
