"""Policy simulation benchmark (issue 18): three programs changed, against their baseline.

    nice -n 10 python benchmarks/simulation.py --households 1000000

Builds a release of N synthetic households the way benchmarks/targeting_engine.py does (synth,
the release written straight from the batch, PMT scoring; SQLite for the small database),
then times `lumbung simulate run` of one scenario changing PKH (the elderly component doubled),
SEMBAKO (desil ≤ 4) and PBI-JKN (Papua only), each against its unchanged definition: six
engine runs, the aggregates and the stored row. Prints the time against the issue's target
(1,000,000 households: < 10 s; the ratio is time ÷ target) and the process's peak memory.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from targeting_engine import helper, lumbung, run  # noqa: E402

TARGET_SECONDS = {1_000_000: 10.0, 30_000_000: 120.0}
SCENARIO = """\
title: Benchmark, tiga program diubah
programs:
  - program: PKH
    changes: {amounts: {elderly: 4800000}}
  - program: SEMBAKO
    changes: {decile: 4}
  - program: PBI-JKN
    changes: {regions: ["91", "94"]}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=HERE / "out" / "simulation")
    parser.add_argument("--keep-synth", action="store_true", help="reuse workdir/synth")
    parser.add_argument("--repeat", type=int, default=2, help="simulation runs (best counts)")
    args = parser.parse_args()
    n = args.households
    work = args.workdir / f"{n}"
    synth, data = work / "synth", work / "data"
    if not args.keep_synth:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("bench.db*"):
        old.unlink()
    keys = work / "bench.key"
    keys.unlink(missing_ok=True)
    env = {
        **os.environ,
        "LUMBUNG_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
        "LUMBUNG_DATA_DIR": str(data),
        "LUMBUNG_KEY_FILE": str(keys),
    }

    def stage(name: str, command: list[str]) -> str:
        seconds, peak, output = run(command, env)
        print(f"  {name:<28} {seconds:8.1f} s  {peak:6,} MB", flush=True)
        return output

    print(f"Simulation benchmark: {n:,} households", flush=True)
    if not (args.keep_synth and (synth / "members.csv").exists()):
        stage(
            "synth",
            lumbung(
                "synth",
                "--households",
                str(n),
                "--seed",
                str(args.seed),
                "--out",
                str(synth),
                "--json",
            ),
        )
    stage("db upgrade", lumbung("db", "upgrade"))  # makes the registry's key file
    stage("users", helper("setup"))
    label = f"bench-{n}"
    stage("release (from synth)", helper("release", str(synth), label))
    # The shortcut writes no signature; a release is read only with one (releases/signing.py).
    manifest = data / "releases" / label / "manifest.json"
    sign = (
        "import json, pathlib, sys; from lumbung.releases.signing import SIGNATURE, sign; "
        "p = pathlib.Path(sys.argv[1]); "
        "(p.parent / SIGNATURE).write_text(json.dumps(sign(p.read_bytes()), indent=2))"
    )
    stage("sign the manifest", [sys.executable, "-c", sign, str(manifest)])
    stage("features+PMT+desil", lumbung("pmt", "score", "--release", label, "--as", "bench"))
    scenario = work / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    best = float("inf")
    best_cpu = float("inf")
    peak = 0
    for i in range(args.repeat):
        # Without --json: the whole result as JSON (every regency) is printed by Rich in
        # seconds; the figures are read afterwards with `simulate show`.
        command = lumbung(
            "simulate",
            "run",
            f"SIM-{i}",
            "--release",
            label,
            "--scenario",
            str(scenario),
            "--as",
            "bench",
        )
        with tempfile.TemporaryFile("w+") as out:
            start = time.perf_counter()
            proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status):
                out.seek(0)
                sys.exit(out.read()[-3000:])
        cpu = usage.ru_utime + usage.ru_stime
        used = usage.ru_maxrss // 1024
        print(f"  simulate run #{i + 1:<14} {elapsed:8.1f} s  {used:6,} MB  cpu {cpu:.1f} s")
        best, best_cpu, peak = min(best, elapsed), min(best_cpu, cpu), max(peak, used)
    _, _, output = run(
        lumbung("simulate", "show", f"SIM-{args.repeat - 1}", "--as", "bench", "--json"), env
    )
    result = json.loads(output)
    print()
    programs = result["programs"]
    assert isinstance(programs, dict)
    for code, p in programs.items():
        print(
            f"{code}: {p['scenario']['beneficiaries']:,} beneficiaries "
            f"(baseline {p['baseline']['beneficiaries']:,}), "
            f"Rp{p['scenario']['per_year_idr']:,} a year "
            f"(baseline Rp{p['baseline']['per_year_idr']:,})"
        )
    target = TARGET_SECONDS.get(n)
    load = os.getloadavg()[0]
    line = (
        f"households {n:,}: simulate run (3 programs + baselines) best {best:.1f} s wall, "
        f"{best_cpu:.1f} s CPU, peak {peak:,} MB (load average {load:.1f} on {os.cpu_count()} cores)"
    )
    if target:
        ratio = best / target
        line += f"; target < {target:.0f} s: ratio {ratio:.2f} {'OK' if ratio < 1 else 'MISSED'}"
        line += f" (CPU time ratio {best_cpu / target:.2f})"
    print(line)
    print("(whole process: start-up, engine, six entitlement queries, aggregates, database row)")


if __name__ == "__main__":
    main()
