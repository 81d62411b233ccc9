"""The bank files alone, on a database `delivery_files.py` left: every approved bank batch's
file written again by `write_payment_file`, timed (wall, this process's CPU, its PostgreSQL
backends' CPU) and hashed, so that two checkouts can be compared on the very same batches.

    python benchmarks/delivery_files.py --entitlements 1000000 --items-direct --seed-cache \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/lumbung_filespeed_bench \\
        --workdir /tmp/filespeed/bench --record-batches 0          # makes the batches once
    PYTHONPATH=/old/checkout/src python benchmarks/bank_files_only.py \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/lumbung_filespeed_bench \\
        --workdir /tmp/filespeed/bench --out /tmp/filespeed/old     # the old writer
    python benchmarks/bank_files_only.py … --out /tmp/filespeed/new  # this one

The files of the same batches from the same database must be the same bytes (their SHA-256
are printed; `--compare FOLDER` checks them against another run's). The CPU of the PostgreSQL
backends is read from `/proc` for every backend of the benchmark's database, before and after
each file (this machine runs PostgreSQL; other sessions' databases are not counted).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import time
from datetime import date
from pathlib import Path

import psycopg


def backends_cpu(url: str, database: str, own: set[int]) -> dict[int, float]:
    """CPU seconds of every backend of `database` but `own` (the measuring connection)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    for (pid,) in pids:
        if pid in own:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / tick
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--workdir", type=Path, required=True, help="the run's key and data")
    parser.add_argument("--out", type=Path, required=True, help="folder for the files")
    parser.add_argument("--compare", type=Path, default=None, help="another run's --out")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    os.environ.update(
        {
            "LUMBUNG_DATABASE_URL": args.postgres_url,
            "LUMBUNG_DATA_DIR": str(args.workdir / "data"),
            "LUMBUNG_KEY_FILE": str(args.workdir / "lumbung.key"),
        }
    )
    os.environ.pop("LUMBUNG_ACTOR", None)
    import lumbung
    from lumbung.auth.service import get_user
    from lumbung.db import create_engine, session_scope
    from lumbung.delivery.bank.service import write_payment_file

    print(f"lumbung from {Path(lumbung.__file__).parent}")
    database = args.postgres_url.rpartition("/")[2]
    with psycopg.connect(args.postgres_url) as conn:
        batches = conn.execute(
            "SELECT b.id, b.partner_code, b.count FROM payment_batch b"
            " JOIN partner p ON p.code = b.partner_code"
            " WHERE b.state = 'approved' AND p.channel = 'bank' ORDER BY b.id"
        ).fetchall()
    engine = create_engine(args.postgres_url)
    args.out.mkdir(parents=True, exist_ok=True)
    for run in range(args.repeat):
        total_n = 0
        total_wall = total_py = total_pg = 0.0
        load = os.getloadavg()
        for batch_id, partner, count in batches:
            before = backends_cpu(args.postgres_url, database, set())
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            cpu = time.process_time()
            with session_scope(engine) as session:
                written = write_payment_file(
                    session,
                    actor=get_user(session, username="pusdatin"),
                    batch_id=batch_id,
                    out=args.out,
                    execution_date=date(2027, 1, 4),
                )
            wall = time.perf_counter() - start
            py = time.process_time() - cpu
            done = resource.getrusage(resource.RUSAGE_CHILDREN)
            py += (done.ru_utime - children.ru_utime) + (done.ru_stime - children.ru_stime)
            after = backends_cpu(args.postgres_url, database, set())
            pg = sum(after[p] - before.get(p, 0.0) for p in after)
            digest = hashlib.sha256(Path(written.path).read_bytes()).hexdigest()
            assert digest == written.sha256, (digest, written.sha256)
            total_n += count
            total_wall += wall
            total_py += py
            total_pg += pg
            print(
                f"  {partner:8} {written.format:8} {count:>9,} tx {wall:6.2f} s"
                f" ({count / wall:>9,.0f}/s)  CPU {py:5.2f} + {pg:5.2f} s"
                f" ({count / (py + pg):>9,.0f}/CPU s)  sha256 {digest[:16]}"
                f"  {Path(written.path).name}"
            )
            if args.compare is not None:
                other = args.compare / Path(written.path).name
                same = hashlib.sha256(other.read_bytes()).hexdigest() == digest
                print(f"    same bytes as {other}: {same}")
                if not same:
                    sys.exit(1)
        print(
            f"run {run + 1}: {total_n:,} tx, wall {total_wall:.2f} s ({total_n / total_wall:,.0f}/s),"
            f" CPU Python {total_py:.2f} s + PostgreSQL {total_pg:.2f} s = {total_py + total_pg:.2f} s"
            f" ({total_n / (total_py + total_pg):,.0f} tx per CPU second);"
            f" load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
