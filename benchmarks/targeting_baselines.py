"""Stages of benchmarks/targeting_engine.py that are not `lumbung` commands.

    setup                                   migrate the database, create user `bench`
    release SYNTH_DIR LABEL                 a release straight from a synthetic batch
    pkh engine|sql|pandas RELEASE SCORES OUT [TIMES]   PKH entitlements, one of three ways
                                            (best of TIMES runs, default 1)
    compare FILE...                         whether the PKH results are identical

The PKH rule mirrored by hand here is the shipped PKH.yaml: desil ≤ 3 and at least one
component member; components with the caps of DOMAIN.md; the combination that pays most.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

PKH_SQL_NOTE = (
    "PKH ways: engine = lumbung.cycles (Ibis → DuckDB); sql = hand-written DuckDB SQL; "
    "pandas = hand-written vectorised pandas; all from the same release and scores Parquet."
)
CAPPED = {"pregnant": 2, "early_childhood": 2}
AMOUNTS = {  # per quarter
    "pregnant": 750_000,
    "early_childhood": 750_000,
    "severe_disability": 600_000,
    "elderly": 600_000,
    "school_sma": 500_000,
    "school_smp": 375_000,
    "school_sd": 225_000,
}
ORDER = list(AMOUNTS)  # best first; ties: uncapped before capped is irrelevant here


def setup() -> None:
    from lumbung.auth.roles import Role
    from lumbung.auth.service import create_user
    from lumbung.config import get_settings
    from lumbung.db import create_engine, session_scope
    from lumbung.migrate import upgrade

    engine = create_engine(get_settings().database_url)
    upgrade(engine)
    with session_scope(engine) as session:
        admin = create_user(
            session,
            actor=None,
            username="admin",
            full_name="Admin",
            role=Role.ADMIN,
            region_code=None,
        )
        create_user(
            session,
            actor=admin,
            username="bench",
            full_name="Bench",
            role=Role.DETERMINER,
            region_code=None,
        )


def release(synth: str, label: str) -> None:
    """Write the synthetic batch in the release layout, with manifest and database row."""
    import duckdb

    from lumbung.config import get_settings
    from lumbung.db import create_engine, session_scope, utcnow
    from lumbung.registry import vocab
    from lumbung.releases.export import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS
    from lumbung.releases.hashing import sha256_file
    from lumbung.releases.models import Release
    from lumbung.releases.service import MANIFEST

    settings = get_settings()
    folder = settings.releases_dir / label
    folder.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET temp_directory = '{settings.data_dir / 'tmp'}'")
    # The engine's memory setting (6 GB unless configured), not DuckDB's 80 % of the machine:
    # at 30 M households the join spills instead of taking ~20 GB beside other work.
    con.execute("SET memory_limit = $limit", {"limit": settings.engine_memory})
    typed = {"BOOLEAN": "(c = '1')", "INTEGER": "CAST(c AS INTEGER)", "DOUBLE": "CAST(c AS DOUBLE)"}
    h_select = []
    for column, kind in HOUSEHOLD_COLUMNS.items():
        if column == "id":
            h_select.append("row_number() OVER () AS id")
        elif column == "district_code":
            h_select.append("substr(village_code, 1, 8) AS district_code")
        elif column == "regency_code":
            h_select.append("substr(village_code, 1, 5) AS regency_code")
        elif column == "province_code":
            h_select.append("substr(village_code, 1, 2) AS province_code")
        elif column == "status":
            h_select.append("'approved' AS status")
        elif column == "updated_at":
            h_select.append("now()::TIMESTAMP AS updated_at")
        elif kind in typed:
            h_select.append(
                typed[kind].replace("c", column, 1).replace("(c ", f"({column} ") + f" AS {column}"
            )
        else:
            h_select.append(column)
    con.execute(
        f"CREATE TABLE households AS SELECT {', '.join(h_select)} "
        f"FROM read_csv('{synth}/households.csv', all_varchar = true, header = true)"
    )
    m_select = []
    for column in MEMBER_COLUMNS:
        m_select.append(
            {
                "id": "CAST(m.nik AS BIGINT) AS id",
                "household_id": "h.id AS household_id",
                "kk_number": "m.kk_number",
                "province_code": "h.province_code",
                "name_normalised": "upper(m.name) AS name_normalised",
                "birth_date": "CAST(m.birth_date AS DATE) AS birth_date",
                "pregnant": "(m.pregnant = '1') AS pregnant",
                "status": "'active' AS status",
                "dukcapil_match": "NULL::BOOLEAN AS dukcapil_match",
            }.get(column, f"m.{column}")
        )
    del vocab
    partitioned = (
        "(FORMAT parquet, PARTITION_BY (province_code), COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
    )
    con.execute(
        f"COPY (SELECT * FROM households ORDER BY province_code, id) TO '{folder / 'households'}' {partitioned}"
    )
    # Members stream from the CSV to Parquet (100 M rows at national scale); the NIK, unique
    # in a synthetic batch, serves as the member id.
    con.execute(
        f"COPY (SELECT {', '.join(m_select)} FROM "
        f"read_csv('{synth}/members.csv', all_varchar = true, header = true) m "
        f"JOIN households h USING (kk_number)) TO '{folder / 'members'}' {partitioned}"
    )
    (households,) = con.execute("SELECT count(*) FROM households").fetchall()[0]
    (members,) = con.execute(
        f"SELECT count(*) FROM read_parquet('{folder}/members/*/*.parquet', hive_partitioning = false)"
    ).fetchall()[0]
    files = [
        {
            "path": str(p.relative_to(folder)),
            "rows": 0,
            "bytes": p.stat().st_size,
            "sha256": sha256_file(p),
        }
        for p in sorted(folder.rglob("*.parquet"))
    ]
    created = utcnow()
    manifest = {
        "label": label,
        "decree": "benchmark: written straight from a synthetic batch",
        "created_at": created.isoformat(),
        "created_by": "bench",
        "households": households,
        "members": members,
        "files": files,
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    (folder / MANIFEST).write_bytes(body)
    engine = create_engine(settings.database_url)
    with session_scope(engine) as session:
        session.add(
            Release(
                label=label,
                decree=manifest["decree"],
                created_at=created,
                created_by="bench",
                households=households,
                members=members,
                manifest=manifest,
                manifest_sha256=hashlib.sha256(body).hexdigest(),
            )
        )
    print(json.dumps({"households": households, "members": members}))


def reference_of(release_dir: Path) -> date:
    created = json.loads((release_dir / "manifest.json").read_text())["created_at"]
    return datetime.fromisoformat(created).astimezone(UTC).date()


def pkh_engine(release_dir: Path, scores: Path, out: Path) -> float:
    from lumbung.cycles.service import compute_entitlements
    from lumbung.engine.backend import open_engine
    from lumbung.programs.catalog import load_definition

    definition = load_definition("PKH").definition
    import ibis

    ibis.to_sql(ibis.memtable({"x": [1]}), dialect="duckdb")  # libraries loaded, as for SQL
    start = time.perf_counter()
    with open_engine("duckdb") as batch:
        rows = compute_entitlements(
            batch,
            definition=definition,
            release_dir=release_dir,
            scores_file=scores,
            reference=reference_of(release_dir),
            enrolled={},
        )
        batch.write_parquet(rows.select("household_id", "amount_idr").order_by("household_id"), out)
    return time.perf_counter() - start


def pkh_sql(release_dir: Path, scores: Path, out: Path) -> float:
    import duckdb

    ref = reference_of(release_dir)
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    q = {
        "pregnant": "pregnant",
        "early_childhood": "age <= 6 AND school_level IN ('tidak', 'paud')",
        "school_sd": "school_level = 'sd' AND age BETWEEN 6 AND 21",
        "school_smp": "school_level = 'smp' AND age BETWEEN 6 AND 21",
        "school_sma": "school_level = 'sma' AND age BETWEEN 6 AND 21",
        "severe_disability": "disability_severity = 'berat'",
        "elderly": "age >= 70",
    }
    best = " ".join(f"WHEN {q[c]} THEN '{c}'" for c in ORDER)
    best_amount = " ".join(f"WHEN {q[c]} THEN {AMOUNTS[c]}" for c in ORDER)
    fallback = [c for c in ORDER if c not in CAPPED]
    fb = " ".join(f"WHEN {q[c]} THEN '{c}'" for c in fallback)
    fb_amount = " ".join(f"WHEN {q[c]} THEN {AMOUNTS[c]}" for c in fallback)
    members = f"read_parquet('{release_dir}/members/*/*.parquet', hive_partitioning = false)"
    households = f"read_parquet('{release_dir}/households/*/*.parquet', hive_partitioning = false)"
    con.execute(f"""
    COPY (
    WITH m AS (
      SELECT id AS member_id, household_id, school_level, disability_severity, pregnant,
             {ref.year} - year(birth_date) - CASE WHEN month(birth_date) > {ref.month}
               OR (month(birth_date) = {ref.month} AND day(birth_date) > {ref.day}) THEN 1 ELSE 0 END AS age
      FROM {members}),
    f AS (
      SELECT household_id,
        count(*) FILTER (WHERE pregnant) + count(*) FILTER (WHERE age BETWEEN 0 AND 6)
        + count(*) FILTER (WHERE school_level IN ('sd', 'smp', 'sma'))
        + count(*) FILTER (WHERE disability_severity = 'berat') + count(*) FILTER (WHERE age >= 70) AS n
      FROM m GROUP BY household_id),
    e AS (
      SELECT f.household_id FROM f JOIN {households} h ON h.id = f.household_id
      JOIN read_parquet('{scores}') s ON s.household_id = f.household_id
      WHERE s.decile <= 3 AND f.n > 0),
    b AS (
      SELECT m.member_id, m.household_id,
        CASE {best} END AS best, CASE {best_amount} ELSE 0 END AS best_amount,
        CASE {fb} END AS fallback, CASE {fb_amount} ELSE 0 END AS fallback_amount
      FROM m SEMI JOIN e ON e.household_id = m.household_id),
    p AS (
      SELECT *, row_number() OVER (PARTITION BY household_id, best ORDER BY fallback_amount, member_id) AS place
      FROM b WHERE best_amount > 0),
    c AS (
      SELECT household_id, member_id,
        CASE WHEN best IN ('pregnant', 'early_childhood') AND place > 2 THEN fallback_amount ELSE best_amount END AS amount
      FROM p),
    r AS (
      SELECT *, row_number() OVER (PARTITION BY household_id ORDER BY amount DESC, member_id) AS k
      FROM c WHERE amount > 0)
    SELECT household_id, sum(amount)::BIGINT AS amount_idr FROM r WHERE k <= 4
    GROUP BY household_id ORDER BY household_id
    ) TO '{out}' (FORMAT parquet, COMPRESSION zstd)""")
    return time.perf_counter() - start


def pkh_pandas(release_dir: Path, scores: Path, out: Path) -> float:
    import numpy as np
    import pandas as pd

    ref = reference_of(release_dir)
    start = time.perf_counter()
    m = pd.read_parquet(
        release_dir / "members",
        columns=[
            "id",
            "household_id",
            "birth_date",
            "school_level",
            "disability_severity",
            "pregnant",
        ],
    )
    h = pd.read_parquet(release_dir / "households", columns=["id"])
    s = pd.read_parquet(scores, columns=["household_id", "decile"])
    born = pd.to_datetime(m["birth_date"])
    later = (born.dt.month > ref.month) | ((born.dt.month == ref.month) & (born.dt.day > ref.day))
    m["age"] = ref.year - born.dt.year - later.astype(int)
    school = m["school_level"]
    age = m["age"]
    q = {
        "pregnant": m["pregnant"].astype(bool),
        "early_childhood": (age <= 6) & school.isin(["tidak", "paud"]),
        "school_sd": (school == "sd") & age.between(6, 21),
        "school_smp": (school == "smp") & age.between(6, 21),
        "school_sma": (school == "sma") & age.between(6, 21),
        "severe_disability": m["disability_severity"] == "berat",
        "elderly": age >= 70,
    }
    m["n"] = (
        m["pregnant"].astype(int)
        + age.between(0, 6)
        + school.isin(["sd", "smp", "sma"])
        + (m["disability_severity"] == "berat")
        + (age >= 70)
    )
    n = m.groupby("household_id")["n"].sum()
    eligible = s[(s["decile"] <= 3)].set_index("household_id").index.intersection(n[n > 0].index)
    eligible = eligible.intersection(pd.Index(h["id"]))
    m = m[m["household_id"].isin(eligible)].copy()
    q = {k: v.loc[m.index] for k, v in q.items()}
    m["best_amount"] = np.select([q[c] for c in ORDER], [AMOUNTS[c] for c in ORDER], 0)
    m["best"] = np.select([q[c] for c in ORDER], ORDER, "")
    fallback = [c for c in ORDER if c not in CAPPED]
    m["fallback_amount"] = np.select([q[c] for c in fallback], [AMOUNTS[c] for c in fallback], 0)
    m = m[m["best_amount"] > 0].sort_values(["household_id", "best", "fallback_amount", "id"])
    m["place"] = m.groupby(["household_id", "best"]).cumcount()
    over = m["best"].isin(list(CAPPED)) & (m["place"] >= 2)
    m["amount"] = np.where(over, m["fallback_amount"], m["best_amount"])
    m = m[m["amount"] > 0].sort_values(
        ["household_id", "amount", "id"], ascending=[True, False, True]
    )
    m = m[m.groupby("household_id").cumcount() < 4]
    result = (
        m.groupby("household_id", as_index=False)["amount"]
        .sum()
        .rename(columns={"amount": "amount_idr"})
    )
    result["amount_idr"] = result["amount_idr"].astype("int64")
    result.to_parquet(out, index=False)
    return time.perf_counter() - start


def compare(files: list[str]) -> None:
    import pyarrow.parquet as pq

    tables = [
        pq.read_table(f).select(["household_id", "amount_idr"]).sort_by("household_id")
        for f in files
    ]
    first = tables[0]
    identical = all(t.equals(first) for t in tables[1:])
    total = sum(first.column("amount_idr").to_pylist())
    print(json.dumps({"identical": identical, "rows": first.num_rows, "total": total}))


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "setup":
        setup()
    elif command == "release":
        release(args[0], args[1])
    elif command == "pkh":
        way, release_dir, scores, out, *times = args
        run = {"engine": pkh_engine, "sql": pkh_sql, "pandas": pkh_pandas}[way]
        # Best of several runs in one process: the steady state of each way, without the
        # one-time costs (Python's first use of a library's code, the first DuckDB connection)
        # and with less of the noise of a shared machine. The first run is reported too.
        runs = [
            run(Path(release_dir), Path(scores), Path(out))
            for _ in range(int(times[0]) if times else 1)
        ]
        print(json.dumps({"seconds": min(runs), "runs": runs}))
    elif command == "compare":
        compare(args)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
