"""Builders for targeting and cycle tests: feature rows for `compute.entitlements`, and a
registry taken through import → release → PMT scoring the way the commands do it."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import Engine as DbEngine

from conftest import user
from factories import write_batch
from helpers import run_import
from lumbung.cycles import compute
from lumbung.db import session_scope
from lumbung.engine.backend import Engine
from lumbung.programs.definition import ProgramDefinition
from lumbung.registry import vocab
from lumbung.releases.service import ReleaseResult, create_release
from lumbung.targeting.pmt import PmtModel
from lumbung.targeting.service import ScoringResult, score_release
from lumbung.targeting.vocabulary import (
    AGE_BANDS,
    HEAD_COLUMNS,
    HOUSEHOLD_FEATURES,
    MEMBER_FEATURES,
    SCHOOL_COUNTS,
    ValueType,
)

# PKH per quarter (annual amount / 4), by the shipped definition's component names.
PKH_QUARTER = {
    "pregnant": 750_000,
    "early_childhood": 750_000,
    "school_sd": 225_000,
    "school_smp": 375_000,
    "school_sma": 500_000,
    "severe_disability": 600_000,
    "elderly": 600_000,
}

_ARROW = {ValueType.NUMBER: pa.int64(), ValueType.BOOLEAN: pa.bool_(), ValueType.TEXT: pa.string()}
HOUSEHOLD_SCHEMA = pa.schema(
    [
        ("household_id", pa.int64()),
        ("kk_number", pa.string()),
        ("village_code", pa.string()),
        *[
            (
                name,
                pa.float64()
                if name in ("floor_area_m2", "floor_area_per_person")
                else _ARROW[kind],
            )
            for name, kind in HOUSEHOLD_FEATURES.items()
        ],
        ("score", pa.float64()),
        ("decile", pa.int16()),
    ]
)
MEMBER_SCHEMA = pa.schema(
    [
        ("member_id", pa.int64()),
        ("household_id", pa.int64()),
        ("kk_number", pa.string()),
        ("nik", pa.string()),
        *[(name, _ARROW[kind]) for name, kind in MEMBER_FEATURES.items()],
    ]
)


def person(
    age: int,
    *,
    sex: str = "L",
    relationship: str = "anak",
    school_level: str = "tidak",
    pregnant: bool = False,
    severe_disability: bool = False,
    occupation: str = "tidak_bekerja",
    member_id: int | None = None,
) -> dict[str, Any]:
    """One member as `member_features` gives it (ids are filled in by `Households.add`)."""
    return {
        "member_id": member_id,
        "age": age,
        "sex": "P" if pregnant else sex,
        "relationship": relationship,
        "marital_status": "kawin" if relationship != "anak" else "belum_kawin",
        "education": "sd",
        "school_level": school_level,
        "occupation": occupation,
        "disability": "fisik" if severe_disability else "tidak_ada",
        "disability_severity": "berat" if severe_disability else "tidak_ada",
        "pregnant": pregnant,
    }


def head(age: int = 40, **over: Any) -> dict[str, Any]:
    return person(age, relationship="kepala_keluarga", occupation="buruh", **over)


@dataclass
class Households:
    """Household feature rows (+ score, decile) and member feature rows, built by hand.

    Household counts are derived from the members the way `household_features` does, so an
    eligibility rule sees what the members say."""

    households: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    next_member: int = 1

    def add(
        self,
        serial: int,
        members: Sequence[Mapping[str, Any]],
        *,
        decile: int = 1,
        score: float | None = None,
        regency: str = "31.71",
    ) -> int:
        """Household `serial` (its id; KK number kk(serial)) with these members."""
        kk_number = f"{regency.replace('.', '')}01010120{serial:04d}"
        rows = []
        for m in members:
            row = dict(m)
            if row["member_id"] is None:
                row["member_id"] = serial * 100 + self.next_member
                self.next_member += 1
            row.update(household_id=serial, kk_number=kk_number, nik=f"{row['member_id']:016d}")
            rows.append(row)
        self.members += rows

        def count(test: Any) -> int:
            return sum(1 for r in rows if test(r))

        def band(low: int, high: int | None) -> Any:
            return lambda r: r["age"] >= low and (high is None or r["age"] <= high)

        heads = [r for r in rows if r["relationship"] == vocab.HEAD]
        first = heads[0] if heads else None
        household: dict[str, Any] = {
            "household_id": serial,
            "kk_number": kk_number,
            "village_code": f"{regency}.01.1001",
            "hh_size": len(rows),
            **{n: count(band(lo, hi)) for n, (lo, hi) in AGE_BANDS.items()},
            **{
                n: count(lambda r, level=level: r["school_level"] == level)
                for n, level in SCHOOL_COUNTS.items()
            },
            "n_pregnant": count(lambda r: r["pregnant"]),
            "n_disability": count(lambda r: r["disability"] != "tidak_ada"),
            "n_severe_disability": count(lambda r: r["disability_severity"] == "berat"),
            "n_working": count(lambda r: r["occupation"] != "tidak_bekerja" and r["age"] >= 15),
            "head_age": first["age"] if first else None,
            **{f"head_{c}": first[c] if first else None for c in HEAD_COLUMNS},
            "floor_area_m2": 36.0,
            "floor_area_per_person": 36.0 / max(len(rows), 1),
            **{c: values[0] for c, values in vocab.HOUSEHOLD_ENUMS.items()},
            **dict.fromkeys(vocab.HOUSEHOLD_FLAGS, False),
            **dict.fromkeys(vocab.HOUSEHOLD_COUNTS, 0),
            "province_code": regency[:2],
            "regency_code": regency,
            "score": float(serial) if score is None else score,
            "decile": decile,
        }
        self.households.append({k: household.get(k) for k in HOUSEHOLD_SCHEMA.names})
        return serial

    def tables(self, batch: Engine) -> tuple[Any, Any]:
        households = pa.Table.from_pylist(self.households, schema=HOUSEHOLD_SCHEMA)
        members = pa.Table.from_pylist(
            [{k: m.get(k) for k in MEMBER_SCHEMA.names} for m in self.members],
            schema=MEMBER_SCHEMA,
        )
        return batch.table(households, "households"), batch.table(members, "members")


def enrolled_table(batch: Engine, household_ids: Sequence[int]) -> Any:
    return batch.table(pa.table({"household_id": pa.array(list(household_ids), pa.int64())}))


def quota_table(batch: Engine, definition: ProgramDefinition) -> Any:
    assert definition.quota is not None
    schema = pa.schema([("region_code", pa.string()), ("quota", pa.int64())])
    rows = pa.Table.from_pylist(compute.quota_rows(definition.quota), schema=schema)
    return batch.table(rows, "quota")


def run_entitlements(
    batch: Engine,
    definition: ProgramDefinition,
    built: Households,
    *,
    enrolled: Mapping[str, Sequence[int]] | None = None,
) -> list[dict[str, Any]]:
    """The entitlement rows, sorted by beneficiary."""
    households, members = built.tables(batch)
    tables = {code: enrolled_table(batch, ids) for code, ids in (enrolled or {}).items()}
    quota = quota_table(batch, definition) if definition.quota is not None else None
    expr = compute.entitlements(definition, households, members, tables, quota)
    rows: list[dict[str, Any]] = batch.to_arrow(expr.order_by("beneficiary_id")).to_pylist()
    return rows


def by_household(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["household_id"]: r for r in rows}


def component_counts(row: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """{component: (persons, amount)} for the components that counted anyone."""
    found = {}
    for key, value in row.items():
        if key.startswith("c__") and key.endswith("__persons") and value:
            name = key.removeprefix("c__").removesuffix("__persons")
            found[name] = (value, row[f"c__{name}__amount"])
    return found


# --- a registry taken through import, release and scoring ----------------------------------


def import_approved(
    engine: DbEngine,
    folder: Path,
    households: list[dict[str, Any]],
    members: list[dict[str, Any]],
) -> None:
    summary = run_import(engine, write_batch(folder, households, members), status="approved")
    assert summary.households_rejected == 0, summary.errors[:5]
    assert summary.members_rejected == 0, summary.errors[:5]


def release(
    engine: DbEngine, data_dir: Path, label: str, actor: str = "determiner"
) -> ReleaseResult:
    with session_scope(engine) as session:
        return create_release(
            session,
            actor=user(session, actor),
            label=label,
            releases_dir=data_dir / "releases",
            decree="SK Mensos 1/HUK/2026",
        )


def score(
    engine: DbEngine,
    data_dir: Path,
    label: str,
    model: PmtModel,
    *,
    actor: str = "determiner",
    engine_name: str = "duckdb",
) -> ScoringResult:
    from lumbung.engine.names import EngineName

    with session_scope(engine) as session:
        return score_release(
            session,
            actor=user(session, actor),
            release_label=label,
            model=model,
            data_dir=data_dir,
            engine=EngineName(engine_name),
        )


def floor_model(name: str = "test-floor", version: str = "1", per_m2: float = 0.01) -> PmtModel:
    """Score = 12 + per_m2 × floor area: the order of floor areas is the order of scores."""
    return PmtModel(name=name, version=version, intercept=12.0, numeric={"floor_area_m2": per_m2})


def survey_with_consumption(out: Path) -> Path:
    """A synthetic batch's households.csv with the hidden consumption joined in."""
    consumption = {
        r["kk_number"]: r["consumption_per_capita"]
        for r in csv.DictReader((out / "truth" / "consumption.csv").open(encoding="utf-8"))
    }
    path = out / "households.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fields = [*rows[0].keys(), "consumption_per_capita"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "consumption_per_capita": consumption[row["kk_number"]]})
    return out
