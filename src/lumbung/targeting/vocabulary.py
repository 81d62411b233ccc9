"""The names a PMT model and a program rule may use, with their types: one list for both.

Household features are computed from a release (`targeting.features`); member features are
what a benefit component's condition sees of one member. `score` and `decile` come from the
PMT; `enrolled("CODE")` is a function of the rule language, not a name.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from lumbung.registry import vocab


class ValueType(StrEnum):
    NUMBER = "number"
    BOOLEAN = "boolean"
    TEXT = "text"


# The rule compiler (`programs.compiler`) asks the features for it: the rule language sits on
# the features, never the other way round.
Comparison = Callable[[str, str, int], Any]
"""`(name, operator, whole number) → value`, or None: how to compare a name with a constant
when a cheaper form than the name's own value exists (a member's age as a birth-date range)."""

N, B, T = ValueType.NUMBER, ValueType.BOOLEAN, ValueType.TEXT

# Age bands are whole years at the cycle's reference date.
AGE_BANDS: dict[str, tuple[int, int | None]] = {
    "n_age_0_6": (0, 6),
    "n_age_7_12": (7, 12),
    "n_age_13_15": (13, 15),
    "n_age_16_18": (16, 18),
    "n_age_19_59": (19, 59),
    "n_age_60_plus": (60, None),
    "n_elderly_70": (70, None),
}
SCHOOL_COUNTS: dict[str, str] = {f"n_school_{level}": level for level in vocab.SCHOOL_LEVEL[1:]}
HEAD_COLUMNS = ("sex", "education", "occupation", "marital_status")

HOUSEHOLD_FEATURES: dict[str, ValueType] = {
    "hh_size": N,
    **dict.fromkeys(AGE_BANDS, N),
    **dict.fromkeys(SCHOOL_COUNTS, N),
    "n_pregnant": N,
    "n_disability": N,
    "n_severe_disability": N,
    "n_working": N,
    "head_age": N,
    **{f"head_{c}": T for c in HEAD_COLUMNS},
    "floor_area_m2": N,
    "floor_area_per_person": N,
    **dict.fromkeys(vocab.HOUSEHOLD_ENUMS, T),
    **dict.fromkeys(vocab.HOUSEHOLD_FLAGS, B),
    **dict.fromkeys(vocab.HOUSEHOLD_COUNTS, N),
    "province_code": T,
    "regency_code": T,
}
# Known after scoring: predicted log per-capita consumption and desil within the regency.
RANKING_FEATURES: dict[str, ValueType] = {"score": N, "decile": N}

MEMBER_FEATURES: dict[str, ValueType] = {
    "age": N,
    **dict.fromkeys(vocab.MEMBER_ENUMS, T),
    "pregnant": B,
}

# The codes a text name can take (a rule comparing with any other code is a mistake).
TEXT_VALUES: dict[str, tuple[str, ...]] = {
    **vocab.HOUSEHOLD_ENUMS,
    **{f"head_{c}": vocab.MEMBER_ENUMS[c] for c in HEAD_COLUMNS},
    **vocab.MEMBER_ENUMS,
}
