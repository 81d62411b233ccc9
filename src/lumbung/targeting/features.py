"""Household and member features, derived from a release: defined once, used by the PMT,
the program rules and the explanation of every decision.

Ages are whole years at the cycle's reference date, computed from the birth date with
integer arithmetic (identical on every backend). The names and types are those of
`targeting.vocabulary`; a test keeps the two in step.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from lumbung.engine.backend import Engine
from lumbung.errors import NotFound
from lumbung.registry import vocab
from lumbung.targeting.vocabulary import (
    AGE_BANDS,
    HEAD_COLUMNS,
    MEMBER_FEATURES,
    SCHOOL_COUNTS,
    Comparison,
)


@dataclass(frozen=True, slots=True)
class ReleaseTables:
    households: ir.Table
    members: ir.Table


def release_files(release_dir: Path, table: str) -> list[Path]:
    """The Parquet files of one table of a release, as its manifest lists them."""
    manifest_path = release_dir / "manifest.json"
    if not manifest_path.exists():
        raise NotFound(f"Rilis di {release_dir} tidak ditemukan (manifest.json tidak ada).")
    manifest = json.loads(manifest_path.read_text())
    return [release_dir / f["path"] for f in manifest["files"] if f["path"].startswith(table)]


def read_release(engine: Engine, release_dir: Path) -> ReleaseTables:
    """The release's households and members (an empty release has no files: refused)."""
    households = release_files(release_dir, "households")
    members = release_files(release_dir, "members")
    if not households or not members:
        raise NotFound(f"Rilis {release_dir.name} tidak berisi keluarga.")
    return ReleaseTables(engine.read_parquet(households), engine.read_parquet(members))


def age_at(birth_date: ir.DateValue, reference: date) -> ir.IntegerValue:
    """Whole years between `birth_date` and `reference` (birthday not yet reached: one less).

    As YYYYMMDD numbers, (reference − birth) // 10000 is exactly the age in whole years
    (29 February included): one integer expression, cheap even when a query planner copies
    it into every condition that uses the age.
    """
    born = birth_date.year() * 10000 + birth_date.month() * 100 + birth_date.day()
    today = reference.year * 10000 + reference.month * 100 + reference.day
    age: ir.IntegerValue = ((today - born) // 10000).cast("int64")
    return age


def latest_birth_date(reference: date, years: int) -> date | None:
    """The last birth date of someone at least `years` old on `reference` by `age_at` (born on
    29 February: a year older on 1 March), or None when that is outside the calendar."""
    year = reference.year - years
    if not 1 <= year <= 9999:
        return None
    if (reference.month, reference.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, reference.month, reference.day)


def age_compared(birth_date: ir.DateValue, reference: date, op: str, years: int) -> Any:
    """`age OP years` as a comparison of the birth date with fixed dates: the same truth (and
    the same unknown for an unknown birth date) as comparing `age_at`, at the cost of comparing
    two numbers. Age conditions are in most rules and run on every member of the nation."""
    at_least, older = latest_birth_date(reference, years), latest_birth_date(reference, years + 1)
    if at_least is None or older is None:
        return None  # a rule about ages of thousands of years: the plain age will do
    forms = {
        ">=": lambda: birth_date <= at_least,
        ">": lambda: birth_date <= older,
        "<": lambda: birth_date > at_least,
        "<=": lambda: birth_date > older,
        "==": lambda: (birth_date > older) & (birth_date <= at_least),
        "!=": lambda: (birth_date <= older) | (birth_date > at_least),
    }
    return forms[op]()


def age_comparison(members: ir.Table, reference: date | None) -> Comparison | None:
    """The rule compiler's cheaper form of `age OP whole number` for these members (when
    they carry their birth date and the reference date is known)."""
    if reference is None or "birth_date" not in members.columns:
        return None
    birth_date = members.birth_date

    def compare(name: str, op: str, years: int) -> Any:
        return age_compared(birth_date, reference, op, years) if name == "age" else None

    return compare


def member_features(members: ir.Table, reference: date) -> ir.Table:
    """One row per member: its keys, what a benefit component's condition can see, and the
    birth date (for `age_comparison`)."""
    return members.select(
        member_id=members.id,
        household_id=members.household_id,
        kk_number=members.kk_number,
        nik=members.nik,
        birth_date=members.birth_date,
        age=age_at(members.birth_date, reference),
        **{c: members[c] for c in MEMBER_FEATURES if c != "age"},
    )


def _age_band(birth_date: ir.DateValue, reference: date, low: int, high: int | None) -> Any:
    band = age_compared(birth_date, reference, ">=", low)
    return band if high is None else band & age_compared(birth_date, reference, "<=", high)


def household_features(
    tables: ReleaseTables, reference: date, only: Collection[str] | None = None
) -> ir.Table:
    """One row per household: every name of `HOUSEHOLD_FEATURES` (or just those in `only`:
    a cycle computes what its rule uses, no more), plus keys."""
    m = member_features(tables.members, reference)

    def count(condition: ir.BooleanValue) -> ir.IntegerValue:
        """Members for whom `condition` holds: COUNT(*) FILTER, cheaper than a SUM of 0/1
        (DuckDB sums small integers into 128-bit totals) and than counting a column, whose
        every value would be looked at for NULL (1 M families: 2.5–3.0 s → 2.2–2.7 s)."""
        # Spark sums the condition instead, which is NULL, not 0, where it is unknown for all.
        counted: ir.IntegerValue = m.count(where=condition).fill_null(0)
        return counted

    is_head = m.relationship == vocab.HEAD
    counts = {
        "hh_size": m.count(),
        **{
            name: count(_age_band(m.birth_date, reference, low, high))
            for name, (low, high) in AGE_BANDS.items()
        },
        **{name: count(m.school_level == level) for name, level in SCHOOL_COUNTS.items()},
        "n_pregnant": count(m.pregnant),
        "n_disability": count(m.disability != "tidak_ada"),
        "n_severe_disability": count(m.disability_severity == "berat"),
        "n_working": count(
            (m.occupation != "tidak_bekerja") & age_compared(m.birth_date, reference, ">=", 15)
        ),
        "head_age": m.age.max(where=is_head),
        **{f"head_{c}": m[c].max(where=is_head) for c in HEAD_COLUMNS},
    }
    if only is not None:
        counts = {k: v for k, v in counts.items() if k == "hh_size" or k in only}
    per_household = m.group_by("household_id").aggregate(**counts)
    h = tables.households
    joined = h.inner_join(per_household, h.id == per_household.household_id)
    own = {
        "floor_area_m2": joined.floor_area_m2,
        "floor_area_per_person": joined.floor_area_m2 / joined.hh_size.cast("float64"),
        **{c: joined[c] for c in vocab.HOUSEHOLD_ENUMS},
        **{c: joined[c] for c in vocab.HOUSEHOLD_FLAGS},
        **{c: joined[c] for c in vocab.HOUSEHOLD_COUNTS},
    }
    keys = {
        "kk_number": joined.kk_number,
        "village_code": joined.village_code,
        "regency_code": joined.regency_code,
        "province_code": joined.regency_code.substr(0, 2),
    }
    if only is not None:
        own = {k: v for k, v in own.items() if k in only}
        keys = {k: v for k, v in keys.items() if k in only}
        if not own and not keys:  # all from the members: the household file is not read
            return per_household.select("household_id", *(n for n in counts if n in only))
    return joined.select(
        household_id=joined.id,
        **keys,
        **{name: joined[name] for name in counts},
        **own,
    )
