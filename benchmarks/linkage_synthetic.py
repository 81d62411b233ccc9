"""Record-linkage quality on a synthetic Indonesian registry with known truth (issue 17).

    python benchmarks/linkage_synthetic.py --households 20000 --duplicates 0.05

`lumbung synth --duplicates` writes N families with a share of their members registered a
second time (spelling variants, NIK typos, date swaps, moved families), twins and common-name
look-alikes, and truth/persons.csv; the batch is imported into a fresh registry (SQLite, or
PostgreSQL with --backend postgresql) with the ordinary commands, verified, determined and
released; the release's members are deduplicated by the matching engine (or, with --matcher
exact, by the baseline "same name, sex and birth date" rule) and the clusters are scored
against the truth: pairwise precision, recall and F1 (target F1 ≥ 0.98), twin pairs merged
(target 0), common-name pairs merged, and recall per kind of noise.

Only rows the import accepted are scored: an exact duplicate NIK is refused at import (both
rows), which the report counts as blocked.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from lumbung.linkage.evaluation import cluster_quality
from lumbung.linkage.pairs import CLUSTERS_FILE, REGISTRY_SOURCE

TARGET_F1 = 0.98


def lumbung(*words: str) -> list[str]:
    return [sys.executable, "-m", "lumbung", *words]


def run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run a command; (seconds, stdout); exit with its error output if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.exit(f"{' '.join(args[2:5])} failed:\n{proc.stderr[-3000:]}{proc.stdout[-2000:]}")
    return time.perf_counter() - start, proc.stdout


def database(backend: str, workdir: Path, postgres_url: str) -> str:
    """A fresh registry database: a new SQLite file, or the PostgreSQL database named by
    `postgres_url` emptied (its public schema dropped and made again)."""
    if backend == "sqlite":
        for p in workdir.glob("linkage.db*"):
            p.unlink()
        return f"sqlite:///{workdir / 'linkage.db'}"
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return postgres_url


def registry_release(batch: Path, workdir: Path, url: str, label: str) -> dict[str, Any]:
    """Import, verify, determine and release the batch in a fresh registry; the stages' times
    and counts, and the release's folder."""
    data = workdir / "data"
    shutil.rmtree(data, ignore_errors=True)
    keys = workdir / "registry.key"
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
    files = (str(batch / "households.csv"), str(batch / "members.csv"))
    s_import, out = run(lumbung("import", *files, "--as", "admin", "--json"), env)
    imported = json.loads(out)
    s_verify, _ = run(lumbung("registry", "verify", "--as", "v"), env)
    s_determine, _ = run(lumbung("registry", "determine", "--as", "d"), env)
    s_release, out = run(lumbung("release", "create", "--label", label, "--as", "d", "--json"), env)
    released = json.loads(out)
    codes = Counter(e["code"] for e in imported.get("errors", []))
    return {
        "import_s": round(s_import, 1),
        "verify_s": round(s_verify, 1),
        "determine_s": round(s_determine, 1),
        "release_s": round(s_release, 1),
        "members_accepted": imported["members_accepted"],
        "members_rejected": imported["members_rejected"],
        "rejections": dict(codes.most_common()),
        "release_members": released["members"],
        "path": released["path"],
    }


def release_members(path: Path) -> pa.Table:
    """The release's members (every province's file)."""
    return ds.dataset(Path(path) / "members", format="parquet", partitioning="hive").to_table()


@dataclass(frozen=True, slots=True)
class Truth:
    """Per released member id: its person, and the copy's noise kinds where it is a copy."""

    person: dict[int, int]
    kinds: dict[int, list[str]]  # member id of a copy → its kinds and event
    twin: dict[int, int]  # person → twin person
    common: dict[int, int]  # person → common-name group
    blocked: int  # copy rows the import refused (exact NIK, both rows)


def truth_of(batch: Path, members: pa.Table) -> Truth:
    """Join the release's members to truth/persons.csv on (KK, NIK)."""
    key_to_id = {
        (kk, nik): i
        for i, kk, nik in zip(
            members["id"].to_pylist(),
            members["kk_number"].to_pylist(),
            members["nik"].to_pylist(),
            strict=True,
        )
    }
    person: dict[int, int] = {}
    kinds: dict[int, list[str]] = {}
    twin: dict[int, int] = {}
    common: dict[int, int] = {}
    blocked = 0
    with (batch / "truth" / "persons.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            pid = int(row["person_id"])
            if row["twin"]:
                twin[pid] = int(row["twin"])
            if row["common_name"]:
                common[pid] = int(row["common_name"])
            member = key_to_id.get((row["kk_number"], row["nik"]))
            if member is None:
                blocked += bool(row["event"])
                continue
            person[member] = pid
            if row["event"]:
                found = [k for k in row["kinds"].split("|") if k]
                kinds[member] = [*found, f"event_{row['event']}"]
    return Truth(person, kinds, twin, common, blocked)


def exact_clusters(members: pa.Table) -> dict[int, int]:
    """The baseline: one cluster per (normalised name, sex, birth date)."""
    key = pc.binary_join_element_wise(
        members["name_normalised"], members["sex"], pc.cast(members["birth_date"], pa.string()), "|"
    ).to_pylist()
    first: dict[str, int] = {}
    out: dict[int, int] = {}
    for member, k in zip(members["id"].to_pylist(), key, strict=True):
        out[member] = first.setdefault(k, member)
    return out


def engine_clusters(release_path: Path, workdir: Path) -> tuple[dict[int, int], dict[str, Any]]:
    """The matching engine's person clusters on the release (branch linkeng): the release's
    members written as comparison records, deduplicated with the shipped settings, trained
    on the release itself (unsupervised). Returns record → cluster and the run's summary."""
    try:
        engine = importlib.import_module("lumbung.linkage.engine")
        records = importlib.import_module("lumbung.linkage.records")
    except ImportError:
        sys.exit(
            "The matching engine (lumbung.linkage.engine, branch linkeng) is not in this tree "
            "yet; --matcher exact scores the baseline."
        )
    path = workdir / "records.parquet"
    records.write_records(records.release_base_sql(release_path), REGISTRY_SOURCE, path)
    folder = workdir / "run"
    shutil.rmtree(folder, ignore_errors=True)
    summary = engine.dedupe(path, folder=folder)
    clusters = pq.read_table(folder / CLUSTERS_FILE, columns=["record_id", "cluster_id"])
    mapping = dict(
        zip(clusters["record_id"].to_pylist(), clusters["cluster_id"].to_pylist(), strict=True)
    )
    return mapping, summary.as_dict()


def pairs_of(groups: Iterable[list[int]]) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    for members in groups:
        out.update(combinations(sorted(members), 2))
    return out


def grouped(mapping: dict[int, int]) -> list[list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for member, group in mapping.items():
        groups[group].append(member)
    return [g for g in groups.values() if len(g) > 1]


def score(truth: Truth, clusters: dict[int, int]) -> dict[str, Any]:
    """Pairwise precision, recall, F1 (linkage/evaluation.py); look-alike pairs merged; recall
    per kind of noise."""
    quality = cluster_quality(clusters, truth.person)
    scored = {m: c for m, c in clusters.items() if m in truth.person}
    true_pairs = pairs_of(grouped(truth.person))
    found = pairs_of(grouped(scored))
    person = truth.person
    twins_merged = {
        tuple(sorted((person[a], person[b])))
        for a, b in found - true_pairs
        if truth.twin.get(person[a]) == person[b]
    }
    common_merged = {
        tuple(sorted((person[a], person[b])))
        for a, b in found - true_pairs
        if person[a] in truth.common and truth.common.get(person[a]) == truth.common.get(person[b])
    }
    twin_pairs = {tuple(sorted(p)) for p in truth.twin.items()}
    common_pairs = len(set(truth.common.values()))
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a, b in true_pairs:
        for member in (a, b):
            for kind in truth.kinds.get(member, []):
                per_kind[kind][0] += (a, b) in found
                per_kind[kind][1] += 1
    return {
        "records": len(truth.person),
        "true_pairs": len(true_pairs),
        "found_pairs": len(found),
        "true_positives": quality.true_positives,
        "precision": round(quality.precision, 4),
        "recall": round(quality.recall, 4),
        "f1": round(quality.f1, 4),
        "twin_pairs": len(twin_pairs),
        "twin_pairs_merged": len(twins_merged),
        "common_name_pairs": common_pairs,
        "common_name_pairs_merged": len(common_merged),
        "blocked_at_import": truth.blocked,
        "recall_per_kind": {
            k: {"recall": round(v[0] / v[1], 4), "pairs": v[1]} for k, v in sorted(per_kind.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--duplicates", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--region",
        default="33",
        help="Kemendagri code the families live in (default Jawa Tengah: dense enough that "
        "common names meet in one district); 'all' for the nation",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--matcher", choices=("engine", "exact"), default="engine")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LUMBUNG_BENCH_POSTGRES_URL"),
        help="with --backend postgresql: a database of its own, emptied first",
    )
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out/linkage"))
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="score the batch and release the last run of these options left in --workdir "
        "(no synth, no import): for trying matcher settings",
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    batch = args.workdir / f"batch-{args.households}-{args.seed}-{args.duplicates}-{args.region}"
    kept = args.workdir / f"{batch.name}.json"
    if args.reuse:
        synth, s_synth, registry = json.loads(kept.read_text(encoding="utf-8"))
    else:
        shutil.rmtree(batch, ignore_errors=True)
        words = ["synth", "--households", str(args.households), "--seed", str(args.seed)]
        words += ["--duplicates", str(args.duplicates), "--out", str(batch), "--json"]
        if args.region != "all":
            words += ["--region", args.region]
        s_synth, out = run(lumbung(*words), dict(os.environ))
        synth = json.loads(out)
        if args.backend == "postgresql" and not args.postgres_url:
            parser.error("--backend postgresql needs --postgres-url (a database it may empty)")
        url = database(args.backend, args.workdir, args.postgres_url or "")
        registry = registry_release(batch, args.workdir, url, "linkage")
        kept.write_text(json.dumps([synth, s_synth, registry]), encoding="utf-8")
    members = release_members(Path(registry["path"]))
    truth = truth_of(batch, members)
    start = time.perf_counter()
    run_summary: dict[str, Any] = {}
    if args.matcher == "exact":
        clusters = exact_clusters(members)
    else:
        clusters, run_summary = engine_clusters(Path(registry["path"]), args.workdir)
    s_match = time.perf_counter() - start
    result = score(truth, clusters)
    report = {
        "households": args.households,
        "duplicates": args.duplicates,
        "seed": args.seed,
        "region": args.region,
        "backend": args.backend,
        "matcher": args.matcher,
        "synth": {k: synth[k] for k in ("households", "members", "duplicate_rows")},
        "synth_s": round(s_synth, 1),
        "registry": {k: v for k, v in registry.items() if k != "path"},
        "match_s": round(s_match, 1),
        "run": run_summary,
        **result,
    }
    print(json.dumps(report, indent=2))
    print()
    print(
        f"{args.matcher}: precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
        f"F1 {result['f1']:.4f} (target ≥ {TARGET_F1}: "
        f"{'met' if result['f1'] >= TARGET_F1 else 'MISSED'})"
    )
    print(
        f"twin pairs merged {result['twin_pairs_merged']} of {result['twin_pairs']} (target 0); "
        f"common-name pairs merged {result['common_name_pairs_merged']} of "
        f"{result['common_name_pairs']}; copies blocked at import {result['blocked_at_import']}"
    )
    for kind, v in result["recall_per_kind"].items():
        print(f"  recall {kind:<22} {v['recall']:.4f}  ({v['pairs']:,} pairs)")


if __name__ == "__main__":
    main()
