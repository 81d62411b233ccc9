"""Enrollment: who is in a program now, how a cycle moves it, and who entered or left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.cycles.files import ENTITLEMENTS, cycle_folder
from lumbung.cycles.models import Cycle, Enrollment

ENROLLED_CHUNK = 500_000


def enrolled_households(session: Session, codes: frozenset[str]) -> dict[str, pa.Table]:
    """For each program code, the households enrolled in it now (from approved cycles)."""
    found: dict[str, pa.Table] = {}
    for code in sorted(codes):
        result = session.execute(
            select(Enrollment.household_id)
            .where(Enrollment.program_code == code, Enrollment.state == "enrolled")
            .distinct()
            .execution_options(yield_per=ENROLLED_CHUNK)
        ).scalars()
        # Millions of ids (all PKH families): gathered in chunks of 8-byte integers, never as
        # one list of Python objects.
        chunks = [pa.array(part, pa.int64()) for part in result.partitions(ENROLLED_CHUNK)]
        found[code] = pa.table(
            {"household_id": pa.chunked_array(chunks, pa.int64())}
        ).combine_chunks()
    return found


def movement(
    session: Session, con: Any, cycle: Cycle, source: str, data_dir: Path
) -> dict[str, int]:
    """Compared with the program's last approved cycle: entered, stayed and left."""
    previous = session.execute(
        select(Cycle)
        .where(Cycle.program_code == cycle.program_code, Cycle.state == "approved")
        .order_by(Cycle.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if previous is None:
        now = bulk.duck_count(con, f"SELECT count(*) FROM {source}")
        return {"entered": now, "stayed": 0, "left": 0}
    # The previous cycle's own file, not its rows pulled through Python (90 M for PBI-JKN).
    before = cycle_folder(previous, data_dir) / ENTITLEMENTS
    con.execute(
        "CREATE TEMPORARY VIEW previous AS SELECT beneficiary_id FROM "
        f"read_parquet({bulk.sql_path(before)})"
    )
    entered, stayed, left = con.execute(
        f"""SELECT count(*) FILTER (WHERE p.beneficiary_id IS NULL),
                   count(*) FILTER (WHERE p.beneficiary_id IS NOT NULL
                                    AND n.beneficiary_id IS NOT NULL),
                   count(*) FILTER (WHERE n.beneficiary_id IS NULL)
            FROM (SELECT beneficiary_id FROM {source}) n
            FULL JOIN previous p USING (beneficiary_id)"""
    ).fetchall()[0]
    return {"entered": int(entered), "stayed": int(stayed), "left": int(left)}


def move_enrollment(session: Session, cycle: Cycle) -> None:
    """Set-based: stayers and returners, newcomers, then those who left (graduated/exited)."""
    params = {"cycle": cycle.id, "program": cycle.program_code, "scoring": cycle.scoring_id}
    # Typed parameters: PostgreSQL cannot infer one type for a parameter used in several places.
    this, program = "CAST(:cycle AS BIGINT)", "CAST(:program AS VARCHAR)"
    in_cycle = (
        f"SELECT 1 FROM entitlement e WHERE e.cycle_id = {this} "
        "AND e.beneficiary_id = enrollment.beneficiary_id"
    )
    session.execute(
        text(
            f"UPDATE enrollment SET last_cycle_id = {this}, reason = NULL, "
            f"since_cycle_id = CASE WHEN state = 'enrolled' THEN since_cycle_id ELSE {this} END, "
            f"state = 'enrolled' WHERE program_code = {program} AND EXISTS ({in_cycle})"
        ),
        params,
    )
    bulk.lock_for_writing(session, ("enrollment",))
    newcomers = session.execute(
        text(
            f"SELECT count(*) FROM entitlement e WHERE e.cycle_id = {this} AND NOT EXISTS ("
            f"SELECT 1 FROM enrollment n WHERE n.program_code = {program} "
            "AND n.beneficiary_id = e.beneficiary_id)"
        ),
        params,
    ).scalar_one()
    first_id = bulk.reserve_ids(session, "enrollment", int(newcomers))
    session.execute(
        text(
            "INSERT INTO enrollment (id, program_code, beneficiary_id, household_id, state, "
            "since_cycle_id, last_cycle_id) "
            "SELECT CAST(:first AS BIGINT) + row_number() OVER (ORDER BY e.beneficiary_id) - 1, "
            f"{program}, e.beneficiary_id, "
            f"e.household_id, 'enrolled', {this}, {this} "
            f"FROM entitlement e WHERE e.cycle_id = {this} AND NOT EXISTS ("
            f"SELECT 1 FROM enrollment n WHERE n.program_code = {program} "
            "AND n.beneficiary_id = e.beneficiary_id)"
        ),
        {**params, "first": first_id},
    )
    in_release = (
        "SELECT 1 FROM pmt_score s WHERE s.scoring_id = CAST(:scoring AS BIGINT) "
        "AND s.household_id = enrollment.household_id"
    )
    if cycle.definition.get("unit") == "person":
        # A person leaves when the family is gone, or when the person is (died, moved):
        # still an active member of a family in the release means no longer eligible.
        in_release += (
            " AND EXISTS (SELECT 1 FROM member m WHERE m.id = enrollment.beneficiary_id "
            "AND m.status = 'active')"
        )
    session.execute(
        text(
            "UPDATE enrollment SET "
            f"state = CASE WHEN EXISTS ({in_release}) THEN 'graduated' ELSE 'exited' END, "
            f"reason = CASE WHEN EXISTS ({in_release}) THEN 'tidak lagi memenuhi syarat' "
            "ELSE 'tidak ada lagi di rilis atau registry' END "
            f"WHERE program_code = {program} AND state = 'enrolled' "
            f"AND NOT EXISTS ({in_cycle})"
        ),
        params,
    )
    session.execute(update(Cycle).where(Cycle.id == cycle.id).values(state="approved"))
