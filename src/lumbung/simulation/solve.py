"""Budget solving: the threshold or the amounts that fit a program into a yearly budget.

- `decile`: the highest desil threshold (`decile <= N` in the eligibility rule) whose yearly
  cost is at most the budget; the cost of every threshold is given, so the next one's (which
  would exceed it) is seen. Without a quota the program is computed once with `decile <= 10`
  and the thresholds are cumulative sums by desil (a family's amount does not depend on its
  desil); with a quota (which ranks families against each other) each threshold is computed.
- `percentile`: a score cut per regency, the same share of each regency's households (the
  poorest p %, p whole, by the scoring's rank within the regency: finer than a desil) with the
  eligibility's desil bound lifted to 10; the answer gives each regency's cut (the highest
  score inside). A cut per regency is not a rule of the program language, so it is not stored
  as a simulation (`save_as` is refused).
- `scale`: every amount of the program multiplied by budget ÷ cost, rounded down to whole
  thousands of rupiah (and to what divides exactly into a cycle), computed again and lowered
  by a thousand until the cost is at most the budget.

The answer carries the beneficiaries and the distribution by province that follow; with
`save_as` the solved changes are run and stored as a simulation like any other.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.engine.backend import Engine, open_engine
from lumbung.engine.names import EngineName
from lumbung.errors import ValidationFailed
from lumbung.programs.definition import ProgramDefinition, per_cycle
from lumbung.simulation.results import cycles_per_year
from lumbung.simulation.scenario import (
    ChangedProgram,
    ProgramChange,
    Scenario,
    apply_changes,
    decile_bound,
)
from lumbung.simulation.service import (
    Context,
    context_for,
    prepare,
    run_simulation,
    scenario_rows,
)

METHODS = ("decile", "percentile", "scale")
STEP_IDR = 1000
MAX_LOWERINGS = 50


def solve_budget(
    session: Session,
    *,
    actor: User,
    program: str,
    budget_year_idr: int,
    method: str,
    release_label: str,
    data_dir: Path,
    changes: dict[str, Any] | None = None,
    engine: EngineName = EngineName.DUCKDB,
    as_of: date | None = None,
    model: str | None = None,
    save_as: str | None = None,
) -> dict[str, Any]:
    """The solution (module docstring) as data; stored as simulation `save_as` if given."""
    authorize(actor, Action.SIMULATE)
    require_national(actor, "menjalankan simulasi")
    if method not in METHODS:
        raise ValidationFailed(
            f"Metode `{method}` tidak dikenal; pilih decile, percentile atau scale."
        )
    if method == "percentile" and save_as is not None:
        raise ValidationFailed(
            "Potongan skor per kab/kota tidak bisa disimpan sebagai simulasi (bukan aturan "
            "program); simpan dengan metode decile atau scale."
        )
    if isinstance(budget_year_idr, bool) or budget_year_idr <= 0:
        raise ValidationFailed("Anggaran setahun harus rupiah bulat lebih dari 0.")
    context = context_for(session, release_label, model, data_dir, as_of)
    scenario = Scenario(f"Anggaran {program}", (ProgramChange(program, dict(changes or {})),))
    (prepared,) = prepare(session, scenario, data_dir)
    changed = prepared.changed
    with open_engine(engine) as batch:
        if method == "decile":
            answer = _by_decile(batch, session, context, changed, budget_year_idr)
        elif method == "percentile":
            answer = _by_score_cut(batch, session, context, changed, budget_year_idr)
        else:
            answer = _by_scale(batch, session, context, changed, budget_year_idr)
    answer |= {
        "kind": "simulation-solve",
        "program": changed.definition.code,
        "method": method,
        "budget_year_idr": budget_year_idr,
        "release": context.release.label,
        "model": context.model.name + "@" + context.model.version,
    }
    if save_as is not None and answer["changes"] is not None:
        title = f"{changed.definition.code} dalam anggaran {budget_year_idr} ({method})"
        saved = Scenario(title, (ProgramChange(program, answer["changes"]),))
        answer["simulation"] = run_simulation(
            session,
            actor=actor,
            label=save_as,
            scenario=saved,
            release_label=release_label,
            data_dir=data_dir,
            engine=engine,
            as_of=as_of,
            model=model,
        )["label"]
    return answer


def _costs(
    batch: Engine,
    session: Session,
    context: Context,
    changed: ChangedProgram,
    definition: ProgramDefinition,
) -> tuple[Any, int]:
    rows = scenario_rows(batch, session, context, definition, changed.regions)
    return rows, cycles_per_year(definition)


def _province_split(batch: Engine, rows: Any, cycles: int) -> list[dict[str, Any]]:
    grouped = rows.group_by(key=rows.province_code).aggregate(
        beneficiaries=rows.count(), amount=rows.amount_idr.sum().cast("int64")
    )
    return [
        {
            "province_code": r["key"],
            "beneficiaries": int(r["beneficiaries"]),
            "per_year_idr": int(r["amount"] or 0) * cycles,
        }
        for r in sorted(batch.to_arrow(grouped).to_pylist(), key=lambda r: str(r["key"]))
    ]


def _by_decile(
    batch: Engine, session: Session, context: Context, changed: ChangedProgram, budget: int
) -> dict[str, Any]:
    definition = changed.definition
    if decile_bound(definition.eligibility) is None:
        raise ValidationFailed(
            f"Aturan kelayakan {definition.code} tidak memuat tepat satu `decile <= N`; "
            "ambang desil tidak bisa dicari. Pakai metode scale."
        )
    known = frozenset({definition.code})
    where = f"{definition.code} (anggaran)"

    def at(decile: int) -> ChangedProgram:
        return apply_changes(
            changed.original, {**changed.changes, "decile": decile}, where, known | _known(session)
        )

    thresholds: list[dict[str, Any]] = []
    cycles = cycles_per_year(definition)
    if definition.quota is None:
        rows, cycles = _costs(batch, session, context, changed, at(10).definition)
        per = rows.group_by("decile").aggregate(
            n=rows.count(), amount=rows.amount_idr.sum().cast("int64")
        )
        by_decile = {int(r["decile"]): r for r in batch.to_arrow(per).to_pylist()}
        n = amount = 0
        for d in range(1, 11):
            found = by_decile.get(d)
            n += int(found["n"]) if found else 0
            amount += int(found["amount"] or 0) if found else 0
            thresholds.append({"decile": d, "beneficiaries": n, "per_year_idr": amount * cycles})
    else:
        for d in range(1, 11):
            rows, cycles = _costs(batch, session, context, changed, at(d).definition)
            total = batch.to_arrow(
                rows.aggregate(n=rows.count(), amount=rows.amount_idr.sum().cast("int64"))
            ).to_pylist()[0]
            thresholds.append(
                {
                    "decile": d,
                    "beneficiaries": int(total["n"]),
                    "per_year_idr": int(total["amount"] or 0) * cycles,
                }
            )
    within = [t for t in thresholds if t["per_year_idr"] <= budget]
    if not within:
        return {
            "solved": False,
            "reason": f"desil 1 saja sudah {thresholds[0]['per_year_idr']} rupiah setahun",
            "changes": None,
            "thresholds": thresholds,
        }
    best = within[-1]
    chosen, cycles = _costs(batch, session, context, changed, at(best["decile"]).definition)
    following = next((t for t in thresholds if t["decile"] == best["decile"] + 1), None)
    return {
        "solved": True,
        "decile": best["decile"],
        "beneficiaries": best["beneficiaries"],
        "per_year_idr": best["per_year_idr"],
        "next": following,
        "changes": {**changed.changes, "decile": best["decile"]},
        "thresholds": thresholds,
        "by_province": _province_split(batch, chosen, cycles),
    }


def _known(session: Session) -> frozenset[str]:
    from lumbung.programs.catalog import known_programs
    from lumbung.programs.definition import shipped_programs

    return frozenset(shipped_programs()) | frozenset(known_programs(session))


def _amount_keys(definition: ProgramDefinition) -> tuple[str, dict[str, int]]:
    """The change key and the amounts it scales: components / items, or the monthly amount."""
    benefit = definition.benefit
    if benefit.kind == "components":
        return "amounts", {c.name: c.amount_idr for c in benefit.components}
    if benefit.kind == "in_kind":
        return "amounts", {i.name: i.unit_value_idr for i in benefit.items}
    return "monthly_idr", {"monthly_idr": benefit.monthly_idr}


def _exact(amount: int, definition: ProgramDefinition) -> int:
    """`amount` rounded down to thousands, then to what divides exactly into one cycle."""
    annual = bool(getattr(definition.benefit, "annual", False))
    value = amount - amount % STEP_IDR
    while value > 0:
        try:
            per_cycle(value, months=definition.months_per_cycle, annual=annual)
            return value
        except ValueError:
            value -= 1
    return 0


def _by_scale(
    batch: Engine, session: Session, context: Context, changed: ChangedProgram, budget: int
) -> dict[str, Any]:
    definition = changed.definition
    rows, cycles = _costs(batch, session, context, changed, definition)
    first = batch.to_arrow(
        rows.aggregate(n=rows.count(), amount=rows.amount_idr.sum().cast("int64"))
    ).to_pylist()[0]
    cost = int(first["amount"] or 0) * cycles
    if cost == 0:
        return {
            "solved": False,
            "reason": "tidak ada penerima; tidak ada yang diskalakan",
            "changes": None,
        }
    key, amounts = _amount_keys(definition)
    scaled = {n: _exact(a * budget // cost, definition) for n, a in amounts.items()}
    known = _known(session)
    where = f"{definition.code} (anggaran)"
    for _ in range(MAX_LOWERINGS):
        if any(v <= 0 for v in scaled.values()):
            return {
                "solved": False,
                "reason": "anggaran terlalu kecil: sebuah jumlah menjadi 0 rupiah",
                "changes": None,
            }
        extra = {"amounts": scaled} if key == "amounts" else {"monthly_idr": scaled[key]}
        trial = apply_changes(changed.original, {**changed.changes, **extra}, where, known)
        rows, cycles = _costs(batch, session, context, changed, trial.definition)
        total = batch.to_arrow(
            rows.aggregate(n=rows.count(), amount=rows.amount_idr.sum().cast("int64"))
        ).to_pylist()[0]
        spent = int(total["amount"] or 0) * cycles
        if spent <= budget:
            return {
                "solved": True,
                "scale_permille": budget * 1000 // cost,
                "amounts": scaled,
                "original_amounts": amounts,
                "cost_before_year_idr": cost,
                "beneficiaries": int(total["n"]),
                "per_year_idr": spent,
                "changes": {**changed.changes, **extra},
                "by_province": _province_split(batch, rows, cycles),
            }
        scaled = {n: _exact(v - STEP_IDR, definition) for n, v in scaled.items()}
    return {"solved": False, "reason": "tidak ditemukan dalam batas percobaan", "changes": None}


def _by_score_cut(
    batch: Engine, session: Session, context: Context, changed: ChangedProgram, budget: int
) -> dict[str, Any]:
    definition = changed.definition
    if decile_bound(definition.eligibility) is None or definition.quota is not None:
        raise ValidationFailed(
            f"Potongan skor per kab/kota butuh aturan {definition.code} dengan tepat satu "
            "`decile <= N` dan tanpa kuota. Pakai metode decile atau scale."
        )
    lifted = apply_changes(
        changed.original,
        {**changed.changes, "decile": 10},
        f"{definition.code} (anggaran)",
        _known(session),
    )
    rows, cycles = _costs(batch, session, context, changed, lifted.definition)
    scores = batch.read_parquet([context.scores_file])
    sizes = scores.group_by(size_regency="regency_code").aggregate(size=scores.count())
    placed = scores.inner_join(sizes, scores.regency_code == sizes.size_regency)
    # The smallest whole percent p with rank ≤ p % of the regency's households.
    ranked = placed.select(
        ranked_household="household_id",
        ranked_regency="regency_code",
        ranked_score="score",
        percent=((placed.rank_area * 100 + placed.size - 1) // placed.size).cast("int64"),
    )
    joined = rows.inner_join(ranked, rows.household_id == ranked.ranked_household)
    per = joined.group_by("percent").aggregate(
        n=joined.count(), amount=joined.amount_idr.sum().cast("int64")
    )
    by_percent = {int(r["percent"]): r for r in batch.to_arrow(per).to_pylist()}
    steps: list[dict[str, Any]] = []
    n = amount = 0
    for p in range(1, 101):
        found = by_percent.get(p)
        n += int(found["n"]) if found else 0
        amount += int(found["amount"] or 0) if found else 0
        steps.append({"percent": p, "beneficiaries": n, "per_year_idr": amount * cycles})
    within = [t for t in steps if t["per_year_idr"] <= budget]
    if not within:
        return {
            "solved": False,
            "reason": f"1 % termiskin sudah {steps[0]['per_year_idr']} rupiah setahun",
            "changes": None,
        }
    best = within[-1]
    cut = best["percent"]
    inside = ranked.filter(ranked.percent <= cut)
    cuts = batch.to_arrow(
        inside.group_by(regency_code=inside.ranked_regency).aggregate(
            score_cut=inside.ranked_score.max(), households=inside.count()
        )
    ).to_pylist()
    chosen = joined.filter(joined.percent <= cut)
    return {
        "solved": True,
        "percent": cut,
        "beneficiaries": best["beneficiaries"],
        "per_year_idr": best["per_year_idr"],
        "next": steps[cut] if cut < 100 else None,
        "score_cuts": sorted(
            (
                {
                    "regency_code": r["regency_code"],
                    "score_cut": float(r["score_cut"]),
                    "households": int(r["households"]),
                }
                for r in cuts
            ),
            key=lambda r: str(r["regency_code"]),
        ),
        "changes": None,  # a cut per regency is no rule of the program language
        "by_province": _province_split(batch, chosen, cycles),
    }
