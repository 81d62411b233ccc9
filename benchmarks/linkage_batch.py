"""Linking a batch before import (not a timed test): what `--link` adds to an import, on SQLite.

Builds a registry of H families (`lumbung synth` in Kota Semarang with second registrations,
imported as approved), releases it and runs the matching engine on it (`lumbung link run`:
the model is trained there, once). Then a batch of the synthetic batch's first B families is
imported as a dry run twice, without and with `link`: the difference is what linking the batch
against the latest release costs (the rows are the release's own members: each finds itself,
left out, and its second registrations, reported as `probable_duplicate`).

    python benchmarks/linkage_batch.py --households 1500 --batch 100
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lumbung-linkbatch-"))
    from lumbung.audit import keys

    keys.create(root / "lumbung.key")
    os.environ["LUMBUNG_KEY_FILE"] = str(root / "lumbung.key")

    from sqlalchemy.orm import Session

    from lumbung.auth.models import User
    from lumbung.auth.roles import Role
    from lumbung.auth.service import create_user
    from lumbung.db import create_engine, session_scope
    from lumbung.linkage.batch import ReleaseLinker
    from lumbung.linkage.service import run_link
    from lumbung.migrate import upgrade
    from lumbung.regions.service import load_regions
    from lumbung.registry.import_run import ImportRequest
    from lumbung.registry.importer import import_batch
    from lumbung.releases.service import create_release
    from lumbung.synth import generate

    engine = create_engine(f"sqlite:///{root / 'lumbung.db'}")
    upgrade(engine)
    with session_scope(engine) as session:
        load_regions(session, actor="benchmark")
        create_user(
            session,
            actor=None,
            username="admin",
            full_name="admin",
            role=Role.ADMIN,
            region_code=None,
        )

    def user(session: Session, name: str) -> User:
        return session.query(User).filter_by(username=name).one()

    with session_scope(engine) as session:
        create_user(
            session,
            actor=user(session, "admin"),
            username="determiner",
            full_name="d",
            role=Role.DETERMINER,
            region_code=None,
        )
    out, data = root / "synth", root / "data"
    generate(households=args.households, seed=8, out_dir=out, region="33.74", duplicates=0.1)
    with session_scope(engine) as session:
        import_batch(
            session,
            actor=user(session, "admin"),
            request=ImportRequest(
                paths=[out / "households.csv", out / "members.csv"],
                rejects_dir=data / "rejects",
                status="approved",
            ),
        )
    with session_scope(engine) as session:
        create_release(
            session,
            actor=user(session, "determiner"),
            label="R1",
            releases_dir=data / "releases",
            decree="benchmark",
        )
    started = time.perf_counter()
    with session_scope(engine) as session:
        run = run_link(
            session,
            actor=user(session, "determiner"),
            release_label="R1",
            data_dir=data,
            releases_dir=data / "releases",
        )
    print(
        f"link run on the release: {run.records:,} members, {time.perf_counter() - started:.1f} s"
    )

    batch = root / "batch"
    batch.mkdir()
    with (out / "households.csv").open(newline="", encoding="utf-8") as handle:
        households = list(csv.DictReader(handle))[: args.batch]
    families = {row["kk_number"] for row in households}
    with (out / "members.csv").open(newline="", encoding="utf-8") as handle:
        members = [row for row in csv.DictReader(handle) if row["kk_number"] in families]
    for name, rows in (("households.csv", households), ("members.csv", members)):
        with (batch / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    for linked in (False, True):
        started = time.perf_counter()
        with session_scope(engine) as session:
            summary = import_batch(
                session,
                actor=user(session, "admin"),
                request=ImportRequest(
                    paths=[batch / "households.csv", batch / "members.csv"],
                    rejects_dir=data / "rejects",
                    dry_run=True,
                    link=ReleaseLinker(data, data / "releases") if linked else None,
                ),
            )
            session.rollback()
        took = time.perf_counter() - started
        found = summary.linkage["probable_duplicates"] if summary.linkage else 0
        print(
            f"dry-run import of {summary.members_read:,} member rows, link={linked}: "
            f"{took:.2f} s, probable duplicates: {found}"
        )


if __name__ == "__main__":
    main()
