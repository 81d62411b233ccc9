"""Inclusion and exclusion error of a simulation, measured on a survey with consumption.

The survey is what `lumbung pmt fit` takes: a folder whose `households.csv` has `kk_number`,
`consumption_per_capita` (monthly rupiah) and optionally `weight` (expansion factors; 1 when
absent), or that file itself, read by the reader `pmt fit` uses (targeting/survey.py). Its
households found in the simulation's release (by KK number, in the scoring's scores file) are
the universe. For each program and side (scenario, baseline): coverage = the weighted share of
them the side pays; the poor = the households with the lowest consumption until their weight is
that same share; inclusion error = the weighted share of the paid who are not poor, exclusion
error = of the poor who are not paid (as `targeting.fit.targeting_quality` measures a model at
40 %). Nothing is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.engine.backend import open_duckdb
from lumbung.errors import ValidationFailed
from lumbung.installation.datafolder import owned
from lumbung.simulation.service import (
    baseline_file,
    get_simulation,
    scenario_file,
    simulation_folder,
)
from lumbung.targeting.fit import lowest_share
from lumbung.targeting.models import Scoring
from lumbung.targeting.service import checked_scores_file
from lumbung.targeting.survey import households_file, outcome_tables, problem_words


def read_survey(survey: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(KK numbers, consumption per capita, weights) of the survey's households, read and
    checked as `pmt fit` reads them (targeting/survey.py)."""
    path = households_file(survey)
    with open_duckdb(threads=1) as batch:
        problems = outcome_tables(batch, path)
        if problems:
            raise ValidationFailed(
                f"Survei {survey}: nilai kosong atau tidak sah: {problem_words(problems)}"
            )
        table = batch.to_arrow(
            batch.named_table("outcome")
            .order_by("row_no")
            .select("kk_number", "consumption_per_capita", "weight")
        )
    return (
        table.column("kk_number").to_pylist(),
        table.column("consumption_per_capita").to_numpy(),
        table.column("weight").to_numpy(),
    )


def targeting_errors(
    session: Session, *, actor: User, label: str, survey: Path, data_dir: Path
) -> dict[str, Any]:
    """Per program and side: coverage, inclusion and exclusion error (module docstring)."""
    row = get_simulation(session, actor=actor, label=label)
    owned(session, data_dir)
    folder = simulation_folder(session, row, data_dir)
    scoring = session.get(Scoring, row.scoring_id)
    assert scoring is not None
    kks, consumption, weights = read_survey(survey)
    scored = pq.read_table(checked_scores_file(scoring, data_dir), columns=["kk_number"])
    in_release = pc.is_in(pa.array(kks, pa.string()), value_set=scored.column("kk_number"))
    keep = np.asarray(in_release.to_numpy(zero_copy_only=False), bool)
    if not keep.any():
        raise ValidationFailed(
            f"Tidak satu pun keluarga survei ada di rilis simulasi {label} (dicocokkan menurut "
            "nomor KK)."
        )
    kk_kept = pa.array([k for k, ok in zip(kks, keep, strict=True) if ok], pa.string())
    values, wts = consumption[keep], weights[keep]
    programs: dict[str, Any] = {}
    for code in row.summary.get("programs", {}):
        sides = {}
        base = row.summary["programs"][code].get("baseline_source", {})
        paths = {"scenario": folder / scenario_file(code)}
        if base.get("kind") == "definitions":
            paths["baseline"] = folder / baseline_file(code)
        for side, path in paths.items():
            paid = pq.read_table(path, columns=["kk_number"]).column("kk_number")
            selected = np.asarray(
                pc.is_in(kk_kept, value_set=pc.unique(paid)).to_numpy(zero_copy_only=False), bool
            )
            sides[side] = _errors(values, wts, selected)
        programs[code] = sides
    return {
        "kind": "simulation",
        "label": label,
        "survey_households": len(kks),
        "in_release": int(keep.sum()),
        "programs": programs,
    }


def _errors(values: np.ndarray, weights: np.ndarray, selected: np.ndarray) -> dict[str, float]:
    total = float(weights.sum())
    coverage = float(weights[selected].sum()) / total
    poor = lowest_share(values, weights, coverage)
    paid = float(weights[selected].sum())
    needy = float(weights[poor].sum())
    return {
        "coverage": round(coverage, 4),
        "inclusion_error": round(float(weights[selected & ~poor].sum()) / paid, 4) if paid else 0.0,
        "exclusion_error": round(float(weights[poor & ~selected].sum()) / needy, 4)
        if needy
        else 0.0,
    }
