"""Birth dates, NIKs and family card numbers, unique across a whole batch."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from lumbung.synth.tables import BoolArr, IntArr, VillageIndex

_EPOCH = dt.date(1970, 1, 1)
_KK_EARLIEST = dt.date(2008, 1, 1)  # family cards in today's 16-digit form are reissued often
_HOME_DISTRICT_SHARE = 0.85  # the rest got their NIK elsewhere in the province and moved


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return (day - _EPOCH).days


@dataclass(frozen=True, slots=True)
class Dates:
    """Calendar dates as arrays."""

    days: IntArr  # days since 1970-01-01
    year: IntArr
    month: IntArr
    day: IntArr


def split_dates(days: IntArr) -> Dates:
    """Year, month and day of day numbers."""
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    years = d.astype("datetime64[Y]")
    return Dates(
        days=days,
        year=years.astype(np.int64) + 1970,
        month=(months - years).astype(np.int64) + 1,
        day=(d - months).astype(np.int64) + 1,
    )


def birth_dates(rng: np.random.Generator, age: IntArr, reference: dt.date) -> tuple[Dates, IntArr]:
    """A birth date per person about `age` years before the reference day; and the exact age."""
    ref = day_number(reference)
    offset = np.floor(age * 365.2425).astype(np.int64) + rng.integers(1, 366, len(age))
    dates = split_dates(ref - offset)
    later_in_year = (dates.month > reference.month) | (
        (dates.month == reference.month) & (dates.day > reference.day)
    )
    exact = reference.year - dates.year - later_in_year
    return dates, exact.astype(np.int64)


class UniqueNumbers:
    """Hands out 16-digit numbers `prefix(12) + serial(4)`, never twice, serial never 0000."""

    def __init__(self) -> None:
        self._used: IntArr = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._used)

    def claim(self, rng: np.random.Generator, prefix: IntArr, serial: IntArr) -> IntArr:
        """Numbers for these prefixes, moving a serial on wherever it is taken."""
        serial = serial.copy()
        for _ in range(10_000):
            numbers = prefix * 10_000 + serial
            clash = self._clashes(numbers)
            if not clash.any():
                break
            # Serials count upwards in real life; jump a little past a taken one.
            step = rng.integers(1, 8, int(clash.sum()))
            serial[clash] = (serial[clash] - 1 + step) % 9999 + 1
        else:  # pragma: no cover - needs ~10,000 people per district and birth date
            raise RuntimeError("serial numbers exhausted")
        ordered = np.sort(numbers)
        self._used = np.insert(self._used, np.searchsorted(self._used, ordered), ordered)
        return numbers

    def reserve(self, numbers: IntArr) -> BoolArr:
        """Which of these exact numbers were free (the first of a repeat); those are now taken."""
        free: BoolArr = ~self._clashes(numbers)
        ordered = np.sort(numbers[free])
        self._used = np.insert(self._used, np.searchsorted(self._used, ordered), ordered)
        return free

    def _clashes(self, numbers: IntArr) -> BoolArr:
        """Numbers already handed out, or repeated within `numbers` (all but the first)."""
        order = np.argsort(numbers, kind="stable")
        s = numbers[order]
        repeat_sorted = np.zeros(len(s), dtype=np.bool_)
        repeat_sorted[1:] = s[1:] == s[:-1]
        repeat = np.empty(len(s), dtype=np.bool_)
        repeat[order] = repeat_sorted
        if len(self._used) == 0:
            return repeat
        at = np.minimum(np.searchsorted(self._used, numbers), len(self._used) - 1)
        taken: BoolArr = self._used[at] == numbers
        return repeat | taken


def _ddmmyy(dates: Dates, female: BoolArr | None) -> IntArr:
    """The DDMMYY part of a NIK (women: day + 40) or a family card (female=None)."""
    day = dates.day + (40 * female if female is not None else 0)
    return day * 10_000 + dates.month * 100 + dates.year % 100


def _small_serials(rng: np.random.Generator, n: int, p: float) -> IntArr:
    """Serials that start at 0001 and thin out, as when counted per district and day."""
    return np.minimum(rng.geometric(p, n), 9999).astype(np.int64)


def niks(
    rng: np.random.Generator,
    allocator: UniqueNumbers,
    *,
    villages: VillageIndex,
    home_district: IntArr,
    province: IntArr,
    dates: Dates,
    female: BoolArr,
) -> IntArr:
    """NIKs: issuing district (mostly the home district), birth date, sex, a unique serial."""
    n = len(home_district)
    flat = np.concatenate(villages.districts)  # sorted: provinces and their districts in order
    count = np.array([len(d) for d in villages.districts], dtype=np.int64)
    start = np.concatenate(([0], np.cumsum(count)[:-1])).astype(np.int64)
    # Another district of the same province: skip 1..count−1 places from the home district.
    home_at = np.searchsorted(flat, home_district) - start[province]
    c = count[province]
    skip = 1 + np.floor(rng.random(n) * (c - 1)).astype(np.int64)
    elsewhere = flat[start[province] + (home_at + skip) % c]
    district = np.where(rng.random(n) < _HOME_DISTRICT_SHARE, home_district, elsewhere)
    prefix = district * 1_000_000 + _ddmmyy(dates, female)
    return allocator.claim(rng, prefix, _small_serials(rng, n, 0.45))


def kk_numbers(
    rng: np.random.Generator,
    allocator: UniqueNumbers,
    *,
    district: IntArr,
    youngest_birth: IntArr,
    reference: dt.date,
) -> IntArr:
    """Family card numbers: home district, an issue date after the youngest birth, a serial."""
    ref = day_number(reference)
    first = np.maximum(youngest_birth + 1, day_number(_KK_EARLIEST))
    issued = first + np.floor(rng.random(len(district)) * (ref - first + 1)).astype(np.int64)
    prefix = district * 1_000_000 + _ddmmyy(split_dates(issued), None)
    return allocator.claim(rng, prefix, _small_serials(rng, len(district), 0.02))
