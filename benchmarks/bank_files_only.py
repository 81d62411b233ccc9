"""The bank files alone, on a database `delivery_files.py` left: every approved bank batch's
file written again by `write_payment_file`, timed (wall, the writing process's CPU, its
PostgreSQL backend's CPU) and hashed, so that two checkouts can be compared on the very same batches.

    python benchmarks/delivery_files.py --entitlements 1000000 --items-direct --seed-cache \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/lumbung_filespeed_bench \\
        --workdir /tmp/filespeed/bench --record-batches 0          # makes the batches once
    PYTHONPATH=/old/checkout/src python benchmarks/bank_files_only.py \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/lumbung_filespeed_bench \\
        --workdir /tmp/filespeed/bench --out /tmp/filespeed/old     # the old writer
    python benchmarks/bank_files_only.py … --out /tmp/filespeed/new  # this one

The files of the same batches from the same database must be the same bytes (their SHA-256
are printed; `--compare FOLDER` checks them against another run's). The CPU of each file's
PostgreSQL backend (its session's, from `/proc`: PostgreSQL runs on this machine) is read
before and after it. `--jobs 2` writes the batches in two processes at once (each its own
session and backend; the audit chain serialises their records), as two
`lumbung delivery file write` commands would.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from delivery_files import server_cpu as backend_cpu

_ENGINE: Any = None


def write_one(batch_id: int, out: Path) -> tuple[str, str, str, float, float, float]:
    """One batch's file: (path, format, sha256, wall, this process's CPU, its backend's CPU)."""
    global _ENGINE
    from lumbung.auth.service import get_user
    from lumbung.db import create_engine, session_scope
    from lumbung.delivery.bank.service import write_payment_file

    if _ENGINE is None:
        _ENGINE = create_engine(os.environ["LUMBUNG_DATABASE_URL"])
    start = time.perf_counter()
    cpu = time.process_time()
    with session_scope(_ENGINE) as session:
        server = backend_cpu(session)
        written = write_payment_file(
            session,
            actor=get_user(session, username="pusdatin"),
            batch_id=batch_id,
            out=out,
            execution_date=date(2027, 1, 4),
        )
        server = backend_cpu(session) - server
    wall = time.perf_counter() - start
    return (
        written.path,
        written.format,
        written.sha256,
        wall,
        time.process_time() - cpu,
        server,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--workdir", type=Path, required=True, help="the run's key and data")
    parser.add_argument("--out", type=Path, required=True, help="folder for the files")
    parser.add_argument("--compare", type=Path, default=None, help="another run's --out")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--jobs", type=int, default=1, help="write the batches in this many processes at once"
    )
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

    print(f"lumbung from {Path(lumbung.__file__).parent}")
    with psycopg.connect(args.postgres_url) as conn:
        batches = conn.execute(
            "SELECT b.id, b.partner_code, b.count FROM payment_batch b"
            " JOIN partner p ON p.code = b.partner_code"
            " WHERE b.state = 'approved' AND p.channel = 'bank' ORDER BY b.id"
        ).fetchall()
    args.out.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("fork")
    for run in range(args.repeat):
        load = os.getloadavg()
        start = time.perf_counter()
        with context.Pool(args.jobs) as pool:
            results = pool.starmap(write_one, [(b[0], args.out) for b in batches])
        wall = time.perf_counter() - start
        total_n = sum(b[2] for b in batches)
        total_py = total_pg = 0.0
        for (_, partner, count), (path, form, sha, seconds, py, pg) in zip(
            batches, results, strict=True
        ):
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            assert digest == sha, (digest, sha)
            total_py += py
            total_pg += pg
            print(
                f"  {partner:8} {form:8} {count:>9,} tx {seconds:6.2f} s"
                f" ({count / seconds:>9,.0f}/s)  CPU {py:5.2f} + {pg:5.2f} s"
                f" ({count / (py + pg):>9,.0f}/CPU s)  sha256 {digest[:16]}  {Path(path).name}"
            )
            if args.compare is not None:
                other = args.compare / Path(path).name
                same = hashlib.sha256(other.read_bytes()).hexdigest() == digest
                print(f"    same bytes as {other}: {same}")
                if not same:
                    sys.exit(1)
        print(
            f"run {run + 1} ({args.jobs} process(es)): {total_n:,} tx, wall {wall:.2f} s"
            f" ({total_n / wall:,.0f}/s), CPU Python {total_py:.2f} s + PostgreSQL"
            f" {total_pg:.2f} s = {total_py + total_pg:.2f} s"
            f" ({total_n / (total_py + total_pg):,.0f} tx per CPU second);"
            f" load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
