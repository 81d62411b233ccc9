"""Program cycles: who is entitled to how much.

The first half computes entitlements with `compute.entitlements` on hand-built feature rows
in DuckDB (PKH caps, quotas, flat, per-person, tranche and in-kind benefits, enrollment
rules). The second half runs cycles through the service on both databases: import → release
→ PMT scoring → run → rerun → approve → enrollment → explain.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine as DbEngine

from conftest import user
from factories import household, kk, member, write_batch
from helpers import edit_directly, run_import
from lumbung.cycles import compute
from lumbung.cycles.explain import explain
from lumbung.cycles.models import Cycle, Enrollment, Entitlement, components
from lumbung.cycles.service import CycleResult, approve_cycle, run_cycle
from lumbung.db import session_scope
from lumbung.engine.backend import Engine, open_engine
from lumbung.engine.names import EngineName
from lumbung.errors import Conflict, PermissionDenied
from lumbung.programs.definition import (
    ProgramDefinition,
    ProgramDefinitionError,
    load_shipped_programs,
    parse_program,
)
from lumbung.programs.language import member_vocabulary, parse_rule
from lumbung.targeting.features import age_at, age_compared, age_comparison
from targeting_helpers import (
    PKH_QUARTER,
    Households,
    by_household,
    component_counts,
    floor_model,
    head,
    person,
    release,
    run_entitlements,
    score,
)

Q = PKH_QUARTER


@pytest.fixture(scope="module")
def programs() -> dict[str, ProgramDefinition]:
    return load_shipped_programs()


@pytest.fixture(scope="module")
def pkh(programs: dict[str, ProgramDefinition]) -> ProgramDefinition:
    return programs["PKH"]


@pytest.fixture
def batch() -> Iterator[Engine]:
    with open_engine("duckdb") as opened:
        yield opened


def pkh_amounts(
    batch: Engine, pkh: ProgramDefinition, families: dict[int, list[dict[str, Any]]]
) -> dict[int, tuple[int, dict[str, tuple[int, int]]]]:
    """household → (amount, {component: (persons, amount)}), each family in decile 1."""
    built = Households()
    for serial, members in families.items():
        built.add(serial, members)
    rows = run_entitlements(batch, pkh, built)
    for row in rows:
        counted = component_counts(row)
        assert row["amount_idr"] == sum(amount for _, amount in counted.values())
    return {r["household_id"]: (r["amount_idr"], component_counts(r)) for r in rows}


# --- PKH: components, caps and the best combination ------------------------------------------


def test_shipped_pkh_amounts_are_a_quarter_of_the_annual_amounts(pkh: ProgramDefinition) -> None:
    assert pkh.months_per_cycle == 3
    assert pkh.amounts_per_cycle() == Q
    parts = compute.components(pkh)
    assert {p.name: p.max_persons for p in parts if p.max_persons} == {
        "pregnant": 2,
        "early_childhood": 2,
    }


def test_pkh_caps_pregnancy_and_early_childhood_at_two(
    batch: Engine, pkh: ProgramDefinition
) -> None:
    result = pkh_amounts(
        batch,
        pkh,
        {
            1: [head(), person(30, pregnant=True), person(25, pregnant=True)],
            2: [
                head(),
                person(30, pregnant=True),
                person(25, pregnant=True),
                person(20, pregnant=True),
            ],
            3: [head(), person(0), person(3), person(6, school_level="paud")],
            4: [head(), person(2), person(5)],
        },
    )
    assert result == {
        1: (1_500_000, {"pregnant": (2, 1_500_000)}),
        2: (1_500_000, {"pregnant": (2, 1_500_000)}),
        3: (1_500_000, {"early_childhood": (2, 1_500_000)}),
        4: (1_500_000, {"early_childhood": (2, 1_500_000)}),
    }


def test_pkh_counts_at_most_four_members_the_best_paying(
    batch: Engine, pkh: ProgramDefinition
) -> None:
    six = [
        head(45),
        person(8, school_level="sd"),
        person(13, school_level="smp"),
        person(76, relationship="orang_tua"),
        person(10, school_level="sd"),
        person(17, school_level="sma"),
        person(20, severe_disability=True),
    ]
    both_caps = [
        head(),
        person(30, pregnant=True),
        person(28, pregnant=True),
        person(27, pregnant=True),
        person(1),
        person(2),
        person(4),
        person(71, relationship="orang_tua"),
    ]
    result = pkh_amounts(batch, pkh, {1: six, 2: both_caps})
    # elderly 600,000 + disability 600,000 + SMA 500,000 + SMP 375,000; both SD left out
    assert result[1] == (
        2_075_000,
        {
            "elderly": (1, 600_000),
            "severe_disability": (1, 600_000),
            "school_sma": (1, 500_000),
            "school_smp": (1, 375_000),
        },
    )
    # two pregnant + two early childhood at 750,000: the elderly member is the fifth
    assert result[2] == (3_000_000, {"pregnant": (2, 1_500_000), "early_childhood": (2, 1_500_000)})


def test_a_capped_out_member_falls_back_to_her_best_uncapped_component(
    batch: Engine, pkh: ProgramDefinition
) -> None:
    """Whoever has a fallback makes way in the capped component, whatever her member id."""
    for order in range(3):
        women = [person(30, pregnant=True), person(25, pregnant=True), person(20, pregnant=True)]
        women[order] = person(33, pregnant=True, severe_disability=True)
        result = pkh_amounts(batch, pkh, {1: [head(), *women]})
        assert result[1] == (
            750_000 * 2 + 600_000,
            {"pregnant": (2, 1_500_000), "severe_disability": (1, 600_000)},
        ), order
    # Two with fallbacks: the one whose fallback pays more gives way (2×750,000 + 600,000
    # for disability beats 2×750,000 + 500,000 for SMA).
    result = pkh_amounts(
        batch,
        pkh,
        {
            1: [
                head(),
                person(17, pregnant=True, school_level="sma"),
                person(33, pregnant=True, severe_disability=True),
                person(25, pregnant=True),
            ]
        },
    )
    assert result[1] == (2_100_000, {"pregnant": (2, 1_500_000), "severe_disability": (1, 600_000)})
    # a young child with a severe disability keeps early childhood or falls back the same way
    result = pkh_amounts(
        batch,
        pkh,
        {1: [head(), person(1, severe_disability=True), person(2), person(3)]},
    )
    assert result[1] == (
        2_100_000,
        {"early_childhood": (2, 1_500_000), "severe_disability": (1, 600_000)},
    )


def choices(
    batch: Engine, pkh: ProgramDefinition, members: list[dict[str, Any]]
) -> dict[int, tuple[str | None, int, bool]]:
    """member → (component chosen, amount, counted) from `member_choices`."""
    built = Households()
    built.add(1, members)
    _, table = built.tables(batch)
    benefit = pkh.benefit
    assert benefit.kind == "components"
    chosen = compute.member_choices(table, compute.components(pkh), benefit.max_persons)
    rows = batch.to_arrow(chosen.select("member_id", "chosen", "amount", "counted")).to_pylist()
    return {r["member_id"]: (r["chosen"], r["amount"], r["counted"]) for r in rows}


def test_ties_go_to_the_lower_member_id_whatever_the_row_order(
    batch: Engine, pkh: ProgramDefinition
) -> None:
    pregnant = [
        person(30, pregnant=True, member_id=305),
        person(25, pregnant=True, member_id=301),
        person(20, pregnant=True, member_id=303),
    ]
    assert choices(batch, pkh, [head(member_id=300), *pregnant]) == {
        301: ("pregnant", 750_000, True),
        303: ("pregnant", 750_000, True),
        305: (None, 0, False),
    }
    elderly = [person(70 + i, relationship="orang_tua", member_id=410 - i) for i in range(6)]
    picked = choices(batch, pkh, elderly)
    assert {m for m, (_, _, counted) in picked.items() if counted} == {405, 406, 407, 408}
    assert {c for c, _, _ in picked.values()} == {"elderly"}
    # the same family in another row order gives the same rows
    assert choices(batch, pkh, list(reversed(elderly))) == picked


def test_elderly_from_seventy(batch: Engine, pkh: ProgramDefinition) -> None:
    result = pkh_amounts(
        batch,
        pkh,
        {
            1: [head(69)],
            2: [head(70)],
            3: [
                head(69),
                person(70, relationship="orang_tua"),
                person(95, relationship="famili_lain"),
            ],
        },
    )
    assert result == {
        2: (600_000, {"elderly": (1, 600_000)}),
        3: (1_200_000, {"elderly": (2, 1_200_000)}),
    }


def test_education_counts_only_from_six_to_twenty_one(
    batch: Engine, pkh: ProgramDefinition
) -> None:
    result = pkh_amounts(
        batch,
        pkh,
        {
            1: [head(), person(5, school_level="sd")],  # too young for SD, not early childhood
            2: [head(), person(6, school_level="sd")],
            3: [head(), person(21, school_level="sma")],
            4: [head(), person(22, school_level="sma")],
            5: [head(), person(25, school_level="sd")],  # eligible by n_school_sd, no component
            6: [head(), person(14, school_level="smp"), person(19, school_level="pt")],
        },
    )
    assert result == {
        2: (225_000, {"school_sd": (1, 225_000)}),
        3: (500_000, {"school_sma": (1, 500_000)}),
        6: (375_000, {"school_smp": (1, 375_000)}),
    }


def test_decile_and_components_decide_who_gets_a_row(batch: Engine, pkh: ProgramDefinition) -> None:
    built = Households()
    built.add(1, [head(), person(8, school_level="sd")], decile=3)
    built.add(2, [head(), person(8, school_level="sd")], decile=4)
    built.add(3, [head(), person(40, sex="P", relationship="istri_suami")], decile=1)
    rows = run_entitlements(batch, pkh, built)
    assert [(r["household_id"], r["amount_idr"], r["decile"]) for r in rows] == [(1, 225_000, 3)]
    [row] = rows
    assert row["beneficiary_id"] == 1
    assert row["member_id"] is None
    assert row["nik"] is None
    assert (row["regency_code"], row["province_code"]) == ("31.71", "31")
    assert row["kk_number"] == built.households[0]["kk_number"]


# --- Quotas -------------------------------------------------------------------------------

QUOTA_PROGRAM = """
code: KUOTA
name: Bantuan berkuota
version: "1"
unit: household
eligibility: decile <= 5
benefit: {kind: flat, monthly_idr: 100000}
schedule: {kind: monthly}
channel: bank
"""


def quota_program(quota: str) -> ProgramDefinition:
    return parse_program(QUOTA_PROGRAM + quota)


def kept(batch: Engine, definition: ProgramDefinition, built: Households) -> list[int]:
    return [r["household_id"] for r in run_entitlements(batch, definition, built)]


def regencies(scores: dict[str, list[tuple[int, float]]]) -> Households:
    built = Households()
    for regency, families in scores.items():
        for serial, value in families:
            built.add(serial, [head()], score=value, regency=regency)
    return built


def test_a_regency_quota_keeps_the_lowest_scores_ties_to_the_lower_kk(batch: Engine) -> None:
    built = regencies(
        {
            "31.71": [(1, 10.5), (2, 10.1), (3, 10.3), (4, 10.1), (5, 11.0)],
            "32.73": [(11, 9.0), (12, 8.0), (13, 9.5)],
            "33.01": [(21, 12.0), (22, 12.5)],
        }
    )
    limited = quota_program("quota: {level: regency, default: 1, counts: {'3171': 3}}")
    # 31.71: 2 and 4 tie at 10.1 (both in), then 3; 32.73 takes its default; 33.01 too
    assert kept(batch, limited, built) == [2, 3, 4, 12, 21]
    tie = quota_program("quota: {level: regency, counts: {'31.71': 1}}")
    assert kept(batch, tie, built) == [2, 11, 12, 13, 21, 22]  # no default: unlimited
    none = quota_program("quota: {level: regency, default: 0, counts: {'3273': 2}}")
    assert kept(batch, none, built) == [11, 12]
    province = quota_program("quota: {level: province, counts: {'31': 2, '32': 5}}")
    assert kept(batch, province, built) == [2, 4, 11, 12, 13, 21, 22]


def test_the_quota_counts_only_eligible_beneficiaries(batch: Engine) -> None:
    built = Households()
    built.add(1, [head()], score=1.0, decile=9)  # poorest score, yet not eligible
    built.add(2, [head()], score=2.0, decile=2)
    built.add(3, [head()], score=3.0, decile=2)
    built.add(4, [head()], score=4.0, decile=2)
    limited = quota_program("quota: {level: regency, counts: {'3171': 2}}")
    assert kept(batch, limited, built) == [2, 3]


# --- Flat, per person, tranches, in kind, enrolled() --------------------------------------


def test_sembako_is_flat_per_household(
    batch: Engine, programs: dict[str, ProgramDefinition]
) -> None:
    built = Households()
    built.add(1, [head(), person(10), person(12)], decile=1)
    built.add(2, [head()], decile=6)
    built.add(3, [head()], decile=7)
    rows = run_entitlements(batch, programs["SEMBAKO"], built)
    assert [(r["household_id"], r["amount_idr"]) for r in rows] == [(1, 200_000), (2, 200_000)]
    assert component_counts(rows[0]) == {"bantuan": (1, 200_000)}


def test_pbi_jkn_pays_per_person_one_row_per_member(
    batch: Engine, programs: dict[str, ProgramDefinition]
) -> None:
    built = Households()
    built.add(1, [head(member_id=11), person(10, member_id=12), person(2, member_id=13)], decile=9)
    built.add(2, [head(member_id=21)], decile=10)
    rows = run_entitlements(batch, programs["PBI-JKN"], built)
    assert [(r["beneficiary_id"], r["member_id"], r["household_id"]) for r in rows] == [
        (11, 11, 1),
        (12, 12, 1),
        (13, 13, 1),
    ]
    assert {r["amount_idr"] for r in rows} == {42_000}
    assert [r["nik"] for r in rows] == [f"{m:016d}" for m in (11, 12, 13)]
    assert {tuple(component_counts(r).items()) for r in rows} == {(("per_orang", (1, 42_000)),)}


def test_a_person_unit_program_chooses_members_by_its_members_rule(batch: Engine) -> None:
    definition = parse_program(
        """
code: ANAK
name: Iuran anak
version: "1"
unit: person
eligibility: decile <= 2
members: age < 18
benefit: {kind: flat, monthly_idr: 35000}
schedule: {kind: monthly}
channel: bpjs
"""
    )
    built = Households()
    built.add(1, [head(member_id=11), person(17, member_id=12), person(18, member_id=13)])
    built.add(2, [head(member_id=21), person(4, member_id=22)], decile=3)
    rows = run_entitlements(batch, definition, built)
    assert [(r["beneficiary_id"], r["amount_idr"]) for r in rows] == [(12, 35_000)]


def test_a_person_unit_program_pays_each_member_the_component_they_meet(
    batch: Engine,
) -> None:
    """Components with `unit: person`: each member who meets a condition is a beneficiary
    of that component's amount (docs/PROGRAMS.md), and a member who meets none is not.
    (Refusing the combination when the definition is read would also be a fix.)"""
    text = """
code: ORANG
name: Per orang berkomponen
version: "1"
unit: person
eligibility: decile <= 3
benefit:
  kind: components
  components:
    - {name: balita, label: Balita, when: "age <= 6", amount_idr: 100000}
    - {name: lansia, label: Lansia, when: "age >= 70", amount_idr: 200000}
schedule: {kind: monthly}
channel: pos
"""
    try:
        definition = parse_program(text)
    except ProgramDefinitionError:
        return
    built = Households()
    built.add(1, [head(40, member_id=11), person(3, member_id=12), person(75, member_id=13)])
    rows = run_entitlements(batch, definition, built)
    assert [(r["beneficiary_id"], r["amount_idr"]) for r in rows] == [
        (12, 100_000),
        (13, 200_000),
    ]
    assert [component_counts(r) for r in rows] == [
        {"balita": (1, 100_000)},
        {"lansia": (1, 200_000)},
    ]


def test_per_person_for_a_household_counts_up_to_its_cap(batch: Engine) -> None:
    definition = parse_program(
        """
code: PER-ORANG
name: Per orang
version: "1"
unit: household
eligibility: "true"
benefit: {kind: per_person, monthly_idr: 50000, max_persons: 3}
schedule: {kind: quarterly}
channel: pos
"""
    )
    built = Households()
    built.add(1, [head(), person(10)])
    built.add(2, [head(), person(10), person(11), person(12), person(13)])
    rows = by_household(run_entitlements(batch, definition, built))
    assert {h: r["amount_idr"] for h, r in rows.items()} == {1: 300_000, 2: 450_000}
    assert component_counts(rows[2]) == {"per_orang": (3, 450_000)}


def test_blt_bbm_pays_each_tranche(batch: Engine, programs: dict[str, ProgramDefinition]) -> None:
    definition = programs["BLT-BBM-2022"]
    assert definition.months_per_cycle == 2
    built = Households()
    built.add(1, [head()], decile=7)
    built.add(2, [head()], decile=8)
    rows = run_entitlements(batch, definition, built)
    assert [(r["household_id"], r["amount_idr"]) for r in rows] == [(1, 300_000)]


def test_blt_migor_goes_to_families_enrolled_in_pkh_or_sembako(
    batch: Engine, programs: dict[str, ProgramDefinition]
) -> None:
    definition = programs["BLT-MIGOR-2022"]
    built = Households()
    for serial in range(1, 6):
        built.add(serial, [head()], decile=serial)  # deciles play no part
    only_pkh = run_entitlements(batch, definition, built, enrolled={"PKH": [2, 4, 4]})
    assert [(r["household_id"], r["amount_idr"]) for r in only_pkh] == [(2, 300_000), (4, 300_000)]
    both = run_entitlements(batch, definition, built, enrolled={"PKH": [4], "SEMBAKO": [1, 4]})
    assert [r["household_id"] for r in both] == [1, 4]
    nobody = run_entitlements(batch, definition, built, enrolled={"PKH": [], "SEMBAKO": []})
    assert nobody == []


def test_in_kind_items_are_valued_per_qualifying_member(batch: Engine) -> None:
    definition = parse_program(
        """
code: PANGAN
name: Bantuan pangan
version: "1"
unit: household
eligibility: decile <= 2
benefit:
  kind: in_kind
  items:
    - name: beras
      label: Beras 10 kg
      when: relationship == 'kepala_keluarga'
      unit_value_idr: 150000
    - {name: susu, label: Susu balita, when: "age <= 4", unit_value_idr: 45000}
schedule: {kind: monthly}
channel: pos
"""
    )
    built = Households()
    built.add(1, [head(), person(1), person(3), person(7)])
    built.add(2, [head(3)])  # a child heading a family qualifies for both items
    built.add(3, [head(), person(1)], decile=3)
    rows = by_household(run_entitlements(batch, definition, built))
    assert {h: r["amount_idr"] for h, r in rows.items()} == {1: 240_000, 2: 195_000}
    assert component_counts(rows[1]) == {"beras": (1, 150_000), "susu": (2, 90_000)}
    assert component_counts(rows[2]) == {"beras": (1, 150_000), "susu": (1, 45_000)}


def test_age_is_whole_years_at_the_reference_date(batch: Engine) -> None:
    births = [date(1956, 3, 15), date(2000, 2, 29), date(2019, 12, 31)]
    table = batch.table(pa.table({"birth_date": pa.array(births, pa.date32())}))
    for reference, ages in (
        (date(2026, 3, 14), [69, 26, 6]),
        (date(2026, 3, 15), [70, 26, 6]),
        (date(2026, 2, 28), [69, 25, 6]),
        (date(2025, 12, 31), [69, 25, 6]),
        (date(2026, 1, 1), [69, 25, 6]),
    ):
        got = batch.to_arrow(table.select(age=age_at(table.birth_date, reference)))
        assert got.column("age").to_pylist() == ages, reference


def test_ages_compared_by_birth_date_agree_with_whole_years(batch: Engine) -> None:
    """`age OP n` as a birth-date range gives exactly what comparing `age_at` gives, around
    birthdays, 29 February and the turn of the year, and unknown for an unknown birth date."""
    start = date(1999, 12, 20)
    births: list[date | None] = [date.fromordinal(start.toordinal() + d) for d in range(460)]
    births += [date(1956, 3, 15), date(1955, 11, 26), date(2020, 2, 29), None]
    table = batch.table(pa.table({"birth_date": pa.array(births, pa.date32())}))
    ops = ("==", "!=", "<", "<=", ">", ">=")
    for reference in (date(2026, 2, 28), date(2028, 2, 29), date(2026, 3, 1), date(2025, 12, 31)):
        age = age_at(table.birth_date, reference)
        columns = {}
        for years in (0, 1, 6, 7, 21, 25, 26, 70):
            for n, op in enumerate(ops):
                fast = age_compared(table.birth_date, reference, op, years)
                plain = {
                    "==": age == years,
                    "!=": age != years,
                    "<": age < years,
                    "<=": age <= years,
                    ">": age > years,
                    ">=": age >= years,
                }[op]
                columns[f"fast_{years}_{n}"] = fast
                columns[f"plain_{years}_{n}"] = plain
        got = batch.to_arrow(table.select(**columns)).to_pydict()
        for name in (c for c in got if c.startswith("fast_")):
            assert got[name] == got[name.replace("fast_", "plain_")], (reference, name)
        assert got["fast_70_5"][-1] is None  # unknown birth date: unknown, as before
    assert age_compared(table.birth_date, date(2026, 1, 1), ">=", 5000) is None


def test_rules_on_age_compile_to_birth_date_ranges_with_the_same_truth(batch: Engine) -> None:
    births = [date.fromordinal(date(1950, 1, 1).toordinal() + 97 * d) for d in range(300)]
    table = batch.table(
        pa.table(
            {
                "birth_date": pa.array(births, pa.date32()),
                "pregnant": [d % 7 == 0 for d in range(300)],
            }
        )
    )
    reference = date(2026, 2, 28)
    members = table.mutate(age=age_at(table.birth_date, reference))
    compare = age_comparison(members, reference)
    assert compare is not None
    rules = [
        "age <= 6 or age >= 70",
        "between(age, 6, 21) and not pregnant",
        "6 <= age < 21",
        "age == 7 or 30 != age and age > 69",
        "not (age < 18) and age * 2 > 100",  # arithmetic on age: the plain age
        "age >= 6.5",  # not a whole number: the plain age
    ]
    for source in rules:
        rule = parse_rule(source, member_vocabulary())
        fast = rule.to_ibis(lambda n: members[n], compare=compare)
        plain = rule.to_ibis(lambda n: members[n])
        got = batch.to_arrow(members.select(fast=fast, plain=plain)).to_pydict()
        assert got["fast"] == got["plain"], source
        assert any(got["fast"]) and not all(got["fast"]), source  # the rule tells members apart
    sql = str(
        ibis.to_sql(
            members.filter(
                parse_rule("age >= 70", member_vocabulary()).to_ibis(
                    lambda n: members[n], compare=compare
                )
            ),
            dialect="duckdb",
        )
    )
    assert "MAKE_DATE(1956, 2, 28)" in sql  # compared as a birth date, not a computed age


# --- Cycles through the service, on both databases ----------------------------------------

AS_OF = date(2026, 1, 1)
VILLAGE_REGENCY = "31.71"


def registry_families() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Ten families in one regency; family s has floor area 20 + s, so the floor model
    puts it in decile s.

    1: a pregnant wife, a child at SD and a grandmother of 75 (PKH 1,575,000)
    2: a child at SD (225,000)        3: a couple without children (no component)
    4…10: a child at SD, but above decile 3
    """
    households, members = [], []
    for serial in range(1, 11):
        number = kk(serial)
        households.append(household(number, floor_area_m2=str(20 + serial)))
        base = serial * 10
        members.append(member(number, date(1980, 3, 12), "L", "kepala_keluarga", base + 1))
        wife = {"pregnant": "1"} if serial == 1 else {}
        members.append(member(number, date(1990, 7, 1), "P", "istri_suami", base + 2, **wife))
        if serial != 3:
            members.append(
                member(
                    number,
                    date(2015, 1, 20),
                    "L",
                    "anak",
                    base + 3,
                    education="tidak_sekolah",
                    school_level="sd",
                    occupation="tidak_bekerja",
                )
            )
        if serial == 1:
            members.append(
                member(
                    number,
                    date(1950, 6, 1),
                    "P",
                    "orang_tua",
                    base + 4,
                    marital_status="cerai_mati",
                    occupation="tidak_bekerja",
                    education="tidak_sekolah",
                )
            )
    return households, members


def setup_registry(engine: DbEngine, data_dir: Path, label: str = "R1") -> None:
    households, members = registry_families()
    summary = run_import(
        engine, write_batch(data_dir / "batch", households, members), status="approved"
    )
    assert (summary.households_rejected, summary.members_rejected) == (0, 0), summary.errors[:3]
    release(engine, data_dir, label)
    scored = score(engine, data_dir, label, floor_model())
    assert scored.by_decile == dict.fromkeys(range(1, 11), 1)


def cycle(
    engine: DbEngine,
    data_dir: Path,
    label: str,
    *,
    program: str = "PKH",
    release_label: str = "R1",
    actor: str = "determiner",
    engine_name: str = "duckdb",
    replace: bool = False,
) -> CycleResult:
    with session_scope(engine) as session:
        return run_cycle(
            session,
            actor=user(session, actor),
            program=program,
            release_label=release_label,
            label=label,
            data_dir=data_dir,
            engine=EngineName(engine_name),
            as_of=AS_OF,
            replace=replace,
        )


def approve(
    engine: DbEngine, label: str, actor: str = "approver", *, data_dir: Path
) -> CycleResult:
    with session_scope(engine) as session:
        return approve_cycle(session, actor=user(session, actor), label=label, data_dir=data_dir)


def stored(engine: DbEngine, label: str) -> dict[str, tuple[int, dict[str, Any], str]]:
    """KK → (amount, breakdown, channel) of a cycle's entitlements."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Entitlement, Cycle)
            .join(Cycle, Cycle.id == Entitlement.cycle_id)
            .where(Cycle.label == label)
        ).all()
        return {e.kk_number: (e.amount_idr, components(e, c), e.channel) for e, c in rows}


def enrollment(engine: DbEngine, program: str = "PKH") -> dict[str, tuple[str, str, str]]:
    """KK → (state, since cycle label, last cycle label)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT h.kk_number, e.state, s.label, l.label FROM enrollment e "
                "JOIN household h ON h.id = e.household_id "
                "JOIN cycle s ON s.id = e.since_cycle_id JOIN cycle l ON l.id = e.last_cycle_id "
                "WHERE e.program_code = :p"
            ),
            {"p": program},
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


PKH_FAMILY_1 = {
    "pregnant": {"persons": 1, "amount_idr": 750_000},
    "school_sd": {"persons": 1, "amount_idr": 225_000},
    "elderly": {"persons": 1, "amount_idr": 600_000},
}


@pytest.mark.usefixtures("users")
def test_a_pkh_cycle_stores_each_entitlement_and_its_totals(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    result = cycle(engine, tmp_path, "PKH-2026-T1")
    assert (result.program, result.cycle, result.release, result.state) == (
        "PKH",
        "PKH-2026-T1",
        "R1",
        "draft",
    )
    assert stored(engine, "PKH-2026-T1") == {
        kk(1): (1_575_000, PKH_FAMILY_1, "bank"),
        kk(2): (225_000, {"school_sd": {"persons": 1, "amount_idr": 225_000}}, "bank"),
    }
    assert (result.beneficiaries, result.total_idr) == (2, 1_800_000)
    assert result.by_component["school_sd"] == {"persons": 2, "amount_idr": 450_000}
    assert result.by_component["pregnant"] == {"persons": 1, "amount_idr": 750_000}
    assert result.by_component["early_childhood"] == {"persons": 0, "amount_idr": 0}
    assert result.enrollment == {"entered": 2, "stayed": 0, "left": 0}
    with session_scope(engine) as session:
        row = session.execute(select(Cycle).where(Cycle.label == "PKH-2026-T1")).scalar_one()
        totals = session.execute(
            select(func.count(), func.sum(Entitlement.amount_idr)).where(
                Entitlement.cycle_id == row.id
            )
        ).one()
        assert (row.beneficiaries, row.total_idr) == (totals[0], totals[1])
        assert (row.state, row.reference_date, row.engine) == ("draft", AS_OF, "duckdb")
        assert row.definition["code"] == "PKH"
        entitlements = session.execute(
            select(Entitlement).where(Entitlement.cycle_id == row.id)
        ).scalars()
        ids = {e.kk_number: e for e in entitlements}
        assert ids[kk(1)].beneficiary_id == ids[kk(1)].household_id
        assert ids[kk(1)].member_id is None
        assert ids[kk(1)].regency_code == VILLAGE_REGENCY
        assert {e.state for e in ids.values()} == {"entitled"}
    assert result.file.endswith("/entitlements.parquet")
    assert (tmp_path / result.file).is_file()  # relative to the data folder


@pytest.mark.usefixtures("users")
def test_a_draft_is_replaced_whole_an_approved_cycle_never(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    first = cycle(engine, tmp_path, "PKH-2026-T1")
    # The same label again, without saying so: refused in words, the draft left as it was.
    with pytest.raises(Conflict) as taken:
        cycle(engine, tmp_path, "PKH-2026-T1")
    assert taken.value.cause == "cycle_exists"
    assert "PKH-2026-T1 sudah dipakai oleh draf siklus program PKH" in taken.value.message
    assert "--replace" in taken.value.for_command_line()
    again = cycle(engine, tmp_path, "PKH-2026-T1", replace=True)
    assert (again.beneficiaries, again.total_idr) == (first.beneficiaries, first.total_idr)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cycle")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM entitlement")).scalar_one() == 2
        assert (
            conn.execute(
                text("SELECT count(DISTINCT beneficiary_id) FROM entitlement")
            ).scalar_one()
            == 2
        )
    # another program may not take over a draft's label
    with pytest.raises(Conflict):
        cycle(engine, tmp_path, "PKH-2026-T1", program="SEMBAKO", replace=True)
    approved = approve(engine, "PKH-2026-T1", data_dir=tmp_path)
    assert approved.state == "approved"
    with pytest.raises(Conflict, match="sudah disetujui"):
        cycle(engine, tmp_path, "PKH-2026-T1", replace=True)
    with pytest.raises(Conflict):
        approve(engine, "PKH-2026-T1", data_dir=tmp_path)
    assert stored(engine, "PKH-2026-T1")[kk(1)][0] == 1_575_000


@pytest.mark.usefixtures("users")
def test_approval_moves_enrollment_on(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-2026-T1")
    assert enrollment(engine) == {}  # a draft enrolls no one
    approve(engine, "PKH-2026-T1", data_dir=tmp_path)
    assert enrollment(engine) == {
        kk(1): ("enrolled", "PKH-2026-T1", "PKH-2026-T1"),
        kk(2): ("enrolled", "PKH-2026-T1", "PKH-2026-T1"),
    }
    # Family 2 moves into a bigger house: it is now the richest (decile 10); everyone poorer
    # moves down one decile, so family 4 (a child at SD) comes into decile 3.
    edit_directly(
        engine, "UPDATE household SET floor_area_m2 = 100 WHERE kk_number = :kk", {"kk": kk(2)}
    )
    release(engine, tmp_path, "R2")
    score(engine, tmp_path, "R2", floor_model())
    second = cycle(engine, tmp_path, "PKH-2026-T2", release_label="R2")
    assert second.enrollment == {"entered": 1, "stayed": 1, "left": 1}
    assert set(stored(engine, "PKH-2026-T2")) == {kk(1), kk(4)}
    approve(engine, "PKH-2026-T2", data_dir=tmp_path)
    assert enrollment(engine) == {
        kk(1): ("enrolled", "PKH-2026-T1", "PKH-2026-T2"),
        kk(2): ("graduated", "PKH-2026-T1", "PKH-2026-T1"),
        kk(4): ("enrolled", "PKH-2026-T2", "PKH-2026-T2"),
    }
    with session_scope(engine) as session:
        reasons = {
            e.state: e.reason
            for e in session.execute(select(Enrollment)).scalars()
            if e.state != "enrolled"
        }
    assert reasons == {"graduated": "tidak lagi memenuhi syarat"}
    # BLT migor follows enrollment: the families enrolled in PKH now
    migor = cycle(engine, tmp_path, "MIGOR-1", program="BLT-MIGOR-2022", release_label="R2")
    assert set(stored(engine, "MIGOR-1")) == {kk(1), kk(4)}
    assert migor.total_idr == 600_000


@pytest.mark.usefixtures("users")
def test_a_family_gone_from_the_release_exits(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-2026-T1")
    approve(engine, "PKH-2026-T1", data_dir=tmp_path)
    edit_directly(
        engine, "UPDATE household SET status = 'inactive' WHERE kk_number = :kk", {"kk": kk(1)}
    )
    release(engine, tmp_path, "R2")
    score(engine, tmp_path, "R2", floor_model())
    cycle(engine, tmp_path, "PKH-2026-T2", release_label="R2")
    approve(engine, "PKH-2026-T2", data_dir=tmp_path)
    states = {k: v[0] for k, v in enrollment(engine).items()}
    assert states[kk(1)] == "exited"
    assert states[kk(2)] == "enrolled"


@pytest.mark.usefixtures("users")
def test_pbi_jkn_stores_one_entitlement_per_member(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    result = cycle(engine, tmp_path, "PBI-2026-01", program="PBI-JKN")
    with session_scope(engine) as session:
        rows = session.execute(select(Entitlement)).scalars().all()
        # deciles 1..9: families 1..9, family 1 has 4 members, 3 has 2, the others 3
        assert len(rows) == 4 + 2 + 7 * 3
        assert {r.amount_idr for r in rows} == {42_000}
        assert all(r.member_id == r.beneficiary_id and r.nik for r in rows)
        assert kk(10) not in {r.kk_number for r in rows}
        assert {r.channel for r in rows} == {"bpjs"}
        # one component: the breakdown is not repeated on every row but follows from the amount
        assert {r.breakdown for r in rows} == {None}
        one = session.execute(select(Cycle).where(Cycle.label == "PBI-2026-01")).scalar_one()
        assert components(rows[0], one) == {"per_orang": {"persons": 1, "amount_idr": 42_000}}
    assert (result.beneficiaries, result.total_idr) == (27, 27 * 42_000)


def explained(engine: DbEngine, data_dir: Path, label: str, kk_number: str) -> dict[str, Any]:
    with session_scope(engine) as session:
        return explain(
            session,
            actor=user(session, "determiner"),
            cycle_label=label,
            kk_number=kk_number,
            data_dir=data_dir,
        )


@pytest.mark.usefixtures("users")
def test_explain_an_entitled_and_an_ineligible_family(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-2026-T1")
    report = explained(engine, tmp_path, "PKH-2026-T1", kk(1))
    assert (report["eligible"], report["entitled"]) == (True, True)
    assert report["amount_idr"] == stored(engine, "PKH-2026-T1")[kk(1)][0] == 1_575_000
    assert report["decile"] == 1
    # Its rank, and out of how many scored families of its regency.
    with session_scope(engine) as session:
        in_regency = session.execute(
            text("SELECT count(*) FROM pmt_score WHERE regency_code = :r"),
            {"r": report["regency_code"]},
        ).scalar_one()
    assert 1 <= report["rank_in_regency"] <= report["regency_households"] == in_regency > 1
    assert report["score_terms"] == pytest.approx({"intercept": 12.0, "floor_area_m2": 0.21})
    assert report["clauses"]
    assert all(c["value"] for c in report["clauses"])
    assert report["failed_clauses"] == []
    assert report["components"] == PKH_FAMILY_1
    counted = sorted(
        (m["counted_as"], m["amount_idr"]) for m in report["members"] if m["counted_as"]
    )
    assert counted == [("elderly", 600_000), ("pregnant", 750_000), ("school_sd", 225_000)]
    assert len(report["members"]) == 4
    assert sum(m["amount_idr"] for m in report["members"]) == report["amount_idr"]

    poorer_off = explained(engine, tmp_path, "PKH-2026-T1", kk(4))
    assert (poorer_off["eligible"], poorer_off["entitled"]) == (False, False)
    assert poorer_off["amount_idr"] == 0
    assert poorer_off["decile"] == 4
    assert poorer_off["failed_clauses"] == ["decile <= 3"]
    assert poorer_off["components"] == {}

    childless = explained(engine, tmp_path, "PKH-2026-T1", kk(3))
    assert (childless["eligible"], childless["entitled"]) == (False, False)
    [failed] = childless["failed_clauses"]
    assert failed.startswith("n_pregnant")
    assert all(m["counted_as"] is None for m in childless["members"])


@pytest.mark.usefixtures("users")
def test_explain_counts_no_member_of_a_family_that_gets_nothing(
    engine: DbEngine, tmp_path: Path
) -> None:
    """Family 4 is above decile 3: its child at SD qualifies for a component, but nobody in
    the family is counted and no rupiah is owed to any member."""
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-2026-T1")
    report = explained(engine, tmp_path, "PKH-2026-T1", kk(4))
    assert (report["eligible"], report["amount_idr"]) == (False, 0)
    child = [m for m in report["members"] if m["qualifies_for"]]
    assert [m["qualifies_for"] for m in child] == [["school_sd"]]
    assert [(m["counted_as"], m["amount_idr"]) for m in report["members"]] == [(None, 0)] * 3
    assert sum(m["amount_idr"] for m in report["members"]) == report["amount_idr"]


@pytest.mark.usefixtures("users")
def test_explain_judges_enrollment_as_it_was_when_the_cycle_ran(
    engine: DbEngine, tmp_path: Path
) -> None:
    """BLT migor run while families 1 and 2 were enrolled in PKH: explaining it later, after
    family 2 graduated from PKH, must still show why family 2 was entitled then."""
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-2026-T1")
    approve(engine, "PKH-2026-T1", data_dir=tmp_path)
    cycle(engine, tmp_path, "MIGOR-1", program="BLT-MIGOR-2022")
    assert set(stored(engine, "MIGOR-1")) == {kk(1), kk(2)}
    edit_directly(
        engine, "UPDATE household SET floor_area_m2 = 100 WHERE kk_number = :kk", {"kk": kk(2)}
    )
    release(engine, tmp_path, "R2")
    score(engine, tmp_path, "R2", floor_model())
    cycle(engine, tmp_path, "PKH-2026-T2", release_label="R2")
    approve(engine, "PKH-2026-T2", data_dir=tmp_path)
    assert enrollment(engine)[kk(2)][0] == "graduated"
    report = explained(engine, tmp_path, "MIGOR-1", kk(2))
    assert (report["entitled"], report["amount_idr"]) == (True, 300_000)
    assert report["eligible"] is True, report["failed_clauses"]
    assert report["failed_clauses"] == []


@pytest.mark.usefixtures("users")
def test_only_a_determiner_runs_and_approves_cycles(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    for actor in ("operator", "verifier", "admin", "auditor"):
        with pytest.raises(PermissionDenied):
            cycle(engine, tmp_path, "PKH-2026-T1", actor=actor)
    cycle(engine, tmp_path, "PKH-2026-T1")
    for actor in ("operator", "verifier", "admin", "auditor"):
        with pytest.raises(PermissionDenied):
            approve(engine, "PKH-2026-T1", actor=actor, data_dir=tmp_path)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM cycle")).scalar_one() == "draft"
