"""Realistic data-entry errors injected into member rows, each recorded for the truth file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from lokal import PROVINCES as _KNOWN_PROVINCES

from lumbung.synth.identity import Dates
from lumbung.synth.population import HEAD
from lumbung.synth.tables import BoolArr, IntArr

KINDS = ("name_typo", "swapped_day_month", "invalid_nik", "duplicate_nik", "missing_head")
# Assignment order: the kinds that only fit some rows choose first; any shortfall moves on.
_ORDER = ("missing_head", "swapped_day_month", "duplicate_nik", "invalid_nik", "name_typo")
_SHARE = {
    "name_typo": 0.30,
    "swapped_day_month": 0.20,
    "invalid_nik": 0.20,
    "duplicate_nik": 0.15,
    "missing_head": 0.15,
}
_UNKNOWN_PROVINCES = tuple(f"{i:02d}" for i in range(100) if f"{i:02d}" not in _KNOWN_PROVINCES)
_NOT_HEAD = ("famili_lain", "lainnya", "istri_suami")
NOISE_COLUMNS = ("file", "row", "kk_number", "nik", "column", "kind", "original", "noisy")


@dataclass(slots=True)
class Noise:
    """Replacement cells per column (row → text) and the records for truth/noise.csv."""

    cells: dict[str, dict[int, str]] = field(default_factory=dict)
    records: list[tuple[int, str, str, str, str, str]] = field(default_factory=list)

    def set(self, row: int, nik: str, column: str, kind: str, original: str, noisy: str) -> None:
        """Replace one cell and record it."""
        self.cells.setdefault(column, {})[row] = noisy
        self.records.append((row, nik, column, kind, original, noisy))

    def mask(self, column: str, n: int) -> tuple[BoolArr, pa.Array] | None:
        """Rows to replace in a column and their new values in row order, or None."""
        cells = self.cells.get(column)
        if not cells:
            return None
        rows = np.array(sorted(cells), dtype=np.int64)
        mask = np.zeros(n, dtype=np.bool_)
        mask[rows] = True
        return mask, pa.array([cells[int(r)] for r in rows], type=pa.string())


def _assign(
    rng: np.random.Generator, n_noise: int, eligible: dict[str, BoolArr], household: IntArr
) -> dict[str, IntArr]:
    """Rows per kind, each row at most once, in the proportions of _SHARE where rows allow."""
    free = np.ones(len(household), dtype=np.bool_)
    wanted = {k: int(n_noise * _SHARE[k]) for k in _ORDER}
    wanted["name_typo"] += n_noise - sum(wanted.values())
    chosen: dict[str, IntArr] = {}
    carry = 0
    for kind in _ORDER:
        candidates = np.nonzero(free & eligible[kind])[0]
        k = min(wanted[kind] + carry, len(candidates))
        carry = wanted[kind] + carry - k
        rows = np.sort(rng.choice(candidates, size=k, replace=False)).astype(np.int64)
        free[rows] = False
        chosen[kind] = rows
    return chosen


def _sources(
    rng: np.random.Generator, rows: IntArr, candidates: IntArr, household: IntArr
) -> tuple[IntArr, BoolArr]:
    """A member of another household per row whose NIK it copies; and which rows found one."""
    if len(candidates) == 0:
        return np.zeros(len(rows), dtype=np.int64), np.zeros(len(rows), dtype=np.bool_)
    pick = rng.integers(0, len(candidates), len(rows))
    for _ in range(8):
        same = household[candidates[pick]] == household[rows]
        if not same.any():
            break
        pick = np.where(same, rng.integers(0, len(candidates), len(rows)), pick)
    src = candidates[pick]
    return src, household[src] != household[rows]


def typo(name: str, r: Sequence[float] | npt.NDArray[np.float64]) -> str:
    """The name with one letter swapped with its neighbour, dropped or doubled."""
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    i = letters[int(r[0] * len(letters))]
    op = int(r[1] * 3)
    if op == 0 and i + 1 < len(name) and name[i + 1].isalpha() and name[i + 1] != name[i]:
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    word_start = name.rfind(" ", 0, i) + 1
    word_end = name.find(" ", i)
    word_len = (word_end if word_end >= 0 else len(name)) - word_start
    if op == 1 and word_len > 2:
        return name[:i] + name[i + 1 :]
    return name[:i] + name[i] + name[i:]


def _invalid(nik: str, r: npt.NDArray[np.float64]) -> str:
    """A NIK made structurally invalid: 15 digits, unknown province, serial 0000 or bad date."""
    variant = int(r[0] * 4)
    if variant == 0:
        at = int(r[1] * 16)
        return nik[:at] + nik[at + 1 :]
    if variant == 1:
        return _UNKNOWN_PROVINCES[int(r[1] * len(_UNKNOWN_PROVINCES))] + nik[2:]
    if variant == 2:
        return nik[:12] + "0000"
    if r[1] < 0.5:
        day = 32 + int(r[2] * 8) + (40 if int(nik[6:8]) > 40 else 0)  # 32–39, women 72–79
        return nik[:6] + f"{day:02d}" + nik[8:]
    month = (0, 13, 14, 15, 16, 17, 18, 19)[int(r[2] * 8)]
    return nik[:8] + f"{month:02d}" + nik[10:]


def inject(
    rng: np.random.Generator,
    *,
    share: float,
    household: IntArr,
    relationship: IntArr,
    nik: IntArr,
    dates: Dates,
    names: pa.Array,
    invalid_seen: set[str],
) -> Noise:
    """The errors put into `share` of a chunk's member rows (`invalid_seen`: bad NIKs so far)."""
    m = len(household)
    noise = Noise()
    n_noise = round(share * m)
    if n_noise == 0:
        return noise
    anyone = np.ones(m, dtype=np.bool_)
    eligible = {
        "missing_head": relationship == HEAD,
        "swapped_day_month": dates.day != dates.month,
        "duplicate_nik": anyone if household[0] != household[-1] else ~anyone,
        "invalid_nik": anyone,
        "name_typo": anyone,
    }
    chosen = _assign(rng, n_noise, eligible, household)
    nik_text = nik.astype(str)

    for row in chosen["missing_head"]:
        new = _NOT_HEAD[int(rng.integers(len(_NOT_HEAD)))]
        noise.set(int(row), nik_text[row], "relationship", "missing_head", "kepala_keluarga", new)
    for row in chosen["swapped_day_month"]:
        y, mo, d = dates.year[row], dates.month[row], dates.day[row]
        noise.set(
            int(row),
            nik_text[row],
            "birth_date",
            "swapped_day_month",
            f"{y:04d}-{mo:02d}-{d:02d}",
            f"{y:04d}-{d:02d}-{mo:02d}",
        )

    untouched = np.ones(m, dtype=np.bool_)
    for rows in chosen.values():
        untouched[rows] = False
    nik_safe = untouched.copy()
    for kind in ("missing_head", "swapped_day_month", "name_typo"):
        nik_safe[chosen[kind]] = True
    dup_rows = chosen["duplicate_nik"]
    pool = np.nonzero(untouched)[0] if untouched.any() else np.nonzero(nik_safe)[0]
    src, found = _sources(rng, dup_rows, pool, household)
    for row, s in zip(dup_rows[found], src[found], strict=True):
        noise.set(int(row), nik_text[row], "nik", "duplicate_nik", nik_text[row], nik_text[s])

    bad_rows = np.sort(np.concatenate([chosen["invalid_nik"], dup_rows[~found]]))
    r = rng.random((len(bad_rows), 8, 3))
    for row, tries in zip(bad_rows, r, strict=True):
        for attempt in tries:
            bad = _invalid(nik_text[row], attempt)
            if bad not in invalid_seen:
                invalid_seen.add(bad)
                noise.set(int(row), nik_text[row], "nik", "invalid_nik", nik_text[row], bad)
                break

    typo_rows = chosen["name_typo"]
    originals = names.take(pa.array(typo_rows)).to_pylist()
    r = rng.random((len(typo_rows), 2))
    for row, name, rr in zip(typo_rows, originals, r, strict=True):
        noise.set(int(row), nik_text[row], "name", "name_typo", name, typo(name, rr))
    noise.records.sort()
    return noise
