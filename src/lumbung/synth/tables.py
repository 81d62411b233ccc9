"""Province figures and the village index the synthetic population is placed in."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from lumbung.errors import ValidationFailed
from lumbung.regions.catalog import all_regions

IntArr = npt.NDArray[np.int64]
FloatArr = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Province:
    """One province: 2020 census population and the shape of its synthetic geography."""

    code: str
    population: int  # Sensus Penduduk 2020 (the new Papua provinces: their regencies' share)
    lat: float  # rough centre of where people live, not the geometric centroid
    lon: float
    spread: float  # degrees; how far districts scatter around the centre
    log_consumption: float  # province effect on log per-capita consumption
    infrastructure: float  # shift of electricity, water and sanitation beyond what income explains


# Consumption effects follow the rough ranking of BPS per-capita expenditure by province;
# eastern provinces get an infrastructure penalty because PLN, piped water and sanitation
# reach fewer homes there even at the same income.
PROVINCES: tuple[Province, ...] = (
    Province("11", 5_274_871, 4.36, 96.90, 0.8, -0.08, 0.0),
    Province("12", 14_799_361, 2.19, 99.07, 1.0, -0.02, 0.0),
    Province("13", 5_534_472, -0.74, 100.80, 0.7, 0.02, 0.0),
    Province("14", 6_394_087, 0.51, 101.80, 0.9, 0.08, 0.0),
    Province("15", 3_548_228, -1.61, 103.07, 0.7, -0.02, 0.0),
    Province("16", 8_467_432, -3.32, 104.91, 0.8, -0.06, 0.0),
    Province("17", 2_010_670, -3.79, 102.26, 0.5, -0.08, 0.0),
    Province("18", 9_007_848, -4.85, 105.02, 0.6, -0.10, 0.0),
    Province("19", 1_455_678, -2.74, 106.44, 0.6, 0.12, 0.0),
    Province("21", 2_064_564, 0.92, 104.45, 0.5, 0.25, 0.0),
    Province("31", 10_562_088, -6.20, 106.85, 0.08, 0.50, 0.3),
    Province("32", 48_274_162, -6.90, 107.60, 0.5, 0.05, 0.0),
    Province("33", 36_516_035, -7.15, 110.14, 0.5, -0.08, 0.0),
    Province("34", 3_668_719, -7.80, 110.36, 0.12, 0.10, 0.1),
    Province("35", 40_665_696, -7.54, 112.24, 0.7, -0.04, 0.0),
    Province("36", 11_904_562, -6.40, 106.06, 0.3, 0.12, 0.0),
    Province("51", 4_317_404, -8.41, 115.19, 0.25, 0.20, 0.1),
    Province("52", 5_320_092, -8.65, 117.36, 0.6, -0.15, -0.1),
    Province("53", 5_325_566, -9.46, 121.00, 1.2, -0.35, -0.5),
    Province("61", 5_414_390, -0.28, 111.48, 1.0, -0.05, -0.2),
    Province("62", 2_669_969, -1.68, 113.38, 1.0, 0.02, -0.2),
    Province("63", 4_073_584, -3.09, 115.28, 0.5, 0.05, 0.0),
    Province("64", 3_766_039, 0.54, 116.42, 1.0, 0.25, 0.0),
    Province("65", 701_814, 3.07, 116.04, 0.6, 0.15, -0.1),
    Province("71", 2_621_923, 0.62, 123.97, 0.5, 0.05, 0.0),
    Province("72", 2_985_734, -1.43, 121.45, 0.8, -0.10, -0.2),
    Province("73", 9_073_509, -3.67, 119.97, 0.8, 0.00, 0.0),
    Province("74", 2_624_875, -4.14, 122.17, 0.6, -0.08, -0.1),
    Province("75", 1_171_681, 0.70, 122.45, 0.3, -0.18, -0.1),
    Province("76", 1_419_229, -2.84, 119.23, 0.5, -0.18, -0.2),
    Province("81", 1_848_923, -3.24, 130.15, 1.2, -0.20, -0.4),
    Province("82", 1_282_937, 1.57, 127.81, 0.7, -0.12, -0.3),
    Province("91", 1_060_000, -2.00, 138.50, 1.0, -0.15, -0.5),
    Province("92", 560_000, -1.34, 133.17, 0.7, -0.10, -0.5),
    Province("93", 513_000, -7.00, 139.50, 0.8, -0.35, -0.7),
    Province("94", 1_430_000, -3.80, 136.50, 0.8, -0.45, -0.8),
    Province("95", 1_410_000, -4.10, 139.00, 0.5, -0.60, -1.0),
    Province("96", 590_000, -1.00, 131.50, 0.6, -0.10, -0.4),
)

LAT_BOUNDS = (-10.9, 5.9)  # a margin inside the accepted lat −11…6, lon 95…141
LON_BOUNDS = (95.1, 140.9)
_GEOGRAPHY_SEED = 20_200_915  # fixed so a village sits at the same place whatever the seed


@dataclass(frozen=True, slots=True)
class VillageIndex:
    """Every real village with its province, district and place, as arrays for sampling."""

    codes: tuple[str, ...]  # dotted village codes, village i ↔ codes[i]
    province: IntArr  # index into PROVINCES per village
    district: IntArr  # PPKKCC as an integer per village
    urban: BoolArr  # kelurahan (the urban village type)
    lat: FloatArr
    lon: FloatArr
    start: IntArr  # per province: first village index (villages are grouped by province)
    count: IntArr  # per province: number of villages
    districts: tuple[IntArr, ...]  # per province: all its district codes (PPKKCC)
    weight: FloatArr  # per province: share of the national population

    def span(self, region: str) -> tuple[int, int]:
        """The villages of `region` (any level), as index range [first, end): the codes are
        sorted, so a region's villages are neighbours."""
        first = bisect.bisect_left(self.codes, region)
        end = bisect.bisect_left(self.codes, region + "/")  # "/" sorts right after "."
        inside = self.codes[first:end]
        if not inside or not all(c == region or c.startswith(region + ".") for c in inside):
            raise ValidationFailed(
                f"Kode wilayah {region} tidak dikenal: kode Kemendagri seperti 31, 31.71, "
                "31.71.01 atau 31.71.01.1001."
            )
        return first, end


@lru_cache(maxsize=1)
def village_index() -> VillageIndex:
    """The village index (built once from the region catalogue, about a second)."""
    position = {p.code: i for i, p in enumerate(PROVINCES)}
    regions = all_regions()
    villages = sorted((r for r in regions if r.level == 4), key=lambda r: r.code)
    codes = tuple(v.code for v in villages)
    province = np.array([position[c[:2]] for c in codes], dtype=np.int64)
    district = np.array([int(c[:8].replace(".", "")) for c in codes], dtype=np.int64)
    urban = np.array([v.kind == "kelurahan" for v in villages], dtype=np.bool_)
    n_prov = len(PROVINCES)
    count = np.bincount(province, minlength=n_prov).astype(np.int64)
    start = np.concatenate(([0], np.cumsum(count)[:-1])).astype(np.int64)
    if np.any(count == 0) or np.any(np.diff(province) < 0):
        raise RuntimeError("region catalogue does not match the province table")
    all_districts = sorted({int(r.code.replace(".", "")) for r in regions if r.level == 3})
    by_province: list[list[int]] = [[] for _ in PROVINCES]
    for d in all_districts:
        by_province[position[f"{d // 10_000:02d}"]].append(d)
    lat, lon = _village_points(province, district)
    pops = np.array([p.population for p in PROVINCES], dtype=np.float64)
    return VillageIndex(
        codes=codes,
        province=province,
        district=district,
        urban=urban,
        lat=lat,
        lon=lon,
        start=start,
        count=count,
        districts=tuple(np.array(d, dtype=np.int64) for d in by_province),
        weight=pops / pops.sum(),
    )


def _village_points(province: IntArr, district: IntArr) -> tuple[FloatArr, FloatArr]:
    """A plausible point per village: districts scattered around the province, villages close."""
    rng = np.random.default_rng(_GEOGRAPHY_SEED)
    uniq, inverse = np.unique(district, return_inverse=True)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(district))[::-1]
    d_prov = province[first]
    centre_lat = np.array([p.lat for p in PROVINCES])[d_prov]
    centre_lon = np.array([p.lon for p in PROVINCES])[d_prov]
    spread = np.array([p.spread for p in PROVINCES])[d_prov]
    d_lat = centre_lat + rng.normal(0.0, 1.0, len(uniq)) * spread * 0.6
    d_lon = centre_lon + rng.normal(0.0, 1.0, len(uniq)) * spread
    lat = d_lat[inverse] + rng.normal(0.0, 0.03, len(district))
    lon = d_lon[inverse] + rng.normal(0.0, 0.03, len(district))
    return np.clip(lat, *LAT_BOUNDS), np.clip(lon, *LON_BOUNDS)
