"""Synthetic registry batches: families in real villages, written in the exchange format."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from lumbung.synth import attributes, housing
from lumbung.synth.identity import UniqueNumbers, birth_dates, kk_numbers, niks
from lumbung.synth.names import person_names, surnames
from lumbung.synth.noise import NOISE_COLUMNS, inject
from lumbung.synth.population import CHILD, GRANDCHILD, HEAD, MARITAL, RELATIONSHIP, compose
from lumbung.synth.tables import (
    LAT_BOUNDS,
    LON_BOUNDS,
    PROVINCES,
    BoolArr,
    IntArr,
    VillageIndex,
    village_index,
)

CHUNK_HOUSEHOLDS = 50_000  # fixed: output depends on (households, seed, noise) only
REFERENCE_DATE = dt.date(2025, 7, 1)  # "today" for ages; fixed so that reruns are identical

HOUSEHOLD_COLUMNS = (
    "kk_number",
    "village_code",
    "address",
    "rt",
    "rw",
    "latitude",
    "longitude",
    "floor_area_m2",
    "floor_material",
    "wall_material",
    "roof_material",
    "toilet",
    "water_source",
    "lighting",
    "cooking_fuel",
    "tenure",
    "owns_land",
    "motorbikes",
    "has_car",
    "has_refrigerator",
    "has_air_conditioner",
    "has_gold",
    "large_livestock",
)
MEMBER_COLUMNS = (
    "kk_number",
    "nik",
    "name",
    "sex",
    "birth_date",
    "relationship",
    "marital_status",
    "education",
    "school_level",
    "occupation",
    "disability",
    "disability_severity",
    "pregnant",
    "mother_name",
)
CONSUMPTION_COLUMNS = ("kk_number", "consumption_per_capita", "members")
_INT_COLUMNS = {"floor_area_m2", "motorbikes", "large_livestock", "consumption_per_capita"}
_INT_COLUMNS |= {"members", "row"}
_STREETS = (
    "MERDEKA",
    "SUDIRMAN",
    "DIPONEGORO",
    "AHMAD YANI",
    "GATOT SUBROTO",
    "PAHLAWAN",
    "KARTINI",
    "MAWAR",
    "MELATI",
    "ANGGREK",
    "KENANGA",
    "CEMPAKA",
    "FLAMBOYAN",
    "RAYA",
    "MASJID",
    "PASAR",
    "SEKOLAH",
    "HARAPAN",
    "IMAM BONJOL",
)
_DUSUN = ("KRAJAN", "I", "II", "III", "IV", "SUKAMAJU", "SUKAMULYA", "MEKARSARI", "SUMBERSARI")


@dataclass(frozen=True, slots=True)
class SynthSummary:
    """What a call to `generate` wrote."""

    households: int
    members: int
    noise_rows: int
    files: dict[str, Path]
    seed: int
    noise: float
    reference_date: dt.date


@dataclass(slots=True)
class _State:
    """What must persist across chunks: uniqueness of numbers and the running row count."""

    nik: UniqueNumbers = field(default_factory=UniqueNumbers)
    kk: UniqueNumbers = field(default_factory=UniqueNumbers)
    invalid: set[str] = field(default_factory=set)
    members: int = 0
    noise_rows: int = 0


def _schema(columns: tuple[str, ...]) -> pa.Schema:
    return pa.schema([(c, pa.int64() if c in _INT_COLUMNS else pa.string()) for c in columns])


@contextmanager
def _writer(path: Path, columns: tuple[str, ...]) -> Iterator[pcsv.CSVWriter]:
    """A CSV writer that never quotes (no generated value needs it) and always writes a header."""
    schema = _schema(columns)
    options = pcsv.WriteOptions(quoting_style="none", quoting_header="none")
    with pcsv.CSVWriter(str(path), schema, write_options=options) as writer:
        writer.write_table(schema.empty_table())
        yield writer


def generate(
    *,
    households: int,
    seed: int,
    out_dir: Path,
    noise: float = 0.0,
    progress: Callable[[int], None] | None = None,
    reference_date: dt.date = REFERENCE_DATE,
) -> SynthSummary:
    """Writes a synthetic batch to `out_dir` (plus the hidden truth in `out_dir/truth`)."""
    if households < 0:
        raise ValueError("households must be zero or more")
    if not 0.0 <= noise <= 1.0:
        raise ValueError("noise must be between 0 and 1")
    out_dir = Path(out_dir)
    truth = out_dir / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    files = {
        "households": out_dir / "households.csv",
        "members": out_dir / "members.csv",
        "consumption": truth / "consumption.csv",
        "noise": truth / "noise.csv",
    }
    villages = village_index()
    state = _State()
    with ExitStack() as stack:
        w_hh = stack.enter_context(_writer(files["households"], HOUSEHOLD_COLUMNS))
        w_mem = stack.enter_context(_writer(files["members"], MEMBER_COLUMNS))
        w_cons = stack.enter_context(_writer(files["consumption"], CONSUMPTION_COLUMNS))
        w_noise = stack.enter_context(_writer(files["noise"], NOISE_COLUMNS))
        for index, start in enumerate(range(0, households, CHUNK_HOUSEHOLDS)):
            n = min(CHUNK_HOUSEHOLDS, households - start)
            tables = _chunk(
                np.random.default_rng([seed, index]),
                np.random.default_rng([seed, index, 1]),
                n=n,
                villages=villages,
                state=state,
                reference=reference_date,
                noise=noise,
            )
            for writer, table in zip((w_hh, w_mem, w_cons, w_noise), tables, strict=True):
                writer.write_table(table)
            if progress is not None:
                progress(n)
    return SynthSummary(
        households=households,
        members=state.members,
        noise_rows=state.noise_rows,
        files=files,
        seed=seed,
        noise=noise,
        reference_date=reference_date,
    )


def _labels(labels: tuple[str, ...], codes: IntArr) -> pa.Array:
    """Code labels for integer codes."""
    return pc.take(pa.array(labels, type=pa.string()), pa.array(codes))


def _flag(values: BoolArr) -> pa.Array:
    return pa.array(values.astype(np.int64))


def _text(values: IntArr) -> pa.Array:
    return pc.cast(pa.array(values, type=pa.int64()), pa.string())


def _fixed6(micro: IntArr) -> pa.Array:
    """Decimal degrees with exactly six decimals, from millionths of a degree."""
    whole = _text(np.abs(micro) // 1_000_000)
    frac = pc.utf8_lpad(_text(np.abs(micro) % 1_000_000), width=6, padding="0")
    sign = _labels(("", "-"), (micro < 0).astype(np.int64))
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def _table(columns: tuple[str, ...], data: dict[str, pa.Array]) -> pa.Table:
    return pa.Table.from_arrays([data[c] for c in columns], schema=_schema(columns))


def _address(rng: np.random.Generator, urban: BoolArr) -> pa.Array:
    """A street address in towns, a hamlet (dusun) in villages."""
    n = len(urban)
    street = pa.array(_STREETS, type=pa.string())
    number = _text(rng.integers(1, 200, n))
    town = pc.binary_join_element_wise(
        "JL.", pc.take(street, pa.array(rng.integers(0, len(street), n))), "NO.", number, " "
    )
    dusun = pa.array(_DUSUN, type=pa.string())
    village = pc.binary_join_element_wise(
        "DUSUN", pc.take(dusun, pa.array(rng.integers(0, len(dusun), n))), " "
    )
    return pc.if_else(pa.array(urban), town, village)


def _chunk(
    rng: np.random.Generator,
    noise_rng: np.random.Generator,
    *,
    n: int,
    villages: VillageIndex,
    state: _State,
    reference: dt.date,
    noise: float,
) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """One chunk of households: households, members, consumption and noise tables."""
    prov = rng.choice(len(PROVINCES), size=n, p=villages.weight).astype(np.int64)
    village = villages.start[prov] + np.floor(rng.random(n) * villages.count[prov]).astype(np.int64)
    urban = villages.urban[village]
    people = compose(rng, n)
    hh = people.household
    m = len(hh)
    cpc, welfare = housing.consumption(rng, prov, urban, people.size)
    house = housing.draw(rng, welfare=welfare, province=prov, urban=urban, size=people.size)
    dates, age = birth_dates(rng, people.age, reference)
    attrs = attributes.draw(
        rng,
        age=age,
        female=people.female,
        marital=people.marital,
        welfare=welfare[hh],
        urban=urban[hh],
    )

    # Family names pass from the head to children and grandchildren; others bring their own.
    family = surnames(rng, prov, 0.8)[hh]
    inherits = np.isin(people.relationship, (HEAD, CHILD, GRANDCHILD))
    own = surnames(rng, prov[hh], 0.7)
    names = person_names(
        rng,
        female=people.female,
        age=age,
        province=prov[hh],
        surname=np.where(inherits, family, own),
    )
    strangers = person_names(
        rng,
        female=np.ones(m, dtype=np.bool_),
        age=age + 25,
        province=prov[hh],
        surname=surnames(rng, prov[hh], 0.7),
    )
    linked = np.where(people.mother >= 0, people.mother, m + np.arange(m))
    mother_name = pc.take(pa.concat_arrays([names, strangers]), pa.array(linked))
    # Older people often do not know or give their mother's name.
    unknown = rng.random(m) < np.where(age >= 60, 0.2, 0.03)
    mother_name = pc.if_else(pa.array(unknown), pa.scalar(None, pa.string()), mother_name)

    home = villages.district[village]
    nik = niks(
        rng,
        state.nik,
        villages=villages,
        home_district=home[hh],
        province=prov[hh],
        dates=dates,
        female=people.female,
    )
    first = np.concatenate(([0], np.cumsum(people.size)[:-1])).astype(np.int64)
    youngest = np.maximum.reduceat(dates.days, first) if n else np.empty(0, np.int64)
    kk = kk_numbers(rng, state.kk, district=home, youngest_birth=youngest, reference=reference)
    kk_text = _text(kk)

    lat = np.clip(villages.lat[village] + rng.normal(0.0, 0.005, n), *LAT_BOUNDS)
    lon = np.clip(villages.lon[village] + rng.normal(0.0, 0.005, n), *LON_BOUNDS)
    households = _table(
        HOUSEHOLD_COLUMNS,
        {
            "kk_number": kk_text,
            "village_code": pc.take(_village_codes(), pa.array(village)),
            "address": _address(rng, urban),
            "rt": pc.utf8_lpad(_text(rng.integers(1, 16, n)), width=3, padding="0"),
            "rw": pc.utf8_lpad(_text(rng.integers(1, 9, n)), width=3, padding="0"),
            "latitude": _fixed6(np.round(lat * 1e6).astype(np.int64)),
            "longitude": _fixed6(np.round(lon * 1e6).astype(np.int64)),
            "floor_area_m2": pa.array(house.floor_area),
            "floor_material": _labels(housing.FLOOR, house.floor),
            "wall_material": _labels(housing.WALL, house.wall),
            "roof_material": _labels(housing.ROOF, house.roof),
            "toilet": _labels(housing.TOILET, house.toilet),
            "water_source": _labels(housing.WATER, house.water),
            "lighting": _labels(housing.LIGHTING, house.lighting),
            "cooking_fuel": _labels(housing.COOKING, house.cooking),
            "tenure": _labels(housing.TENURE, house.tenure),
            "owns_land": _flag(house.owns_land),
            "motorbikes": pa.array(house.motorbikes),
            "has_car": _flag(house.car),
            "has_refrigerator": _flag(house.fridge),
            "has_air_conditioner": _flag(house.air_conditioner),
            "has_gold": _flag(house.gold),
            "large_livestock": pa.array(house.livestock),
        },
    )
    consumption = _table(
        CONSUMPTION_COLUMNS,
        {
            "kk_number": kk_text,
            "consumption_per_capita": pa.array(cpc),
            "members": pa.array(people.size),
        },
    )
    members = {
        "kk_number": pc.take(kk_text, pa.array(hh)),
        "nik": _text(nik),
        "name": names,
        "sex": _labels(("L", "P"), people.female.astype(np.int64)),
        "birth_date": pc.cast(pa.array(dates.days.astype(np.int32), type=pa.date32()), pa.string()),
        "relationship": _labels(RELATIONSHIP, people.relationship),
        "marital_status": _labels(MARITAL, people.marital),
        "education": _labels(attributes.EDUCATION, attrs.education),
        "school_level": _labels(attributes.SCHOOL, attrs.school),
        "occupation": _labels(attributes.OCCUPATION, attrs.occupation),
        "disability": _labels(attributes.DISABILITY, attrs.disability),
        "disability_severity": _labels(attributes.SEVERITY, attrs.severity),
        "pregnant": _flag(attrs.pregnant),
        "mother_name": mother_name,
    }
    errors = inject(
        noise_rng,
        share=noise,
        household=hh,
        relationship=people.relationship,
        nik=nik,
        dates=dates,
        names=names,
        invalid_seen=state.invalid,
    )
    for column in ("nik", "name", "birth_date", "relationship"):
        replaced = errors.mask(column, m)
        if replaced is not None:
            mask, values = replaced
            members[column] = pc.replace_with_mask(members[column], pa.array(mask), values)
    rows = np.array([r[0] for r in errors.records], dtype=np.int64)
    member_kk = members["kk_number"]
    noise_table = _table(
        NOISE_COLUMNS,
        {
            "file": pa.array(["members.csv"] * len(rows), type=pa.string()),
            "row": pa.array(state.members + rows + 2, type=pa.int64()),
            "kk_number": pc.take(member_kk, pa.array(rows, type=pa.int64())),
            **{
                col: pa.array([r[i] for r in errors.records], type=pa.string())
                for i, col in enumerate(("nik", "column", "kind", "original", "noisy"), start=1)
            },
        },
    )
    state.members += m
    state.noise_rows += len(rows)
    return households, _table(MEMBER_COLUMNS, members), consumption, noise_table


@lru_cache(maxsize=1)
def _village_codes() -> pa.Array:
    """The dotted village codes of the village index as an Arrow array."""
    return pa.array(village_index().codes, type=pa.string())
