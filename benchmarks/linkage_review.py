"""The review side of record linkage at scale (not a timed test): recording a run's pairs,
reading the queue, deciding, and the quality report, on SQLite.

Builds a registry (`lumbung synth`, imported as approved, released), then records a run whose
files are written here as the matching engine would write them (`linkage/pairs.py`): P pairs
among random members, weights spread from -10 to 30, of which those at or above the review
weight go to review. Times `run_link` (without the engine), the first page of the queue for
a national reader and for a regency's, 100 decisions, and the quality report.

    python benchmarks/linkage_review.py --households 20000 --pairs 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def lumbung(env: dict[str, str], *words: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lumbung", *words], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"lumbung {' '.join(words)}: {done.stdout}{done.stderr}")
    return done.stdout


def write_run(run_dir: Path, ids: list[int], pairs: int, seed: int) -> None:
    rng = random.Random(seed)
    left = [rng.choice(ids) for _ in range(pairs)]
    right = [rng.choice(ids) for _ in range(pairs)]
    weights = [rng.uniform(-10, 30) for _ in range(pairs)]
    low = [min(a, b) for a, b in zip(left, right, strict=True)]
    high = [max(a, b) if a != b else max(a, b) + 1 for a, b in zip(left, right, strict=True)]
    columns: dict[str, pa.Array] = {
        "record_id_l": pa.array(low, pa.int64()),
        "source_l": pa.array(["registry"] * pairs),
        "record_id_r": pa.array(high, pa.int64()),
        "source_r": pa.array(["registry"] * pairs),
        "match_weight": pa.array(weights),
        "match_probability": pa.array([2**w / (1 + 2**w) for w in weights]),
        "prior_weight": pa.array([-15.0] * pairs),
    }
    for name, share in (("name", 0.5), ("birth_date", 0.3), ("nik", 0.2)):
        columns[f"level_{name}"] = pa.array(["exact"] * pairs)
        columns[f"weight_{name}"] = pa.array([(w + 15.0) * share for w in weights])
    run_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), run_dir / "pairs.parquet")
    clusters = pa.table(
        {
            "record_id": pa.array(ids, pa.int64()),
            "cluster_id": pa.array(ids, pa.int64()),
            "source": pa.array(["registry"] * len(ids)),
        }
    )
    pq.write_table(clusters, run_dir / "clusters.parquet")
    (run_dir / "model.json").write_text(json.dumps({"link_type": "dedupe_only"}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--review-weight", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lumbung-linkage-bench-"))
    data = work / "data"
    env = {
        **os.environ,
        "LUMBUNG_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
        "LUMBUNG_DATA_DIR": str(data),
        "LUMBUNG_KEY_FILE": str(work / "lumbung.key"),
    }
    os.environ.update(env)
    for words in (
        ("db", "upgrade"),
        ("regions", "load"),
        ("users", "add", "admin", "--role", "admin"),
        ("users", "add", "d", "--role", "determiner", "--as", "admin"),
        ("users", "add", "a", "--role", "auditor", "--as", "admin"),
    ):
        lumbung(env, *words)
    batch = work / "batch"
    lumbung(env, "synth", "--households", str(args.households), "--seed", "1", "--out", str(batch))
    lumbung(
        env,
        "import",
        str(batch / "households.csv"),
        str(batch / "members.csv"),
        "--status",
        "approved",
        "--as",
        "admin",
    )
    lumbung(env, "release", "create", "--label", "bench", "--as", "d")

    from sqlalchemy import select

    from lumbung.auth.models import User
    from lumbung.auth.roles import Role
    from lumbung.auth.service import create_user, get_user
    from lumbung.db import create_engine, session_scope
    from lumbung.linkage import quality, review, service
    from lumbung.linkage.models import LinkPair
    from lumbung.registry.models import Household, Member

    engine = create_engine(env["LUMBUNG_DATABASE_URL"])
    with session_scope(engine) as session:
        ids = list(session.execute(select(Member.id)).scalars())
        regency = session.execute(select(Household.regency_code).limit(1)).scalar_one()
        create_user(
            session,
            actor=get_user(session, username="admin"),
            username="v",
            full_name="v",
            role=Role.VERIFIER,
            region_code=regency,
        )
    result: dict[str, object] = {"households": args.households, "members": len(ids)}
    t = time.perf_counter()
    with session_scope(engine) as session:
        run = service.run_link(
            session,
            actor=get_user(session, username="d"),
            release_label="bench",
            data_dir=data,
            releases_dir=data / "releases",
            review_weight=args.review_weight,
            matcher=lambda _release, run_dir: write_run(run_dir, ids, args.pairs, args.seed),
        )
    result["run_link_s"] = round(time.perf_counter() - t, 2)
    result["pairs_scored"], result["pairs_queued"] = run.pairs_scored, run.pairs_queued
    for who in ("d", "v"):
        t = time.perf_counter()
        with session_scope(engine) as session:
            page = review.review_queue(session, get_user(session, username=who), limit=50)
        result[f"queue_first_page_{who}_s"] = round(time.perf_counter() - t, 3)
        result[f"queue_total_{who}"] = page.total
    with session_scope(engine) as session:
        first = list(
            session.execute(
                select(LinkPair.id).where(LinkPair.state == "pending").limit(100)
            ).scalars()
        )
    t = time.perf_counter()
    for pair_id in first:
        with session_scope(engine) as session:
            review.decide(
                session, actor=get_user(session, username="d"), pair_id=pair_id, decision="not_same"
            )
    result["decide_ms_each"] = round((time.perf_counter() - t) * 1000 / len(first), 1)
    t = time.perf_counter()
    with session_scope(engine) as session:
        quality.quality_report(
            session,
            session.execute(select(User).where(User.username == "a")).scalar_one(),
            run_id=run.id,
            data_dir=data,
        )
    result["quality_report_s"] = round(time.perf_counter() - t, 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
