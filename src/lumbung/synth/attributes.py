"""Personal attributes by age, sex and household welfare: schooling, work, disability, pregnancy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lumbung.registry import vocab
from lumbung.synth.population import MARRIED, cutpoints
from lumbung.synth.tables import BoolArr, FloatArr, IntArr

EDUCATION = vocab.EDUCATION
SCHOOL = vocab.SCHOOL_LEVEL
OCCUPATION = vocab.OCCUPATION
DISABILITY = vocab.DISABILITY
SEVERITY = vocab.DISABILITY_SEVERITY

# Age by which a level is completed (the brief's attendance ages: SD 7–12, SMP 13–15,
# SMA 16–18, university 19–22), so nobody has completed a level they still attend.
_COMPLETED_AT = np.array([0, 13, 16, 19, 22, 23])
# Final attainment by cohort (age <25, 25–39, 40–59, 60+), roughly Susenas/census shares.
_FINAL_SHARE = np.array(
    [
        [0.01, 0.05, 0.15, 0.47, 0.07, 0.25],
        [0.02, 0.14, 0.20, 0.42, 0.05, 0.17],
        [0.07, 0.35, 0.18, 0.29, 0.03, 0.08],
        [0.25, 0.45, 0.12, 0.12, 0.02, 0.04],
    ]
)
_COHORT_EDGES = np.array([25, 40, 60])
_EDU_WELFARE = 0.55  # correlation of attainment with household welfare

# Occupation logits (columns follow OCCUPATION[1:]): intercept, rural, education, welfare, woman.
_OCC_COEF = np.array(
    [
        [0.2, -2.2, 0.8, 0.1, 0.2, 0.4, -1.6, -1.0],
        [1.3, 0.3, 0.0, -0.4, 0.0, -0.9, -0.4, 0.0],
        [-0.5, -0.4, -0.3, 0.0, 0.1, 0.5, 0.9, 0.0],
        [-0.3, -0.3, -0.4, 0.1, 0.3, 0.3, 0.4, 0.0],
        [-0.3, -2.0, -0.3, 0.8, 0.0, 0.1, -0.3, 0.2],
    ]
)
_PNS = OCCUPATION.index("pns_tni_polri") - 1
_DISABILITY_TYPE = np.array([0.33, 0.20, 0.15, 0.10, 0.10, 0.12])
_SEVERITY_SINGLE = np.array([0.50, 0.33, 0.17])
_SEVERITY_MULTIPLE = np.array([0.20, 0.35, 0.45])


@dataclass(frozen=True, slots=True)
class Attributes:
    """Per member: codes into EDUCATION, SCHOOL, OCCUPATION, DISABILITY, SEVERITY; pregnancy."""

    education: IntArr
    school: IntArr
    occupation: IntArr
    disability: IntArr
    severity: IntArr
    pregnant: BoolArr


_EDU_CUTS = cutpoints(_FINAL_SHARE)


def _sigmoid(x: FloatArr) -> FloatArr:
    out: FloatArr = 1.0 / (1.0 + np.exp(-x))
    return out


def _by_age(age: IntArr, edges: list[int], values: list[float]) -> FloatArr:
    """A step function of age: values[i] between edges[i-1] and edges[i]."""
    return np.asarray(values, dtype=np.float64)[np.searchsorted(edges, age, side="right")]


def draw(
    rng: np.random.Generator,
    *,
    age: IntArr,
    female: BoolArr,
    marital: IntArr,
    welfare: FloatArr,
    urban: BoolArr,
) -> Attributes:
    """Education, schooling, occupation, disability and pregnancy consistent with age and sex."""
    n = len(age)
    cohort = np.searchsorted(_COHORT_EDGES, age, side="right")
    latent = _EDU_WELFARE * welfare + np.sqrt(1 - _EDU_WELFARE**2) * rng.standard_normal(n)
    final = (latent[:, None] > _EDU_CUTS[cohort]).sum(axis=1).astype(np.int64)
    reached = (age[:, None] >= _COMPLETED_AT[None, :]).sum(axis=1) - 1
    # Someone on the way to a degree has completed SMA, not a diploma.
    education = np.where(
        age >= _COMPLETED_AT[final], final, np.minimum(final, np.minimum(reached, 3))
    ).astype(np.int64)

    school = np.zeros(n, dtype=np.int64)
    paud = (age >= 4) & (age <= 6) & (rng.random(n) < _sigmoid(-0.6 + 0.8 * welfare))
    school[paud] = 1
    for code, lo, hi, needs in ((2, 7, 12, 1), (3, 13, 15, 2), (4, 16, 18, 3), (5, 19, 22, 4)):
        school[(age >= lo) & (age <= hi) & (final >= needs)] = code

    p_work = np.where(
        female,
        _by_age(age, [15, 20, 25, 60, 70], [0.0, 0.3, 0.5, 0.55, 0.35, 0.12]),
        _by_age(age, [15, 20, 25, 60, 70], [0.0, 0.45, 0.75, 0.92, 0.6, 0.3]),
    )
    works = (school == 0) & (rng.random(n) < p_work)
    features = np.stack(
        [
            np.ones(n),
            (~urban).astype(np.float64),
            education - 2.0,
            welfare,
            female.astype(np.float64),
        ],
        axis=1,
    )
    logits = features @ _OCC_COEF
    logits[:, _PNS] = np.where((age >= 18) & (age <= 58), logits[:, _PNS], -np.inf)
    gumbel = -np.log(-np.log(rng.random(logits.shape)))
    occupation = np.where(works, 1 + np.argmax(logits + gumbel, axis=1), 0).astype(np.int64)

    # Disability rises steeply in old age and is a little more common in poor households.
    p_dis = (0.015 + 0.12 * _sigmoid((age.astype(np.float64) - 72.0) / 6.0)) * np.where(
        welfare < -0.5, 1.3, 1.0
    )
    disabled = rng.random(n) < p_dis
    kind = 1 + np.searchsorted(np.cumsum(_DISABILITY_TYPE), rng.random(n), side="right")
    kind = np.minimum(kind, len(DISABILITY) - 1)
    disability = np.where(disabled, kind, 0).astype(np.int64)
    sev_u = rng.random(n)
    sev = np.where(
        disability == DISABILITY.index("ganda"),
        1 + np.searchsorted(np.cumsum(_SEVERITY_MULTIPLE), sev_u, side="right"),
        1 + np.searchsorted(np.cumsum(_SEVERITY_SINGLE), sev_u, side="right"),
    )
    severity = np.where(disabled, np.minimum(sev, 3), 0).astype(np.int64)

    p_preg = _by_age(
        age, [15, 20, 30, 35, 40, 45, 50], [0, 0.06, 0.09, 0.07, 0.04, 0.015, 0.003, 0]
    )
    pregnant = female & (marital == MARRIED) & (rng.random(n) < p_preg)
    return Attributes(education, school, occupation, disability, severity, pregnant)
