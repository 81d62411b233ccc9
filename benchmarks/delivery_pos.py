"""PT Pos benchmark (issue 16): invitation letters per second, and the redemption API.

    python benchmarks/delivery_pos.py letters --letters 20000          # letters only, no database
    python benchmarks/delivery_pos.py redeem --households 30000 --seconds 20   # PostgreSQL
    python benchmarks/delivery_pos.py all                             # both, as in README.md

`letters`: N letters (default 20,000; 1,000,000 takes ~17 minutes at the target, so the run is
extrapolated from N, which it says) of 12 per village (1,000,000 letters over the 83,762
villages) through the very writer `lumbung delivery voucher letters` uses (`letters.render_all`: one
PDF per village, tokens signed, QR codes drawn), first in one process on a tenth of them (the
baseline, same run), then in `--workers` processes on all; it prints letters/s and the ratio.
The database read that feeds it is not in the figure (one indexed query, measured apart).

`redeem`: builds (once, kept as `lumbung_bench_pos_N`; `--rebuild` to start again) a PostgreSQL
registry of N synthetic families with an approved BLT BBM cycle, its pos batch approved and
its vouchers issued; starts `lumbung serve --workers 2`; then
1. 100 concurrent clients (wrk, closed loop, 2 threads) each redeeming distinct vouchers for
   `--seconds`: redemptions/s, latency, non-2xx;
2. the double-payment count: 1,000 requests at once, 100 vouchers each sent 10 times from
   100 concurrent connections (aiohttp): the 200s, the 409s, and in the database the paid
   events and paid attempts of those vouchers (exactly 100 each, or the run fails);
3. `voucher seal`, then `ledger.check_cycle` must hold; and across the whole run the number
   of attempts with more than one `paid` event (0).
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
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from api_load import cpu_of_tree, free_port, lumbung, run, wait_ready  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LABEL = "BBM-BENCH"


# ---- letters ------------------------------------------------------------------------------


def synthetic_jobs(n: int, folder: Path, per_village: int = 12) -> list[Any]:
    from lumbung.delivery.pos.pdf import Letter, Village

    rng = random.Random(7)
    first = ["SITI", "AHMAD", "NUR", "DEWI", "BUDI", "SRI", "AGUS", "RINA", "EKO", "WAHYU"]
    last = ["RAHAYU", "SANTOSO", "HIDAYAT", "LESTARI", "SAPUTRA", "WULANDARI", "PRATAMA"]
    jobs = []
    voucher = 0
    for v in range((n + per_village - 1) // per_village):
        code = f"32.{1 + v // 4000:02d}.{1 + (v // 100) % 40:02d}.{2001 + v % 100:04d}"
        village = Village(
            code,
            f"Desa {v}",
            f"Kecamatan {v // 100}",
            "Kabupaten Contoh",
            "Jawa Barat",
            "Bantuan Langsung Tunai BBM 2022",
            "Tahap I",
            f"Kantor Desa {v}, Jl. Raya No. {v % 90 + 1}",
            date(2026, 12, 14),
            "08.00–15.00 WIB",
            date(2026, 12, 7),
            f"{LABEL}/B1",
        )
        letters = []
        for _ in range(min(per_village, n - voucher)):
            voucher += 1
            letters.append(
                Letter(
                    voucher,
                    "k1",
                    f"3201{rng.randrange(10**11, 10**12)}",
                    600_000,
                    date(2027, 2, 1),
                    f"{rng.choice(first)} {rng.choice(last)}",
                    f"Kp. Sukamaju No. {rng.randrange(1, 200)}",
                    f"{rng.randrange(1, 20):03d}",
                    f"{rng.randrange(1, 9):03d}",
                    rng.random() < 0.08,
                )
            )
        jobs.append((str(folder / f"{code}.pdf"), village, letters))
    return jobs


def bench_letters(n: int, workers: int) -> dict[str, Any]:
    from lumbung.delivery.pos.letters import render_all

    seeds = {"k1": os.urandom(32)}
    folder = Path(tempfile.mkdtemp(prefix="pos-letters-"))
    try:
        base_n = max(n // 10, 500)
        base_jobs = synthetic_jobs(base_n, folder / "one")
        (folder / "one").mkdir()
        start = time.perf_counter()
        baseline = render_all(base_jobs, seeds, 1)
        single = base_n / (time.perf_counter() - start)
        single_cpu = base_n / baseline.cpu_seconds
        jobs = synthetic_jobs(n, folder / "many")
        (folder / "many").mkdir()
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        rendered = render_all(jobs, seeds, workers)
        wall = time.perf_counter() - start
        load_after = os.getloadavg()[0]
        written = sum(count for count, _ in rendered.files.values())
        per_cpu = written / rendered.cpu_seconds
        size = sum(p.stat().st_size for p in (folder / "many").iterdir())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rate = written / wall
    figures = {
        "letters": written,
        "files": len(jobs),
        "workers": workers,
        "seconds": round(wall, 2),
        "letters_per_s": round(rate),
        "single_process_letters_per_s": round(single),
        "single_process_letters": base_n,
        "ratio_to_single": round(rate / single, 2),
        "bytes_per_letter": round(size / written),
        "extrapolated_1m_seconds": round(1_000_000 / rate),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cores": os.cpu_count(),
        # CPU time the writing processes got: what the cores would give without the others
        "letters_per_cpu_second": round(per_cpu),
        "single_process_letters_per_cpu_second": round(single_cpu),
        "cpu_share_of_the_writers": round(rendered.cpu_seconds / wall, 2),
        "capacity_letters_per_s_on_2_idle_cores": round(2 * per_cpu),
    }
    print(
        f"letters: {written:,} in {len(jobs):,} PDFs, {workers} processes: {wall:.1f} s, "
        f"{rate:,.0f} letters/s (one process: {single:,.0f}/s on {base_n:,}; ratio "
        f"{rate / single:.2f}); {size / written:,.0f} bytes a letter; 1,000,000 ≈ "
        f"{1_000_000 / rate / 60:.1f} min (extrapolated); load average {load_before:.1f} → "
        f"{load_after:.1f}"
    )
    print(
        f"  CPU: the writers got {rendered.cpu_seconds / wall:.2f} cores of {os.cpu_count()}; "
        f"{per_cpu:,.0f} letters per CPU-second ({single_cpu:,.0f} in the single process): "
        f"two idle cores would write {2 * per_cpu:,.0f} letters/s"
    )
    return figures


# ---- redemption ---------------------------------------------------------------------------


def env_for(url: str, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LUMBUNG_DATABASE_URL": url,
        "LUMBUNG_DATA_DIR": str(workdir / "data"),
        "LUMBUNG_KEY_FILE": str(workdir / "lumbung.key"),
    }


def build(n: int, url: str, workdir: Path, env: dict[str, str]) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    started = time.perf_counter()
    run(lumbung("db", "upgrade"), env)
    run(lumbung("regions", "load"), env)
    for who, role in (("admin", "admin"), ("pusdatin", "determiner"), ("penyetuju", "determiner")):
        args = ["users", "add", who, "--role", role]
        run(lumbung(*args, *([] if who == "admin" else ["--as", "admin"])), env)
    batch = workdir / "batch"
    run(lumbung("synth", "--households", str(n), "--seed", "5", "--out", str(batch)), env)
    run(lumbung("import", str(batch), "--status", "approved", "--as", "admin", "--json"), env)
    shutil.rmtree(batch, ignore_errors=True)
    run(lumbung("release", "create", "--label", "R", "--decree", "bench", "--as", "pusdatin"), env)
    run(lumbung("pmt", "score", "--release", "R", "--as", "pusdatin"), env)
    run(
        lumbung(
            "cycle",
            "run",
            "--program",
            "BLT-BBM-2022",
            "--release",
            "R",
            "--label",
            LABEL,
            "--as",
            "pusdatin",
        ),
        env,
    )
    run(lumbung("cycle", "approve", LABEL, "--as", "penyetuju"), env)
    script = (
        "import json, sys\n"
        "from lumbung.cli.common import engine\n"
        "from lumbung.db import session_scope\n"
        "from lumbung.auth.service import get_user\n"
        "from lumbung.delivery import batches\n"
        "from lumbung.delivery.pos import vouchers\n"
        "from datetime import date\n"
        "with session_scope(engine()) as s:\n"
        f"    plan = batches.create_batches(s, actor=get_user(s, username='pusdatin'), label='{LABEL}')\n"
        "with session_scope(engine()) as s:\n"
        "    for b in plan.batches:\n"
        "        batches.approve_batch(s, actor=get_user(s, username='penyetuju'), batch_id=b.id)\n"
        "with session_scope(engine()) as s:\n"
        "    out = [vouchers.issue_vouchers(s, actor=get_user(s, username='pusdatin'), batch_id=b.id,"
        " expires_on=date(2030, 1, 1)).as_dict() for b in plan.batches]\n"
        "print(json.dumps(out))\n"
    )
    issued = json.loads(run([sys.executable, "-c", script], env))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(
        f"registry of {n:,} families, {sum(b['issued'] for b in issued):,} vouchers issued, "
        f"built in {time.perf_counter() - started:.0f} s"
    )


def voucher_bodies(env: dict[str, str]) -> list[dict[str, str]]:
    """Every issued voucher as a redemption body (token and NIK), in random order."""
    script = (
        "import json\n"
        "from lumbung.cli.common import engine\n"
        "from lumbung.db import session_scope\n"
        "from lumbung.delivery.pos.models import Voucher\n"
        "from lumbung.delivery.pos.vouchers import token_of\n"
        "with session_scope(engine()) as s:\n"
        "    rows = s.query(Voucher).filter(Voucher.state == 'issued').all()\n"
        "    print(json.dumps([{'token': token_of(v), 'nik': v.nik} for v in rows]))\n"
    )
    bodies: list[dict[str, str]] = json.loads(run([sys.executable, "-c", script], env))
    random.Random(3).shuffle(bodies)
    return bodies


def counter_tokens(env: dict[str, str], count: int) -> list[str]:
    raws = []
    for n in range(count):
        out = run(
            lumbung(
                "delivery",
                "voucher",
                "counter-token",
                "create",
                "--counter",
                f"BENCH-{os.getpid()}-{n}",
                "--name",
                "bench",
                "--as",
                "admin",
                "--json",
            ),
            env,
        )
        raws.append(json.loads(out)["token"])
    return raws


def wrk_redeem(base: str, bodies: list[dict[str, str]], token: str, seconds: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    folder = Path(tempfile.mkdtemp())
    (folder / "bodies.txt").write_text("\n".join(json.dumps(b) for b in bodies) + "\n")
    script = folder / "redeem.lua"
    script.write_text(
        "local threads = {}\nlocal counter = 0\n"
        "function setup(thread)\n  thread:set('tid', counter)\n  counter = counter + 1\n"
        "  table.insert(threads, thread)\nend\n"
        "local bodies = {}\nlocal i = 0\n"
        "function init(args)\n  local n = 0\n"
        f"  for line in io.lines('{folder / 'bodies.txt'}') do\n"
        "    if n % 2 == tid then table.insert(bodies, line) end\n    n = n + 1\n  end\nend\n"
        f'wrk.method = "POST"\nwrk.headers["Authorization"] = "Bearer {token}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n  i = i + 1\n"
        "  return wrk.format(nil, '/api/v1/vouchers/redeem', nil, bodies[((i - 1) % #bodies) + 1])\nend\n"
    )
    args = [
        "wrk",
        "-t",
        "2",
        "-c",
        "100",
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
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(folder, ignore_errors=True)
    if proc.returncode:
        sys.exit(f"wrk failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    out = proc.stdout
    found = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = dict(re.findall(r"\s+(50|90|99)%\s+([\d.]+\w+)", out))
    return {
        "requests": int(found.group(1)) if found else 0,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "latency": latency,
        "client_cpu_share": round(
            (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / wall, 2
        ),
        "raw": out,
    }


async def storm(base: str, bodies: list[dict[str, str]], tokens: list[str]) -> dict[int, int]:
    """1,000 requests at once: each of `bodies` (100 vouchers) 10 times, from 100 connections,
    each request with one of `tokens` (counters)."""
    import aiohttp

    work = [
        (body, tokens[(n + k) % len(tokens)]) for n, body in enumerate(bodies) for k in range(10)
    ]
    random.Random(1).shuffle(work)
    statuses: dict[int, int] = {}
    gate = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: dict[str, str], token: str) -> None:
            await gate.wait()
            async with session.post(
                f"{base}/api/v1/vouchers/redeem",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as answer:
                await answer.read()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1

        tasks = [asyncio.create_task(one(body, token)) for body, token in work]
        await asyncio.sleep(0.1)
        gate.set()
        await asyncio.gather(*tasks)
    return statuses


def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend connected to the benchmark's
    database (the server is shared with other databases: only these count)."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        pids = [
            int(r[0])
            for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
        ]
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def one_client(base: str, bodies: list[dict[str, str]], token: str) -> None:
    """Redemptions one after the other (a quiet server: its CPU per request, no contention)."""
    import urllib.request

    for body in bodies:
        ask = urllib.request.Request(
            f"{base}/api/v1/vouchers/redeem",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(ask, timeout=30) as answer:
            answer.read()


def db_counts(url: str, voucher_ids: list[int] | None = None) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        doubles = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM payment_event WHERE kind = 'paid' "
            "GROUP BY cycle_id, beneficiary_id, attempt HAVING count(*) > 1) d"
        ).fetchone()
        figures = {"attempts_paid_twice": int(doubles[0]) if doubles else -1}
        if voucher_ids is not None:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE v.state = 'redeemed'), "
                "(SELECT count(*) FROM payment_event e JOIN voucher w ON w.cycle_id = e.cycle_id "
                " AND w.beneficiary_id = e.beneficiary_id AND w.attempt = e.attempt "
                " WHERE e.kind = 'paid' AND w.id = ANY(%s)), "
                "(SELECT count(*) FROM payment_item i JOIN voucher w ON w.batch_id = i.batch_id "
                " AND w.beneficiary_id = i.beneficiary_id AND w.attempt = i.attempt "
                " WHERE i.state = 'paid' AND w.id = ANY(%s)) "
                "FROM voucher v WHERE v.id = ANY(%s)",
                (voucher_ids, voucher_ids, voucher_ids),
            ).fetchone()
            assert row is not None
            figures.update(
                vouchers_redeemed=int(row[0]), paid_events=int(row[1]), paid_attempts=int(row[2])
            )
    return figures


def bench_redeem(
    n: int,
    seconds: int,
    rebuild: bool,
    workers: int,
    threads: int | None = None,
    database: str | None = None,
    fresh: bool = False,
) -> dict[str, Any]:
    name = database or f"lumbung_bench_pos_{n}"
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    workdir = Path(tempfile.gettempdir()) / f"lumbung-bench-pos-{name}"
    env = env_for(url, workdir)
    if threads:
        env["LUMBUNG_SERVER_THREADS"] = str(threads)
    built = f"{name}_built" if fresh else name
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        there = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (built,)).fetchone()
    if rebuild or there is None or not (workdir / "lumbung.key").exists():
        build(n, url.replace(name, built), workdir, env_for(url.replace(name, built), workdir))
    if fresh:  # every run on the registry as built: runs compared pairwise start alike
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {built}")
    bodies = voucher_bodies(env)
    storm_bodies, quiet_bodies, load_bodies = bodies[:100], bodies[100:400], bodies[400:]
    if len(storm_bodies) < 100:
        sys.exit("fewer than 100 unredeemed vouchers left: --rebuild")
    from lumbung.delivery.pos.token import decode

    storm_ids = [decode(b["token"])[0].voucher_id for b in storm_bodies]
    tokens = counter_tokens(env, 10)
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
            str(workers),
            "--no-worker",
            "--no-access-log",
        ),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "serve.log").open("w"),
        start_new_session=True,
    )
    figures: dict[str, Any] = {
        "households": n,
        "unredeemed_at_start": len(bodies),
        "server_workers": workers,
        "server_threads": threads or 20,
    }
    try:
        wait_ready(base, 300)  # a loaded 2-core machine takes long to start it
        one_client(base, quiet_bodies[:20], tokens[0])  # connections opened, code warm
        cpu_before = cpu_of_tree(server.pid)
        pg_before = backend_cpu(url)
        start = time.perf_counter()
        one_client(base, quiet_bodies[20:], tokens[0])
        quiet_wall = time.perf_counter() - start
        quiet_n = len(quiet_bodies) - 20
        quiet_server = (cpu_of_tree(server.pid) - cpu_before) / quiet_n * 1000
        quiet_pg = cpu_between(pg_before, backend_cpu(url)) / quiet_n * 1000
        figures["one_client"] = {
            "redemptions": quiet_n,
            "ms_each": round(quiet_wall / quiet_n * 1000, 2),
            "server_cpu_ms_each": round(quiet_server, 2),
            "postgres_cpu_ms_each": round(quiet_pg, 2),
        }
        print(
            f"redeem, one client, {quiet_n} one after the other: {quiet_wall / quiet_n * 1000:.1f} "
            f"ms each; CPU per redemption: server {quiet_server:.2f} ms, PostgreSQL "
            f"{quiet_pg:.2f} ms"
        )
        load_before = os.getloadavg()[0]
        cpu_before = cpu_of_tree(server.pid)
        pg_before = backend_cpu(url)
        start = time.perf_counter()
        loaded = wrk_redeem(base, load_bodies, tokens[0], seconds)
        wall = time.perf_counter() - start
        server_cpu = (cpu_of_tree(server.pid) - cpu_before) / wall
        pg_cpu = cpu_between(pg_before, backend_cpu(url)) / wall
        done = loaded["requests"] or 1
        per_request_ms = (server_cpu + pg_cpu) * wall / done * 1000
        raw = loaded.pop("raw")
        figures["load"] = {
            **loaded,
            "seconds": seconds,
            "clients": 100,
            "server_cpu_share": round(server_cpu, 2),
            "postgres_cpu_share": round(pg_cpu, 2),
            "server_and_postgres_cpu_ms_per_redemption": round(per_request_ms, 2),
            "capacity_on_2_idle_cores_per_s": round(2000 / per_request_ms),
            "load_average_before": load_before,
        }
        print(
            f"redeem, 100 clients, {seconds} s: {loaded['requests_per_s']:,.0f} redemptions/s "
            f"({loaded['requests']:,} requests, non-2xx {loaded['non_2xx']}), latency "
            f"{loaded['latency']}, server CPU {server_cpu:.0%} of a core, wrk "
            f"{loaded['client_cpu_share']:.0%}; load average before {load_before:.1f}"
        )
        print(
            f"  CPU: server {server_cpu:.2f} + PostgreSQL {pg_cpu:.2f} cores = "
            f"{per_request_ms:.2f} ms a redemption: two idle cores would serve "
            f"{2000 / per_request_ms:,.0f}/s"
        )
        if loaded["requests"] > len(load_bodies):
            print(f"  (only {len(load_bodies):,} vouchers: the rest were second scans → 409)")
        print(raw)
        time.sleep(1.5)
        statuses = asyncio.run(storm(base, storm_bodies, tokens))
        counted = db_counts(url, storm_ids)
        figures["double_payment"] = {"statuses": statuses, **counted}
        print(
            f"1,000 concurrent redemptions of 100 vouchers: answers {statuses}; in the database "
            f"{counted['vouchers_redeemed']} vouchers redeemed, {counted['paid_events']} paid "
            f"events, {counted['paid_attempts']} attempts paid"
        )
        ok = (
            statuses.get(200) == 100
            and counted["paid_events"] == 100
            and counted["paid_attempts"] == 100
        )
    finally:
        server.terminate()
        server.wait(30)
    run(lumbung("delivery", "voucher", "seal", "--json"), env)
    check = (
        "import json\n"
        "from lumbung.cli.common import engine\n"
        "from lumbung.db import session_scope\n"
        "from lumbung.auth.service import get_user\n"
        "from lumbung.delivery import ledger\n"
        "with session_scope(engine()) as s:\n"
        f"    c = ledger.check_cycle(s, actor=get_user(s, username='admin'), label='{LABEL}')\n"
        "print(json.dumps({'ok': c.ok, 'problems': c.problems[:5], 'awaiting_seal': c.awaiting_seal,"
        " 'paid': c.states['paid'].entitlements}))\n"
    )
    figures["cycle_check"] = json.loads(run([sys.executable, "-c", check], env))
    figures["attempts_paid_twice"] = db_counts(url)["attempts_paid_twice"]
    print(
        f"cycle check after the run: {figures['cycle_check']}; attempts paid twice in the "
        f"whole run: {figures['attempts_paid_twice']}"
    )
    if not ok or figures["attempts_paid_twice"] or not figures["cycle_check"]["ok"]:
        print("FAILED: a double payment or a broken ledger")
        figures["failed"] = True
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("letters", "redeem", "all"))
    parser.add_argument("--letters", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--households", type=int, default=30_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--server-threads", type=int, help="LUMBUNG_SERVER_THREADS of the server (default 20)."
    )
    parser.add_argument(
        "--database",
        help="The benchmark's PostgreSQL database (default lumbung_bench_pos_N; dropped and "
        "built again with --rebuild or when it is missing).",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="Build the registry once as DATABASE_built and run on a copy of it made anew "
        "(CREATE DATABASE … TEMPLATE): every run starts with all its vouchers unredeemed.",
    )
    parser.add_argument("--json", type=Path, help="Write the figures here too.")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    if args.what in ("letters", "all"):
        figures["letters"] = bench_letters(args.letters, args.workers)
    if args.what in ("redeem", "all"):
        figures["redeem"] = bench_redeem(
            args.households,
            args.seconds,
            args.rebuild,
            args.workers,
            args.server_threads,
            args.database,
            args.fresh,
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str))
    if figures.get("redeem", {}).get("failed"):
        sys.exit(1)


if __name__ == "__main__":
    main()
