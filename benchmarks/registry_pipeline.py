"""Registry benchmark: synth → import → verify/determine → release, at N households.

    python benchmarks/registry_pipeline.py --households 1000000 --backend both

Each stage runs in a fresh process so that its peak memory (max RSS) is its own. Prints
households/s per stage, the seconds inside the import (read, check, load), peak memory, and the
ratio against the targets of issue 2 (PostgreSQL import ≥ 20,000 hh/s, SQLite ≥ 10,000 hh/s,
release ≥ 100,000 hh/s, peak memory < 2 GiB), all measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGETS = {"import_sqlite": 10_000, "import_postgresql": 20_000, "release": 100_000}
MEMORY_LIMIT_MB = 2048
STAGE = """
import json, sys, time
from pathlib import Path
from lumbung.db import create_engine, session_scope
from lumbung.auth.service import get_user
from lumbung.registry.import_run import ImportRequest
from lumbung.registry.importer import import_batch
marks = []
engine = create_engine(sys.argv[1])
with session_scope(engine) as session:
    t0 = time.perf_counter()
    summary = import_batch(session, actor=get_user(session, username="admin"),
        request=ImportRequest(paths=[Path(sys.argv[2]) / "households.csv",
                                     Path(sys.argv[2]) / "members.csv"],
                              rejects_dir=Path(sys.argv[3])),
        progress=lambda stage: marks.append((stage, time.perf_counter() - t0)))
    marks.append(("commit", time.perf_counter() - t0))
marks.append(("end", time.perf_counter() - t0))
print(json.dumps({"marks": marks, "accepted": summary.households_accepted,
                  "members": summary.members_accepted}))
"""


def run(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a command; return (seconds, its own peak RSS in MB, stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            sys.exit(f"{' '.join(args[2:5])} failed:\n{err.read()[-3000:]}")
        return seconds, usage.ru_maxrss // 1024, out.read()


def lumbung(*words: str) -> list[str]:
    return [sys.executable, "-m", "lumbung", *words]


def prepare_database(backend: str, workdir: Path, postgres_admin_url: str) -> str:
    if backend == "sqlite":
        path = workdir / "bench.db"
        for p in workdir.glob("bench.db*"):
            p.unlink()
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS lumbung_bench")
        conn.execute("CREATE DATABASE lumbung_bench")
    base = postgres_admin_url.rsplit("/", 1)[0]
    return f"{base}/lumbung_bench"


def incremental_size(batch: Path) -> int:
    with (batch / "households.csv").open() as handle:
        return sum(1 for _ in handle) - 1


def bench_backend(
    backend: str, n: int, batch: Path, workdir: Path, pg_url: str, incremental: Path | None
) -> dict[str, Any]:
    url = prepare_database(backend, workdir, pg_url)
    data = workdir / f"data-{backend}"
    shutil.rmtree(data, ignore_errors=True)
    keys = workdir / f"{backend}.key"  # a new registry's own key file, made by `db upgrade`
    keys.unlink(missing_ok=True)
    env = {
        **os.environ,
        "LUMBUNG_DATABASE_URL": url,
        "LUMBUNG_DATA_DIR": str(data),
        "LUMBUNG_KEY_FILE": str(keys),
    }
    for words in (
        ("db", "upgrade"),
        ("regions", "load"),
        ("users", "add", "admin", "--role", "admin"),
        ("users", "add", "v", "--role", "verifier", "--as", "admin"),
        ("users", "add", "d", "--role", "determiner", "--as", "admin"),
    ):
        run(lumbung(*words), env)
    seconds, rss, out = run(
        [sys.executable, "-c", STAGE, url, str(batch), str(data / "rejects")], env
    )
    detail = json.loads(out.strip().splitlines()[-1])
    marks = dict(detail["marks"])
    order = [m[0] for m in detail["marks"]]
    stages = {
        order[i]: round(detail["marks"][i + 1][1] - detail["marks"][i][1], 2)
        for i in range(len(order) - 1)
    }
    result: dict[str, Any] = {
        "backend": backend,
        "import_s": round(seconds, 2),
        "import_hh_per_s": round(n / seconds),
        "import_peak_mb": rss,
        "import_stages_s": stages,
        "accepted": detail["accepted"],
        "members": detail["members"],
        "import_inside_s": round(marks["end"], 2),
    }
    if incremental is not None:
        # A later batch into the populated registry: indexes stay, keys are looked up.
        s_inc, rss_inc, out = run(
            [sys.executable, "-c", STAGE, url, str(incremental), str(data / "rejects")], env
        )
        detail = json.loads(out.strip().splitlines()[-1])
        m = incremental_size(incremental)
        result.update(
            incremental_households=m,
            incremental_s=round(s_inc, 2),
            incremental_hh_per_s=round(m / s_inc),
            incremental_peak_mb=rss_inc,
            incremental_accepted=detail["accepted"],
        )
    s_verify, _, _ = run(lumbung("registry", "verify", "--as", "v"), env)
    s_determine, _, _ = run(lumbung("registry", "determine", "--as", "d"), env)
    result["verify_s"], result["determine_s"] = round(s_verify, 2), round(s_determine, 2)
    s_release, rss_release, out = run(
        lumbung("release", "create", "--label", "bench", "--as", "d", "--json"), env
    )
    result.update(
        release_s=round(s_release, 2),
        # Everything approved by then: the N families and the later batch.
        release_households=(released := json.loads(out)["households"]),
        release_hh_per_s=round(released / s_release),
        release_peak_mb=rss_release,
    )
    s_check, _, _ = run(lumbung("release", "verify", "bench"), env)
    result["release_verify_s"] = round(s_check, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "LUMBUNG_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out"))
    parser.add_argument(
        "--incremental",
        type=int,
        default=100_000,
        help="households of a second batch imported into the loaded registry",
    )
    args = parser.parse_args()
    n = args.households
    args.workdir.mkdir(parents=True, exist_ok=True)
    batch = args.workdir / f"batch-{n}-{args.seed}"
    shutil.rmtree(batch, ignore_errors=True)
    env = dict(os.environ)
    s_synth, rss_synth, _ = run(
        lumbung(
            "synth", "--households", str(n), "--seed", str(args.seed), "--out", str(batch), "--json"
        ),
        env,
    )
    report: dict[str, Any] = {
        "households": n,
        "synth_s": round(s_synth, 2),
        "synth_hh_per_s": round(n / s_synth),
        "synth_peak_mb": rss_synth,
        "backends": [],
    }
    incremental = None
    if args.incremental:
        incremental = args.workdir / f"batch-{args.incremental}-{args.seed + 1}"
        shutil.rmtree(incremental, ignore_errors=True)
        run(
            lumbung(
                "synth",
                "--households",
                str(args.incremental),
                "--seed",
                str(args.seed + 1),
                "--out",
                str(incremental),
                "--json",
            ),
            env,
        )
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        report["backends"].append(
            bench_backend(backend, n, batch, args.workdir, args.postgres_url, incremental)
        )
    print(json.dumps(report, indent=2))
    print()
    print(f"synth     {n / s_synth:>10,.0f} hh/s   peak {rss_synth:>5} MB")
    for b in report["backends"]:
        target = TARGETS[f"import_{b['backend']}"]
        print(
            f"import    {b['import_hh_per_s']:>10,} hh/s   peak {b['import_peak_mb']:>5} MB   "
            f"{b['backend']:<10} ratio to target {b['import_hh_per_s'] / target:.2f}×"
            f"  stages {b['import_stages_s']}"
        )
        if "incremental_hh_per_s" in b:
            print(
                f"import+   {b['incremental_hh_per_s']:>10,} hh/s   peak "
                f"{b['incremental_peak_mb']:>5} MB   {b['backend']:<10} ratio to target "
                f"{b['incremental_hh_per_s'] / target:.2f}×  ({b['incremental_households']:,} "
                "more into the loaded registry)"
            )
        print(
            f"release   {b['release_hh_per_s']:>10,} hh/s   peak {b['release_peak_mb']:>5} MB   "
            f"({b['release_households']:,} families) "
            f"{b['backend']:<10} ratio to target {b['release_hh_per_s'] / TARGETS['release']:.2f}×"
        )
    peak = max(
        [rss_synth]
        + [
            max(b["import_peak_mb"], b["release_peak_mb"], b.get("incremental_peak_mb", 0))
            for b in report["backends"]
        ]
    )
    print(
        f"peak memory {peak} MB (limit {MEMORY_LIMIT_MB} MB): "
        f"{'OK' if peak < MEMORY_LIMIT_MB else 'OVER'}"
    )


if __name__ == "__main__":
    main()
