"""A survey's households file read once, the same way for `pmt fit` and a simulation's
inclusion and exclusion error.

The survey is a folder in the exchange format whose `households.csv` also carries
`consumption_per_capita` (monthly rupiah) and, optionally, `weight` (expansion factors; 1 when
absent). `outcome_tables` loads the file into DuckDB as `h_raw` (every column as text, with
its file row number, the header being row 1) and `outcome` (`row_no`, `kk_number`,
`consumption_per_capita`, `weight`, typed) and returns the rows that are wrong: consumption or
weight empty, not a number or not above 0, a KK number given twice. `pmt fit` adds the rest
of the household's and members' columns (targeting/fit.py); a simulation needs only these
(simulation/survey.py).
"""

from __future__ import annotations

from pathlib import Path

from lumbung.engine.backend import DuckDBEngine
from lumbung.errors import ValidationFailed

OUTCOME_COLUMNS = ("kk_number", "consumption_per_capita")
Problem = tuple[str, int, str]  # file name, file row (header = 1), column


def households_file(survey: Path) -> Path:
    """`survey`'s households.csv (`survey` a folder, or that file itself)."""
    path = survey / "households.csv" if survey.is_dir() else survey
    if not path.is_file():
        raise ValidationFailed(f"Survei {survey}: berkas households.csv tidak ada.")
    return path


def outcome_tables(batch: DuckDBEngine, path: Path) -> list[Problem]:
    """Load `path` (a households.csv) as `h_raw` and `outcome` (module docstring); the
    problems found, in file order. A missing column is refused at once."""
    try:
        batch.run(
            "CREATE TABLE h_raw AS SELECT row_number() OVER () + 1 AS row_no, * FROM "
            "read_csv($p, header = true, all_varchar = true)",
            {"p": str(path)},
        )
    except Exception as exc:  # DuckDB's own error types: the file is not a CSV it can read
        raise ValidationFailed(f"{path}: tidak terbaca sebagai CSV ({exc}).") from None
    have = {r[0].lower() for r in batch.rows("DESCRIBE h_raw")}
    missing = sorted(set(OUTCOME_COLUMNS) - have)
    if missing:
        raise ValidationFailed(f"{path}: kolom wajib tidak ada: {', '.join(missing)}")
    weight = "TRY_CAST(weight AS DOUBLE)" if "weight" in have else "CAST(1 AS DOUBLE)"
    batch.run(
        f"""CREATE TABLE outcome AS SELECT row_no, kk_number,
        TRY_CAST(consumption_per_capita AS DOUBLE) AS consumption_per_capita,
        {weight} AS weight FROM h_raw"""
    )
    name = path.name
    found = batch.rows(
        """SELECT $f, row_no, 'consumption_per_capita' FROM outcome
             WHERE consumption_per_capita IS NULL OR NOT consumption_per_capita > 0
           UNION ALL SELECT $f, row_no, 'weight' FROM outcome
             WHERE weight IS NULL OR NOT weight > 0
           UNION ALL SELECT $f, row_no, 'kk_number' FROM outcome
             WHERE kk_number IS NULL
           UNION ALL SELECT $f, row_no, 'kk_number' FROM outcome
             QUALIFY count(*) OVER (PARTITION BY kk_number) > 1
           ORDER BY 2, 3""",
        {"f": name},
    )
    return [(str(f), int(r), str(c)) for f, r, c in found]


def problem_words(problems: list[Problem], most: int = 20) -> str:
    """`households.csv baris 6 kolom consumption_per_capita; …` (the first `most`)."""
    shown = "; ".join(f"{f} baris {r} kolom {c}" for f, r, c in problems[:most])
    more = len(problems) - most
    return shown + (f" (dan {more} lagi)" if more > 0 else "")
