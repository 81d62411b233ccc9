"""Delivery benchmark (issue 16): N PKH entitlements → payment batches → bank files written,
and the banks' status files read back.

    python benchmarks/delivery_files.py --entitlements 10000000

A dedicated PostgreSQL database (`lumbung_bench_delivery`, dropped and made again) gets the
registry's schema, the regions, users and one small imported batch, through the real commands;
then N families, their heads, an approved PKH cycle of N entitlements and an account per
family are cloned from that batch with SQL (`generate_series`), which takes minutes where the
whole registry pipeline would take hours. The accounts are spread over the five banks of the
seed (BRI, BNI, Mandiri, BSI write pain.001; BTN takes CSV). From there on the real services
run and are timed: `create_batches` (one batch per bank), `approve_batch` (a second person),
`write_payment_file` for every batch; then a baseline in the same run: a hand-written minimal
writer of the same pain.001 XML (psycopg's server-side cursor and f-strings, no checks, no
digest, no character set), over the same rows; and the status readers (pain.002 report and
CSV statement answering the largest file, written by `delivery.bank.simulate`, not timed).
Target (issue 16): ≥ 200,000 transactions/s for entitlements → batches → pain.001 files, and
≥ 200,000 status rows/s for reconciliation, on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text as sql_text

TARGET = 200_000
BANKS = ("BRI", "BNI", "MANDIRI", "BSI", "BTN")  # account n goes to BANKS[n % 5]
LABEL = "PKH-BENCH"
AMOUNT = 750_000  # PKH: a quarter of an annual component (DOMAIN.md)


def sh(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(args[:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def setup(url: str, work: Path) -> dict[str, str]:
    """A fresh database with schema, regions, users and one small approved batch."""
    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = environment(url, work)
    cli = [sys.executable, "-m", "lumbung"]
    sh([*cli, "db", "upgrade"], env)
    sh([*cli, "regions", "load"], env)
    sh([*cli, "users", "add", "admin", "--role", "admin"], env)
    for user in ("pusdatin", "penyetuju"):
        sh([*cli, "users", "add", user, "--role", "determiner", "--as", "admin"], env)
    sh([*cli, "synth", "--households", "20", "--seed", "1", "--out", str(work / "batch")], env)
    batch = work / "batch"
    sh(
        [
            *cli,
            "import",
            str(batch / "households.csv"),
            str(batch / "members.csv"),
            "--status",
            "approved",
            "--as",
            "admin",
        ],
        env,
    )
    os.environ.update(env)
    return env


def seed_names(url: str, work: Path, n: int, given: str | None) -> tuple[str, Path]:
    """The template database and the folder `--seed-cache` keeps (`given`: another run's
    database name, to start from its seed)."""
    name = given or url.rpartition("/")[2]
    return f"{name}_seed{n}", work.parent / f"{name}-seed{n}"


def cached_setup(url: str, work: Path, n: int, given: str | None) -> dict[str, str] | None:
    """`--seed-cache`: the database as `setup` and `seed` left it at this size, copied from
    a template database kept from an earlier run (with the key and data folder of that run);
    None when there is none yet."""
    base, _, name = url.rpartition("/")
    template, kept = seed_names(url, work, n, given)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
        if found.fetchone() is None or not kept.is_dir():
            return None
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(kept, work)
    env = environment(url, work)
    os.environ.update(env)
    return env


def keep_seed(url: str, work: Path, n: int) -> None:
    """Keep the seeded database as a template (and its key and data folder) for `--seed-cache`."""
    base, _, name = url.rpartition("/")
    template, kept = seed_names(url, work, n, None)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{template}"')
        conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{name}"')
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(work, kept)


def environment(url: str, work: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "LUMBUNG_DATABASE_URL": url,
        "LUMBUNG_DATA_DIR": str(work / "data"),
        "LUMBUNG_KEY_FILE": str(work / "lumbung.key"),
    }
    env.pop("LUMBUNG_ACTOR", None)
    return env


def columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    return [
        str(r[0])
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
    ]


def seed(url: str, n: int) -> float:
    """N families (clones of the imported batch's first), their heads, an approved PKH cycle
    of N entitlements and one account each. Foreign keys are not checked while cloning
    (`session_replication_role = replica`): the cycle names no real release or scoring."""
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        h0 = conn.execute(
            "SELECT h.id FROM household h JOIN member m ON m.household_id = h.id"
            " AND m.relationship = 'kepala_keluarga' ORDER BY h.id LIMIT 1"
        ).fetchone()
        assert h0 is not None
        base = 1_000_000  # cloned ids start here, far above the imported ones
        made = {
            "id": f"{base} + g",
            "kk_number": "lpad((9000000000000000 + g)::text, 16, '0')",
        }
        hcols = columns(conn, "household")
        select = ", ".join(made.get(c, f"h.{c}") for c in hcols)
        conn.execute(
            f"INSERT INTO household ({', '.join(hcols)}) SELECT {select}"
            f" FROM household h, generate_series(1, {n}) g WHERE h.id = {h0[0]}"
        )
        made = {
            "id": f"{base} + g",
            "household_id": f"{base} + g",
            "nik": "lpad((3171010101900000 + g)::text, 16, '0')",
            "name": "'PENERIMA ' || g",
            "name_normalised": "'PENERIMA ' || g",
        }
        mcols = columns(conn, "member")
        select = ", ".join(made.get(c, f"m.{c}") for c in mcols)
        conn.execute(
            f"INSERT INTO member ({', '.join(mcols)}) SELECT {select}"
            f" FROM member m, generate_series(1, {n}) g WHERE m.household_id = {h0[0]}"
            " AND m.relationship = 'kepala_keluarga'"
        )
        cycle = conn.execute(
            "INSERT INTO cycle (label, program_code, definition, definition_sha256, release_id,"
            " scoring_id, reference_date, engine, state, beneficiaries, total_idr, summary,"
            " created_at, created_by, approved_at, approved_by)"
            " VALUES (%s, 'PKH', '{\"channel\": \"bank\"}', repeat('0', 64), 0, 0,"
            " '2027-01-01', 'duckdb', 'approved', %s, %s, '{}', now(), 'pusdatin', now(),"
            " 'penyetuju') RETURNING id",
            (LABEL, n, n * AMOUNT),
        ).fetchone()
        assert cycle is not None
        cid = int(cycle[0])
        conn.execute(
            f"CREATE TABLE entitlement_p{cid} PARTITION OF entitlement FOR VALUES IN ({cid})"
        )
        conn.execute(
            "INSERT INTO entitlement (cycle_id, beneficiary_id, household_id, member_id,"
            " kk_number, nik, regency_code, amount_idr, breakdown, channel, state)"
            f" SELECT {cid}, h.id, h.id, NULL, h.kk_number, NULL, h.regency_code, {AMOUNT},"
            f" NULL, 'bank', 'entitled' FROM household h WHERE h.id > {base}"
        )
        banks = "ARRAY[" + ", ".join(f"'{b}'" for b in BANKS) + "]"
        conn.execute(
            "INSERT INTO payee_account (household_id, partner_code, account_number,"
            " card_number, holder_nik, state, opened_at, source)"
            f" SELECT h.id, ({banks})[1 + h.id % {len(BANKS)}], lpad(h.id::text, 15, '0'),"
            " NULL, m.nik, 'active', now(), 'bench' FROM household h"
            " JOIN member m ON m.household_id = h.id AND m.relationship = 'kepala_keluarga'"
            f" WHERE h.id > {base}"
        )
        for table in ("household", "member", f"entitlement_p{cid}", "payee_account"):
            conn.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - start


SLOW: dict[str, list[float]] = {}  # statement (first 150 characters) → [seconds, count]


def services() -> tuple[Any, Any]:
    from sqlalchemy import event

    from lumbung.auth.service import get_user
    from lumbung.db import create_engine

    engine = create_engine(os.environ["LUMBUNG_DATABASE_URL"])

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("started", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _end(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seconds = time.perf_counter() - conn.info["started"].pop()
        entry = SLOW.setdefault(" ".join(statement.split())[:150], [0.0, 0])
        entry[0] += seconds
        entry[1] += 1

    return engine, get_user


def server_cpu(session: Any) -> float:
    """CPU seconds the session's PostgreSQL backend has used (same machine: /proc)."""
    from sqlalchemy import text

    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_slow(title: str, limit: int = 6) -> None:
    print(f"  slowest statements ({title}):")
    for statement, (seconds, count) in sorted(SLOW.items(), key=lambda kv: -kv[1][0])[:limit]:
        print(f"    {seconds:8.1f} s  x{count:<4} {statement}")
    SLOW.clear()


@dataclass(frozen=True)
class Seeded:
    id: int
    partner: str
    count: int


def direct_batches(url: str) -> tuple[list[Any], float]:
    """`--items-direct`: one approved batch per bank made with SQL (the items as
    `create_batches` makes them, no ledger events), each frozen with `batch_digest`: file
    writing measured at sizes whose batch creation would take too long here."""
    from lumbung.db import session_scope
    from lumbung.delivery.batches import batch_digest

    start = time.perf_counter()
    made = []
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT id FROM cycle WHERE label = %s", (LABEL,)).fetchone()
        assert row is not None
        cid = int(row[0])
        for number, bank in enumerate(sorted(BANKS), start=1):
            batch = conn.execute(
                "INSERT INTO payment_batch (cycle_id, number, channel, partner_code, count,"
                " total_idr, sha256, state, created_at, created_by, approved_at, approved_by)"
                " VALUES (%s, %s, 'bank', %s, 0, 0, '', 'approved', now(), 'pusdatin', now(),"
                " 'penyetuju') RETURNING id",
                (cid, number, bank),
            ).fetchone()
            assert batch is not None
            conn.execute(
                "INSERT INTO payment_item (batch_id, beneficiary_id, cycle_id, attempt,"
                " household_id, kk_number, nik, regency_code, amount_idr, account_id, state,"
                " live) SELECT %s, e.beneficiary_id, e.cycle_id, 1, e.household_id,"
                " e.kk_number, e.nik, e.regency_code, e.amount_idr, a.id, 'pending', true"
                " FROM entitlement e"
                " JOIN payee_account a ON a.household_id = e.household_id"
                " AND a.state = 'active' AND a.partner_code = %s WHERE e.cycle_id = %s",
                (batch[0], bank, cid),
            )
            made.append((int(batch[0]), bank))
        conn.execute("VACUUM ANALYZE payment_item")
    engine, _ = services()
    seeded = []
    with session_scope(engine) as session:
        for batch_id, bank in made:
            count, total, sha = batch_digest(session, batch_id)
            session.execute(
                sql_text(
                    "UPDATE payment_batch SET count = :c, total_idr = :t, sha256 = :s WHERE id = :i"
                ),
                {"c": count, "t": total, "s": sha, "i": batch_id},
            )
            seeded.append(Seeded(batch_id, bank, count))
    return seeded, time.perf_counter() - start


def make_batches() -> tuple[list[Any], float, float, tuple[float, float]]:
    from lumbung.db import session_scope
    from lumbung.delivery import batches

    engine, get_user = services()
    start = time.perf_counter()
    cpu = time.process_time()
    with session_scope(engine) as session:
        server = server_cpu(session)
        plan = batches.create_batches(
            session, actor=get_user(session, username="pusdatin"), label=LABEL
        )
        server = server_cpu(session) - server
    created = time.perf_counter() - start
    cpu = time.process_time() - cpu
    print(f"create_batches CPU: Python {cpu:.1f} s, PostgreSQL backend {server:.1f} s")
    print_slow("create_batches")
    start = time.perf_counter()
    approved = []
    for b in plan.batches:
        with session_scope(engine) as session:
            approved.append(
                batches.approve_batch(
                    session, actor=get_user(session, username="penyetuju"), batch_id=b.id
                )
            )
    return approved, created, time.perf_counter() - start, (cpu, server)


def write_files(rows: list[Any], out: Path) -> list[tuple[Any, float, float, float]]:
    from lumbung.db import session_scope
    from lumbung.delivery.bank.service import write_payment_file

    engine, get_user = services()
    written = []
    for batch in rows:
        start = time.perf_counter()
        cpu = time.process_time()
        with session_scope(engine) as session:
            server = server_cpu(session)
            result = write_payment_file(
                session,
                actor=get_user(session, username="pusdatin"),
                batch_id=batch.id,
                out=out,
                execution_date=date(2027, 1, 4),
            )
            server = server_cpu(session) - server
        written.append((result, time.perf_counter() - start, time.process_time() - cpu, server))
    return written


BASELINE_QUERY = """
SELECT i.cycle_id, i.beneficiary_id, i.attempt, i.amount_idr, a.account_number,
       COALESCE(h.name, hd.name)
FROM payment_item i
LEFT JOIN payee_account a ON a.id = i.account_id
LEFT JOIN member h ON h.household_id = i.household_id AND h.nik = a.holder_nik
     AND h.status = 'active'
LEFT JOIN member hd ON hd.household_id = i.household_id
     AND hd.relationship = 'kepala_keluarga' AND hd.status = 'active'
WHERE i.batch_id = %s ORDER BY i.beneficiary_id
"""


def baseline(url: str, batch: Any, bic: str, out: Path) -> float:
    """The same XML from the same rows, as plainly as Python writes it: no checks, no digest,
    no character set, no escaping."""
    start = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor(name="baseline") as cur, out.open("wb") as f:
        cur.itersize = 20_000
        cur.execute(BASELINE_QUERY, (batch.id,))
        f.write(
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:'
            b'tech:xsd:pain.001.001.09">\n<CstmrCdtTrfInitn><GrpHdr>...</GrpHdr><PmtInf>\n'
        )
        while rows := cur.fetchmany(20_000):
            f.write(
                "".join(
                    f"<CdtTrfTxInf><PmtId><InstrId>{c}-{b}-{a}</InstrId><EndToEndId>{c}-{b}"
                    f'</EndToEndId></PmtId><Amt><InstdAmt Ccy="IDR">{amt}</InstdAmt></Amt>'
                    f"<CdtrAgt><FinInstnId><BICFI>{bic}</BICFI></FinInstnId></CdtrAgt><Cdtr>"
                    f"<Nm>{name}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>{acct}</Id></Othr></Id>"
                    "</CdtrAcct><Purp><Cd>SSBE</Cd></Purp><RmtInf><Ustrd>BANSOS</Ustrd>"
                    "</RmtInf></CdtTrfTxInf>\n"
                    for c, b, a, amt, acct, name in rows
                ).encode()
            )
        f.write(b"</PmtInf></CstmrCdtTrfInitn></Document>\n")
    return time.perf_counter() - start


def read_status(path: Path) -> tuple[int, int, float, float]:
    from lumbung.delivery.bank.status import read_status_file

    start = time.perf_counter()
    cpu = time.process_time()
    read = read_status_file(path)
    n = sum(1 for _ in read.rows())
    return n, len(read.problems), time.perf_counter() - start, time.process_time() - cpu


def cpu_rate(count: int, python: float, server: float) -> str:
    both = python + server
    return (
        f"CPU {python:6.1f} s + {server:6.1f} s = {both:7.1f} s {rate(count, both)}"
        f" per CPU second (target {TARGET:,}/s: {count / both / TARGET:.2f}x)"
        if both
        else "-"
    )


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>11,.0f}/s" if seconds else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entitlements", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres-url", default="postgresql://postgres@127.0.0.1:5432/lumbung_bench_delivery"
    )
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out/delivery"))
    parser.add_argument("--keep-files", action="store_true", help="keep the files written")
    parser.add_argument(
        "--items-direct",
        action="store_true",
        help="make the approved batches with SQL instead of create_batches/approve_batch "
        "(file writing and status reading at sizes whose batch creation takes too long)",
    )
    parser.add_argument(
        "--seed-cache",
        action="store_true",
        help="keep the seeded database as a template and start from it when it exists "
        "(setup and seed are not what is measured)",
    )
    parser.add_argument(
        "--seed-from",
        default=None,
        help="with --seed-cache: start from the seed another run's database (this name) kept",
    )
    parser.add_argument(
        "--record-batches",
        type=int,
        default=None,
        help="record the statements of the first K batches only (default: every batch)",
    )
    parser.add_argument(
        "--seed-only", action="store_true", help="stop after the seed (with --seed-cache: keep it)"
    )
    parser.add_argument("--check", action="store_true", help="run `cycle check` at the end (timed)")
    args = parser.parse_args()
    if args.record_batches is not None and args.record_batches < 1:
        parser.error("--record-batches: at least 1 (the reconciliation figures need a statement)")
    # Every module the run uses, loaded now: a long run reads no code changed under it.
    import lumbung.delivery.bank.service
    import lumbung.delivery.bank.simulate
    import lumbung.delivery.bank.status
    import lumbung.delivery.batches
    import lumbung.delivery.ledger
    import lumbung.delivery.statuses  # noqa: F401

    n = args.entitlements
    work = args.workdir.resolve()
    print(f"Delivery benchmark: {n:,} PKH entitlements, PostgreSQL {args.postgres_url}")
    t = time.perf_counter()
    if args.seed_cache and (env := cached_setup(args.postgres_url, work, n, args.seed_from)):
        # a seed kept by an older schema is brought to this code's (a no-op when it is)
        sh([sys.executable, "-m", "lumbung", "db", "upgrade"], env)
        print(
            f"setup and seed copied from the template kept by an earlier run (--seed-cache),"
            f" its schema upgraded: {time.perf_counter() - t:.1f} s"
        )
    else:
        setup(args.postgres_url, work)
        print(f"setup (schema, regions, users, one small batch): {time.perf_counter() - t:.1f} s")
        print(
            f"seed (clone {n:,} families, heads, entitlements, accounts):"
            f" {seed(args.postgres_url, n):.1f} s"
        )
        if args.seed_cache:
            t = time.perf_counter()
            keep_seed(args.postgres_url, work, n)
            print(f"  kept as a template for --seed-cache: {time.perf_counter() - t:.1f} s")
    if args.seed_only:
        return
    files = work / "files"
    files.mkdir()

    if args.items_direct:
        approved, seeded = direct_batches(args.postgres_url)
        created = approving = 0.0
        made_cpu = (0.0, 0.0)
        print(
            f"\nbatches made with SQL (--items-direct; batch creation NOT measured): {seeded:.1f} s"
        )
        print(", ".join(f"{b.partner} {b.count:,}" for b in approved))
    else:
        approved, created, approving, made_cpu = make_batches()
        print(
            f"\nbatches: {len(approved)}: "
            + ", ".join(f"{b.partner} {b.count:,}" for b in approved)
        )
        print(f"create_batches  {created:8.1f} s {rate(n, created)}")
        print(f"approve (all)   {approving:8.1f} s {rate(n, approving)}")
        print_slow("approve_batch")

    written = write_files(approved, files)
    print_slow("write_payment_file", limit=3)
    xml = [w for w in written if w[0].format == "pain.001"]
    xml_n = sum(w.count for w, *_ in xml)
    xml_s = sum(s for _, s, _, _ in xml)
    print(
        "\nfiles written (write_payment_file, one after another; CPU: this process, the backend):"
    )
    for w, s, cpu, server in written:
        print(
            f"  {w.partner:8} {w.format:8} {w.count:>11,} tx {w.bytes / 1e9:6.2f} GB"
            f" {s:7.1f} s {rate(w.count, s)}  CPU {cpu:6.1f} s + {server:6.1f} s"
            f" → {rate(w.count, cpu)} per Python CPU second"
        )
    all_n = sum(w.count for w, *_ in written)
    all_s = sum(s for _, s, _, _ in written)
    all_cpu = sum(c for _, _, c, _ in written)
    all_server = sum(c for *_, c in written)
    print(f"  pain.001 files  {xml_n:>11,} tx {xml_s:7.1f} s {rate(xml_n, xml_s)}")
    print(
        f"  all files       {all_n:>11,} tx {all_s:7.1f} s {rate(all_n, all_s)}"
        f"  CPU {all_cpu:.1f} s Python + {all_server:.1f} s PostgreSQL"
    )

    largest = max((w for w, *_ in xml), key=lambda w: w.count)
    batch = next(b for b in approved if b.id == largest.batch_id)
    cpu = time.process_time()
    base_s = baseline(args.postgres_url, batch, "BRINIDJA", files / "baseline.xml")
    base_cpu = time.process_time() - cpu
    ours, ours_cpu = next((s, c) for w, s, c, _ in written if w.batch_id == largest.batch_id)
    print(
        f"\nbaseline, minimal f-string writer, batch {batch.id} ({largest.count:,} tx):"
        f" {base_s:.1f} s {rate(largest.count, base_s)}, Python CPU {base_cpu:.1f} s;"
        f" ours {ours:.1f} s {rate(largest.count, ours)}, Python CPU {ours_cpu:.1f} s"
        f" ({ours / base_s:.2f}x the baseline's time, {ours_cpu / base_cpu:.2f}x its CPU)"
    )
    together = created + approving + all_s
    if args.items_direct:
        together = all_s  # batch creation was not measured
    print(
        f"\nentitlements → batches → files: {n:,} entitlements ({xml_n:,} in pain.001);"
        f" batches {created + approving:.1f} s + files {all_s:.1f} s"
        f" = {together:.1f} s → {rate(n, together)} end to end (target {TARGET:,}/s:"
        f" {n / together / TARGET:.2f}x); files alone {rate(all_n, all_s)}"
        f" ({all_n / all_s / TARGET:.2f}x)"
    )

    from lumbung.delivery.bank import simulate

    print("\nstatus files answering the largest pain.001 (generation not timed):")
    report = files / "status.xml"
    statement = files / "statement.csv"
    t = time.perf_counter()
    simulate.write_status_report(
        report,
        simulate.answers(Path(largest.path), fail_every=50),
        original_message_id=largest.message_id,
        created=datetime(2027, 1, 5, 9, 0),
    )
    simulate.write_statement(
        statement,
        simulate.answers(Path(largest.path), fail_every=50),
        value_date=date(2027, 1, 5),
    )
    print(f"  (written in {time.perf_counter() - t:.1f} s)")
    for path in (report, statement):
        rows, problems, s, cpu = read_status(path)
        print(
            f"  read {path.name:14} {rows:>11,} rows, {problems} problems, {s:6.1f} s"
            f" {rate(rows, s)} (target {TARGET:,}/s: {rows / s / TARGET:.2f}x),"
            f" CPU {cpu:.1f} s ({rate(rows, cpu)} per CPU second)"
        )
    # the largest file's statement first: its pain.002 is imported over it afterwards
    answered = sorted(written, key=lambda w: w[0].batch_id != largest.batch_id)
    recorded = record_statuses(answered[: args.record_batches], files, report, largest.partner)
    checked = check(n) if args.check else None

    print(f"\nfigures against the targets (issue 16), {n:,} entitlements:")
    if args.items_direct:
        print("  batch creation                         not measured (--items-direct)")
    else:
        print(
            f"  batch creation (create_batches)        {created:7.1f} s {rate(n, created)}"
            f" (target {TARGET:,}/s: {n / created / TARGET:.2f}x)"
        )
    print(
        f"  files written (all batches)            {all_s:7.1f} s {rate(all_n, all_s)}"
        f" (target {TARGET:,}/s: {all_n / all_s / TARGET:.2f}x)"
    )
    print(
        f"  entitlements -> batches -> files       {together:7.1f} s {rate(n, together)}"
        f" (target {TARGET:,}/s: {n / together / TARGET:.2f}x)"
        + (" [batch creation not measured]" if args.items_direct else "")
    )
    rows, seconds, rec_cpu, rec_server = recorded
    print(
        f"  status rows read and recorded          {seconds:7.1f} s {rate(rows, seconds)}"
        f" (target {TARGET:,}/s: {rows / seconds / TARGET:.2f}x)"
    )
    print(
        "\nthe same by CPU seconds (this process + its PostgreSQL backend; on a shared machine"
        " the wall rates above\nare what the load left, these what the work costs: one idle"
        " core for both would give this rate):"
    )
    if not args.items_direct:
        print(f"  batch creation                         {cpu_rate(n, *made_cpu)}")
    print(f"  files written (all batches)            {cpu_rate(all_n, all_cpu, all_server)}")
    if not args.items_direct:
        print(
            "  entitlements -> batches -> files       "
            + cpu_rate(n, made_cpu[0] + all_cpu, made_cpu[1] + all_server)
        )
    print(f"  status rows read and recorded          {cpu_rate(rows, rec_cpu, rec_server)}")
    if checked is not None:
        print(f"  cycle check (invariant)                {checked:7.1f} s")
    if not args.keep_files:
        shutil.rmtree(files)


def record_statuses(
    written: list[Any], files: Path, report: Path, report_partner: str
) -> tuple[int, float, float, float]:
    """Reconciliation: a CSV statement answering every file (every transaction; one in 50
    failed), each read and recorded by `import_status_file` in its own transaction; then the
    pain.002 report of the largest file imported over them (every row already recorded:
    nothing may change). Returns the statements' rows and seconds."""
    from lumbung.db import session_scope
    from lumbung.delivery.bank import simulate
    from lumbung.delivery.statuses import import_status_file

    t = time.perf_counter()
    statements = []
    for w, *_ in written:
        path = files / f"statement-{w.partner}.csv"
        simulate.write_statement(
            path, simulate.answers(Path(w.path), fail_every=50), value_date=date(2027, 1, 5)
        )
        statements.append((w, path))
    print(
        "\nreconciliation: a CSV statement answering every file, read and recorded"
        f" (import_status_file, one transaction each; written in {time.perf_counter() - t:.1f} s,"
        " not timed):"
    )
    engine, get_user = services()

    def one(path: Path, partner: str) -> tuple[Any, float, float, float]:
        start = time.perf_counter()
        cpu = time.process_time()
        with session_scope(engine) as session:
            server = server_cpu(session)
            summary = import_status_file(
                session,
                actor=get_user(session, username="pusdatin"),
                path=path,
                partner_code=partner,
            )
            server = server_cpu(session) - server
        return summary, time.perf_counter() - start, time.process_time() - cpu, server

    rows = 0
    seconds = cpu_all = server_all = 0.0
    for w, path in statements:
        summary, s, cpu, server = one(path, w.partner)
        assert summary.rejected == 0, summary.problems[:3]
        rows += summary.rows
        seconds += s
        cpu_all += cpu
        server_all += server
        print(
            f"  {w.partner:8} {summary.rows:>11,} rows: paid {summary.recorded['paid']:,},"
            f" failed {summary.recorded['failed']:,} {s:7.1f} s {rate(summary.rows, s)}"
            f"  CPU {cpu:6.1f} s + {server:6.1f} s"
        )
    print_slow("import_status_file, statements")
    print(
        f"  all statements  {rows:>11,} rows {seconds:7.1f} s {rate(rows, seconds)}"
        f" (target {TARGET:,}/s: {rows / seconds / TARGET:.2f}x)"
        f"  CPU {cpu_all:.1f} s Python + {server_all:.1f} s PostgreSQL"
    )
    summary, s, cpu, server = one(report, report_partner)
    print(
        f"  the pain.002 report of {report_partner} imported after them: {summary.rows:,} rows,"
        f" {summary.unchanged:,} unchanged, recorded {sum(summary.recorded.values())},"
        f" refused {summary.rejected}; {s:.1f} s {rate(summary.rows, s)}"
        f" (target {TARGET:,}/s: {summary.rows / s / TARGET:.2f}x)"
        f"  CPU {cpu:.1f} s + {server:.1f} s"
    )
    assert sum(summary.recorded.values()) == 0
    assert summary.rejected == 0
    print_slow("import_status_file, the same answers again")
    return rows, seconds, cpu_all, server_all


def check(n: int) -> float:
    """`cycle check` after it all: the invariant holds and the ledger is as sealed."""
    from lumbung.db import session_scope
    from lumbung.delivery.ledger import check_cycle

    engine, get_user = services()
    start = time.perf_counter()
    with session_scope(engine) as session:
        result = check_cycle(session, actor=get_user(session, username="pusdatin"), label=LABEL)
    seconds = time.perf_counter() - start
    states = ", ".join(f"{k} {v.entitlements:,}" for k, v in result.states.items())
    print(
        f"\ncycle check: {'ok' if result.ok else 'PROBLEMS'} in {seconds:.1f} s;"
        f" entitled {result.entitled.entitlements:,} = {states}; {result.events:,} events"
    )
    assert result.ok, result.problems[:5]
    assert result.entitled.entitlements == n
    return seconds


if __name__ == "__main__":
    main()
