"""Synthetic registry batches: families in real villages, written in the exchange format."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lumbung.synth import attributes, housing, output
from lumbung.synth import duplicates as dup
from lumbung.synth.identity import UniqueNumbers, birth_dates, kk_numbers, niks
from lumbung.synth.names import family_names
from lumbung.synth.noise import NOISE_COLUMNS, inject
from lumbung.synth.output import (
    CONSUMPTION_COLUMNS,
    HOUSEHOLD_COLUMNS,
    MEMBER_COLUMNS,
)
from lumbung.synth.population import MARITAL, RELATIONSHIP, compose
from lumbung.synth.tables import (
    LAT_BOUNDS,
    LON_BOUNDS,
    PROVINCES,
    VillageIndex,
    village_index,
)

CHUNK_HOUSEHOLDS = 50_000  # fixed: output depends on (households, seed, noise) only
REFERENCE_DATE = dt.date(2025, 7, 1)  # "today" for ages; fixed so that reruns are identical


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
    duplicates: float = 0.0
    copies: int = 0  # member rows that register a person a second time (in `members`)
    # (`households` counts the family cards written: the copies' new cards among them)


@dataclass(slots=True)
class _State:
    """What must persist across chunks: uniqueness of numbers and the running row count."""

    nik: UniqueNumbers = field(default_factory=UniqueNumbers)
    kk: UniqueNumbers = field(default_factory=UniqueNumbers)
    invalid: set[str] = field(default_factory=set)
    members: int = 0
    noise_rows: int = 0
    persons: int = 0
    copies: int = 0
    copied_households: int = 0


def generate(
    *,
    households: int,
    seed: int,
    out_dir: Path,
    noise: float = 0.0,
    progress: Callable[[int], None] | None = None,
    reference_date: dt.date = REFERENCE_DATE,
    region: str | None = None,
    duplicates: float = 0.0,
) -> SynthSummary:
    """A summary of the synthetic batch written to `out_dir` (hidden truth in `out_dir/truth`).

    With `region` (a Kemendagri code at any level), every family lives in one of its villages,
    drawn evenly: a small batch in which each regency holds enough families for desil to mean
    something. Without it, families are spread over the nation by province population.

    With `duplicates` (a share of the members), people are registered a second time with the
    noise of real re-registration, twins and common-name look-alikes are planted, and
    `truth/persons.csv` says which rows are one person (synth/duplicates.py)."""
    if households < 0:
        raise ValueError("households must be zero or more")
    if not 0.0 <= noise <= 1.0:
        raise ValueError("noise must be between 0 and 1")
    if not 0.0 <= duplicates <= 0.5:
        raise ValueError("duplicates must be between 0 and 0.5")
    villages = village_index()
    span = villages.span(region) if region is not None else None  # refused before any folder
    out_dir = Path(out_dir)
    truth = out_dir / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    files = {
        "households": out_dir / "households.csv",
        "members": out_dir / "members.csv",
        "consumption": truth / "consumption.csv",
        "noise": truth / "noise.csv",
    }
    if duplicates > 0:
        files["persons"] = truth / "persons.csv"
    state = _State()
    with ExitStack() as stack:
        w_hh = stack.enter_context(output.csv_writer(files["households"], HOUSEHOLD_COLUMNS))
        w_mem = stack.enter_context(output.csv_writer(files["members"], MEMBER_COLUMNS))
        w_cons = stack.enter_context(output.csv_writer(files["consumption"], CONSUMPTION_COLUMNS))
        w_noise = stack.enter_context(output.csv_writer(files["noise"], NOISE_COLUMNS))
        w_persons = (
            stack.enter_context(output.csv_writer(files["persons"], dup.PERSON_COLUMNS))
            if "persons" in files
            else None
        )
        for index, start in enumerate(range(0, households, CHUNK_HOUSEHOLDS)):
            n = min(CHUNK_HOUSEHOLDS, households - start)
            tables = _chunk(
                np.random.default_rng([seed, index]),
                np.random.default_rng([seed, index, 1]),
                n=n,
                villages=villages,
                span=span,
                state=state,
                reference=reference_date,
                noise=noise,
                dup_rng=np.random.default_rng([seed, index, 2]) if duplicates > 0 else None,
                duplicates=duplicates,
            )
            for writer, table in zip((w_hh, w_mem, w_cons, w_noise), tables, strict=False):
                writer.write_table(table)
            if w_persons is not None:
                w_persons.write_table(tables[4])
            if progress is not None:
                progress(n)
    return SynthSummary(
        households=households + state.copied_households,
        members=state.members,
        noise_rows=state.noise_rows,
        files=files,
        seed=seed,
        noise=noise,
        reference_date=reference_date,
        duplicates=duplicates,
        copies=state.copies,
    )


def _chunk(
    rng: np.random.Generator,
    noise_rng: np.random.Generator,
    *,
    n: int,
    villages: VillageIndex,
    span: tuple[int, int] | None,
    state: _State,
    reference: dt.date,
    noise: float,
    dup_rng: np.random.Generator | None = None,
    duplicates: float = 0.0,
) -> tuple[pa.Table, ...]:
    """One chunk of households: households, members, consumption and noise tables, and with
    `dup_rng` the second registrations among them and the persons' truth table."""
    if span is None:  # the nation, by province population
        prov = rng.choice(len(PROVINCES), size=n, p=villages.weight).astype(np.int64)
        offset = np.floor(rng.random(n) * villages.count[prov]).astype(np.int64)
        village = villages.start[prov] + offset
    else:  # the villages of one region, evenly
        low, high = span
        village = low + np.floor(rng.random(n) * (high - low)).astype(np.int64)
        prov = villages.province[village]
    urban = villages.urban[village]
    people = compose(rng, n)
    hh = people.household
    m = len(hh)
    cpc, welfare = housing.consumption(rng, prov, urban, people.size)
    house = housing.draw(rng, welfare=welfare, province=prov, urban=urban, size=people.size)
    dates, age = birth_dates(rng, people.age, reference)
    twins = None
    if dup_rng is not None:
        dates, age, twins = dup.twins(dup_rng, people, dates, reference)
    attrs = attributes.draw(
        rng,
        age=age,
        female=people.female,
        marital=people.marital,
        welfare=welfare[hh],
        urban=urban[hh],
    )
    names, mother_name = family_names(rng, people, age, prov)
    home = villages.district[village]
    common = np.full(len(hh), -1, dtype=np.int64)
    if dup_rng is not None and twins is not None:
        names = dup.distinct_twin_names(names, twins, people.female)
        names = dup.muhammad_names(
            dup_rng,
            names=names,
            people=people,
            age=age,
            province=prov[hh],
            exclude=np.concatenate((twins.first, twins.second)),
        )
        names, mother_name, common = dup.common_names(
            dup_rng,
            names=names,
            mother_name=mother_name,
            people=people,
            dates=dates,
            age=age,
            district=home[hh],
            province=prov[hh],
            exclude=np.concatenate((twins.first, twins.second)),
        )
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
    youngest = np.maximum.reduceat(dates.days, first)
    kk = kk_numbers(rng, state.kk, district=home, youngest_birth=youngest, reference=reference)
    kk_text = output.text(kk)

    lat = np.clip(villages.lat[village] + rng.normal(0.0, 0.005, n), *LAT_BOUNDS)
    lon = np.clip(villages.lon[village] + rng.normal(0.0, 0.005, n), *LON_BOUNDS)
    households = output.table(
        HOUSEHOLD_COLUMNS,
        {
            "kk_number": kk_text,
            "village_code": pc.take(_village_codes(), pa.array(village)),
            "address": output.address(rng, urban),
            "rt": pc.utf8_lpad(output.text(rng.integers(1, 16, n)), width=3, padding="0"),
            "rw": pc.utf8_lpad(output.text(rng.integers(1, 9, n)), width=3, padding="0"),
            "latitude": output.fixed6(np.round(lat * 1e6).astype(np.int64)),
            "longitude": output.fixed6(np.round(lon * 1e6).astype(np.int64)),
            "floor_area_m2": pa.array(house.floor_area),
            "floor_material": output.coded(housing.FLOOR, house.floor),
            "wall_material": output.coded(housing.WALL, house.wall),
            "roof_material": output.coded(housing.ROOF, house.roof),
            "toilet": output.coded(housing.TOILET, house.toilet),
            "water_source": output.coded(housing.WATER, house.water),
            "lighting": output.coded(housing.LIGHTING, house.lighting),
            "cooking_fuel": output.coded(housing.COOKING, house.cooking),
            "tenure": output.coded(housing.TENURE, house.tenure),
            "owns_land": output.flag(house.owns_land),
            "motorbikes": pa.array(house.motorbikes),
            "has_car": output.flag(house.car),
            "has_refrigerator": output.flag(house.fridge),
            "has_air_conditioner": output.flag(house.air_conditioner),
            "has_gold": output.flag(house.gold),
            "large_livestock": pa.array(house.livestock),
        },
    )
    consumption = output.table(
        CONSUMPTION_COLUMNS,
        {
            "kk_number": kk_text,
            "consumption_per_capita": pa.array(cpc),
            "members": pa.array(people.size),
        },
    )
    members = {
        "kk_number": pc.take(kk_text, pa.array(hh)),
        "nik": output.text(nik),
        "name": names,
        "sex": output.coded(("L", "P"), people.female.astype(np.int64)),
        "birth_date": pc.cast(pa.array(dates.days.astype(np.int32), type=pa.date32()), pa.string()),
        "relationship": output.coded(RELATIONSHIP, people.relationship),
        "marital_status": output.coded(MARITAL, people.marital),
        "education": output.coded(attributes.EDUCATION, attrs.education),
        "school_level": output.coded(attributes.SCHOOL, attrs.school),
        "occupation": output.coded(attributes.OCCUPATION, attrs.occupation),
        "disability": output.coded(attributes.DISABILITY, attrs.disability),
        "disability_severity": output.coded(attributes.SEVERITY, attrs.severity),
        "pregnant": output.flag(attrs.pregnant),
        "mother_name": mother_name,
    }
    clean_members = output.table(MEMBER_COLUMNS, members)
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
    noise_table = output.table(
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
    members_table = output.table(MEMBER_COLUMNS, members)
    if dup_rng is None or twins is None:
        state.members += m
        state.noise_rows += len(rows)
        return households, members_table, consumption, noise_table
    copies = dup.copies(
        dup_rng,
        duplicates,
        dup.ChunkView(
            members=clean_members,
            households=households,
            consumption=consumption,
            people=people,
            dates=dates,
            age=age,
            nik=nik,
            pregnant=attrs.pregnant,
            village=village,
        ),
        villages=villages,
        nik_numbers=state.nik,
        kk_allocator=state.kk,
        reference=reference,
    )
    persons = dup.persons_table(
        copies,
        members=members_table,
        family=kk_text,
        household=hh,
        twins=twins,
        common=common,
        first_row=state.members + 2,
        first_person=state.persons,
    )
    state.members += m + copies.members.num_rows
    state.noise_rows += len(rows)
    state.persons += m
    state.copies += copies.members.num_rows
    state.copied_households += copies.households.num_rows
    return (
        pa.concat_tables([households, copies.households]),
        pa.concat_tables([members_table, copies.members]),
        pa.concat_tables([consumption, copies.consumption]),
        noise_table,
        persons,
    )


@lru_cache(maxsize=1)
def _village_codes() -> pa.Array:
    """The dotted village codes of the village index as an Arrow array."""
    return pa.array(village_index().codes, type=pa.string())
