"""BPJS Kesehatan: the PBI-JKN list of a month, its contribution, changes, the transfer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine

from conftest import user
from delivery_helpers import approve_batch, approved_cycle, create, items
from factories import family
from lumbung.db import session_scope
from lumbung.delivery import bpjs
from lumbung.errors import Conflict
from targeting_helpers import floor_model, import_approved, release, score
from test_cycles import approve, cycle
from test_delivery_batches import check

pytestmark = pytest.mark.usefixtures("users")


def test_the_month_list_its_contribution_and_the_transfer_that_settles_it(
    engine: DbEngine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path, "PBI-1", "PBI-JKN")
    (batch,) = create(engine, "PBI-1").batches
    assert batch.channel == "bpjs" and batch.partner == "BPJS"
    with session_scope(engine) as session, pytest.raises(Conflict, match="belum disetujui"):
        list(bpjs.bpjs_list(session, actor=user(session, "determiner"), batch_id=batch.id))
    approve_batch(engine, batch.id)
    with session_scope(engine) as session:
        actor = user(session, "determiner")
        summary = bpjs.bpjs_summary(session, actor=actor, batch_id=batch.id)
        lines = list(bpjs.bpjs_list(session, actor=actor, batch_id=batch.id))
    assert summary.persons == batch.count > 0
    assert summary.total_idr == 42_000 * summary.persons * 1 == batch.total_idr
    assert (summary.previous_cycle, summary.added, summary.removed) == (None, 0, 0)
    assert lines[0].strip() == ",".join(bpjs.LIST_HEADER)
    niks = [line.split(",")[0] for line in lines[1:]]
    assert len(niks) == summary.persons and niks == sorted(niks)
    assert all(line.rstrip().endswith(",42000") for line in lines[1:])
    with session_scope(engine) as session:
        paid = bpjs.settle(
            session,
            actor=user(session, "determiner"),
            batch_id=batch.id,
            reference="TRF-BPJS-2026-01",
            value_date=date(2026, 1, 10),
        )
    assert paid == summary.persons
    assert {state for *_, state in items(engine)} == {"paid"}
    result = check(engine, "PBI-1")
    assert result.ok and result.states["paid"].amount_idr == summary.total_idr, result.problems
    with session_scope(engine) as session, pytest.raises(Conflict, match="tidak punya"):
        bpjs.settle(
            session,
            actor=user(session, "determiner"),
            batch_id=batch.id,
            reference="TRF-2",
            value_date=date(2026, 1, 11),
        )


def test_the_next_month_counts_who_was_added_and_removed(engine: DbEngine, tmp_path: Path) -> None:
    approved_cycle(engine, tmp_path, "PBI-1", "PBI-JKN")
    first = bpjs_persons(engine, "PBI-1")
    # A new poor family (three persons) joins the registry; the next month runs on it.
    households, members = family(11, floor_area_m2="12")
    import_approved(engine, tmp_path / "new", [households], members)
    release(engine, tmp_path, "R2")
    score(engine, tmp_path, "R2", floor_model())
    cycle(engine, tmp_path, "PBI-2", program="PBI-JKN", release_label="R2")
    approve(engine, "PBI-2", data_dir=tmp_path)
    (batch,) = create(engine, "PBI-2").batches
    with session_scope(engine) as session:
        summary = bpjs.bpjs_summary(session, actor=user(session, "determiner"), batch_id=batch.id)
    second = bpjs_persons(engine, "PBI-2")
    assert summary.previous_cycle == "PBI-1"
    assert summary.added == len(second - first) > 0
    assert summary.removed == len(first - second)
    assert summary.persons == len(second)


def bpjs_persons(engine: DbEngine, label: str) -> set[str]:
    with engine.connect() as conn:
        return {
            str(r[0])
            for r in conn.execute(
                text(
                    "SELECT e.nik FROM entitlement e JOIN cycle c ON c.id = e.cycle_id"
                    " WHERE c.label = :label"
                ),
                {"label": label},
            )
        }
