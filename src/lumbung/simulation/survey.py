"""Inclusion and exclusion error of a simulation, measured on a survey with consumption.

The survey is what `lumbung pmt fit` takes: a folder whose `households.csv` has `kk_number`,
`consumption_per_capita` (monthly rupiah) and optionally `weight` (expansion factors; 1 when
absent), or that file itself. Its households found in the simulation's release (by KK number,
in the scoring's scores file) are the universe. For each program and side (scenario,
baseline): coverage = the weighted share of them the side pays; the poor = the households with
the lowest consumption until their weight is that same share; inclusion error = the weighted
share of the paid who are not poor, exclusion error = of the poor who are not paid (as
`targeting.fit.targeting_quality` measures a model at 40 %). Nothing is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from lumbung.auth.models import User
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


def read_survey(survey: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(KK numbers, consumption per capita, weights) of the survey's households."""
    path = survey / "households.csv" if survey.is_dir() else survey
    if not path.is_file():
        raise ValidationFailed(f"{path}: berkas survei tidak ada (households.csv).")
    try:
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types={"kk_number": pa.string()})
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValidationFailed(f"{path}: tidak terbaca sebagai CSV ({exc}).") from None
    missing = sorted({"kk_number", "consumption_per_capita"} - set(table.column_names))
    if missing:
        raise ValidationFailed(f"{path}: kolom wajib tidak ada: {', '.join(missing)}.")
    try:
        consumption = table.column("consumption_per_capita").cast(pa.float64()).to_numpy()
        weights = (
            table.column("weight").cast(pa.float64()).to_numpy()
            if "weight" in table.column_names
            else np.ones(table.num_rows)
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValidationFailed(
            f"{path}: consumption_per_capita dan weight harus angka di setiap baris."
        ) from None
    bad = np.flatnonzero(~(consumption > 0) | ~(weights > 0))
    if len(bad):
        raise ValidationFailed(
            f"{path}: baris {int(bad[0]) + 2}: consumption_per_capita dan weight harus lebih "
            f"dari 0 ({len(bad)} baris salah)."
        )
    return table.column("kk_number").to_pylist(), consumption, weights


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
