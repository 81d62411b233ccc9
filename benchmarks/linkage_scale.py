"""Deduplicating a registry of N persons (default 1,000,000): time, peak memory, quality.

The persons are generated here, in DuckDB SQL, fast and seeded: Indonesian first and last names,
birth dates, sex, districts and villages, families of about four on one KK, NIKs that carry the
district and the birth date (women's day + 40). One person in ten is registered a second time
with noise: a title and another spelling ("H. MUHAMMAD" for "Muhamad"), for some a NIK typo,
for some day and month swapped. The model is trained on the run's own records (unsupervised),
then pairs are scored and clustered; the truth scores the clusters pairwise.

    .venv/bin/python benchmarks/linkage_scale.py --persons 1000000 --threads 2

Peak memory is the process's maximum resident set (DuckDB runs in-process).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from lumbung.linkage.engine import dedupe
from lumbung.linkage.evaluation import Quality
from lumbung.linkage.records import write_records
from lumbung.linkage.settings import load_settings

OUT = Path(__file__).resolve().parent / "out" / "linkage-scale"
FIRST = [
    "muhamad", "muhammad", "siti", "ahmad", "dewi", "sri", "budi", "agus", "nur", "rina", "joko",
    "eko", "dian", "fitri", "rudi", "yusuf", "hasan", "husein", "wayan", "made", "putu", "ketut",
    "andi", "indah", "ratna", "yanti", "bambang", "hendra", "dedi", "asep", "ujang", "neng",
    "iwan", "wahyu", "rizky", "putri", "ayu", "lina", "nining", "suparman", "sutrisno", "slamet",
]  # fmt: skip
LAST = [
    "aminah", "rahmawati", "santoso", "hidayat", "saputra", "lestari", "wijaya", "kurniawan",
    "susanti", "pratama", "nurhaliza", "setiawan", "hasibuan", "siregar", "nasution", "lubis",
    "sihombing", "simanjuntak", "wibowo", "purnomo", "sulistyo", "handayani", "maulana",
    "ramadhan", "firmansyah", "syahputra", "anggraini", "puspitasari", "hakim", "rahman",
]  # fmt: skip


def generate(con: duckdb.DuckDBPyConnection, persons: int) -> None:
    """Table `base` (the records' base columns) and `truth` (record → person)."""
    first = "[" + ", ".join(f"'{n}'" for n in FIRST) + "]"
    last = "[" + ", ".join(f"'{n}'" for n in LAST) + "]"
    con.execute(
        f"""
CREATE TABLE people AS
SELECT i AS person,
    {first}[1 + CAST(hash(i, 'f') % {len(FIRST)} AS INTEGER)] AS given,
    CASE WHEN hash(i, 's') % 10 = 0 THEN NULL
         ELSE {last}[1 + CAST(hash(i, 'l') % {len(LAST)} AS INTEGER)] END AS family,
    DATE '1940-01-01' + CAST(hash(i, 'd') % 29000 AS INTEGER) AS birth_date,
    CASE WHEN hash(i, 'x') % 2 = 0 THEN 'L' ELSE 'P' END AS sex,
    lpad(CAST(320101 + CAST(hash(i // 4, 'k') % 300 AS INTEGER) AS VARCHAR), 6, '0') AS district,
    CAST(hash(i // 4, 'v') % 20 AS INTEGER) AS village,
    i // 4 AS family_id
FROM range({persons}) AS t(i)
"""
    )
    con.execute(
        """
CREATE TABLE clean AS
SELECT person, family_id AS household_id,
    concat_ws(' ', given, family) AS name, birth_date, sex,
    district || lpad(CAST(day(birth_date) + CASE WHEN sex = 'P' THEN 40 ELSE 0 END AS VARCHAR), 2, '0')
        || strftime(birth_date, '%m%y') || lpad(CAST(hash(person, 'n') % 10000 AS VARCHAR), 4, '0') AS nik,
    district || lpad(CAST(family_id % 10000000000 AS VARCHAR), 10, '0') AS kk_number,
    district || lpad(CAST(village AS VARCHAR), 4, '0') AS village_code,
    district AS district_code,
    CAST(1 + hash(family_id, 'rt') % 15 AS VARCHAR) AS rt,
    CAST(1 + hash(family_id, 'rw') % 8 AS VARCHAR) AS rw,
    'Dusun ' || ['Krajan', 'Wetan', 'Kulon', 'Lor', 'Kidul'][1 + CAST(hash(family_id, 'du') % 5 AS INTEGER)] AS address
FROM people
"""
    )
    con.execute(
        f"""
CREATE TABLE base AS
SELECT person + 1 AS record_id, * EXCLUDE (person) FROM clean
UNION ALL
SELECT {persons} + person + 1 AS record_id, household_id,
    CASE hash(person, 'nm') % 3
        WHEN 0 THEN 'H. ' || upper(replace(name, 'muhamad', 'muhammad'))
        WHEN 1 THEN regexp_replace(name, '([aiu])', '\\1\\1')
        ELSE upper(name) || ', S.Pd' END AS name,
    CASE WHEN person % 30 = 0 AND day(birth_date) <= 12
         THEN make_date(year(birth_date), day(birth_date), month(birth_date))
         ELSE birth_date END AS birth_date,
    sex,
    CASE WHEN person % 20 = 0
         THEN substr(nik, 1, 15) || CAST((CAST(substr(nik, 16, 1) AS INTEGER) + 1) % 10 AS VARCHAR)
         ELSE nik END AS nik,
    kk_number, village_code, district_code, rt, rw, address
FROM clean WHERE person % 10 = 0
"""
    )
    con.execute("DROP TABLE people")


def quality(clusters: Path, persons: int) -> Quality:
    """Pairwise quality of a clusters file against the truth (record r is person (r - 1) mod
    N), counted in DuckDB through the contingency of cluster × person (evaluation.py's way)."""
    con = duckdb.connect()
    row = con.execute(
        """
WITH c AS (
    SELECT cluster_key, (record_id - 1) % $2 AS person FROM read_parquet($1)
),
cells AS (SELECT count(*) AS n FROM c GROUP BY cluster_key, person),
found AS (SELECT count(*) AS n FROM c GROUP BY cluster_key),
actual AS (SELECT count(*) AS n FROM c GROUP BY person)
SELECT (SELECT sum(n * (n - 1) // 2) FROM cells),
       (SELECT sum(n * (n - 1) // 2) FROM found),
       (SELECT sum(n * (n - 1) // 2) FROM actual)
""",
        [str(clusters), persons],
    ).fetchone()
    con.close()
    assert row is not None
    tp, found, actual = (int(v or 0) for v in row)
    return Quality(true_positives=tp, false_positives=found - tp, false_negatives=actual - tp)


def differences(left: Path, right: Path) -> dict[str, int]:
    """Two clusters files of the same records compared: records whose cluster differs (a
    cluster named by its least node, so one partition gives one naming), clusters of two or
    more in each."""
    con = duckdb.connect()
    row = con.execute(
        """
SELECT count(*) FILTER (WHERE a.cluster_key IS DISTINCT FROM b.cluster_key),
       count(*) FILTER (WHERE a.record_id IS NULL OR b.record_id IS NULL)
FROM read_parquet($1) AS a FULL JOIN read_parquet($2) AS b
    ON a.record_id = b.record_id AND a.source = b.source
""",
        [str(left), str(right)],
    ).fetchone()
    sizes = [
        con.execute(
            "SELECT count(*) FROM (SELECT cluster_key FROM read_parquet($1) "
            "GROUP BY cluster_key HAVING count(*) > 1)",
            [str(path)],
        ).fetchone()
        for path in (left, right)
    ]
    con.close()
    assert row is not None
    return {
        "records_in_another_cluster": int(row[0]),
        "records_in_one_only": int(row[1]),
        "clusters_left": int(sizes[0][0]) if sizes[0] else 0,
        "clusters_right": int(sizes[1][0]) if sizes[1] else 0,
    }


def blocked_pairs(records: Path, threads: int, sample: float) -> list[dict[str, Any]]:
    """Pairs each blocking rule of the shipped settings makes (its own and those no earlier
    rule made), counted by Splink on a `sample` of the records on each side (1.0: exact)."""
    from splink import DuckDBAPI, block_on
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    settings = load_settings("registry")
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("CREATE TABLE r AS SELECT * FROM read_parquet($1)", [str(records)])
    db_api = DuckDBAPI(con)
    frame = db_api.register("r")
    rows = []
    cumulative = count_comparisons_from_blocking_rules(
        frame,
        blocking_rules=[block_on(*rule) for rule in settings.blocking],
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        record_sample_proportion=sample,
    )
    for rule, counted in zip(settings.blocking, cumulative, strict=True):
        own = count_comparisons_from_blocking_rules(
            frame,
            blocking_rules=block_on(*rule),
            link_type="dedupe_only",
            unique_id_column_name="record_id",
            record_sample_proportion=sample,
        )[0]
        rows.append(
            {
                "rule": "+".join(rule),
                "pairs": int(own["marginal_comparison_count"]),
                "new_pairs": int(counted["marginal_comparison_count"]),
                "cumulative": int(counted["cumulative_comparison_count"]),
            }
        )
    con.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", default="6GB")
    parser.add_argument(
        "--reuse", action="store_true", help="the records written by an earlier run of this N"
    )
    parser.add_argument(
        "--model", type=Path, help="a model.json to score with (no training): a fixed model"
    )
    parser.add_argument("--run", default="run", help="the run's folder under the N's folder")
    parser.add_argument(
        "--compare", type=Path, help="another run's clusters.parquet: records clustered otherwise"
    )
    parser.add_argument(
        "--spark",
        action="store_true",
        help="also score with the run's model on Spark (local mode) and compare the clusters",
    )
    parser.add_argument("--spark-memory", default="3g")
    parser.add_argument(
        "--count-pairs",
        type=float,
        metavar="SAMPLE",
        help="count each blocking rule's pairs on this sample of records (1.0: exact) and stop",
    )
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.WARNING)
    logging.getLogger("lumbung.linkage.engine").setLevel(logging.INFO)  # each stage as it ends
    folder = OUT / f"{args.persons}"
    folder.mkdir(parents=True, exist_ok=True)
    records_path = folder / "records.parquet"

    started = time.perf_counter()
    if args.reuse and records_path.exists():
        records = pq.ParquetFile(records_path).metadata.num_rows
    else:
        con = duckdb.connect()
        con.execute(f"SET threads = {args.threads}")
        generate(con, args.persons)
        records = write_records("base", "registry", records_path, con=con)
        con.close()
    prepared = time.perf_counter() - started

    if args.count_pairs is not None:
        started = time.perf_counter()
        rows = blocked_pairs(records_path, args.threads, args.count_pairs)
        for row in rows:
            print(
                f"{row['rule']:36} {row['pairs']:>14,} pairs  {row['new_pairs']:>14,} new  "
                f"{row['cumulative']:>14,} so far"
            )
        print(
            f"({records:,} records, sample {args.count_pairs}, {time.perf_counter() - started:.0f} s)"
        )
        (folder / f"blocked-pairs-{args.count_pairs}.json").write_text(
            json.dumps(rows, indent=2), encoding="utf-8"
        )
        return

    run = folder / args.run
    load = os.getloadavg()
    started = time.perf_counter()
    cpu = _cpu()
    summary = dedupe(
        records_path, folder=run, threads=args.threads, memory=args.memory, model=args.model
    )
    seconds = time.perf_counter() - started
    cpu_seconds = _cpu() - cpu
    load_after = os.getloadavg()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)  # KiB → GiB
    scored = quality(run / "clusters.parquet", args.persons)
    result: dict[str, Any] = {
        "persons": args.persons,
        "records": records,
        "threads": args.threads,
        "prepare_seconds": round(prepared, 1),
        "dedupe_seconds": round(seconds, 1),
        "dedupe_cpu_seconds": round(cpu_seconds, 1),
        "load_average_before": [round(v, 1) for v in load],
        "load_average_after": [round(v, 1) for v in load_after],
        "peak_rss_gib": round(peak, 2),
        **summary.as_dict(),
        "stages": summary.stages,
        **scored.as_dict(),
    }
    print(
        f"{records:,} records ({args.persons:,} persons): prepared in {prepared:.1f} s; "
        f"dedupe (train, score, cluster) {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU "
        f"(load average {load[0]:.1f} before, {load_after[0]:.1f} after); peak RSS "
        f"{peak:.2f} GiB; {summary.pairs:,} pairs, {summary.clusters:,} clusters; {scored.line()}"
    )
    for stage, (wall, cpu_s) in summary.stages.items():
        print(f"  {stage:40} {wall:8.1f} s wall {cpu_s:8.1f} s CPU")
    if args.compare is not None:
        result["compare"] = {
            "with": str(args.compare),
            **differences(args.compare, run / "clusters.parquet"),
        }
        print(f"against {args.compare}: {result['compare']}")
    if args.spark:
        result["spark"] = on_spark(args, records_path, run, folder)
    (run / "result.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")


def on_spark(args: argparse.Namespace, records: Path, run: Path, folder: Path) -> dict[str, Any]:
    """The DuckDB run's model scored on Spark (local mode), its clusters compared."""
    from lumbung.engine.backend import open_spark

    spark_run = folder / f"{args.run}-spark"
    with open_spark(memory=args.spark_memory) as engine:
        started = time.perf_counter()
        cpu = _cpu()
        summary = dedupe(records, folder=spark_run, model=run / "model.json", spark=engine.session)
        seconds = time.perf_counter() - started
        cpu_seconds = _cpu() - cpu
    compared = differences(run / "clusters.parquet", spark_run / "clusters.parquet")
    duck_pairs = pq.ParquetFile(run / "pairs.parquet").metadata.num_rows
    out = {
        "seconds": round(seconds, 1),
        "driver_cpu_seconds": round(cpu_seconds, 1),
        "pairs": summary.pairs,
        "duckdb_pairs": duck_pairs,
        "clusters": summary.clusters,
        "stages": summary.stages,
        **compared,
    }
    print(
        f"Spark (local mode), the same model: {seconds:.1f} s wall; {summary.pairs:,} pairs "
        f"(DuckDB {duck_pairs:,}); {summary.clusters:,} clusters; {compared}"
    )
    return out


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
