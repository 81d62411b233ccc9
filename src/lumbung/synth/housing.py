"""Hidden consumption per household, and the housing and assets that depend on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lumbung.registry import vocab
from lumbung.synth.population import cutpoints
from lumbung.synth.tables import PROVINCES, BoolArr, FloatArr, IntArr

MEDIAN_CONSUMPTION = 1_200_000  # rupiah per person per month
# Household spread of log consumption (national Gini about 0.38): a lasting part, which
# housing, assets and schooling reflect, and a transitory part (this year's harvest, a job
# lost) that no proxy can see. This keeps a proxy means test from fitting too well.
_SIGMA_LASTING = 0.55
_SIGMA_TRANSITORY = 0.3
_SIZE_ELASTICITY = 0.25  # larger families are poorer per head
_URBAN_EFFECT = 0.2
_WELFARE_SCALE = 0.65  # sd of lasting log consumption, to express welfare in standard units
_LOG_OFFSET = -0.05  # recentres the province and urban effects so the median is as stated

FLOOR = vocab.FLOOR_MATERIAL
WALL = vocab.WALL_MATERIAL
ROOF = vocab.ROOF_MATERIAL
TOILET = vocab.TOILET
WATER = vocab.WATER_SOURCE
LIGHTING = vocab.LIGHTING
COOKING = vocab.COOKING_FUEL
TENURE = vocab.TENURE


@dataclass(frozen=True, slots=True)
class _Ordered:
    """An ordered housing attribute: national shares, link to welfare, urban and infrastructure."""

    shares: tuple[float, ...]
    welfare: float  # correlation of the latent index with welfare
    urban: float
    infrastructure: float


_ORDERED = {
    "floor": _Ordered((0.04, 0.01, 0.06, 0.24, 0.10, 0.51, 0.025, 0.015), 0.55, 0.3, 0.3),
    "wall": _Ordered((0.04, 0.08, 0.12, 0.06, 0.70), 0.45, 0.3, 0.3),
    "roof": _Ordered((0.02, 0.30, 0.10, 0.50, 0.08), 0.35, 0.2, 0.2),
    "toilet": _Ordered((0.06, 0.03, 0.09, 0.82), 0.45, 0.3, 1.0),
    "water": _Ordered((0.04, 0.07, 0.30, 0.20, 0.39), 0.35, 0.4, 1.0),
    "lighting": _Ordered((0.015, 0.015, 0.25, 0.40, 0.20, 0.12), 0.6, 0.3, 1.0),
    "cooking": _Ordered((0.12, 0.02, 0.75, 0.08, 0.03), 0.5, 0.5, 0.6),
}
_CUTS = {k: cutpoints(np.array(v.shares)) for k, v in _ORDERED.items()}
_TENURE_URBAN = np.array([0.70, 0.20, 0.07, 0.02, 0.01])
_TENURE_RURAL = np.array([0.88, 0.03, 0.07, 0.01, 0.01])


@dataclass(frozen=True, slots=True)
class Housing:
    """Per household: codes into the label tuples above, counts and 0/1 flags."""

    floor_area: IntArr
    floor: IntArr
    wall: IntArr
    roof: IntArr
    toilet: IntArr
    water: IntArr
    lighting: IntArr
    cooking: IntArr
    tenure: IntArr
    owns_land: BoolArr
    motorbikes: IntArr
    car: BoolArr
    fridge: BoolArr
    air_conditioner: BoolArr
    gold: BoolArr
    livestock: IntArr


def consumption(
    rng: np.random.Generator, province: IntArr, urban: BoolArr, size: IntArr
) -> tuple[IntArr, FloatArr]:
    """Monthly per-capita consumption in whole rupiah, and lasting welfare in standard units."""
    effect = np.array([p.log_consumption for p in PROVINCES])[province]
    lasting = (
        np.log(MEDIAN_CONSUMPTION)
        + _LOG_OFFSET
        + effect
        + _URBAN_EFFECT * urban
        - _SIZE_ELASTICITY * (np.log(size) - np.log(3.5))
        + rng.normal(0.0, _SIGMA_LASTING, len(size))
    )
    log_c = lasting + rng.normal(0.0, _SIGMA_TRANSITORY, len(size))
    rupiah = np.clip(np.round(np.exp(log_c)), 100_000, 100_000_000).astype(np.int64)
    welfare = (lasting - np.log(MEDIAN_CONSUMPTION)) / _WELFARE_SCALE
    return rupiah, welfare


def _sigmoid(x: FloatArr) -> FloatArr:
    out: FloatArr = 1.0 / (1.0 + np.exp(-x))
    return out


def draw(
    rng: np.random.Generator,
    *,
    welfare: FloatArr,
    province: IntArr,
    urban: BoolArr,
    size: IntArr,
) -> Housing:
    """Housing and assets, each rising with welfare through a latent index plus noise."""
    n = len(welfare)
    infra = np.array([p.infrastructure for p in PROVINCES])[province]
    u = urban.astype(np.float64)
    codes: dict[str, IntArr] = {}
    for name, spec in _ORDERED.items():
        noise = np.sqrt(1 - spec.welfare**2) * rng.standard_normal(n)
        latent = spec.welfare * welfare + spec.urban * (u - 0.2) + spec.infrastructure * infra
        codes[name] = (
            (latent[:, None] + noise[:, None] > _CUTS[name][None, :]).sum(axis=1).astype(np.int64)
        )
    log_area = np.log(40.0) + 0.25 * welfare + 0.35 * np.log(size) + rng.normal(0.0, 0.35, n)
    floor_area = np.clip(np.round(np.exp(log_area)), 9, 1500).astype(np.int64)

    cum = np.cumsum(np.where(urban[:, None], _TENURE_URBAN, _TENURE_RURAL), axis=1)
    tenure = np.minimum((rng.random(n)[:, None] >= cum).sum(axis=1), len(TENURE) - 1)

    r = rng.random((6, n))
    owns_land = r[0] < _sigmoid(-0.2 + 0.35 * welfare - 2.0 * u)
    bikes_mean = np.exp(-0.15 + 0.45 * welfare + 0.25 * np.log(size / 3.5) + 0.1 * u)
    motorbikes = np.minimum(rng.poisson(bikes_mean), 6).astype(np.int64)
    car = r[1] < _sigmoid(-2.6 + 1.5 * welfare + 0.3 * u)
    # Appliances need electricity; an air conditioner needs more than a 450 VA connection.
    powered = codes["lighting"] >= LIGHTING.index("listrik_non_pln")
    fridge = powered & (r[2] < _sigmoid(0.4 + 1.4 * welfare + 0.4 * u))
    big_power = codes["lighting"] >= LIGHTING.index("pln_900")
    air_conditioner = big_power & (r[3] < _sigmoid(-3.2 + 1.7 * welfare + 0.8 * u))
    gold = r[4] < _sigmoid(-1.2 + 0.9 * welfare)
    keeps_cattle = ~urban & (r[5] < _sigmoid(-2.4 + 0.4 * welfare + 1.0 * owns_land))
    livestock = np.where(keeps_cattle, 1 + rng.poisson(1.2, n), 0).astype(np.int64)
    return Housing(
        floor_area=floor_area,
        floor=codes["floor"],
        wall=codes["wall"],
        roof=codes["roof"],
        toilet=codes["toilet"],
        water=codes["water"],
        lighting=codes["lighting"],
        cooking=codes["cooking"],
        tenure=tenure.astype(np.int64),
        owns_land=owns_land,
        motorbikes=motorbikes,
        car=car,
        fridge=fridge,
        air_conditioner=air_conditioner,
        gold=gold,
        livestock=livestock,
    )
