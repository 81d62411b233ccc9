"""Fitting a PMT model from a survey sample, and how well it targets households it never saw.

The survey is a folder in the exchange format (households.csv, members.csv) whose households
file also carries `consumption_per_capita` (monthly rupiah) and, optionally, `weight` (survey
expansion factors, used as regression weights). Features are computed by the same code as
for a release. One household in five (by a hash of its KK number, so the split is the same
every run) is held out to measure fit and targeting quality.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from lumbung.engine.backend import DuckDBEngine, open_duckdb
from lumbung.engine.names import EngineName
from lumbung.errors import ValidationFailed
from lumbung.registry import vocab
from lumbung.targeting.features import ReleaseTables, household_features
from lumbung.targeting.pmt import AreaEffects, PmtModel
from lumbung.targeting.survey import outcome_tables, problem_words
from lumbung.targeting.vocabulary import HOUSEHOLD_FEATURES, TEXT_VALUES, ValueType

QUOTA = 0.40
HOLD_OUT_EVERY = 5
AREA_COLUMNS = ("province_code", "regency_code")
NUMERIC = [n for n, t in HOUSEHOLD_FEATURES.items() if t is not ValueType.TEXT]
CATEGORICAL = [
    n for n, t in HOUSEHOLD_FEATURES.items() if t is ValueType.TEXT and n not in AREA_COLUMNS
]


@dataclass(frozen=True, slots=True)
class FitReport:
    model: PmtModel
    households: int
    train: int
    held_out: int

    def as_dict(self) -> dict[str, object]:
        return {"model": self.model.key, **self.model.fit}


def _survey_tables(batch: DuckDBEngine, folder: Path) -> None:
    """DuckDB tables `households`, `members` and `outcome` (consumption and weight, read as a
    simulation reads them: targeting/survey.py) from the survey's CSV files, typed; every
    wrong value refused with its file, row and column."""
    files = {name: folder / f"{name}.csv" for name in ("households", "members")}
    for path in files.values():
        if not path.exists():
            raise ValidationFailed(f"Survei {folder}: berkas {path.name} tidak ada.")
    outcome_problems = outcome_tables(batch, files["households"])
    batch.run(
        "CREATE TABLE m_raw AS SELECT row_number() OVER () + 1 AS row_no, * FROM "
        "read_csv($p, header = true, all_varchar = true)",
        {"p": str(files["members"])},
    )
    need_h = {
        "kk_number",
        "village_code",
        "floor_area_m2",
        "consumption_per_capita",
        *vocab.HOUSEHOLD_ENUMS,
        *vocab.HOUSEHOLD_FLAGS,
        *vocab.HOUSEHOLD_COUNTS,
    }
    need_m = {"kk_number", "nik", "birth_date", *vocab.MEMBER_ENUMS, "pregnant"}
    for table, need, path in (
        ("h_raw", need_h, files["households"]),
        ("m_raw", need_m, files["members"]),
    ):
        have = {r[0].lower() for r in batch.rows(f"DESCRIBE {table}")}
        missing = sorted(need - have)
        if missing:
            raise ValidationFailed(f"{path}: kolom wajib tidak ada: {', '.join(missing)}")
    flags = ", ".join(f"({c} = '1') AS {c}" for c in vocab.HOUSEHOLD_FLAGS)
    counts = ", ".join(f"TRY_CAST({c} AS INTEGER) AS {c}" for c in vocab.HOUSEHOLD_COUNTS)
    batch.run(
        f"""CREATE TABLE households AS SELECT row_no, row_no AS id, kk_number,
        village_code,
        substr(replace(village_code, '.', ''), 1, 2) || '.'
            || substr(replace(village_code, '.', ''), 3, 2) AS regency_code,
        TRY_CAST(floor_area_m2 AS DOUBLE) AS floor_area_m2,
        {", ".join(vocab.HOUSEHOLD_ENUMS)}, {flags}, {counts}
        FROM h_raw"""
    )
    batch.run(
        f"""CREATE TABLE members AS SELECT m.row_no, m.row_no AS id, h.id AS household_id,
        m.kk_number, m.nik, COALESCE(TRY_CAST(m.birth_date AS DATE),
            TRY_STRPTIME(m.birth_date, '%d-%m-%Y')::DATE,
            TRY_STRPTIME(m.birth_date, '%d/%m/%Y')::DATE) AS birth_date,
        {", ".join("m." + c for c in vocab.MEMBER_ENUMS)}, (m.pregnant = '1') AS pregnant
        FROM m_raw m LEFT JOIN households h USING (kk_number)"""
    )
    problems = batch.rows(
        """SELECT 'households.csv', row_no, 'floor_area_m2' FROM households
             WHERE floor_area_m2 IS NULL
           UNION ALL SELECT 'members.csv', row_no, 'birth_date' FROM members
             WHERE birth_date IS NULL
           UNION ALL SELECT 'members.csv', row_no, 'kk_number' FROM members
             WHERE household_id IS NULL
           """
        + "".join(
            f" UNION ALL SELECT '{file}', row_no, '{column}' FROM {table} "
            f"WHERE {column} IS NULL OR {column} NOT IN ({', '.join(repr(c) for c in codes)})"
            for file, table, enums in (
                ("households.csv", "households", vocab.HOUSEHOLD_ENUMS),
                ("members.csv", "members", vocab.MEMBER_ENUMS),
            )
            for column, codes in enums.items()
        )
    )
    found = sorted([*outcome_problems, *((str(f), int(r), str(c)) for f, r, c in problems)])
    if found:
        raise ValidationFailed(
            f"Survei {folder}: nilai kosong atau tidak sah: {problem_words(found)}"
        )


def _design(rows: pa.Table, area: str | None) -> tuple[np.ndarray, list[tuple[str, str | None]]]:
    """The regression matrix and what each column means: (feature, level or None)."""
    columns: list[np.ndarray] = [np.ones(rows.num_rows)]
    meaning: list[tuple[str, str | None]] = [("intercept", None)]
    for name in NUMERIC:
        values = rows.column(name).to_numpy(zero_copy_only=False).astype("float64")
        columns.append(np.nan_to_num(values))
        meaning.append((name, None))
    levels_of = {name: TEXT_VALUES[name][1:] for name in CATEGORICAL}
    if area:
        levels_of[area] = tuple(sorted(set(rows.column(area).to_pylist())))[1:]
    for name, levels in levels_of.items():
        values = np.asarray(rows.column(name).to_pylist(), dtype=object)
        for level in levels:
            columns.append((values == level).astype("float64"))
            meaning.append((name, level))
    return np.column_stack(columns), meaning


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return ranks


def _lowest_share(values: np.ndarray, weights: np.ndarray, share: float = QUOTA) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    chosen = np.zeros(len(values), bool)
    # A household counts when the population before it is still under the quota.
    chosen[order[cumulative - weights[order] < share * cumulative[-1] * (1 - 1e-12)]] = True
    return chosen


def lowest_share(values: np.ndarray, weights: np.ndarray, share: float) -> np.ndarray:
    """The households whose `values` are lowest, until their weights reach `share` of all."""
    if len(values) == 0 or share <= 0:
        return np.zeros(len(values), bool)
    return _lowest_share(values, weights, share)


def targeting_quality(
    actual: np.ndarray, predicted: np.ndarray, weights: np.ndarray
) -> dict[str, float]:
    """R², Spearman, and inclusion/exclusion errors when the poorest 40 % are selected
    (shares of the weighted population: survey weights count as people)."""
    residual = actual - predicted
    mean = np.average(actual, weights=weights)
    r2 = 1.0 - np.sum(weights * residual**2) / np.sum(weights * (actual - mean) ** 2)
    spearman = float(np.corrcoef(_ranks(actual), _ranks(predicted))[0, 1])
    # The poorest 40 % of the population the survey stands for: households in order, until
    # their weights (expansion factors) add up to 40 % of the total.
    poor = _lowest_share(actual, weights)
    selected = _lowest_share(predicted, weights)
    exclusion = float(np.sum(weights[poor & ~selected]) / max(np.sum(weights[poor]), 1e-12))
    inclusion = float(np.sum(weights[selected & ~poor]) / max(np.sum(weights[selected]), 1e-12))
    return {
        "r2": round(float(r2), 4),
        "spearman": round(spearman, 4),
        "quota": QUOTA,
        "inclusion_error": round(inclusion, 4),
        "exclusion_error": round(exclusion, 4),
    }


def fit_model(
    survey: Path,
    *,
    name: str,
    version: str,
    as_of: date,
    area: str | None = "province",
    engine: EngineName = EngineName.DUCKDB,
) -> FitReport:
    """Fit log per-capita consumption on the household features by weighted least squares."""
    if engine is not EngineName.DUCKDB:
        raise ValidationFailed("Pendugaan model PMT memakai mesin duckdb (sampel survei kecil).")
    if area not in (None, *[a.removesuffix("_code") for a in AREA_COLUMNS]):
        raise ValidationFailed("--area harus province, regency atau none.")
    area_column = f"{area}_code" if area else None
    with open_duckdb() as batch:
        _survey_tables(batch, survey)
        households = batch.named_table("households")
        features = household_features(
            ReleaseTables(households, batch.named_table("members")), as_of
        )
        outcome = batch.named_table("outcome").select(
            "kk_number", "consumption_per_capita", "weight"
        )
        rows = batch.to_arrow(features.inner_join(outcome, "kk_number").order_by("kk_number"))
    if rows.num_rows < 50:
        raise ValidationFailed(f"Survei {survey}: hanya {rows.num_rows} keluarga; perlu ≥ 50.")
    matrix, meaning = _design(rows, area_column)
    target = np.log(rows.column("consumption_per_capita").to_numpy())
    weights = rows.column("weight").to_numpy()
    held = np.array(
        [zlib.crc32(k.encode()) % HOLD_OUT_EVERY == 0 for k in rows.column("kk_number").to_pylist()]
    )
    root = np.sqrt(weights[~held])
    solution, *_ = np.linalg.lstsq(matrix[~held] * root[:, None], target[~held] * root, rcond=None)
    coefficients: np.ndarray = np.asarray(np.round(solution, 6), dtype="float64")
    model = _as_model(name, version, coefficients, meaning, area)
    predicted = matrix @ coefficients
    quality = targeting_quality(target[held], predicted[held], weights[held])
    in_sample = targeting_quality(target[~held], predicted[~held], weights[~held])
    model = model.model_copy(
        update={
            "fit": {
                "survey_households": rows.num_rows,
                "train_households": int((~held).sum()),
                "held_out_households": int(held.sum()),
                "as_of": as_of.isoformat(),
                "held_out": quality,
                "train": in_sample,
            }
        }
    )
    return FitReport(model, rows.num_rows, int((~held).sum()), int(held.sum()))


def _as_model(
    name: str,
    version: str,
    coefficients: np.ndarray,
    meaning: list[tuple[str, str | None]],
    area: str | None,
) -> PmtModel:
    numeric: dict[str, float] = {}
    categorical: dict[str, dict[str, float]] = {}
    area_effects: dict[str, float] = {}
    for (feature, level), value in zip(meaning[1:], coefficients[1:], strict=True):
        if level is None:
            numeric[feature] = float(value)
        elif feature in AREA_COLUMNS:
            area_effects[level] = float(value)
        else:
            categorical.setdefault(feature, {})[level] = float(value)
    return PmtModel(
        name=name,
        version=version,
        description="Fitted by `lumbung pmt fit` (weighted least squares on log consumption).",
        intercept=float(coefficients[0]),
        numeric=numeric,
        categorical=categorical,
        area=AreaEffects(level=area, effects=area_effects) if area else None,  # type: ignore[arg-type]
    )
