"""A simulated program's results, from its two row files (scenario and baseline).

Each file has one row per beneficiary as a cycle computes it (`cycles/compute.py`): the family,
its province, regency and desil, the amount per cycle and, per component, persons and amount.
The results are integer rupiah: per cycle and per year exactly (a year is 12 monthly or 4
quarterly cycles; a program paid in tranches counts its tranches as its year), per month the
year divided by 12, rounded down to the rupiah (a quarterly amount need not divide by 3).

Families enter (paid in the scenario, not in the baseline), leave (the reverse), gain or lose
(paid in both, more or less). Differences are scenario minus baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from lumbung.engine.backend import Engine
from lumbung.programs.definition import ProgramDefinition

ROW_COLUMNS = (
    "beneficiary_id",
    "household_id",
    "member_id",
    "kk_number",
    "province_code",
    "regency_code",
    "decile",
    "amount_idr",
)
GROUPS = {"province": "province_code", "regency": "regency_code", "decile": "decile"}
SAMPLE_SIZE = 20


def cycles_per_year(definition: ProgramDefinition) -> int:
    """Payment cycles in a year (a program in tranches: its tranches, the whole programme)."""
    schedule = definition.schedule
    if schedule.kind == "tranches":
        return schedule.tranches or 1
    return 12 // definition.months_per_cycle


def money(per_cycle: int, cycles: int) -> dict[str, int]:
    """An amount per cycle as per cycle, per year (exact) and per month (year // 12)."""
    year = per_cycle * cycles
    return {"per_cycle_idr": per_cycle, "per_year_idr": year, "per_month_idr": year // 12}


def component_names(table: ir.Table) -> list[str]:
    return sorted(
        c.removeprefix("c__").removesuffix("__persons")
        for c in table.columns
        if c.startswith("c__") and c.endswith("__persons")
    )


def empty_rows(batch: Engine) -> ir.Table:
    """No beneficiaries (the baseline of a program that does not exist yet)."""
    import pyarrow as pa

    schema = pa.schema(
        [
            ("beneficiary_id", pa.int64()),
            ("household_id", pa.int64()),
            ("member_id", pa.int64()),
            ("kk_number", pa.string()),
            ("province_code", pa.string()),
            ("regency_code", pa.string()),
            ("decile", pa.int16()),
            ("amount_idr", pa.int64()),
        ]
    )
    return batch.table(schema.empty_table(), "nobody")


def program_results(
    batch: Engine,
    scenario_file: Path,
    baseline_file: Path | None,
    families_file: Path,
    *,
    scenario_cycles: int,
    baseline_cycles: int,
) -> dict[str, Any]:
    """Everything `simulate show` tells about one program (module docstring), as data.

    One grouped query per side (by province, regency and desil together; the totals and the
    coarser groups are sums of it), and the per-family comparison computed once into
    `families_file` and grouped from there."""
    scenario = batch.read_parquet([scenario_file])
    baseline = batch.read_parquet([baseline_file]) if baseline_file else empty_rows(batch)
    s_cells = _cells(batch, scenario)
    b_cells = _cells(batch, baseline)
    batch.write_parquet(
        _families(batch, scenario, baseline, scenario_cycles, baseline_cycles), families_file
    )
    families = batch.read_parquet([families_file])
    moves = batch.to_arrow(
        families.group_by("province_code", "regency_code", "decile", "moved").aggregate(
            n=families.count(),
            scenario=families.scenario_year_idr.sum().cast("int64"),
            baseline=families.baseline_year_idr.sum().cast("int64"),
        )
    ).to_pylist()
    return {
        "scenario": _side(s_cells, scenario_cycles),
        "baseline": _side(b_cells, baseline_cycles),
        "by": {
            name: _by_group(column, s_cells, b_cells, moves, scenario_cycles, baseline_cycles)
            for name, column in GROUPS.items()
        },
        "families": _movement(batch, families, moves),
    }


def _cells(batch: Engine, rows: ir.Table) -> list[dict[str, Any]]:
    """Beneficiaries, families, amount and each component's persons and amount, per
    (province, regency, desil): a family lies in one, so every coarser figure is a sum."""
    sums: dict[str, ir.Value] = {
        "n": rows.count(),
        "families": rows.household_id.nunique(),
        "amount": rows.amount_idr.sum().cast("int64"),
    }
    for name in component_names(rows):
        sums[f"p__{name}"] = rows[f"c__{name}__persons"].sum().cast("int64")
        sums[f"a__{name}"] = rows[f"c__{name}__amount"].sum().cast("int64")
    grouped = rows.group_by("province_code", "regency_code", "decile").aggregate(**sums)
    return [
        {k: (int(v or 0) if k not in GROUPS.values() else v) for k, v in r.items()}
        for r in batch.to_arrow(grouped).to_pylist()
    ]


def _side(cells: list[dict[str, Any]], cycles: int) -> dict[str, Any]:
    names = sorted({k[3:] for c in cells for k in c if k.startswith("p__")})
    return {
        "beneficiaries": sum(c["n"] for c in cells),
        "families": sum(c["families"] for c in cells),
        **money(sum(c["amount"] for c in cells), cycles),
        "by_component": {
            name: {
                "persons": sum(c[f"p__{name}"] for c in cells),
                "amount_idr": sum(c[f"a__{name}"] for c in cells),
            }
            for name in names
        },
    }


def _per_family(rows: ir.Table) -> ir.Table:
    return rows.group_by("household_id").aggregate(
        kk_number=rows.kk_number.max(),
        province_code=rows.province_code.max(),
        regency_code=rows.regency_code.max(),
        decile=rows.decile.max().cast("int16"),
        amount_idr=rows.amount_idr.sum().cast("int64"),
    )


def _families(
    batch: Engine, scenario: ir.Table, baseline: ir.Table, s_cycles: int, b_cycles: int
) -> ir.Table:
    """One row per family paid on either side: its region and desil, and its yearly amount
    on each side (0 where not paid), with how it moved."""
    s = _per_family(scenario)
    b = _per_family(baseline)
    b = b.rename(
        b_household="household_id",
        b_kk="kk_number",
        b_province="province_code",
        b_regency="regency_code",
        b_decile="decile",
        b_amount="amount_idr",
    )
    joined = s.outer_join(b, s.household_id == b.b_household)
    s_year = joined.amount_idr.fill_null(0) * s_cycles
    b_year = joined.b_amount.fill_null(0) * b_cycles
    moved = ibis.cases(
        (joined.b_household.isnull(), "entered"),
        (joined.household_id.isnull(), "left"),
        (s_year > b_year, "gained"),
        (s_year < b_year, "lost"),
        else_="same",
    )
    return joined.select(
        household_id=joined.household_id.fill_null(joined.b_household),
        kk_number=joined.kk_number.fill_null(joined.b_kk),
        province_code=joined.province_code.fill_null(joined.b_province),
        regency_code=joined.regency_code.fill_null(joined.b_regency),
        decile=joined.decile.fill_null(joined.b_decile),
        scenario_year_idr=s_year.cast("int64"),
        baseline_year_idr=b_year.cast("int64"),
        moved=moved,
    )


MOVES = ("entered", "left", "gained", "lost", "same")


def _by_group(
    column: str,
    s_cells: list[dict[str, Any]],
    b_cells: list[dict[str, Any]],
    moves: list[dict[str, Any]],
    s_cycles: int,
    b_cycles: int,
) -> list[dict[str, Any]]:
    """Per province, regency or desil: beneficiaries and yearly budget on each side, the
    difference, and the families entering, leaving, gaining and losing."""
    rows: dict[Any, dict[str, Any]] = {}

    def entry(key: Any) -> dict[str, Any]:
        return rows.setdefault(
            key,
            {
                "key": key,
                "scenario_beneficiaries": 0,
                "baseline_beneficiaries": 0,
                "scenario_year_idr": 0,
                "baseline_year_idr": 0,
                **dict.fromkeys(MOVES, 0),
            },
        )

    for side, cells, cycles in (("scenario", s_cells, s_cycles), ("baseline", b_cells, b_cycles)):
        for c in cells:
            e = entry(c[column])
            e[f"{side}_beneficiaries"] += c["n"]
            e[f"{side}_year_idr"] += c["amount"] * cycles
    for m in moves:
        entry(m[column])[str(m["moved"])] += int(m["n"])
    out = []
    for key in sorted(rows, key=lambda k: (k is None, k)):
        e = rows[key]
        e["difference_beneficiaries"] = e["scenario_beneficiaries"] - e["baseline_beneficiaries"]
        e["difference_year_idr"] = e["scenario_year_idr"] - e["baseline_year_idr"]
        out.append(e)
    return out


def _movement(batch: Engine, families: ir.Table, moves: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of families by how they moved, and a sample of those entering and leaving
    (the first by KK number; opened with `simulate explain`)."""
    found: dict[str, Any] = {m: {"families": 0, "difference_year_idr": 0} for m in MOVES}
    for r in moves:
        into = found[str(r["moved"])]
        into["families"] += int(r["n"])
        into["difference_year_idr"] += int(r["scenario"] or 0) - int(r["baseline"] or 0)
    for move in ("entered", "left"):
        chosen = families.filter(families.moved == move).order_by("kk_number").limit(SAMPLE_SIZE)
        found[move]["sample"] = [
            {
                "kk_number": r["kk_number"],
                "regency_code": r["regency_code"],
                "decile": r["decile"],
                "year_idr": r["scenario_year_idr"] or r["baseline_year_idr"],
            }
            for r in batch.to_arrow(
                chosen.select(
                    "kk_number",
                    "regency_code",
                    "decile",
                    "scenario_year_idr",
                    "baseline_year_idr",
                )
            ).to_pylist()
        ]
    return found
