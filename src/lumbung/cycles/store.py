"""Loading a cycle's entitlements file into the database in bulk, with its totals."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lumbung import bulk, partitions
from lumbung.cycles import compute
from lumbung.cycles.enrollment import movement
from lumbung.cycles.models import Cycle
from lumbung.errors import ValidationFailed
from lumbung.numbers import grouped

ENTITLEMENT_COLUMNS = (  # as loaded; cycle_id, channel and state are the same for every row
    "beneficiary_id",
    "household_id",
    "member_id",
    "kk_number",
    "nik",
    "regency_code",
    "amount_idr",
    "breakdown",
)


def load_entitlements(
    session: Session,
    cycle: Cycle,
    parquet: Path,
    parts: list[compute.Component],
    channel: str,
    data_dir: Path,
) -> dict[str, Any]:
    """Bulk-insert the entitlements file; the cycle's totals and enrollment movement.

    The caller holds `bulk.lock_for_writing(session, ("entitlement",))` (run_cycle takes it
    before inserting the cycle, see partitions.py)."""
    scratch = data_dir / "tmp" / f"cycle-{cycle.id}-{os.getpid()}"
    scratch.mkdir(parents=True, exist_ok=True)
    con = bulk.duck_connect(scratch, memory_limit="2GB")
    try:
        source = f"read_parquet({bulk.sql_path(parquet)})"
        count = bulk.duck_count(con, f"SELECT count(*) FROM {source}")
        breakdown = _breakdown_json(parts)
        query = (
            "SELECT beneficiary_id, household_id, member_id, kk_number, nik, regency_code, "
            f"amount_idr, {breakdown} AS breakdown FROM {source}"
        )
        # On PostgreSQL into the cycle's own partition, attached by the caller at the end.
        loaded = partitions.load(
            session,
            con,
            query,
            "entitlement",
            cycle.id,
            ENTITLEMENT_COLUMNS,
            scratch,
            same={"channel": channel, "state": "entitled"},  # checked as plain words there
        )
        totals = con.execute(
            "SELECT count(*), COALESCE(sum(amount_idr), 0)::BIGINT, "
            + ", ".join(
                f"COALESCE(sum({a}), 0)::BIGINT, COALESCE(sum({p}), 0)::BIGINT"
                for p, a in (compute.component_columns(part.name) for part in parts)
            )
            + f" FROM {source}"
        ).fetchall()[0]
        by_component = {
            part.name: {"persons": int(totals[3 + 2 * i]), "amount_idr": int(totals[2 + 2 * i])}
            for i, part in enumerate(parts)
        }
        moved = movement(session, con, cycle, source, data_dir)
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    if loaded != count:
        raise ValidationFailed(
            f"{grouped(loaded)} hak tersimpan dari {grouped(count)}: dibatalkan."
        )
    return {
        "components": {part.name: part.amount_idr for part in parts},  # per person, per cycle
        "beneficiaries": int(totals[0]),
        "total_idr": int(totals[1]),
        "by_component": by_component,
        "enrollment": moved,
    }


def _breakdown_json(parts: list[compute.Component]) -> str:
    """SQL for the row's breakdown as compact JSON, `{"NAME": {"persons": n, "amount_idr": n},
    …}` with the components that counted anyone, in the program's order. Written out as text
    (names are identifiers, values integers): half the time of building a map and rendering it
    to JSON, which on a national cycle's 95 M rows counts. A program of one component stores
    none: its breakdown is the amount (`models.components`), and a national PBI-JKN cycle's
    rows are a quarter narrower to write, index and check."""
    if len(parts) == 1:
        return "NULL"
    fragments = []
    for part in parts:
        persons, amount = compute.component_columns(part.name)
        fragments.append(
            f'CASE WHEN {persons} > 0 THEN \'"{_safe(part.name)}":{{"persons":\' || '
            f"{persons} || ',\"amount_idr\":' || {amount} || '}}' END"
        )
    return "'{' || concat_ws(',', " + ", ".join(fragments) + ") || '}'"


def _safe(word: str) -> str:
    """A program's own identifier (already validated as [a-z0-9_-]) for a SQL literal."""
    if not word or not all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in word):
        raise ValidationFailed(f"Nama tidak sah: {word!r}")
    return word
