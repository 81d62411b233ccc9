"""The matching part of merging another registry (issue 17, item 4), timed and counted.

    python benchmarks/linkage_merge.py --households 20000 --export 4000 [--model FILE]

A synthetic release (`lumbung synth`, N families, region 33.74) is the registry side; the
export is a fifth as many families of the same region: half of them copied from the release
(the same people: "matched" expected) and half generated with another seed (other people:
"new" expected). Both become comparison records and are linked by the matching engine with a
trained model (default: tests/data/linkage_model.json, made from the shipped settings on a
synthetic release; `lumbung link run` writes one per release), KK and address left neutral as
`linkage/against_release.py` does; each export record's outcome is then counted. Proposals
are not timed here: they run the workflow's checks family by family and are bounded per merge
(`merge_proposals.MAX_PROPOSALS`, civil registry matching's measurement in benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import duckdb

from lumbung.linkage import against_release
from lumbung.linkage.engine import link
from lumbung.linkage.records import batch_base_sql, write_records
from lumbung.synth import generate

MODEL = Path(__file__).parent.parent / "tests" / "data" / "linkage_model.json"


def _copy(
    source: Path, target: Path, keep: set[str], *, append: bool = False
) -> tuple[list[str], int]:
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if r["kk_number"] in keep]
        fields = list(reader.fieldnames or [])
    with target.open("a" if append else "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        if not append:
            writer.writeheader()
        writer.writerows(rows)
    return fields, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--export", type=int, default=4_000, help="families in the export")
    parser.add_argument("--model", type=Path, default=MODEL)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lumbung-merge-bench-"))
    generate(households=args.households, seed=1, out_dir=work / "release", region="33.74")
    generate(households=args.export // 2, seed=2, out_dir=work / "other", region="33.74")
    with (work / "release" / "households.csv").open(newline="", encoding="utf-8") as handle:
        known = [r["kk_number"] for r in csv.DictReader(handle)][: args.export // 2]
    with (work / "other" / "households.csv").open(newline="", encoding="utf-8") as handle:
        taken = set(known)
        others = {r["kk_number"] for r in csv.DictReader(handle)} - taken
    export = work / "export"
    export.mkdir()
    counts = {}
    for table in ("households", "members"):
        _, copied = _copy(work / "release" / f"{table}.csv", export / f"{table}.csv", taken)
        _, added = _copy(
            work / "other" / f"{table}.csv", export / f"{table}.csv", others, append=True
        )
        counts[table] = (copied, added)
    started = time.perf_counter()
    release_records = work / "release.parquet"
    total = write_records(
        batch_base_sql(work / "release" / "members.csv", work / "release" / "households.csv"),
        "registry",
        release_records,
    )
    folder = work / "merge"
    folder.mkdir()
    export_records = folder / "source_records.parquet"
    write_records(
        batch_base_sql(export / "members.csv", export / "households.csv"),
        against_release.SOURCE,
        export_records,
    )
    model = against_release.link_model(args.model, folder)
    summary = link(release_records, export_records, folder=folder, model=model)
    with duckdb.connect() as con:
        matches = against_release.source_matches(folder / "pairs.parquet", 10.0, con=con)
        rows = con.execute(f"SELECT record_id FROM read_parquet('{export_records}')").fetchall()
    elapsed = time.perf_counter() - started
    outcome = {"matched": 0, "new": 0, "conflicting": 0}
    for (record,) in rows:
        found = len(matches.get(int(record), []))
        outcome["new" if found == 0 else "matched" if found == 1 else "conflicting"] += 1
    copied_members, added_members = counts["members"]
    print(f"release: {args.households} families, {total} members")
    print(
        f"export: {len(rows)} members ({copied_members} copied from the release, "
        f"{added_members} other people)"
    )
    print(f"pairs scored at the review weight: {summary.pairs}")
    print(
        f"outcomes: matched {outcome['matched']}, new {outcome['new']}, "
        f"conflicting {outcome['conflicting']}"
    )
    print(f"records + link + outcomes: {elapsed:.1f} s")


if __name__ == "__main__":
    main()
