"""Household compositions: who lives together, their ages, sexes, relationships and marriages."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from lumbung.registry import vocab
from lumbung.synth.tables import BoolArr, IntArr

RELATIONSHIP = vocab.RELATIONSHIP
HEAD, SPOUSE, CHILD, CHILD_IN_LAW, GRANDCHILD, PARENT, PARENT_IN_LAW, RELATIVE, OTHER = range(9)
MARITAL = vocab.MARITAL_STATUS
SINGLE, MARRIED, DIVORCED, WIDOWED = range(4)
MAX_AGE = 94  # keeps every two-digit NIK year unambiguous (no one born 1925–1929)

# Household types and their shares, tuned for about 3.5 members per family card.
ELDER_ALONE, ADULT_ALONE, ELDER_COUPLE, COUPLE, NUCLEAR, SINGLE_PARENT, WITH_PARENTS, WITH_GRAND = (
    range(8)
)
TYPE_SHARE = np.array([0.045, 0.04, 0.065, 0.06, 0.50, 0.09, 0.115, 0.085])
_HEAD_FEMALE = np.array([0.65, 0.45, 0.04, 0.03, 0.03, 0.85, 0.04, 0.25])
# Head age: base + gamma(shape, scale), capped.
_HEAD_BASE = np.array([60, 19, 60, 20, 23, 25, 25, 48])
_HEAD_SHAPE = np.array([2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 2.0])
_HEAD_SCALE = np.array([6.0, 7.0, 5.0, 4.0, 5.0, 5.0, 4.0, 5.0])
_HEAD_CAP = np.array([MAX_AGE, 59, 88, 59, 64, 70, 60, 80])
# Marital status of a head living without a spouse: belum_kawin, kawin, cerai_hidup, cerai_mati.
_LONE_HEAD_MARITAL = np.array(
    [
        [0.08, 0.0, 0.12, 0.80],
        [0.60, 0.0, 0.30, 0.10],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.45, 0.55],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.20, 0.80],
    ]
)
# Number of unmarried children wanted, 0–5, per type (fewer survive the age window).
_CHILDREN = np.array(
    [
        [1.0, 0, 0, 0, 0, 0],
        [1.0, 0, 0, 0, 0, 0],
        [1.0, 0, 0, 0, 0, 0],
        [1.0, 0, 0, 0, 0, 0],
        [0.0, 0.22, 0.36, 0.24, 0.12, 0.06],
        [0.0, 0.45, 0.35, 0.15, 0.05, 0.0],
        [0.10, 0.30, 0.35, 0.17, 0.08, 0.0],
        [0.45, 0.30, 0.17, 0.08, 0.0, 0.0],
    ]
)
# Parents are 17–44 whole years older than their children (16–45 by birth date).
MIN_GAP, MAX_GAP = 17, 44


@dataclass(frozen=True, slots=True)
class Members:
    """The people of a chunk, rows grouped by household and ordered as on the family card."""

    household: IntArr  # chunk-local household index
    relationship: IntArr  # index into RELATIONSHIP
    female: BoolArr
    age: IntArr  # intended whole years at the reference date
    marital: IntArr  # index into MARITAL
    mother: IntArr  # row of the member's mother in this chunk, or −1 when she is not in it
    size: IntArr  # members per household


def categorical(rng: np.random.Generator, probs: npt.NDArray[np.float64]) -> IntArr:
    """One category per row of a (n, k) matrix of probabilities."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    out: IntArr = np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1).astype(np.int64)
    return out


def cutpoints(shares: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Standard-normal thresholds that split a latent index into categories with these shares."""
    nd = NormalDist()
    cum = np.cumsum(shares, axis=-1)[..., :-1]
    out: npt.NDArray[np.float64] = np.vectorize(
        lambda p: nd.inv_cdf(min(max(float(p), 1e-9), 1 - 1e-9)), otypes=[np.float64]
    )(cum)
    return out


class _Blocks:
    """Collects blocks of people before they are sorted into family-card order."""

    def __init__(self) -> None:
        self.cols: dict[str, list[IntArr]] = {k: [] for k in ("hh", "rel", "fem", "age", "mar")}
        self.mother_of: list[tuple[IntArr, IntArr]] = []  # (child positions, mother positions)
        self.n = 0

    def add(self, hh: IntArr, rel: int, female: BoolArr, age: IntArr, marital: IntArr) -> IntArr:
        """Append people; gives their positions in the concatenation."""
        m = len(hh)
        for key, values in (
            ("hh", hh),
            ("rel", np.full(m, rel)),
            ("fem", female),
            ("age", age),
            ("mar", marital),
        ):
            self.cols[key].append(np.asarray(values, dtype=np.int64))
        pos = np.arange(self.n, self.n + m, dtype=np.int64)
        self.n += m
        return pos

    def link_mothers(self, children: IntArr, mothers: IntArr) -> None:
        """Remember mother positions (−1 for none) of the people at `children`."""
        self.mother_of.append((children, mothers))

    def build(self, n_households: int) -> Members:
        """Sort into family-card order: by household, relationship, then oldest first."""
        c = {k: np.concatenate(v) for k, v in self.cols.items()}
        mother = np.full(self.n, -1, dtype=np.int64)
        for kids, moms in self.mother_of:
            mother[kids] = moms
        order = np.lexsort((-c["age"], c["rel"], c["hh"]))
        rank = np.empty(self.n, dtype=np.int64)
        rank[order] = np.arange(self.n)
        mom = mother[order]
        mom = np.where(mom >= 0, rank[np.maximum(mom, 0)], -1)
        return Members(
            household=c["hh"][order],
            relationship=c["rel"][order],
            female=c["fem"][order].astype(np.bool_),
            age=c["age"][order],
            marital=c["mar"][order],
            mother=mom,
            size=np.bincount(c["hh"], minlength=n_households).astype(np.int64),
        )


def _per_household(pos: IntArr, hh: IntArr, n: int) -> IntArr:
    """Position of a person per household (−1 where the household has none)."""
    out = np.full(n, -1, dtype=np.int64)
    out[hh] = pos
    return out


def _siblings(
    rng: np.random.Generator, oldest: IntArr, wanted: IntArr, lo: IntArr, width: int
) -> tuple[IntArr, IntArr]:
    """Ages of up to `width` siblings per household, 1+ years apart; gives (household, age)."""
    n = len(oldest)
    gaps = 1 + rng.poisson(2.2, (n, width))
    gaps[:, 0] = 0
    ages = oldest[:, None] - np.cumsum(gaps, axis=1)
    keep = (np.arange(width)[None, :] < wanted[:, None]) & (ages >= lo[:, None]) & (ages >= 0)
    hh, j = np.nonzero(keep)
    return hh.astype(np.int64), ages[hh, j].astype(np.int64)


def compose(rng: np.random.Generator, n: int) -> Members:
    """`n` households of realistic types, with consistent ages, relationships and marriages."""
    b = _Blocks()
    t = categorical(rng, np.broadcast_to(TYPE_SHARE, (n, len(TYPE_SHARE))))
    all_hh = np.arange(n, dtype=np.int64)
    head_f = rng.random(n) < _HEAD_FEMALE[t]
    head_age = np.minimum(
        _HEAD_BASE[t] + np.round(rng.gamma(_HEAD_SHAPE[t], _HEAD_SCALE[t])), _HEAD_CAP[t]
    ).astype(np.int64)
    has_sp = np.isin(t, (ELDER_COUPLE, COUPLE, NUCLEAR, WITH_PARENTS)) | (
        (t == WITH_GRAND) & (rng.random(n) < 0.75)
    )
    gap = np.clip(np.round(rng.normal(4.0, 3.5, n)), -5, 10).astype(np.int64)
    sp_age = np.clip(np.where(head_f, head_age + gap, head_age - gap), 17, MAX_AGE)
    head_mar = np.where(has_sp, MARRIED, categorical(rng, _LONE_HEAD_MARITAL[t]))
    head_pos = b.add(all_hh, HEAD, head_f, head_age, head_mar)
    sp_hh = all_hh[has_sp]
    sp_pos = b.add(sp_hh, SPOUSE, ~head_f[has_sp], sp_age[has_sp], np.full(len(sp_hh), MARRIED))
    head_pos_hh = head_pos  # every household has its head at position = household index
    sp_pos_hh = _per_household(sp_pos, sp_hh, n)
    # The mother of the head's children: whichever of head and spouse is a woman.
    mother_pos = np.where(head_f, head_pos_hh, np.where(has_sp & ~head_f, sp_pos_hh, -1))
    mom_age = np.where(head_f | ~has_sp, head_age, sp_age)
    p_min = np.where(has_sp, np.minimum(head_age, sp_age), head_age)
    p_max = np.where(has_sp, np.maximum(head_age, sp_age), head_age)
    lo = np.maximum(0, p_max - MAX_GAP)
    hi = p_min - MIN_GAP

    # Unmarried children; grown ones have often left home.
    wanted = categorical(rng, _CHILDREN[t])
    first_birth = np.where(t == WITH_GRAND, 26, 17) + np.round(rng.gamma(2.0, 3.0, n))
    oldest = np.minimum(mom_age - first_birth.astype(np.int64), hi)
    ch_hh, ch_age = _siblings(rng, oldest, wanted, lo, 5)
    stays = (ch_age <= 24) | (rng.random(len(ch_age)) < 0.5)
    ch_hh, ch_age = ch_hh[stays], ch_age[stays]
    ch_mar = np.where((ch_age >= 22) & (rng.random(len(ch_age)) < 0.05), DIVORCED, SINGLE)
    ch_pos = b.add(ch_hh, CHILD, rng.random(len(ch_hh)) < 0.49, ch_age, ch_mar)
    b.link_mothers(ch_pos, mother_pos[ch_hh])

    _grandchildren(rng, b, t, mom_age, lo, hi, p_min, mother_pos)
    _elders(rng, b, t, has_sp, head_age, sp_age, head_pos_hh, sp_pos_hh)
    _others(rng, b, t)
    return b.build(n)


def _grandchildren(
    rng: np.random.Generator,
    b: _Blocks,
    t: IntArr,
    mom_age: IntArr,
    lo: IntArr,
    hi: IntArr,
    p_min: IntArr,
    mother_pos: IntArr,
) -> None:
    """A married child (maybe with a child-in-law) and grandchildren in three-generation homes."""
    n = len(t)
    grand = t == WITH_GRAND
    mc_age = np.minimum(mom_age - (19 + np.round(rng.gamma(2.0, 3.0, n))).astype(np.int64), hi)
    has_mc = grand & (rng.random(n) < 0.65) & (mc_age >= 19) & (mc_age >= lo)
    mc_f = rng.random(n) < 0.5
    has_in_law = has_mc & (rng.random(n) < 0.65)
    d = np.clip(np.round(rng.normal(3.0, 3.0, n)), -5, 10).astype(np.int64)
    in_law_age = np.maximum(np.where(mc_f, mc_age + d, mc_age - d), 17)
    mc_mar = np.where(has_in_law, MARRIED, categorical(rng, np.tile([0, 0.5, 0.3, 0.2], (n, 1))))
    mc_hh = np.nonzero(has_mc)[0].astype(np.int64)
    mc_pos = b.add(mc_hh, CHILD, mc_f[has_mc], mc_age[has_mc], mc_mar[has_mc])
    b.link_mothers(mc_pos, mother_pos[mc_hh])
    il_hh = np.nonzero(has_in_law)[0].astype(np.int64)
    il_pos = b.add(
        il_hh, CHILD_IN_LAW, ~mc_f[has_in_law], in_law_age[has_in_law], np.full(len(il_hh), MARRIED)
    )
    mc_pos_hh = _per_household(mc_pos, mc_hh, n)
    il_pos_hh = _per_household(il_pos, il_hh, n)
    # Grandchildren's parents are the married child and in-law, or absent (working away).
    par_min = np.where(has_in_law, np.minimum(mc_age, in_law_age), mc_age)
    par_max = np.where(has_in_law, np.maximum(mc_age, in_law_age), mc_age)
    c_hi = np.where(has_mc, par_min - MIN_GAP, p_min - 2 * MIN_GAP)
    c_hi = np.minimum(c_hi, np.where(has_mc, c_hi, 17))
    c_lo = np.where(has_mc, np.maximum(0, par_max - MAX_GAP), 0)
    oldest = c_hi - np.round(rng.gamma(1.5, 3.0, n)).astype(np.int64)
    wanted = np.where(grand, categorical(rng, np.tile([0.0, 0.5, 0.35, 0.15], (n, 1))), 0)
    g_hh, g_age = _siblings(rng, oldest, wanted, c_lo, 3)
    g_pos = b.add(g_hh, GRANDCHILD, rng.random(len(g_hh)) < 0.49, g_age, np.full(len(g_hh), SINGLE))
    g_mother = np.where(mc_f, mc_pos_hh, np.where(il_pos_hh >= 0, il_pos_hh, -1))
    b.link_mothers(g_pos, g_mother[g_hh])


def _elders(
    rng: np.random.Generator,
    b: _Blocks,
    t: IntArr,
    has_sp: BoolArr,
    head_age: IntArr,
    sp_age: IntArr,
    head_pos: IntArr,
    sp_pos: IntArr,
) -> None:
    """One or two parents (of the head) or parents-in-law living with a younger family."""
    n = len(t)
    with_parents = t == WITH_PARENTS
    in_law = has_sp & (rng.random(n) < 0.4)
    child_age = np.where(in_law, sp_age, head_age)  # the elders' own child in the household
    gap = np.clip(np.round(20 + rng.gamma(2.5, 3.0, n)), MIN_GAP, MAX_GAP).astype(np.int64)
    old_age = np.minimum(child_age + gap, MAX_AGE)
    pair = rng.random(n) < 0.3
    d = np.clip(np.round(rng.normal(4.0, 3.0, n)), 0, 8).astype(np.int64)
    wife_age = np.maximum(old_age - d, child_age + MIN_GAP)
    lone_f = rng.random(n) < 0.75
    lone_mar = np.where(rng.random(n) < 0.9, WIDOWED, DIVORCED)
    rel = np.where(in_law, PARENT_IN_LAW, PARENT)
    mothers = np.full(n, -1, dtype=np.int64)
    for rel_code in (PARENT, PARENT_IN_LAW):
        sel = with_parents & (rel == rel_code)
        man = sel & pair
        hh = np.nonzero(man)[0].astype(np.int64)
        b.add(hh, rel_code, np.zeros(len(hh), np.bool_), old_age[man], np.full(len(hh), MARRIED))
        pos = b.add(
            hh, rel_code, np.ones(len(hh), np.bool_), wife_age[man], np.full(len(hh), MARRIED)
        )
        mothers[hh] = pos
        lone = sel & ~pair
        hh = np.nonzero(lone)[0].astype(np.int64)
        pos = b.add(hh, rel_code, lone_f[lone], old_age[lone], lone_mar[lone])
        mothers[hh[lone_f[lone]]] = pos[lone_f[lone]]
    own = with_parents & (mothers >= 0)
    for rel_code, target in ((PARENT, head_pos), (PARENT_IN_LAW, sp_pos)):
        sel = np.nonzero(own & (rel == rel_code))[0]
        b.link_mothers(target[sel], mothers[sel])


def _others(rng: np.random.Generator, b: _Blocks, t: IntArr) -> None:
    """Occasional other relatives (nieces, siblings) and non-relatives (a live-in helper)."""
    n = len(t)
    not_alone = (t != ELDER_ALONE) & (t != ADULT_ALONE)
    rel_hh = np.nonzero(not_alone & (rng.random(n) < 0.03))[0].astype(np.int64)
    m = len(rel_hh)
    b.add(rel_hh, RELATIVE, rng.random(m) < 0.5, rng.integers(5, 31, m), np.full(m, SINGLE))
    oth_hh = np.nonzero(not_alone & (rng.random(n) < 0.004))[0].astype(np.int64)
    m = len(oth_hh)
    mar = categorical(rng, np.tile([0.7, 0.0, 0.2, 0.1], (m, 1)))
    b.add(oth_hh, OTHER, rng.random(m) < 0.8, rng.integers(18, 56, m), mar)
