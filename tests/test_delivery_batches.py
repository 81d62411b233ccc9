"""Payment batches and the ledger: split per partner, four eyes, frozen, at most one live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine
from typer.testing import CliRunner

from conftest import user
from delivery_helpers import approve_batch, approved_cycle, create
from lumbung.cli import app
from lumbung.config import get_settings
from lumbung.db import session_scope
from lumbung.delivery import batches, ledger
from lumbung.errors import Conflict, PermissionDenied

pytestmark = pytest.mark.usefixtures("users")


def check(engine: DbEngine, label: str) -> ledger.CycleCheck:
    with session_scope(engine) as session:
        return ledger.check_cycle(session, actor=user(session, "auditor"), label=label)


def test_a_pos_cycle_goes_into_one_batch_per_partner_and_adds_up(
    engine: DbEngine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    before = check(engine, "BBM-1")
    assert before.ok, before.problems
    assert before.unbatched.entitlements == before.entitled.entitlements == 7
    plan = create(engine, "BBM-1")
    assert [(b.partner, b.count, b.total_idr) for b in plan.batches] == [("POS", 7, 7 * 300_000)]
    after = check(engine, "BBM-1")
    assert after.ok, after.problems
    assert after.in_flight.entitlements == 7 and after.unbatched.entitlements == 0
    assert after.states["pending"].amount_idr == after.entitled.amount_idr
    # nothing left to batch: a second run makes no batch
    assert create(engine, "BBM-1").batches == []


def test_a_batch_is_approved_by_another_person_once(engine: DbEngine, tmp_path: Path) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    (batch,) = create(engine, "BBM-1").batches
    with pytest.raises(PermissionDenied):
        approve_batch(engine, batch.id, actor="determiner")
    assert approve_batch(engine, batch.id).state == "approved"
    with pytest.raises(Conflict):
        approve_batch(engine, batch.id)


def test_an_item_edited_in_the_database_blocks_approval_and_fails_the_check(
    engine: DbEngine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    (batch,) = create(engine, "BBM-1").batches
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE payment_item SET amount_idr = 900000 WHERE beneficiary_id = "
                "(SELECT min(beneficiary_id) FROM payment_item)"
            )
        )
    with pytest.raises(Conflict, match="berubah"):
        approve_batch(engine, batch.id)
    found = check(engine, "BBM-1")
    assert not found.ok
    assert any("tidak sama dengan haknya" in p for p in found.problems)
    assert any("diubah di luar Lumbung" in p for p in found.problems)


def test_a_cancelled_draft_frees_its_entitlements(engine: DbEngine, tmp_path: Path) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    (batch,) = create(engine, "BBM-1").batches
    with session_scope(engine) as session:
        cancelled = batches.cancel_batch(
            session, actor=user(session, "determiner"), batch_id=batch.id, reason="salah kantor"
        )
    assert cancelled.states == {"cancelled": 7}
    mid = check(engine, "BBM-1")
    assert mid.ok, mid.problems
    assert mid.states["cancelled"].entitlements == 7
    (again,) = create(engine, "BBM-1").batches
    assert again.count == 7 and again.number == 2
    final = check(engine, "BBM-1")
    assert final.ok and final.states["pending"].entitlements == 7, final.problems


def test_events_deleted_in_the_database_show_in_the_check(engine: DbEngine, tmp_path: Path) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    create(engine, "BBM-1")
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM payment_event WHERE id = (SELECT min(id) FROM payment_event)")
        )
    found = check(engine, "BBM-1")
    assert any("menurut jejak audit" in p for p in found.problems), found.problems
    assert any("tidak pernah dibatch" in p for p in found.problems), found.problems


def test_the_commands_make_approve_list_and_check(
    engine: DbEngine, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        made = runner.invoke(
            app, ["delivery", "batch", "create", "BBM-1", "--as", "determiner", "--json"]
        )
        assert made.exit_code == 0, made.output
        (batch,) = json.loads(made.output)["batches"]
        assert (batch["partner"], batch["count"], batch["state"]) == ("POS", 7, "draft")
        own = runner.invoke(
            app, ["delivery", "batch", "approve", str(batch["id"]), "--as", "determiner"]
        )
        assert own.exit_code == 1 and "empat mata" in own.output
        done = runner.invoke(
            app, ["delivery", "batch", "approve", str(batch["id"]), "--as", "approver"]
        )
        assert done.exit_code == 0 and "disetujui" in done.output, done.output
        listed = runner.invoke(app, ["delivery", "batch", "list", "--as", "auditor", "--json"])
        assert [b["state"] for b in json.loads(listed.output)] == ["approved"]
        checked = runner.invoke(app, ["cycle", "check", "BBM-1", "--as", "auditor"])
        assert checked.exit_code == 0 and "OK" in checked.output, checked.output
        with engine.begin() as conn:
            conn.execute(text("UPDATE payment_item SET state = 'paid'"))
        broken = runner.invoke(app, ["cycle", "check", "BBM-1", "--as", "auditor", "--json"])
        assert broken.exit_code == 1
        assert not json.loads(broken.output)["ok"]
        partners = runner.invoke(app, ["delivery", "partner", "list", "--as", "auditor"])
        assert "BSI" in partners.output and "nasional" in partners.output
    finally:
        get_settings.cache_clear()


def test_two_people_making_batches_at_once_put_each_entitlement_in_flight_once(
    engine: DbEngine, tmp_path: Path
) -> None:
    import threading

    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    start = threading.Barrier(2)
    made: list[int] = []
    failed: list[BaseException] = []

    def run(actor: str) -> None:
        start.wait()
        try:
            made.extend(b.count for b in create(engine, "BBM-1", actor=actor).batches)
        except Conflict as refused:  # the other one won the race
            failed.append(refused)

    threads = [threading.Thread(target=run, args=(a,)) for a in ("determiner", "approver")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == [7], (made, failed)
    result = check(engine, "BBM-1")
    assert result.ok and result.in_flight.entitlements == 7, result.problems
