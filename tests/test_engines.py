"""DuckDB and Spark compute the same thing: features, PMT scores (bit for bit), desil and
every program's entitlements, on a synthetic release; and a cycle run on Spark stores what a
DuckDB run stores.

One registry and one Spark session serve the whole module (Spark takes seconds to start).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine as DbEngine

from conftest import add_user, user
from helpers import run_import
from lumbung.auth.roles import Role
from lumbung.cycles import compute
from lumbung.cycles.models import Cycle, Entitlement
from lumbung.cycles.service import CycleResult, run_cycle
from lumbung.db import create_engine, session_scope
from lumbung.engine.backend import Engine, open_engine, open_spark
from lumbung.engine.names import EngineName
from lumbung.programs.definition import ProgramDefinition, load_shipped_programs, parse_program
from lumbung.synth import generate
from lumbung.targeting.features import household_features, member_features, read_release
from lumbung.targeting.pmt import PmtModel, default_model_path, load_model
from lumbung.targeting.scoring import ranked
from lumbung.targeting.vocabulary import HOUSEHOLD_FEATURES
from targeting_helpers import quota_table, release, score

LABEL = "SYN-1"
AS_OF = date(2026, 1, 1)
HOUSEHOLDS = 2000


@dataclass(frozen=True)
class World:
    db: DbEngine
    data_dir: Path
    model: PmtModel
    households: int

    @property
    def release_dir(self) -> Path:
        return self.data_dir / "releases" / LABEL


@pytest.fixture(scope="module")
def world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A synthetic registry imported as approved, released and scored with the shipped
    model (SQLite: the database is not what this module compares)."""
    root = tmp_path_factory.mktemp("engines")
    path = root / "lumbung.db"
    shutil.copy(sqlite_template, path)
    db = create_engine(f"sqlite:///{path}")
    add_user(db, "admin", Role.ADMIN, None)
    add_user(db, "determiner", Role.DETERMINER, None)
    batch = root / "batch"
    generate(households=HOUSEHOLDS, seed=7, out_dir=batch)
    summary = run_import(db, [batch / "households.csv", batch / "members.csv"], status="approved")
    assert summary.households_accepted > 0.95 * HOUSEHOLDS
    data_dir = root / "data"
    released = release(db, data_dir, LABEL)
    model = load_model(default_model_path())
    score(db, data_dir, LABEL, model)
    yield World(db, data_dir, model, released.households)
    db.dispose()


@pytest.fixture(scope="module")
def spark() -> Iterator[Engine]:
    with open_spark() as engine:
        yield engine
        engine.stop()


@pytest.fixture(scope="module")
def duck() -> Iterator[Engine]:
    with open_engine(EngineName.DUCKDB) as engine:
        yield engine


@pytest.fixture(scope="module")
def programs() -> dict[str, ProgramDefinition]:
    return load_shipped_programs()


def rows(batch: Engine, expr: Any, key: str) -> tuple[pa.Schema, list[dict[str, Any]]]:
    table: pa.Table = batch.to_arrow(expr)
    return table.schema, sorted(table.to_pylist(), key=lambda r: r[key])


def same(duck: Engine, spark: Engine, build: Any, key: str) -> list[dict[str, Any]]:
    """Build the expression on each engine; the rows must be equal, value for value, and
    of the same types."""
    duck_schema, duck_rows = rows(duck, build(duck), key)
    spark_schema, spark_rows = rows(spark, build(spark), key)
    assert [(f.name, str(f.type)) for f in spark_schema] == [
        (f.name, str(f.type)) for f in duck_schema
    ]
    assert len(spark_rows) == len(duck_rows)
    for mine, theirs in zip(duck_rows, spark_rows, strict=True):
        assert theirs == mine, mine[key]
    return duck_rows


def scored_households(batch: Engine, world: World) -> Any:
    """Household features with score, desil and rank in the regency, as a cycle sees them."""
    tables = read_release(batch, world.release_dir)
    features = household_features(tables, AS_OF)
    scores = ranked(features, world.model).select(
        scored_household="household_id", score="score", decile="decile", rank_area="rank_area"
    )
    return features.inner_join(scores, features.household_id == scores.scored_household).drop(
        "scored_household"
    )


def entitlements_of(
    definition: ProgramDefinition, world: World, enrolled: list[int] | None = None
) -> Any:
    def build(batch: Engine) -> Any:
        households = scored_households(batch, world)
        members = member_features(read_release(batch, world.release_dir).members, AS_OF)
        tables = {}
        if enrolled is not None:
            ids = pa.table({"household_id": pa.array(enrolled, pa.int64())})
            tables = {"PKH": batch.table(ids, "enrolled")}
        quota = quota_table(batch, definition) if definition.quota is not None else None
        return compute.entitlements(definition, households, members, tables, quota)

    return build


def test_features_scores_and_deciles_are_the_same_bit_for_bit(
    world: World, duck: Engine, spark: Engine
) -> None:
    found = same(duck, spark, lambda b: scored_households(b, world), "household_id")
    assert len(found) == world.households
    assert {r["decile"] for r in found} == set(range(1, 11))
    # every feature the vocabulary names, and the score as a double: `==` above is exact
    assert set(HOUSEHOLD_FEATURES) <= set(found[0])
    assert all(isinstance(r["score"], float) for r in found)
    assert len({r["score"] for r in found}) > world.households // 2


@pytest.mark.parametrize("code", ["PKH", "SEMBAKO", "PBI-JKN"])
def test_shipped_programs_give_the_same_entitlements(
    code: str,
    world: World,
    duck: Engine,
    spark: Engine,
    programs: dict[str, ProgramDefinition],
) -> None:
    found = same(duck, spark, entitlements_of(programs[code], world), "beneficiary_id")
    assert found, code  # a synthetic release has beneficiaries of every program
    assert all(r["amount_idr"] > 0 for r in found)


def test_enrollment_and_quotas_give_the_same_entitlements(
    world: World, duck: Engine, spark: Engine
) -> None:
    """enrolled() and a quota both take a small table into the engine (`Engine.table`)."""
    definition = parse_program(
        """
code: KUOTA
name: Bantuan berkuota
version: "1"
unit: household
eligibility: enrolled("PKH") or decile <= 2
benefit: {kind: flat, monthly_idr: 100000}
schedule: {kind: tranches, months: 3, tranches: 1}
channel: pos
quota: {level: province, default: 4, counts: {'31': 0, '32': 9}}
"""
    )
    every_third = list(range(1, 3 * HOUSEHOLDS, 3))
    found = same(
        duck, spark, entitlements_of(definition, world, enrolled=every_third), "beneficiary_id"
    )
    per_province: dict[str, int] = {}
    for r in found:
        per_province[r["province_code"]] = per_province.get(r["province_code"], 0) + 1
    assert "31" not in per_province
    assert per_province.get("32", 0) <= 9
    assert all(n <= 4 for p, n in per_province.items() if p != "32")
    assert any(r["household_id"] % 3 == 1 and r["decile"] > 2 for r in found)
    assert {r["amount_idr"] for r in found} == {300_000}


def cycle(world: World, label: str, program: str, engine: EngineName) -> CycleResult:
    with session_scope(world.db) as session:
        return run_cycle(
            session,
            actor=user(session, "determiner"),
            program=program,
            release_label=LABEL,
            label=label,
            data_dir=world.data_dir,
            engine=engine,
            as_of=AS_OF,
            model=world.model.key,
        )


def stored(world: World, label: str) -> dict[int, tuple[Any, ...]]:
    with session_scope(world.db) as session:
        cycle_id = session.execute(select(Cycle.id).where(Cycle.label == label)).scalar_one()
        return {
            e.beneficiary_id: (
                e.household_id,
                e.member_id,
                e.kk_number,
                e.nik,
                e.regency_code,
                e.amount_idr,
                e.breakdown,
                e.channel,
            )
            for e in session.execute(
                select(Entitlement).where(Entitlement.cycle_id == cycle_id)
            ).scalars()
        }


def test_a_cycle_run_on_spark_stores_what_a_duckdb_run_stores(world: World, spark: Engine) -> None:
    program = "PKH"
    on_duck = cycle(world, f"{program}-duck", program, EngineName.DUCKDB)
    on_spark = cycle(world, f"{program}-spark", program, EngineName.SPARK)
    assert on_spark.engine == "spark"
    assert on_duck.beneficiaries > 0
    assert (on_spark.beneficiaries, on_spark.total_idr, on_spark.by_component) == (
        on_duck.beneficiaries,
        on_duck.total_idr,
        on_duck.by_component,
    )
    duck_rows = stored(world, f"{program}-duck")
    spark_rows = stored(world, f"{program}-spark")
    assert spark_rows.keys() == duck_rows.keys()
    for beneficiary, row in duck_rows.items():
        assert spark_rows[beneficiary] == row, beneficiary
