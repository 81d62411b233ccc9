"""HTTP benchmark (issue 15): the family page, NIK/KK lookups and name search under load.

    python benchmarks/api_load.py --households 1000000            # make bench-api
    python benchmarks/api_load.py --households 20000 --seconds 10  # a quick look

On a PostgreSQL registry of N families (`lumbung_bench_api` on the local server; built once
with `lumbung synth` and `lumbung import`, kept between runs: `--rebuild` starts again), it
starts `lumbung serve` and measures, on loopback:

- open loop at a steady 200 requests/s (`loadgen.py`, latency counted from when each request
  was due): the family page (web, signed in), a family by KK and a member by NIK (API), and a
  name search within a regency (API) — targets p99 < 100 ms, < 100 ms and < 200 ms;
- closed loop, 50 concurrent clients (`wrk`, Debian's package): API reads per second — target
  ≥ 500/s.

It prints the figures with the machine's load average, the CPU the load tool itself used and
the CPU the server used, all from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import Figures, open_loop

TARGETS_P99_MS = {
    "family page": 100.0,
    "KK lookup": 100.0,
    "NIK lookup": 100.0,
    "name search": 200.0,
}
TARGET_CLOSED_RPS = 500.0
PASSWORD = "bench-Lumbung-2026!"


def lumbung(*words: str) -> list[str]:
    return [sys.executable, "-m", "lumbung", *words]


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    proc = subprocess.run(args, env=env, capture_output=True, text=True, input=stdin)
    if proc.returncode:
        sys.exit(f"{' '.join(args[2:6])} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def database_url(admin_url: str, name: str) -> str:
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def exists(admin_url: str, name: str) -> bool:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


def build(n: int, seed: int, admin_url: str, name: str, workdir: Path, env: dict[str, str]) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    for path in (workdir / "data", workdir / "lumbung.key"):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    batch = workdir / f"batch-{n}-{seed}"
    shutil.rmtree(batch, ignore_errors=True)
    started = time.perf_counter()
    run(lumbung("db", "upgrade"), env)
    run(lumbung("regions", "load"), env)
    run(lumbung("users", "add", "admin", "--role", "admin"), env)
    run(lumbung("synth", "--households", str(n), "--seed", str(seed), "--out", str(batch)), env)
    run(lumbung("import", str(batch), "--status", "approved", "--as", "admin", "--json"), env)
    shutil.rmtree(batch, ignore_errors=True)
    print(f"registry of {n:,} families built in {time.perf_counter() - started:.0f} s")


def vacuum(url: str) -> None:
    """VACUUM ANALYZE, as autovacuum does on a production server after a load (this machine's
    server runs with autovacuum off): without it an index-only scan still visits the table for
    every row it finds (no visibility map yet)."""
    started = time.perf_counter()
    plain = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"vacuumed in {time.perf_counter() - started:.0f} s")


def sample(url: str, size: int, seed: int) -> dict[str, Any]:
    """KK numbers, NIKs and names to ask for, and the regency with the most families."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        ((regency,),) = conn.execute(
            "SELECT regency_code FROM household GROUP BY regency_code ORDER BY count(*) DESC LIMIT 1"
        ).fetchall()
        ((total,),) = conn.execute("SELECT count(*) FROM household").fetchall()
        kks = [
            r[0]
            for r in conn.execute(
                "SELECT kk_number FROM household TABLESAMPLE SYSTEM (5) LIMIT %s", (size,)
            )
        ]
        niks = [
            r[0]
            for r in conn.execute("SELECT nik FROM member TABLESAMPLE SYSTEM (2) LIMIT %s", (size,))
        ]
        names = [
            r[0]
            for r in conn.execute(
                "SELECT m.name FROM member m JOIN household h ON h.id = m.household_id "
                "WHERE h.regency_code = %s LIMIT %s",
                (regency, size),
            )
        ]
    rng = random.Random(seed)
    rng.shuffle(kks)
    rng.shuffle(niks)
    # A search as an operator types it: the first one or two words of a name.
    words = [" ".join(n.split()[: rng.choice((1, 2))]) for n in names]
    return {"regency": regency, "households": total, "kks": kks, "niks": niks, "names": words}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, seconds: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"the server did not answer within {seconds:.0f} s")


def settle(base: str, token: str, seconds: float = 300) -> None:
    """Wait until the server answers a request that reads the database at once: a run that
    overloaded it leaves requests queued for a connection, which the next run must not
    inherit."""
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        ask = urllib.request.Request(
            f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(ask, timeout=30):
                pass
        except OSError:
            pass
        if time.perf_counter() - start < 0.2:
            return
        time.sleep(1)


def cpu_of_tree(pid: int) -> float:
    """CPU seconds used so far by a process and its children (the server's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def web_available(base: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/masuk", timeout=5):
            return True
    except urllib.error.HTTPError:
        return False


def web_cookie(base: str, username: str) -> str:
    """Sign in on the web form as a user without a second factor; the session cookie. The
    cookies are Secure, which Python's cookie jar keeps off plain http: they are carried here
    by hand, as a browser does for http://127.0.0.1."""
    import http.client
    import urllib.parse

    host, port = base.removeprefix("http://").split(":")
    cookies: dict[str, str] = {}

    def ask(method: str, path: str, body: str | None = None) -> str:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookies[name] = rest.split(";", 1)[0]
        text = response.read().decode()
        if response.status >= 400:
            sys.exit(f"{method} {path}: {response.status}\n{text[:500]}")
        return text

    page = ask("GET", "/masuk")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    form = {"username": username, "password": PASSWORD, "csrf": csrf.group(1) if csrf else ""}
    ask("POST", "/masuk", urllib.parse.urlencode(form))
    if "lumbung_session" not in cookies:
        sys.exit("signing in on the web form gave no session cookie")
    return f"lumbung_session={cookies['lumbung_session']}"


def wrk(base: str, paths: list[str], token: str, seconds: int, clients: int) -> dict[str, Any]:
    """Closed loop: `clients` connections, each sending the next request when answered."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    script = Path(tempfile.mkdtemp()) / "paths.lua"
    listed = ",\n".join(json.dumps(p) for p in paths)
    script.write_text(
        "local paths = {\n" + listed + "\n}\nlocal i = 0\n"
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        "request = function()\n  i = i + 1\n"
        "  return wrk.format(nil, paths[(i % #paths) + 1])\nend\n"
    )
    args = [
        "wrk",
        "-t",
        "2",
        "-c",
        str(clients),
        "-d",
        f"{seconds}s",
        "--latency",
        "-s",
        str(script),
        base,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"wrk failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    out = proc.stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": rps,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "client_cpu_share": (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        / wall,
        "raw": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "LUMBUNG_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out/api"))
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"lumbung_bench_api_{args.households}"
    url = database_url(args.postgres_url, name)
    env = {
        **os.environ,
        "LUMBUNG_DATABASE_URL": url,
        "LUMBUNG_DATA_DIR": str(workdir / "data"),
        "LUMBUNG_KEY_FILE": str(workdir / "lumbung.key"),
    }
    if args.rebuild or not exists(args.postgres_url, name):
        build(args.households, args.seed, args.postgres_url, name, workdir, env)
    else:
        run(lumbung("db", "upgrade"), env)
    vacuum(url)

    picked = sample(url, 5_000, args.seed)
    regency = picked["regency"]
    # A verifier of the busiest regency reads its families: every request is in scope.
    users = run(lumbung("users", "list", "--as", "admin", "--json"), env)
    if '"bench-verifier"' not in users:
        run(
            lumbung(
                "users",
                "add",
                "bench-verifier",
                "--role",
                "verifier",
                "--region",
                regency,
                "--as",
                "admin",
            ),
            env,
        )
        run(lumbung("users", "add", "bench-auditor", "--role", "auditor", "--as", "admin"), env)
    for username in ("bench-verifier", "bench-auditor"):
        run(
            lumbung(
                "users",
                "set-password",
                username,
                "--password-stdin",
                "--no-forced-change",
                "--as",
                "admin",
            ),
            env,
            stdin=PASSWORD + "\n",
        )
    token = json.loads(
        run(
            lumbung(
                "tokens",
                "create",
                "--user",
                "bench-auditor",
                "--name",
                "bench",
                "--expires-days",
                "1",
                "--as",
                "admin",
                "--json",
            ),
            env,
        )
    )["token"]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        lumbung(
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--no-worker",
            # As deployed: behind the TLS proxy, which logs the requests.
            "--no-access-log",
        ),
        env=env,
        stdout=subprocess.DEVNULL,
        # A file, never an unread pipe: uvicorn logs every request, and a full pipe stops it.
        stderr=(workdir / "serve.log").open("w"),
        start_new_session=True,
    )
    try:
        wait_ready(base)
        web = web_available(base)
        cookie = web_cookie(base, "bench-verifier") if web else ""
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            in_regency = [
                r[0]
                for r in conn.execute(
                    "SELECT kk_number FROM household WHERE regency_code = %s LIMIT 5000", (regency,)
                )
            ]
        auth = {"Authorization": f"Bearer {token}"}
        quote = __import__("urllib.parse").parse.quote
        runs: list[tuple[str, list[str], dict[str, str]]] = [
            *(
                [("family page", [f"/keluarga/{kk}" for kk in in_regency], {"Cookie": cookie})]
                if web
                else []
            ),
            ("KK lookup", [f"/api/v1/families/{kk}" for kk in picked["kks"]], auth),
            ("NIK lookup", [f"/api/v1/families/by-nik/{nik}" for nik in picked["niks"]], auth),
            (
                "name search",
                [
                    f"/api/v1/families?name={quote(n)}&region={regency}&limit=20"
                    for n in picked["names"]
                ],
                auth,
            ),
        ]
        load0 = os.getloadavg()
        results: list[tuple[Figures, float]] = []
        for label, paths, headers in runs:
            settle(base, token)
            cpu0, t0 = cpu_of_tree(server.pid), time.perf_counter()
            figures = asyncio.run(
                open_loop(label, base, paths, rate=args.rate, seconds=args.seconds, headers=headers)
            )
            server_share = (cpu_of_tree(server.pid) - cpu0) / (time.perf_counter() - t0)
            results.append((figures, server_share))
            print(f"  {figures.line()}  server CPU {server_share:.0%}", flush=True)
        reads = [f"/api/v1/families/{kk}" for kk in picked["kks"][:2000]] + [
            f"/api/v1/families/by-nik/{nik}" for nik in picked["niks"][:2000]
        ]
        random.Random(args.seed).shuffle(reads)
        settle(base, token)
        cpu0, t0 = cpu_of_tree(server.pid), time.perf_counter()
        closed = wrk(base, reads, token, args.seconds, args.clients)
        closed_server = (cpu_of_tree(server.pid) - cpu0) / (time.perf_counter() - t0)
        load1 = os.getloadavg()
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    print(
        f"\nAPI and web under load: {picked['households']:,} families on PostgreSQL, "
        f"{args.workers} server processes, {os.cpu_count()} cores, loopback"
    )
    print(f"load average before {load0[0]:.2f}, after {load1[0]:.2f}")
    print(
        f"\nopen loop, {args.rate:.0f} requests/s for {args.seconds} s each "
        "(latency from when each request was due):"
    )
    for figures, server_share in results:
        target = TARGETS_P99_MS[figures.name]
        verdict = "OK" if figures.p99_ms < target and figures.errors == 0 else "MISSED"
        print(f"  {figures.line()}  server CPU {server_share:.0%}")
        print(
            f"  {'':<34} target p99 < {target:.0f} ms: {verdict} "
            f"(ratio {target / figures.p99_ms:.2f}×)  statuses {figures.statuses}"
        )
    verdict = (
        "OK"
        if closed["requests_per_s"] >= TARGET_CLOSED_RPS and not closed["non_2xx"]
        else "MISSED"
    )
    print(f"\nclosed loop, {args.clients} clients for {args.seconds} s (wrk), KK and NIK reads:")
    print(
        f"  {closed['requests_per_s']:.0f} requests/s, non-2xx {closed['non_2xx']}, "
        f"wrk CPU {closed['client_cpu_share']:.0%} of a core, server CPU {closed_server:.0%}; "
        f"target ≥ {TARGET_CLOSED_RPS:.0f}/s: {verdict} "
        f"(ratio {closed['requests_per_s'] / TARGET_CLOSED_RPS:.2f}×)"
    )
    print("\n" + closed["raw"])


if __name__ == "__main__":
    main()
