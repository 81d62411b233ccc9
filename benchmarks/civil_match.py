"""Civil registry (Dukcapil) matching at scale: a synthetic registry of N approved families
(`lumbung synth`, `lumbung import --status approved`), an extract made from its members with
noise (deceased, absent, NIK typos found by KK + name + date, names with titles, day/month
swaps), then `lumbung civil import` timed in a process of its own (wall time and peak memory),
and the same file again (idempotence: nothing changes).

    python benchmarks/civil_match.py --households 100000 --backend sqlite
    python benchmarks/civil_match.py --households 100000 --backend postgresql \
        --postgres-url postgresql://postgres@127.0.0.1:5432/postgres --database lumbung_bench_civil
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HEADER = ("nik", "kk_number", "name", "birth_place", "birth_date", "sex", "death_date")
NOISE = {"deceased": 0.01, "absent": 0.01, "nik_typo": 0.005, "title": 0.01, "swap": 0.005}


def run(args: list[str], env: dict[str, str], work: Path) -> tuple[float, int, str]:
    """A `lumbung` command in a process of its own: seconds, its peak RSS (MB), stdout."""
    out_path, err_path = work / "out.txt", work / "err.txt"
    start = time.perf_counter()
    with out_path.open("w") as out, err_path.open("w") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "lumbung", *args], env=env, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    print(
        f"{seconds:8.1f} s  {int(usage.ru_maxrss / 1024):6d} MB  lumbung {args[0]} {args[1] if len(args) > 1 else ''}",
        file=sys.stderr,
        flush=True,
    )
    text = out_path.read_text()
    if status:
        raise SystemExit(f"lumbung {' '.join(args)} failed:\n{text}\n{err_path.read_text()}")
    return seconds, int(usage.ru_maxrss / 1024), text


def _noise(draw: float) -> str:
    """Which noise a row gets for a uniform draw (none: "")."""
    edge = 0.0
    for kind, share in NOISE.items():
        edge += share
        if draw < edge:
            return kind
    return ""


def make_extract(members: Path, target: Path, seed: int) -> dict[str, int]:
    """The civil registry's rows of the members, with noise; what was done, counted."""
    rng = random.Random(seed)
    done = dict.fromkeys(NOISE, 0)
    with members.open(encoding="utf-8") as src, target.open("w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(HEADER)
        for m in csv.DictReader(src):
            row = {
                "nik": m["nik"],
                "kk_number": m["kk_number"],
                "name": m["name"],
                "birth_place": "JAKARTA",
                "birth_date": m["birth_date"],
                "sex": m["sex"],
                "death_date": "",
            }
            kind = _noise(rng.random())
            if kind == "absent":
                done[kind] += 1
                continue
            if kind == "deceased":
                row["death_date"] = "2026-06-01"
            elif kind == "nik_typo":  # Dukcapil holds the right NIK; the registry a typo
                row["nik"] = row["nik"][:-4] + f"{(int(row['nik'][-4:]) + 5000) % 10000:04d}"
            elif kind == "title":
                row["name"] = "H. " + row["name"]
            elif kind == "swap":
                y, mo, d = row["birth_date"].split("-")
                if int(d) <= 12 and d != mo:
                    row["birth_date"] = f"{y}-{d}-{mo}"
                else:
                    kind = ""
            if kind:
                done[kind] += 1
            writer.writerow([row[c] for c in HEADER])
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="lumbung_bench_civil")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    work = options.workdir or Path(tempfile.mkdtemp(prefix="lumbung-civil-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if options.backend == "sqlite":
        url = f"sqlite:///{work / 'lumbung.db'}"
    else:
        import psycopg

        with psycopg.connect(options.postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {options.database}")
            admin.execute(f"CREATE DATABASE {options.database}")
        url = options.postgres_url.rsplit("/", 1)[0] + "/" + options.database
    env.update(
        LUMBUNG_DATABASE_URL=url,
        LUMBUNG_DATA_DIR=str(work / "data"),
        LUMBUNG_KEY_FILE=str(work / "lumbung.key"),
    )
    figures: dict[str, Any] = {"households": options.households, "backend": options.backend}
    try:
        run(["db", "upgrade"], env, work)
        run(["regions", "load"], env, work)
        run(["users", "add", "admin", "--role", "admin"], env, work)
        seconds, _, _ = run(
            [
                "synth",
                "--households",
                str(options.households),
                "--seed",
                "1",
                "--out",
                str(work / "batch"),
                "--region",
                "31",
            ],
            env,
            work,
        )
        seconds, _, _ = run(
            [
                "import",
                str(work / "batch" / "households.csv"),
                str(work / "batch" / "members.csv"),
                "--status",
                "approved",
                "--as",
                "admin",
            ],
            env,
            work,
        )
        figures["registry_import_s"] = round(seconds, 1)
        extract = work / "ekstrak.csv"
        figures["noise"] = make_extract(work / "batch" / "members.csv", extract, seed=2)
        seconds, peak, out = run(
            ["civil", "import", str(extract), "--as", "admin", "--json"], env, work
        )
        summary = json.loads(out)
        figures["civil_import_s"] = round(seconds, 1)
        figures["civil_import_peak_mb"] = peak
        figures["members"] = summary["members"]
        figures["members_per_s"] = round(summary["members"] / seconds)
        figures["outcomes"] = {
            k: summary[k] for k in ("matched", "mismatched", "deceased", "not_found")
        }
        figures["mismatched_fields"] = summary["mismatched_fields"]
        figures["proposals"] = summary["proposals"]
        figures["proposals_refused"] = summary["proposals_refused"]
        seconds, _, out = run(
            ["civil", "import", str(extract), "--as", "admin", "--json"], env, work
        )
        figures["again_s"] = round(seconds, 1)
        figures["again_already_imported"] = json.loads(out)["already_imported"]
        seconds, _, _ = run(["civil", "report", "--as", "admin", "--json"], env, work)
        figures["report_s"] = round(seconds, 1)
    finally:
        if not options.keep and options.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
