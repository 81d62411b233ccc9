"""Where a voucher redemption spends its CPU, without HTTP: the statements it sends and the CPU
of this process and of its PostgreSQL backend per redemption.

    python benchmarks/redeem_pieces.py --built lumbung_bench_pos_30000_built   # after a
        # `delivery_pos.py redeem --fresh` run built that registry (its key file is reused)
    python benchmarks/redeem_pieces.py --built … --profile     # and cProfile's top functions
    PYTHONPATH=/other/checkout/src python benchmarks/redeem_pieces.py --built …   # compare

Copies the registry `--built` (as `delivery_pos.py redeem --fresh` leaves it: vouchers issued,
none redeemed) to `--database` anew, then redeems `--count` vouchers one after the other in
this process exactly as the endpoint's unit of work does (a session, the counter's token,
`redemption.redeem`, commit), after `--warm` first ones not counted. Prints the statements
sent per redemption (SQLAlchemy's cursor executions and the transactions psycopg began and
committed), this process's CPU and its PostgreSQL backend's CPU per redemption. Run it
alternately against two checkouts (`PYTHONPATH`) to compare them on a machine whose speed
drifts.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def backend_seconds(pids: set[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--built", required=True, help="the registry to copy (vouchers issued)")
    parser.add_argument("--database", default="lumbung_redeem_pieces")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="the built registry's folder (its key file); default the one delivery_pos.py uses",
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--warm", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--asgi",
        action="store_true",
        help="also the same through the application (ASGI, in this process: FastAPI, the "
        "thread hop, the JSON; no socket, no uvicorn)",
    )
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    base = args.built.removesuffix("_built")
    workdir = args.workdir or Path(tempfile.gettempdir()) / f"lumbung-bench-pos-{base}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {args.database}")
        conn.execute(f"CREATE DATABASE {args.database} TEMPLATE {args.built}")
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{args.database}"
    os.environ["LUMBUNG_DATABASE_URL"] = url
    os.environ["LUMBUNG_DATA_DIR"] = str(workdir / "data")
    os.environ["LUMBUNG_KEY_FILE"] = str(workdir / "lumbung.key")

    from sqlalchemy import select

    from lumbung.audit.service import set_channel
    from lumbung.auth.service import get_user
    from lumbung.db import create_engine, session_scope
    from lumbung.delivery.pos import counters, redemption
    from lumbung.delivery.pos.models import Voucher
    from lumbung.delivery.pos.vouchers import token_of

    engine = create_engine(url, connections=4)
    with session_scope(engine) as session:
        rows = session.execute(select(Voucher).where(Voucher.state == "issued")).scalars()
        bodies = [(token_of(v), v.nik) for v in rows]
        admin = get_user(session, username="admin")
        raw, _ = counters.issue(
            session, actor=admin, partner_code="POS", counter="PIECES", name="pieces"
        )
    random.Random(args.seed).shuffle(bodies)
    needed = args.warm + args.count
    if len(bodies) < needed * (2 if args.asgi else 1):
        sys.exit(f"only {len(bodies)} vouchers to redeem")

    def unit(token: str, nik: str, trace: Any = None) -> None:
        driver: Any = None
        with session_scope(engine) as session:
            set_channel(session, "api")
            if trace is not None:  # libpq's own record of what went to the server and back
                driver = session.connection().connection.driver_connection
                driver.pgconn.trace(trace.fileno())
                driver.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            counter = counters.check(session, raw)
            done = redemption.redeem(session, counter=counter, token=token, nik=nik)
        if driver is not None:
            driver.pgconn.untrace()
        json.dumps(done.as_dict())

    traced = args.warm // 2
    for token, nik in bodies[: args.warm - traced]:
        unit(token, nik)
    with tempfile.TemporaryFile("w+") as trace:
        for token, nik in bodies[args.warm - traced : args.warm]:
            unit(token, nik, trace)
        trace.seek(0)
        sent: Counter[str] = Counter()
        for line in trace:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "B" and fields[2] == "ReadyForQuery":
                sent["round trips"] += 1
            elif fields[0] == "F" and fields[2] == "Query":
                sent[fields[3].strip().strip('"').split()[0]] += 1
            elif fields[0] == "F" and fields[2] == "Bind":
                sent["statement (extended protocol)"] += 1
    with engine.connect() as pool_conn:
        pids = {
            int(r[0])
            for r in pool_conn.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = %(n)s", {"n": args.database}
            )
        }
    # CPU time of this thread, not wall time: on a loaded machine waiting is most of the wall
    profile = cProfile.Profile(time.thread_time) if args.profile else None
    work = bodies[args.warm : needed]
    pg_before = backend_seconds(pids)
    cpu_before = time.process_time()
    start = time.perf_counter()
    if profile:
        profile.enable()
    for token, nik in work:
        unit(token, nik)
    if profile:
        profile.disable()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    pg = backend_seconds(pids) - pg_before
    n = len(work)
    print(
        f"{n} redemptions one after the other: {wall / n * 1000:.2f} ms each; CPU per "
        f"redemption: this process {cpu / n * 1000:.2f} ms, PostgreSQL {pg / n * 1000:.2f} ms; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "sent per redemption (libpq trace):",
        {k: round(v / traced, 2) for k, v in sorted(sent.items())},
    )
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    if args.asgi:
        asgi(bodies[needed : needed + args.warm + args.count], raw, args.warm)
    engine.dispose()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {args.database}")


def asgi(bodies: list[tuple[str, str]], raw: str, warm: int) -> None:
    """Redemptions one after the other through the application itself (ASGI calls). The
    group seal is held off: its cost per redemption follows the rate (one seal a second per
    process: 250 redemptions each at 500/s, a few here), not the request's path."""
    import asyncio

    from lumbung.app import create_app
    from lumbung.delivery.pos import sealing

    sealing._last_seal = float("inf")

    app = create_app()
    headers = [
        (b"authorization", f"Bearer {raw}".encode()),
        (b"content-type", b"application/json"),
        (b"host", b"127.0.0.1"),
    ]

    async def call(token: str, nik: str) -> int:
        body = json.dumps({"token": token, "nik": nik}).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/vouchers/redeem",
            "raw_path": b"/api/v1/vouchers/redeem",
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
            "state": state,
        }
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)  # type: ignore[arg-type]
        return status

    state: dict[str, Any] = {}

    async def run() -> None:
        async with app.router.lifespan_context(app):
            for token, nik in bodies[:warm]:
                assert await call(token, nik) == 200
            work = bodies[warm:]
            cpu_before = time.process_time()
            start = time.perf_counter()
            for token, nik in work:
                assert await call(token, nik) == 200
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu_before
            print(
                f"through the application (ASGI): {len(work)} redemptions, "
                f"{wall / len(work) * 1000:.2f} ms each; CPU of this process per redemption "
                f"{cpu / len(work) * 1000:.2f} ms"
            )

    asyncio.run(run())


if __name__ == "__main__":
    main()
