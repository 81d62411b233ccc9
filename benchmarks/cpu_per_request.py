"""Server CPU per request, one client at a time: what a change to a hot read saves.

    python benchmarks/cpu_per_request.py --households 1000000
    git archive HEAD~1 src | tar -x -C /tmp/before    # the version to compare with
    python benchmarks/cpu_per_request.py --against /tmp/before/src --only kk,page

On the registry `api_load.py` built (`lumbung_bench_api_N`, with its users `bench-verifier`
and `bench-auditor`: run `api_load.py` once first), it starts `lumbung serve` with one
process, sends each kind of request (the family page signed in as the verifier; a family by
KK, by NIK, and a name search in the busiest regency with the auditor's token) one after
another on one kept-alive connection, and prints per request: the server's CPU (user +
system, from /proc, the process and its children) and the CPU of the PostgreSQL backends of
the bench database (from /proc too), with the wall time. One client and one server process:
no queue, so the figures are the cost of a request. On a machine shared with other work they
still drift (a busy machine makes every instruction slower): with `--against`, a second
server runs the other version and the two take turns round by round, so that a ratio
compares them on the same machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from api_load import (
    cpu_of_tree,
    database_url,
    free_port,
    lumbung,
    run,
    sample,
    wait_ready,
    web_cookie,
)


def backend_pids(url: str, name: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        ]


def cpu_of(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def measure(port: int, paths: list[str], headers: dict[str, str], n: int) -> float:
    """Wall seconds for `n` requests (cycling through `paths`), each answered 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start = time.perf_counter()
    for i in range(n):
        conn.request("GET", paths[i % len(paths)], headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            sys.exit(f"{paths[i % len(paths)]}: {response.status}")
    wall = time.perf_counter() - start
    conn.close()
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000, help="per kind")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "LUMBUNG_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out/api"))
    parser.add_argument(
        "--only", default="", help="comma-separated kinds: page,kk,nik,search (default: all)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=6,
        help="rounds per kind and server (the median and the least are printed: others' work "
        "on a shared machine only adds to a round's figures)",
    )
    parser.add_argument(
        "--against",
        default="",
        help="a copy of another version's src/ (e.g. from `git archive`): its server takes "
        "turns with this one's, round by round, so that both see the same machine",
    )
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    name = f"lumbung_bench_api_{args.households}"
    url = database_url(args.postgres_url, name)
    env = {
        **os.environ,
        "LUMBUNG_DATABASE_URL": url,
        "LUMBUNG_DATA_DIR": str(workdir / "data"),
        "LUMBUNG_KEY_FILE": str(workdir / "lumbung.key"),
    }
    picked = sample(url, 2000, args.seed)
    regency = picked["regency"]
    with psycopg.connect(url) as conn:
        in_regency = [
            r[0]
            for r in conn.execute(
                "SELECT kk_number FROM household WHERE regency_code = %s LIMIT 2000", (regency,)
            )
        ]
    token = json.loads(
        run(
            lumbung(
                "tokens",
                "create",
                *("--user", "bench-auditor", "--name", "cpu", "--expires-days", "1"),
                *("--as", "admin", "--json"),
            ),
            env,
        )
    )["token"]
    servers = [("this", start_server(env, workdir, "this"))]
    if args.against:
        before = {**env, "PYTHONPATH": str(Path(args.against).resolve())}
        servers.append(("before", start_server(before, workdir, "before")))
    auth = {"Authorization": f"Bearer {token}"}
    try:
        for _, (_, port) in servers:
            wait_ready(f"http://127.0.0.1:{port}")
        cookies = {
            label: web_cookie(f"http://127.0.0.1:{port}", "bench-verifier")
            for label, (_, port) in servers
        }
        print(
            f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.requests} "
            "requests per kind and server, the servers taking turns"
        )
        for kind in [k for k in args.only.split(",") if k] or ["page", "kk", "nik", "search"]:
            paths = {
                "page": [f"/keluarga/{kk}" for kk in in_regency],
                "kk": [f"/api/v1/families/{kk}" for kk in picked["kks"]],
                "nik": [f"/api/v1/families/by-nik/{nik}" for nik in picked["niks"]],
                "search": [
                    f"/api/v1/families?name={quote(n)}&region={regency}&limit=20"
                    for n in picked["names"]
                ],
            }[kind]
            figures: dict[str, list[tuple[float, float, float]]] = {}
            for label, (_, port) in servers:  # warm: connections, plans, caches
                measure(port, paths, headers_for(kind, cookies[label], auth), 200)
            pids = backend_pids(args.postgres_url, name)
            for r in range(args.rounds):
                turn = servers if r % 2 == 0 else servers[::-1]
                for label, (process, port) in turn:
                    server0, pg0 = cpu_of_tree(process.pid), cpu_of(pids)
                    headers = headers_for(kind, cookies[label], auth)
                    wall = measure(port, paths, headers, args.requests)
                    figures.setdefault(label, []).append(
                        (
                            (cpu_of_tree(process.pid) - server0) / args.requests * 1000,
                            (cpu_of(pids) - pg0) / args.requests * 1000,
                            wall / args.requests * 1000,
                        )
                    )
            for label, rows in figures.items():
                server_ms = sorted(r[0] for r in rows)
                pg_ms = sorted(r[1] for r in rows)
                print(
                    f"  {kind:<5} {label:<7} server CPU per request: median "
                    f"{statistics.median(server_ms):5.2f} ms, least {server_ms[0]:5.2f} ms; "
                    f"PostgreSQL median {statistics.median(pg_ms):5.2f} ms; wall median "
                    f"{statistics.median(r[2] for r in rows):5.2f} ms",
                    flush=True,
                )
            if len(figures) == 2:
                ratios = [
                    a[0] / b[0] for a, b in zip(figures["this"], figures["before"], strict=True)
                ]
                print(
                    f"  {kind:<5} this/before, server CPU: median {statistics.median(ratios):.2f}"
                )
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        for _, (process, _) in servers:
            os.killpg(process.pid, signal.SIGINT)
        for _, (process, _) in servers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def headers_for(kind: str, cookie: str, auth: dict[str, str]) -> dict[str, str]:
    return {"Cookie": cookie} if kind == "page" else auth


def start_server(
    env: dict[str, str], workdir: Path, label: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        lumbung(
            "serve",
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            "--no-worker",
            "--no-access-log",
        ),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"serve-cpu-{label}.log").open("w"),
        start_new_session=True,
    )
    return process, port


if __name__ == "__main__":
    main()
