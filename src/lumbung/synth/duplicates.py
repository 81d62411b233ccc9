"""People registered twice, and the look-alikes who are not the same person, with their truth.

A share of the people of a chunk is written a second time, as a clerk elsewhere wrote them:

- `reregistered`: the whole family again in its own village on a new family card (KK);
- `moved`: the whole family again in another village of its regency or province, new KK;
- `split`: one adult again on a card of their own in the same village or nearby.

Every copied row keeps passing the import's checks, as a real operator's row would: its NIK
is never the original's (the import refuses an exact duplicate) except for `nik_exact`, the
blocked duplicates, where both rows are refused; a birth date written wrongly comes with a
NIK issued from that wrong date (the NIK's digits 7–12 must agree with the row). The noise of
a copy is recorded as kinds (`KINDS`), several per copy.

Look-alikes that are distinct persons, which a matcher must keep apart: twins (one family
card, one birth date, other first names, NIKs of one birth date, mostly one district) and
common names (MUHAMMAD …, SITI … of one sex born in one year in one district, in different
families). MUHAMMAD is put before the names of a share of younger men where names are given
that way, as common in Java as the name lists alone would not make it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lumbung.registry import vocab
from lumbung.synth import output, spelling
from lumbung.synth.identity import Dates, UniqueNumbers, day_number, kk_numbers, split_dates
from lumbung.synth.population import CHILD, HEAD, Members
from lumbung.synth.tables import (
    LAT_BOUNDS,
    LON_BOUNDS,
    PROVINCES,
    BoolArr,
    FloatArr,
    IntArr,
    VillageIndex,
    village_index,
)

EVENTS = ("reregistered", "moved", "split")
_EVENT_SHARE = (0.15, 0.45, 0.40)
NAME_KINDS = tuple(spelling.NAME_VARIANTS)
DATE_KINDS = ("date_swap", "year_typo")
NIK_KINDS = ("nik_digit", "nik_transposition", "nik_reissued", "nik_exact")
KINDS = (*NAME_KINDS, *DATE_KINDS, *NIK_KINDS, "moved_village", "moved_district")
# How often a copy's name is written differently, and how the other ways are weighed.
_NAME_NOISE = 0.75
_SECOND_NAME_NOISE = 0.2
_NAME_WEIGHT = {
    "name_muhammad": 3.0,  # where the name has it, the most frequent variant of all
    "name_old_spelling": 1.0,
    "name_doubled_letter": 0.8,
    "name_title": 0.6,
    "name_single": 0.6,
    "name_typo": 1.0,
}
_DATE_NOISE = 0.2
_NIK_SHARE = {"nik_digit": 0.5, "nik_transposition": 0.25, "nik_reissued": 0.25}
_EXACT_NIK = 0.15  # of split copies of a member who is not a head: blocked at import
_TWINS = 0.03  # of families with two children in a row on the card
_MUHAMMAD = 0.12  # of men under 55 where names are given that way
_COMMON_NAME_PAIRS = 0.006  # pairs per member
_COMMON_MALE = (("MUHAMMAD", "AHMAD"), ("RIZKI", "ALI", "YUSUF", "IQBAL", "HIDAYAT", "ARIF"))
_COMMON_FEMALE = (("SITI", "NUR"), ("AMINAH", "FATIMAH", "AISYAH", "KHADIJAH", "ROHMAH", "HASANAH"))
_TWIN_MALE = ("RIZKI", "FAJAR", "DIMAS", "BAYU", "ILHAM", "REZA")
_TWIN_FEMALE = ("PUTRI", "AYU", "INDAH", "NADIA", "SALSA", "AULIA")
# Provinces where names follow other customs (family names, Balinese order names).
_OTHER_NAMING = frozenset({"12", "51", "53", "71", "81", "91", "92", "93", "94", "95", "96"})
# NIK digits a clerk mistypes without the row failing the import's date check: the regency
# and district (3–6) and the serial (13–16); the province (1–2) must stay a province.
_TYPO_POSITIONS = (2, 3, 4, 5, 12, 13, 14, 15)
_SWAP_POSITIONS = (2, 3, 4, 12, 13, 14)  # i and i + 1


@dataclass(frozen=True, slots=True)
class Twins:
    """Twin pairs of a chunk as member rows (first, second)."""

    first: IntArr
    second: IntArr


def twins(
    rng: np.random.Generator, people: Members, dates: Dates, reference: dt.date
) -> tuple[Dates, IntArr, Twins]:
    """Some pairs of children made twins: the second child takes the first one's birth date.
    Returns the new dates, exact ages, and the pairs."""
    hh, rel = people.household, people.relationship
    pair = (
        (rel[:-1] == CHILD)
        & (rel[1:] == CHILD)
        & (hh[:-1] == hh[1:])
        & (people.mother[:-1] == people.mother[1:])
    )
    candidates = np.nonzero(pair)[0]
    # One pair per family at most: the first pair of children on its card.
    _, first_of_family = np.unique(hh[candidates], return_index=True)
    candidates = candidates[first_of_family]
    chosen = np.sort(candidates[rng.random(len(candidates)) < _TWINS]).astype(np.int64)
    days = dates.days.copy()
    days[chosen + 1] = days[chosen]
    new = split_dates(days)
    later = (new.month > reference.month) | (
        (new.month == reference.month) & (new.day > reference.day)
    )
    age = (reference.year - new.year - later).astype(np.int64)
    return new, age, Twins(chosen, chosen + 1)


def distinct_twin_names(names: pa.Array, pair: Twins, female: BoolArr) -> pa.Array:
    """Twins are given different first names: the second one's changes where they agree."""
    values = names.to_pylist()
    for a, b in zip(pair.first.tolist(), pair.second.tolist(), strict=True):
        first_a = str(values[a]).partition(" ")[0]
        first_b, _, rest_b = str(values[b]).partition(" ")
        if first_a == first_b:
            pool = _TWIN_FEMALE if female[b] else _TWIN_MALE
            other = next(w for w in pool if w != first_a)
            values[b] = f"{other} {rest_b}".strip()
    return pa.array(values, type=pa.string())


def muhammad_names(
    rng: np.random.Generator,
    *,
    names: pa.Array,
    people: Members,
    age: IntArr,
    province: IntArr,
    exclude: IntArr,
) -> pa.Array:
    """MUHAMMAD before the names of a share of the younger men where names are given that way
    (in Java about one young man in eight carries it; the name lists alone give far fewer).
    `province` per member row; `exclude`: rows not to rename (twins)."""
    other_naming = np.array([p.code in _OTHER_NAMING for p in PROVINCES], dtype=np.bool_)
    chosen = (
        ~people.female & (age < 55) & ~other_naming[province] & (rng.random(len(age)) < _MUHAMMAD)
    )
    chosen[exclude] = False
    values = names.to_pylist()
    for row in np.nonzero(chosen)[0].tolist():
        name = str(values[row])
        if name.split(" ")[0] not in spelling.MUHAMMAD and len(name) <= 90:
            values[row] = f"MUHAMMAD {name}"
    return pa.array(values, type=pa.string())


def common_names(
    rng: np.random.Generator,
    *,
    names: pa.Array,
    mother_name: pa.Array,
    people: Members,
    dates: Dates,
    age: IntArr,
    district: IntArr,
    province: IntArr,
    exclude: IntArr,
) -> tuple[pa.Array, pa.Array, IntArr]:
    """Pairs of adults of one sex, born in one year, in one district, in different families,
    given one common name (MUHAMMAD RIZKI, SITI AMINAH, …). `district` and `province` per
    member row; `exclude`: rows not to rename (twins). Returns names, mothers' names and per
    row the first row of its pair (−1 where none)."""
    m = len(age)
    other_naming = np.array([p.code in _OTHER_NAMING for p in PROVINCES], dtype=np.bool_)
    eligible = (age >= 18) & ~other_naming[province]
    eligible[exclude] = False
    rows = np.nonzero(eligible)[0]
    key = (district[rows] * 10_000 + dates.year[rows]) * 2 + people.female[rows]
    order = np.argsort(key, kind="stable")
    rows, key = rows[order], key[order]
    # Pairs of neighbours in a group of one key from different families, not overlapping.
    pairs: list[tuple[int, int]] = []
    i = 0
    while i + 1 < len(rows):
        a, b = int(rows[i]), int(rows[i + 1])
        if key[i] == key[i + 1] and people.household[a] != people.household[b]:
            pairs.append((a, b))
            i += 2
        else:
            i += 1
    want = min(len(pairs), round(_COMMON_NAME_PAIRS * m))
    picked = sorted(rng.choice(len(pairs), size=want, replace=False).tolist()) if want else []
    values = names.to_pylist()
    group = np.full(m, -1, dtype=np.int64)
    renamed: dict[int, str] = {}
    u = rng.random((len(picked), 2))
    for (first, second), r in zip((pairs[k] for k in picked), u, strict=True):
        given, second_names = _COMMON_FEMALE if people.female[first] else _COMMON_MALE
        name = f"{spelling_choice(given, r[0])} {spelling_choice(second_names, r[1])}"
        for row in (first, second):
            values[row] = name
            renamed[row] = name
            group[row] = first
    mothers = mother_name.to_pylist()
    for row in np.nonzero(np.isin(people.mother, list(renamed)))[0].tolist():
        if mothers[row] is not None:
            mothers[row] = renamed[int(people.mother[row])]
    return (
        pa.array(values, type=pa.string()),
        pa.array(mothers, type=pa.string()),
        group,
    )


def spelling_choice(options: Sequence[str], r: float) -> str:
    return options[min(int(r * len(options)), len(options) - 1)]


@dataclass(frozen=True, slots=True)
class Copies:
    """The second registrations of a chunk: their rows and, per member row, its truth."""

    households: pa.Table
    members: pa.Table
    consumption: pa.Table
    source: IntArr  # per copied member row: the chunk's member row it copies
    event: list[str]
    kinds: list[str]  # "|"-joined noise kinds per copied member row


@dataclass(frozen=True, slots=True)
class ChunkView:
    """What `copies` reads of a chunk (member arrays per row, household arrays per family)."""

    members: pa.Table  # the chunk's member rows as generated, before --noise
    households: pa.Table
    consumption: pa.Table
    people: Members
    dates: Dates
    age: IntArr
    nik: IntArr
    pregnant: BoolArr
    village: IntArr  # per household


def copies(
    rng: np.random.Generator,
    share: float,
    chunk: ChunkView,
    *,
    villages: VillageIndex,
    nik_numbers: UniqueNumbers,
    kk_allocator: UniqueNumbers,
    reference: dt.date,
) -> Copies:
    """About `share` of the chunk's members written a second time, with noise."""
    people = chunk.people
    size = people.size
    n = len(size)
    first = np.concatenate(([0], np.cumsum(size)[:-1])).astype(np.int64)
    budget = round(share * len(people.household))
    order = rng.permutation(n)
    draws = rng.random((n, 3))
    cumulative = np.cumsum(_EVENT_SHARE)
    families: list[tuple[int, str, list[int]]] = []  # (household, event, member rows)
    total = 0
    for h, u in zip(order.tolist(), draws[order], strict=True):
        if total >= budget:
            break
        event = EVENTS[int(np.searchsorted(cumulative, u[0] * cumulative[-1], side="right"))]
        rows = list(range(int(first[h]), int(first[h] + size[h])))
        if event == "split":
            adults = [r for r in rows if chunk.age[r] >= 18]
            if not adults:
                continue
            rows = [adults[min(int(u[1] * len(adults)), len(adults) - 1)]]
        families.append((h, event, rows))
        total += len(rows)

    source = np.array([r for _, _, rows in families for r in rows], dtype=np.int64)
    new_village = _new_villages(rng, families, chunk.village, villages)
    member_family = np.repeat(
        np.arange(len(families)), [len(rows) for _, _, rows in families]
    ).astype(np.int64)
    event_of_row = [families[f][1] for f in member_family.tolist()]
    moved = [
        "moved_district"
        if villages.district[new_village[f]] != villages.district[chunk.village[h]]
        else "moved_village"
        for f, (h, event, _) in enumerate(families)
        if event == "moved"
    ]
    names, dates, nik, kinds = _noisy_members(
        rng,
        chunk,
        source,
        splits=[
            e == "split" and int(people.relationship[r]) != HEAD
            for e, r in zip(event_of_row, source.tolist(), strict=True)
        ],
        nik_numbers=nik_numbers,
        reference=reference,
    )
    moved_at = iter(moved)
    family_kind = [next(moved_at) if event == "moved" else "" for _, event, _ in families]
    for i, f in enumerate(member_family.tolist()):
        if family_kind[f]:
            kinds[i] = "|".join([*filter(None, kinds[i].split("|")), family_kind[f]])

    youngest = np.full(len(families), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(youngest, member_family, dates)
    kk = kk_numbers(
        rng,
        kk_allocator,
        district=villages.district[new_village],
        youngest_birth=youngest,
        reference=reference,
    )
    kk_text = output.text(kk)
    origin = np.array([h for h, _, _ in families], dtype=np.int64)
    households = _household_rows(rng, chunk.households, origin, new_village, kk_text, villages)
    consumption = chunk.consumption.take(pa.array(origin))
    consumption = consumption.set_column(0, "kk_number", kk_text).set_column(
        2, "members", pa.array([len(rows) for _, _, rows in families], type=pa.int64())
    )
    members = chunk.members.take(pa.array(source))
    relationship = pc.if_else(
        pa.array([e == "split" for e in event_of_row], type=pa.bool_()),
        pa.scalar(vocab.HEAD),
        members["relationship"],
    )
    replaced = {
        "kk_number": pc.take(kk_text, pa.array(member_family)),
        "nik": output.text(nik),
        "name": pa.array(names, type=pa.string()),
        "birth_date": pc.cast(pa.array(dates.astype(np.int32), type=pa.date32()), pa.string()),
        "relationship": relationship,
    }
    for column, values in replaced.items():
        members = members.set_column(members.schema.get_field_index(column), column, values)
    return Copies(households, members, consumption, source, event_of_row, kinds)


@lru_cache(maxsize=1)
def _regency_spans() -> dict[str, tuple[int, int]]:
    """Index range of the villages of each regency (PP.KK)."""
    codes = village_index().codes
    spans: dict[str, tuple[int, int]] = {}
    for i, code in enumerate(codes):
        low, _ = spans.get(code[:5], (i, i))
        spans[code[:5]] = (low, i + 1)
    return spans


def _new_villages(
    rng: np.random.Generator,
    families: list[tuple[int, str, list[int]]],
    village: IntArr,
    villages: VillageIndex,
) -> IntArr:
    """Where each copy is registered: its own village, or another one nearby or further."""
    spans = _regency_spans()
    out = np.empty(len(families), dtype=np.int64)
    u = rng.random((len(families), 3))
    for f, ((h, event, _), r) in enumerate(zip(families, u, strict=True)):
        home = int(village[h])
        if event == "reregistered" or (event == "split" and r[0] < 0.7):
            out[f] = home
            continue
        if r[1] < 0.5:  # another village of the regency
            low, high = spans[villages.codes[home][:5]]
        else:  # anywhere in the province
            p = int(villages.province[home])
            low, high = int(villages.start[p]), int(villages.start[p] + villages.count[p])
        if high - low < 2:
            out[f] = home
            continue
        pick = low + int(r[2] * (high - low - 1))
        out[f] = pick + 1 if pick >= home else pick  # never the home village itself
    return out


def _household_rows(
    rng: np.random.Generator,
    households: pa.Table,
    origin: IntArr,
    village: IntArr,
    kk_text: pa.Array,
    villages: VillageIndex,
) -> pa.Table:
    """The copied families' rows: the same house as written before, at the new address."""
    k = len(origin)
    urban = villages.urban[village]
    lat = np.clip(villages.lat[village] + rng.normal(0.0, 0.005, k), *LAT_BOUNDS)
    lon = np.clip(villages.lon[village] + rng.normal(0.0, 0.005, k), *LON_BOUNDS)
    replaced = {
        "kk_number": kk_text,
        "village_code": pa.array([villages.codes[v] for v in village.tolist()], type=pa.string()),
        "address": output.address(rng, urban),
        "rt": pc.utf8_lpad(output.text(rng.integers(1, 16, k)), width=3, padding="0"),
        "rw": pc.utf8_lpad(output.text(rng.integers(1, 9, k)), width=3, padding="0"),
        "latitude": output.fixed6(np.round(lat * 1e6).astype(np.int64)),
        "longitude": output.fixed6(np.round(lon * 1e6).astype(np.int64)),
    }
    table = households.take(pa.array(origin))
    for column, values in replaced.items():
        table = table.set_column(table.schema.get_field_index(column), column, values)
    return table


def _noisy_members(
    rng: np.random.Generator,
    chunk: ChunkView,
    source: IntArr,
    *,
    splits: list[bool],
    nik_numbers: UniqueNumbers,
    reference: dt.date,
) -> tuple[list[str], IntArr, IntArr, list[str]]:
    """Names, birth days (since 1970), NIKs and noise kinds of the copied member rows.
    `splits`: rows that may carry the original's exact NIK (split copies of non-heads)."""
    k = len(source)
    names = pc.take(chunk.members["name"], pa.array(source)).to_pylist()
    female = chunk.people.female[source]
    age = chunk.age[source]
    r = rng.random((k, 8))
    variant_r = rng.random((k, 2, 3))
    kinds: list[list[str]] = [[] for _ in range(k)]
    out_names: list[str] = []
    for i in range(k):
        name = str(names[i])
        if r[i, 0] < _NAME_NOISE:
            done: set[str] = set()
            for step in range(1 + (r[i, 1] < _SECOND_NAME_NOISE)):
                picked = _pick_variant(name, variant_r[i, step], bool(female[i]), int(age[i]), done)
                if picked is None:
                    break
                kind, new = picked
                name = new
                done.add(kind)
                kinds[i].append(kind)
        if name == names[i]:  # a second variant undid the first (a letter doubled, undoubled)
            kinds[i] = []
        out_names.append(name)

    days = chunk.dates.days[source].copy()
    year, month, day = (a[source] for a in (chunk.dates.year, chunk.dates.month, chunk.dates.day))
    limit = day_number(reference)
    pregnant = chunk.pregnant[source]
    for i in range(k):
        if r[i, 4] >= _DATE_NOISE:
            continue
        y, mo, d = int(year[i]), int(month[i]), int(day[i])
        if d <= 12 and d != mo and r[i, 5] < 0.6:
            written, kind = dt.date(y, d, mo), "date_swap"
        else:
            twisted = int(str(y)[:2] + str(y)[3] + str(y)[2])
            y2 = y + (1 if r[i, 5] < 0.8 else -1) if r[i, 6] < 0.6 or twisted == y else twisted
            try:
                written = dt.date(y2, mo, d)
            except ValueError:  # 29 February in a year without it
                continue
            kind = "year_typo"
        number = day_number(written)
        born_age = (
            reference.year
            - written.year
            - ((reference.month, reference.day) < (written.month, written.day))
        )
        if number > limit or born_age > 94 or (pregnant[i] and not 10 <= born_age <= 53):
            continue
        days[i] = number
        kinds[i].append(kind)
    noisy = split_dates(days)
    nik = _noisy_niks(rng, chunk.nik[source], noisy, female, kinds, splits, r[:, 7], nik_numbers)
    return out_names, days, nik, ["|".join(k_) for k_ in kinds]


def _pick_variant(
    name: str, r: FloatArr, female: bool, age: int, done: set[str]
) -> tuple[str, str] | None:
    """A name variant that fits the name, chosen by weight; None when none fits."""
    fits: list[tuple[str, str]] = []
    for kind, variant in spelling.NAME_VARIANTS.items():
        if kind in done:
            continue
        new = variant(name, (float(r[1]), float(r[2])), female, age)
        if new is not None and new != name and len(new) <= 100:
            fits.append((kind, new))
    if not fits:
        return None
    weights = np.array([_NAME_WEIGHT[kind] for kind, _ in fits])
    cum = np.cumsum(weights) / weights.sum()
    return fits[min(int(np.searchsorted(cum, r[0], side="right")), len(fits) - 1)]


def nik_number(district: int, dates: Dates, i: int, female: bool, serial: int) -> int:
    """A NIK: PPKKCC, DDMMYY (women: day + 40), serial."""
    ddmmyy = (int(dates.day[i]) + 40 * female) * 10_000 + int(dates.month[i]) * 100
    return (district * 1_000_000 + ddmmyy + int(dates.year[i]) % 100) * 10_000 + serial


def _noisy_niks(
    rng: np.random.Generator,
    original: IntArr,
    dates: Dates,
    female: BoolArr,
    kinds: list[list[str]],
    splits: list[bool],
    r: FloatArr,
    allocator: UniqueNumbers,
) -> IntArr:
    """NIKs of copied rows: after a wrong birth date, a NIK issued from it; otherwise a
    mistyped digit, two digits swapped, a second NIK issued, or (split copies of a member
    who is not a head) the same NIK, which the import refuses. Unique except the last."""
    k = len(original)
    out = original.copy()
    pending: dict[int, str] = {}
    for i in range(k):
        if any(kind in DATE_KINDS for kind in kinds[i]):
            pending[i] = "date"
        elif splits[i] and r[i] < _EXACT_NIK:
            kinds[i].append("nik_exact")
        else:
            u = r[i] if not splits[i] else (r[i] - _EXACT_NIK) / (1 - _EXACT_NIK)
            cum = np.cumsum(list(_NIK_SHARE.values()))
            pending[i] = list(_NIK_SHARE)[min(int(np.searchsorted(cum, u, side="right")), 2)]
    make: dict[str, Callable[[int, FloatArr], int | None]] = {
        "nik_digit": lambda i, u: _digit(int(original[i]), u),
        "nik_transposition": lambda i, u: _transposed(int(original[i]), u),
        "nik_reissued": lambda i, u: _reissued(int(original[i]), u),
        "date": lambda i, u: _from_date(int(original[i]), dates, i, bool(female[i]), u),
    }
    for attempt in range(50):
        if not pending:
            break
        rows = sorted(pending)
        u = rng.random((len(rows), 3))
        numbers = np.empty(len(rows), dtype=np.int64)
        ok = np.ones(len(rows), dtype=np.bool_)
        for j, i in enumerate(rows):
            kind = pending[i]
            if attempt >= 10 and kind == "nik_transposition":  # no swap left that is free
                kind = pending[i] = "nik_digit"
            number = make[kind](i, u[j])
            ok[j] = number is not None and number != original[i]
            numbers[j] = number if ok[j] and number is not None else 0
        free = np.zeros(len(rows), dtype=np.bool_)
        free[ok] = allocator.reserve(numbers[ok])
        for j, i in enumerate(rows):
            if free[j]:
                out[i] = numbers[j]
                kind = pending.pop(i)
                if kind != "date":
                    kinds[i].append(kind)
    else:  # pragma: no cover - fifty draws of a serial all taken
        raise RuntimeError("no free NIK for a copied row")
    return out


def _digits(nik: int) -> list[int]:
    return [int(c) for c in f"{nik:016d}"]


def _number(digits: list[int]) -> int | None:
    if [0, 0] in (digits[2:4], digits[4:6]) or digits[12:] == [0, 0, 0, 0]:
        return None  # no regency, district or serial 00 / 0000
    return int("".join(map(str, digits)))


def _digit(nik: int, u: FloatArr) -> int | None:
    d = _digits(nik)
    at = _TYPO_POSITIONS[min(int(u[0] * len(_TYPO_POSITIONS)), len(_TYPO_POSITIONS) - 1)]
    d[at] = (d[at] + 1 + int(u[1] * 9)) % 10
    return _number(d)


def _transposed(nik: int, u: FloatArr) -> int | None:
    d = _digits(nik)
    spots = [i for i in _SWAP_POSITIONS if d[i] != d[i + 1]]
    if not spots:
        return None
    i = spots[min(int(u[0] * len(spots)), len(spots) - 1)]
    d[i], d[i + 1] = d[i + 1], d[i]
    return _number(d)


def _reissued(nik: int, u: FloatArr) -> int | None:
    serial = 1 + int(u[0] * 40)
    return (nik // 10_000) * 10_000 + serial


def _from_date(nik: int, dates: Dates, i: int, female: bool, u: FloatArr) -> int:
    serial = nik % 10_000 if u[1] < 0.5 else 1 + int(u[0] * 40)
    return nik_number(nik // 10**10, dates, i, female, serial)


PERSON_COLUMNS = (
    "row",
    "kk_number",
    "nik",
    "person_id",
    "family",
    "event",
    "kinds",
    "twin",
    "common_name",
)


def persons_table(
    copies: Copies,
    *,
    members: pa.Table,
    family: pa.Array,
    household: IntArr,
    twins: Twins,
    common: IntArr,
    first_row: int,
    first_person: int,
) -> pa.Table:
    """truth/persons.csv of a chunk: every member row (as written, copies after the chunk's
    own rows) with its person, the family card it was first registered on, and for a copy its
    event and noise kinds; twin and common_name name the other person of such a pair."""
    m = members.num_rows
    k = copies.members.num_rows
    origin = np.concatenate((np.arange(m, dtype=np.int64), copies.source))
    person = first_person + origin
    twin = np.full(m, -1, dtype=np.int64)
    twin[twins.first] = first_person + twins.second
    twin[twins.second] = first_person + twins.first
    group = np.where(common >= 0, first_person + common, -1)

    def optional(values: IntArr) -> pa.Array:
        return pa.array(values, type=pa.int64(), mask=values < 0).cast(pa.string())

    return output.table(
        PERSON_COLUMNS,
        {
            "row": pa.array(first_row + np.arange(m + k, dtype=np.int64)),
            "kk_number": pa.concat_arrays(
                [
                    members["kk_number"].combine_chunks(),
                    copies.members["kk_number"].combine_chunks(),
                ]
            ),
            "nik": pa.concat_arrays(
                [members["nik"].combine_chunks(), copies.members["nik"].combine_chunks()]
            ),
            "person_id": pa.array(person),
            "family": pc.take(family, pa.array(household[origin])),
            "event": pa.array([None] * m + copies.event, type=pa.string()),
            "kinds": pa.array([None] * m + [x or None for x in copies.kinds], type=pa.string()),
            "twin": optional(twin[origin]),
            "common_name": optional(group[origin]),
        },
    )


def _both(first: pa.Table, second: pa.Table, column: str) -> pa.Array:
    return pa.concat_arrays([first[column].combine_chunks(), second[column].combine_chunks()])
