"""The realisation report's statement on PostgreSQL at scale (not a timed test).

Builds, in a scratch database, the columns the statement reads of `household`,
`entitlement` (partitioned by cycle, as Lumbung's) and `payment_item`, with Lumbung's keys and
indexes, filled with N entitlements of one cycle (a family each), of which 90 % were batched:
80 % paid, 5 % failed (a fifth of those tried again, pending), 2 % returned, 3 % in flight.
Then runs `reports.realisation.statement` (the very SQL the service sends) at every level for
the nation and within a province and a regency, and prints the seconds of each; the same on
SQLite (`--backend`).

    python benchmarks/report_realisation.py --entitlements 2000000
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql, sqlite

from lumbung.reports.realisation import LEVELS, statement

SCHEMA = """
DROP SCHEMA IF EXISTS bench_reports CASCADE;
CREATE SCHEMA bench_reports;
SET search_path = bench_reports;
CREATE TABLE household (
    id bigint PRIMARY KEY,
    village_code varchar(13) NOT NULL,
    district_code varchar(8) COLLATE "C" NOT NULL,
    regency_code varchar(5) COLLATE "C" NOT NULL,
    province_code varchar(2) COLLATE "C" NOT NULL
);
CREATE TABLE entitlement (
    cycle_id bigint NOT NULL,
    beneficiary_id bigint NOT NULL,
    household_id bigint NOT NULL,
    amount_idr bigint NOT NULL,
    PRIMARY KEY (cycle_id, beneficiary_id)
) PARTITION BY LIST (cycle_id);
CREATE TABLE entitlement_p1 PARTITION OF entitlement FOR VALUES IN (1);
CREATE TABLE payment_item (
    batch_id bigint NOT NULL,
    beneficiary_id bigint NOT NULL,
    cycle_id bigint NOT NULL,
    attempt integer NOT NULL,
    state varchar(16) NOT NULL,
    PRIMARY KEY (batch_id, beneficiary_id),
    UNIQUE (cycle_id, beneficiary_id, attempt)
);
"""

FILL = """
INSERT INTO household
SELECT id, district || '.' || (1001 + id %% 40)::text, district, left(district, 5), left(district, 2)
FROM (
    SELECT id,
           lpad((11 + id %% 34)::text, 2, '0') || '.' || lpad((1 + id / 34 %% 15)::text, 2, '0')
           || '.' || lpad((1 + id / 510 %% 14)::text, 2, '0') AS district
    FROM generate_series(1, %(n)s) AS id
) AS families;
INSERT INTO entitlement_p1 SELECT 1, id, id, 600000 FROM generate_series(1, %(n)s) AS id;
INSERT INTO payment_item
SELECT 1 + id %% 10, id, 1, 1,
       CASE WHEN id %% 100 < 80 THEN 'paid' WHEN id %% 100 < 85 THEN 'failed'
            WHEN id %% 100 < 87 THEN 'returned' ELSE 'pending' END
FROM generate_series(1, %(n)s) AS id WHERE id %% 100 < 90;
INSERT INTO payment_item
SELECT 11, id, 1, 2, 'pending' FROM generate_series(1, %(n)s) AS id WHERE id %% 100 = 80;
CREATE INDEX ix_household_regency_id ON household (regency_code, id);
CREATE INDEX ix_household_district_code ON household (district_code);
CREATE INDEX ix_household_village_code ON household (village_code);
CREATE UNIQUE INDEX uq_payment_item_live ON payment_item (cycle_id, beneficiary_id)
    WHERE state = 'pending' OR state = 'paid';
ANALYZE household; ANALYZE entitlement; ANALYZE payment_item;
"""


def sql(area: str | None, level: str, dialect: Any = None) -> str:
    compiled = statement(1, area, level).compile(
        dialect=dialect or postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
    return str(compiled)


SQLITE_FILL = """
CREATE TABLE household (id INTEGER PRIMARY KEY, village_code TEXT, district_code TEXT,
    regency_code TEXT, province_code TEXT);
CREATE TABLE entitlement (cycle_id INTEGER, beneficiary_id INTEGER, household_id INTEGER,
    amount_idr INTEGER, PRIMARY KEY (cycle_id, beneficiary_id));
CREATE TABLE payment_item (batch_id INTEGER, beneficiary_id INTEGER, cycle_id INTEGER,
    attempt INTEGER, state TEXT, PRIMARY KEY (batch_id, beneficiary_id),
    UNIQUE (cycle_id, beneficiary_id, attempt));
WITH RECURSIVE s(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM s WHERE id < :n)
INSERT INTO household
SELECT id, d || '.' || (1001 + id % 40), d, substr(d, 1, 5), substr(d, 1, 2)
FROM (SELECT id, printf('%02d.%02d.%02d', 11 + id % 34, 1 + id / 34 % 15, 1 + id / 510 % 14)
      AS d FROM s);
INSERT INTO entitlement SELECT 1, id, id, 600000 FROM household;
INSERT INTO payment_item
SELECT 1 + id % 10, id, 1, 1,
       CASE WHEN id % 100 < 80 THEN 'paid' WHEN id % 100 < 85 THEN 'failed'
            WHEN id % 100 < 87 THEN 'returned' ELSE 'pending' END
FROM household WHERE id % 100 < 90;
INSERT INTO payment_item SELECT 11, id, 1, 2, 'pending' FROM household WHERE id % 100 = 80;
CREATE INDEX ix_household_regency_id ON household (regency_code, id);
CREATE INDEX ix_household_district_code ON household (district_code);
CREATE INDEX ix_household_village_code ON household (village_code);
ANALYZE
"""


def run_sqlite(entitlements: int, folder: Path) -> None:
    """The same on SQLite, in a file of a temporary folder."""
    path = folder / "report-bench.db"
    with sqlite3.connect(path) as conn:
        started = time.perf_counter()
        for step in SQLITE_FILL.split(";"):
            conn.execute(step, {"n": entitlements} if ":n" in step else {})
        print(
            f"SQLite: filled {entitlements:,} entitlements in {time.perf_counter() - started:.1f} s"
        )
        report(lambda query: conn.execute(query).fetchall(), sqlite.dialect())


def report(run: Callable[[str], list[Any]], dialect: Any = None) -> None:
    print("| area | level | rows | beneficiaries | seconds |\n|---|---|---|---|---|")
    for area in (None, "11", "11.01"):
        for level in LEVELS:
            started = time.perf_counter()
            rows = run(sql(area, level, dialect))
            took = time.perf_counter() - started
            beneficiaries = sum(int(r[1]) for r in rows)
            print(
                f"| {area or 'nation'} | {level} | {len(rows):,} | {beneficiaries:,} | {took:.2f} |"
            )


def fill(conn: psycopg.Connection[tuple[object, ...]], entitlements: int) -> None:
    started = time.perf_counter()
    conn.execute(SCHEMA)
    for step in FILL.split(";"):
        if step.strip():
            conn.execute(step, {"n": entitlements})
    print(f"filled {entitlements:,} entitlements in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entitlements", type=int, default=2_000_000)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="lumbung_bench_reports")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--reuse", action="store_true", help="Query the database a --keep run left, unfilled."
    )
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    args = parser.parse_args()
    if args.backend != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            run_sqlite(args.entitlements, Path(folder))
    if args.backend == "sqlite":
        return
    if not args.reuse:
        with psycopg.connect(args.postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {args.database}")
            admin.execute(f"CREATE DATABASE {args.database}")
    url = args.postgres_url.rsplit("/", 1)[0] + "/" + args.database
    with psycopg.connect(url, autocommit=True) as conn:
        if not args.reuse:
            fill(conn, args.entitlements)
        conn.execute("SET search_path = bench_reports")
        print("PostgreSQL:")
        report(lambda query: conn.execute(query).fetchall())
    if not args.keep:
        with psycopg.connect(args.postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {args.database}")


if __name__ == "__main__":
    main()
