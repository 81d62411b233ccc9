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
import resource
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from lumbung.linkage.engine import dedupe
from lumbung.linkage.evaluation import cluster_quality
from lumbung.linkage.records import write_records

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", default="6GB")
    args = parser.parse_args()
    folder = OUT / f"{args.persons}"
    folder.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    generate(con, args.persons)
    records = write_records("base", "registry", folder / "records.parquet", con=con)
    # Record r is person (r - 1) mod N: the originals 1..N, the second registrations N+1…
    ids = con.execute("SELECT record_id FROM base").fetchnumpy()["record_id"]
    truth = {int(rid): (int(rid) - 1) % args.persons for rid in ids}
    con.close()
    prepared = time.perf_counter() - started

    started = time.perf_counter()
    summary = dedupe(
        folder / "records.parquet", folder=folder / "run", threads=args.threads, memory=args.memory
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)  # KiB → GiB
    clusters = pq.read_table(
        folder / "run" / "clusters.parquet", columns=["record_id", "cluster_key"]
    )
    quality = cluster_quality(
        dict(
            zip(
                clusters.column("record_id").to_pylist(),
                clusters.column("cluster_key").to_pylist(),
                strict=True,
            )
        ),
        truth,
    )
    result = {
        "persons": args.persons,
        "records": records,
        "threads": args.threads,
        "prepare_seconds": round(prepared, 1),
        "dedupe_seconds": round(seconds, 1),
        "peak_rss_gib": round(peak, 2),
        **summary.as_dict(),
        **quality.as_dict(),
    }
    print(
        f"{records:,} records ({args.persons:,} persons): generated and prepared in {prepared:.1f} s; "
        f"dedupe (train, score, cluster) {seconds:.1f} s; peak RSS {peak:.2f} GiB; "
        f"{summary.pairs:,} pairs, {summary.clusters:,} clusters; {quality.line()}"
    )
    (folder / "result.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
