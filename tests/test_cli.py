"""The `lumbung` command, driven as a user drives it, against the test database."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine, make_url
from typer.testing import CliRunner, Result

from factories import family, kk, write_batch
from lumbung import migrate
from lumbung.audit.models import AuditEvent
from lumbung.cli import app, common
from lumbung.config import get_settings
from lumbung.db import session_scope
from lumbung.numbers import grouped
from lumbung.regions.models import Region
from lumbung.regions.service import load_regions

KEMENDAGRI = {"provinces": 38, "regencies": 514, "districts": 7285, "villages": 83762}
IMPORT_KEYS = {
    "households_accepted",
    "members_accepted",
    "households_rejected",
    "members_rejected",
    "errors",
    "reject_file",
}


def _reset() -> None:
    get_settings.cache_clear()
    for cached in common._engines.values():
        cached.dispose()
    common._engines.clear()


class Cli:
    """Runs `lumbung …` in-process; each call reads the environment afresh."""

    def __init__(self, data_dir: Path) -> None:
        self.runner = CliRunner()
        self.data_dir = data_dir

    def run(self, *args: str) -> Result:
        get_settings.cache_clear()
        return self.runner.invoke(app, list(args))

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)


def said(text_: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(text_.split())


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LUMBUNG_ACTOR", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    _reset()
    yield Cli(tmp_path / "data")
    _reset()


def add_users(cli: Cli) -> None:
    cli.ok("users", "add", "admin", "--role", "admin")
    for args in (
        ("operator", "--role", "operator", "--region", "31.71.01.1001"),
        ("verifikator", "--role", "verifier"),
        ("verifier", "--role", "verifier", "--region", "31.71"),
        ("pusdatin", "--role", "determiner"),
    ):
        cli.ok("users", "add", *args, "--as", "admin")


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_regions_load_fills_the_kemendagri_list_and_is_idempotent(cli: Cli, engine: Engine) -> None:
    gambir = "SELECT count(*) FROM region WHERE code LIKE '31.71.01.%'"
    villages = count(engine, gambir)
    assert villages > 0
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM region WHERE code LIKE '31.71.01.%'"))
        loads_before = count(
            engine, "SELECT count(*) FROM audit_event WHERE action = 'regions.load'"
        )
        assert cli.json("regions", "load") == KEMENDAGRI
        assert count(engine, gambir) == villages
        # Loading again adds nothing and records nothing.
        assert cli.json("regions", "load") == KEMENDAGRI
        assert "(0 wilayah baru dimuat)" in said(cli.ok("regions", "load").stdout)
        loads = count(engine, "SELECT count(*) FROM audit_event WHERE action = 'regions.load'")
        assert loads == loads_before + 1
    finally:
        with session_scope(engine) as session:
            load_regions(session, actor="test")
    with session_scope(engine) as session:
        assert session.get(Region, "31.71.01.1001") is not None
        assert session.execute(select(func.count()).select_from(Region)).scalar_one() == sum(
            KEMENDAGRI.values()
        )


def test_db_upgrade_reports_the_revision(cli: Cli, engine: Engine) -> None:
    payload = cli.json("db", "upgrade")
    assert payload["revision"] == migrate.current(engine) == migrate.head()
    assert payload["previous_revision"] == payload["revision"]  # the session's engine is migrated
    assert "password" not in payload["database"]
    assert "tidak ada yang diubah" in cli.ok("db", "upgrade").stdout
    try:
        migrate.downgrade(engine, "0005")
        moved = cli.json("db", "upgrade")
        assert (moved["previous_revision"], moved["revision"]) == ("0005", migrate.head())
    finally:
        migrate.upgrade(engine)


def test_users_add_the_first_admin_then_others_as_admin(cli: Cli) -> None:
    first = cli.run("users", "add", "budi", "--role", "operator", "--region", "31.71.01.1001")
    assert first.exit_code == 1
    assert "Pengguna pertama harus berperan admin" in said(first.stderr)
    admin = cli.json("users", "add", "admin", "--role", "admin", "--name", "Admin Pusdatin")
    assert admin == {"id": admin["id"], "username": "admin", "role": "admin", "region_code": None}
    denied = cli.run("users", "add", "budi", "--role", "operator", "--region", "31.71.01.1001")
    assert denied.exit_code == 1
    assert "permission_denied" in said(denied.stderr)
    assert "--as" in said(denied.stderr)
    budi = cli.json(
        "users", "add", "budi", "--role", "operator", "--region", "31.71.01.1001", "--as", "admin"
    )
    assert (budi["role"], budi["region_code"]) == ("operator", "31.71.01.1001")
    unknown = cli.run(
        "users", "add", "x", "--role", "verifier", "--region", "99.99", "--as", "admin"
    )
    assert unknown.exit_code == 1
    assert "99.99 tidak dikenal" in said(unknown.stderr)
    again = cli.run("users", "add", "budi", "--role", "auditor", "--as", "admin")
    assert again.exit_code == 1
    assert "sudah dipakai" in said(again.stderr)
    by_operator = cli.run("users", "add", "ani", "--role", "auditor", "--as", "budi")
    assert by_operator.exit_code == 1
    assert "manage_users" in said(by_operator.stderr)
    bad_role = cli.run("users", "add", "ani", "--role", "raja", "--as", "admin")
    assert bad_role.exit_code == 2
    listed = cli.json("users", "list", "--as", "admin")
    assert [(u["username"], u["role"], u["region_code"]) for u in listed] == [
        ("admin", "admin", None),
        ("budi", "operator", "31.71.01.1001"),
    ]


def test_synth_import_decide_release_and_audit_end_to_end(cli: Cli, engine: Engine) -> None:
    add_users(cli)
    batch = cli.data_dir.parent / "batch"
    synth = cli.json("synth", "--households", "200", "--seed", "1", "--out", str(batch))
    assert synth["households"] == 200
    assert synth["members"] > 200
    assert Path(synth["files"]["households"]) == batch / "households.csv"
    assert (batch / "members.csv").exists()

    imported = cli.json(
        "import", str(batch / "households.csv"), str(batch / "members.csv"), "--as", "admin"
    )
    assert set(imported) >= IMPORT_KEYS
    assert imported["households_accepted"] + imported["households_rejected"] == 200
    assert imported["members_accepted"] + imported["members_rejected"] == synth["members"]
    assert imported["households_accepted"] > 190
    assert imported["errors_total"] == len(imported["errors"])
    accepted = imported["households_accepted"]
    assert count(engine, "SELECT count(*) FROM household WHERE status = 'proposed'") == accepted

    verified = cli.json("registry", "verify", "--as", "verifikator")
    assert verified == {
        "decision": "verify",
        "households": accepted,
        "region": None,
        "from": "proposed",
        "to": "verified",
    }
    determined = cli.json("registry", "determine", "--as", "pusdatin")
    assert (determined["households"], determined["to"]) == (accepted, "approved")
    stats = cli.json("registry", "stats", "--as", "pusdatin")
    assert stats["households"] == {"approved": accepted}
    assert stats["members"] == {"active": imported["members_accepted"]}

    created = cli.json("release", "create", "--label", "2026-Q4", "--as", "pusdatin")
    assert set(created) >= {"release", "households", "members", "manifest"}
    assert (created["release"], created["households"], created["members"]) == (
        "2026-Q4",
        accepted,
        imported["members_accepted"],
    )
    manifest = Path(created["manifest"])
    assert manifest == cli.data_dir / "releases" / "2026-Q4" / "manifest.json"
    assert json.loads(manifest.read_text())["households"] == accepted
    assert "OK" in cli.ok("release", "verify", "2026-Q4").stdout
    assert cli.json("release", "verify", "2026-Q4")["ok"] is True
    [listed] = cli.json("release", "list", "--as", "pusdatin")
    assert (listed["release"], listed["created_by"]) == ("2026-Q4", "pusdatin")
    reused = cli.run("release", "create", "--label", "2026-Q4", "--as", "pusdatin")
    assert reused.exit_code == 1
    assert "conflict" in said(reused.stderr)

    audit = cli.json("audit", "verify")
    assert audit["ok"] is True
    assert audit["problems"] == []
    assert audit["events"] == count(engine, "SELECT count(*) FROM audit_event")
    with session_scope(engine) as session:
        head = session.execute(
            select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
        ).scalar_one()
    assert audit["head"] == head
    assert cli.run("audit", "verify", "--expect-head", head).exit_code == 0
    cut = cli.run("audit", "verify", "--expect-head", "f" * 64)
    assert cut.exit_code == 1
    assert "RUSAK" in cut.stdout
    # The empty chain's head stays in the chain, at its place before the first event.
    assert cli.run("audit", "verify", "--expect-head", "0:" + "0" * 64).exit_code == 0
    log = cli.json("audit", "log", "--limit", "3", "--as", "pusdatin")
    assert log[0]["action"] == "release.create"
    # On screen, each event's changes on one line, cut short.
    lines = cli.ok("audit", "log", "--limit", "3", "--as", "pusdatin").stdout.splitlines()
    [release_line] = [x for x in lines if "release.create" in x]
    assert f'"households": {log[0]["diff"]["households"]}' in release_line
    assert log[0]["diff"]["manifest_sha256"] not in release_line and "… │" in release_line
    # The log names families of every region: not for a user of one region.
    regional = cli.run("audit", "log", "--as", "verifier", "--json")
    assert (regional.exit_code, json.loads(regional.stdout)["error"]) == (1, "permission_denied")

    # Tampering with a released file makes `release verify` fail loudly.
    parquet = sorted((cli.data_dir / "releases" / "2026-Q4").rglob("*.parquet"))[0]
    parquet.write_bytes(parquet.read_bytes() + b"\0")
    broken = cli.run("release", "verify", "2026-Q4")
    assert broken.exit_code == 1
    assert "RUSAK" in broken.stdout
    assert parquet.name in said(broken.stdout)
    # ... and so does an edit of the audit log.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET actor = 'mallory' WHERE action = 'release.create'")
        )
    tampered = cli.run("audit", "verify", "--json")
    assert tampered.exit_code == 1
    assert json.loads(tampered.stdout)["ok"] is False


def test_import_refuses_an_unknown_column_with_exit_code_2(cli: Cli, engine: Engine) -> None:
    add_users(cli)
    households, members = family(1)
    paths = write_batch(cli.data_dir.parent / "batch", [households], members)
    lines = paths[0].read_text().splitlines()
    paths[0].write_text(
        "\n".join([lines[0] + ",warna_rumah", *(line + ",biru" for line in lines[1:])]) + "\n"
    )
    human = cli.run("import", *map(str, paths), "--as", "admin")
    assert human.exit_code == 2
    assert "unknown_column" in said(human.stderr)
    assert "warna_rumah" in said(human.stderr)
    machine = cli.run("import", *map(str, paths), "--as", "admin", "--json")
    assert machine.exit_code == 2
    payload = json.loads(machine.stdout)
    assert payload["error"] == "batch_unreadable"
    assert [(e["code"], e["column"]) for e in payload["errors"]] == [
        ("unknown_column", "warna_rumah")
    ]
    assert count(engine, "SELECT count(*) FROM household") == 0


def test_import_dry_run_and_row_errors(cli: Cli, engine: Engine) -> None:
    add_users(cli)
    h1, m1 = family(1)
    h2, m2 = family(2)
    m2[1]["name"] = ""
    paths = write_batch(cli.data_dir.parent / "batch", [h1, h2], m1 + m2)
    dry = cli.json("import", *map(str, paths), "--dry-run", "--as", "operator")
    assert (dry["households_accepted"], dry["members_accepted"], dry["members_rejected"]) == (
        2,
        5,
        1,
    )
    assert count(engine, "SELECT count(*) FROM household") == 0
    human = cli.ok("import", *map(str, paths), "--as", "operator")
    assert "required" in said(human.stdout)
    assert count(engine, "SELECT count(*) FROM member") == 5
    [error] = json.loads(cli.ok("import", *map(str, paths), "--as", "operator", "--json").stdout)[
        "errors"
    ]
    assert (error["file"], error["row"], error["column"], error["code"]) == (
        "members.csv",
        6,
        "name",
        "required",
    )


def test_registry_duplicates_lists_the_review_queue(cli: Cli) -> None:
    add_users(cli)
    h1, m1 = family(1)
    h2, m2 = family(2)
    first = write_batch(cli.data_dir.parent / "first", [h1, h2], m1 + m2)
    cli.ok("import", *map(str, first), "--as", "admin")
    assert cli.json("registry", "duplicates", "--as", "verifier") == {"open": 0, "reviews": []}
    h3, m3 = family(3)
    m3[1].update(nik=m1[1]["nik"], birth_date=m1[1]["birth_date"])
    second = write_batch(cli.data_dir.parent / "second", [h3], m3)
    refused = cli.json("import", *map(str, second), "--as", "admin")
    assert [e["code"] for e in refused["errors"]] == ["duplicate_nik"]
    cli.ok("import", *map(str, second), "--allow-duplicates", "--as", "admin")
    listed = cli.json("registry", "duplicates", "--as", "verifier")
    assert listed["open"] == 1
    [review] = listed["reviews"]
    assert review["nik"] == m1[1]["nik"]
    assert (review["kk_number"], review["other_kk_number"]) == (kk(3), kk(1))
    # A verifier of another regency does not see Jakarta's duplicates.
    cli.ok("users", "add", "bandung", "--role", "verifier", "--region", "32.73", "--as", "admin")
    assert cli.json("registry", "duplicates", "--as", "bandung")["open"] == 0
    human = said(cli.ok("registry", "duplicates", "--as", "verifier").stdout)
    assert m1[1]["nik"] not in human  # the table masks the NIK
    assert m1[1]["nik"][:4] + "*" * 12 in "".join(human.split())


def test_a_change_request_through_the_cli(cli: Cli, tmp_path: Path) -> None:
    add_users(cli)
    households, members = family(1)
    payload = json.dumps({"household": households, "members": members})
    proposed = cli.json(
        "request", "propose", "--kind", "new_family", "--payload", payload, "--as", "operator"
    )
    assert (proposed["kind"], proposed["state"], proposed["proposed_by"]) == (
        "new_family",
        "proposed",
        "operator",
    )
    request_id = str(proposed["id"])
    [pending] = cli.json("request", "list", "--as", "verifier")
    assert (pending["id"], pending["kk_number"]) == (proposed["id"], kk(1))
    # What the verifier decides on: the family and its members as proposed.
    seen = cli.json("request", "show", request_id, "--as", "verifier")
    assert (seen["kk_number"], seen["state"], seen["kind"]) == (kk(1), "proposed", "new_family")
    assert [m["nik"] for m in seen["payload"]["members"]] == [m["nik"] for m in members]
    screen = said(cli.ok("request", "show", request_id, "--as", "verifier").stdout)
    assert all(m["nik"] in screen for m in members) and "Anggota yang diusulkan" in screen
    assert cli.json("request", "list", "--as", "verifier", "--state", "verified") == []
    denied = cli.run("request", "verify", request_id, "--as", "operator")
    assert denied.exit_code == 1
    assert "permission_denied" in said(denied.stderr)
    too_early = cli.run("request", "determine", request_id, "--as", "pusdatin", "--json")
    assert too_early.exit_code == 1
    assert json.loads(too_early.stdout)["error"] == "conflict"
    assert cli.json("request", "verify", request_id, "--as", "verifier")["state"] == "verified"
    determined = cli.json("request", "determine", request_id, "--as", "pusdatin")
    assert (determined["state"], determined["decided_by"]) == ("approved", "pusdatin")
    shown = cli.json("registry", "show", kk(1), "--as", "verifier")
    assert (shown["status"], len(shown["members"])) == ("approved", 3)
    # The family's own values, typed: numbers as numbers, flags as true/false.
    assert shown["floor_area_m2"] == float(households["floor_area_m2"])
    assert isinstance(shown["owns_land"], bool) and isinstance(shown["motorbikes"], int)
    assert (shown["status"], shown["status_reason"]) == ("approved", None)
    screen = said(cli.ok("registry", "show", kk(1), "--as", "verifier").stdout)
    assert f"toilet │ {shown['toilet']}" in screen and "owns_land │ " in screen
    # Piped (not a terminal), the table is not wrapped at 80 columns: every NIK comes out whole,
    # and each member on one line.
    lines = cli.ok("registry", "show", kk(1), "--as", "verifier").stdout.splitlines()
    for member in shown["members"]:
        [line] = [x for x in lines if member["nik"] in x]
        assert member["relationship"] in line and member["birth_date"] in line

    # A payload may also come from a file; an update needs the version shown.
    change = tmp_path / "change.json"
    change.write_text(json.dumps({"changes": {"toilet": "umum"}}))
    stale = cli.run(
        "request",
        "propose",
        "--kind",
        "update",
        "--payload",
        str(change),
        "--kk",
        kk(1),
        "--version",
        str(shown["version"] - 1),
        "--as",
        "operator",
    )
    assert stale.exit_code == 1
    assert "conflict" in said(stale.stderr)

    def propose_update(payload: str) -> Any:
        return cli.json(
            "request", "propose", "--kind", "update", "--payload", payload,
            "--kk", kk(1), "--version", str(shown["version"]), "--as", "operator",
        )  # fmt: skip

    update = propose_update(str(change))
    # An update shows each proposed value beside the family's value now.
    seen = cli.json("request", "show", str(update["id"]), "--as", "verifier")
    assert seen["payload"] == {"changes": {"toilet": "umum"}}
    assert seen["current"] == {"toilet": shown["toilet"]} and shown["toilet"] != "umum"
    flags = propose_update('{"changes": {"has_gold": 1}}')
    typed = cli.json("request", "show", str(flags["id"]), "--as", "verifier")["current"]
    assert typed == {"has_gold": shown["has_gold"]} and isinstance(typed["has_gold"], bool)
    screen = said(cli.ok("request", "show", str(update["id"]), "--as", "verifier").stdout)
    assert f"toilet │ {shown['toilet']} │ umum" in screen
    # A member's own values: the member's value now beside the proposed one.
    child = next(m for m in shown["members"] if m["relationship"] == "anak")
    school = cli.json(
        "request", "propose", "--kind", "update_member", "--kk", kk(1),
        "--payload", json.dumps({"nik": child["nik"], "changes": {"school_level": "smp"}}),
        "--version", str(shown["version"]), "--as", "operator",
    )  # fmt: skip
    seen = cli.json("request", "show", str(school["id"]), "--as", "verifier")
    assert (seen["kind"], seen["kk_number"], school["kk_number"]) == ("update_member", kk(1), kk(1))
    assert seen["current"] == {child["nik"]: {"school_level": child["school_level"]}}
    assert child["school_level"] != "smp"
    screen = said(cli.ok("request", "show", str(school["id"]), "--as", "verifier").stdout)
    assert f"{child['nik']} │ school_level │ {child['school_level']} │ smp" in screen
    cli.ok("request", "verify", str(school["id"]), "--as", "verifier")
    cli.ok("request", "determine", str(school["id"]), "--as", "pusdatin")
    decided = cli.json("request", "show", str(school["id"]), "--as", "verifier")
    assert decided["proposed_at"] <= decided["verified_at"] <= decided["decided_at"]
    # Determined: what it changed from, beside the proposal and the value now.
    assert decided["before"] == {child["nik"]: {"school_level": child["school_level"]}}
    assert seen["before"] == {}  # not before it was determined
    screen = said(cli.ok("request", "show", str(school["id"]), "--as", "verifier").stdout)
    assert f"diputuskan oleh pusdatin ({decided['decided_at'][:10]}" in screen
    assert "sebelum" in screen
    assert f"{child['nik']} │ school_level │ {child['school_level']} │ smp │ smp" in screen
    # The family's history: its import, each request, and what the determination changed.
    past = cli.json("registry", "history", kk(1), "--as", "verifier")
    assert [e["action"] for e in past["events"]][-3:] == [
        "request.propose.update_member",
        "request.verify",
        "request.determine.update_member",
    ]
    screen = said(cli.ok("registry", "history", kk(1), "--as", "verifier").stdout)
    assert f"anggota {child['nik']}: school_level: {child['school_level']} → smp" in screen
    # Outside the request's region, it does not exist.
    cli.ok("users", "add", "dinsos-bdg", "--role", "verifier", "--region", "32.73", "--as", "admin")
    elsewhere = cli.run("request", "show", str(update["id"]), "--as", "dinsos-bdg", "--json")
    assert json.loads(elsewhere.stdout)["error"] == "not_found"
    assert "31.71" not in elsewhere.stdout
    rejected = cli.json(
        "request",
        "reject",
        str(update["id"]),
        "--reason",
        "foto rumah tidak ada",
        "--as",
        "verifier",
    )
    assert (rejected["state"], rejected["reason"]) == ("rejected", "foto rumah tidak ada")
    bad = cli.run(
        "request", "propose", "--kind", "update", "--payload", "{bukan json", "--as", "operator"
    )
    assert bad.exit_code == 1
    assert "Payload bukan JSON" in said(bad.stderr)


def test_acting_without_a_user_is_a_clear_error(
    cli: Cli, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_users(cli)
    missing = cli.run("registry", "verify")
    assert missing.exit_code == 1
    assert "Siapa yang bertindak? Beri --as USERNAME atau LUMBUNG_ACTOR." in said(missing.stderr)
    machine = cli.run("registry", "verify", "--json")
    assert machine.exit_code == 1
    assert json.loads(machine.stdout)["error"] == "validation_failed"
    unknown = cli.run("registry", "verify", "--as", "siapa")
    assert unknown.exit_code == 1
    assert "siapa" in said(unknown.stderr)
    with engine.begin() as conn:
        conn.execute(text("UPDATE user_account SET active = false WHERE username = 'pusdatin'"))
    inactive = cli.run("registry", "determine", "--as", "pusdatin")
    assert inactive.exit_code == 1
    assert "tidak aktif" in said(inactive.stderr)
    monkeypatch.setenv("LUMBUNG_ACTOR", "verifier")
    assert cli.json("registry", "verify")["region"] == "31.71"
    monkeypatch.setenv("LUMBUNG_ACTOR", "admin")
    assert cli.json("registry", "verify", "--as", "verifier")["region"] == "31.71"


def test_registry_scope_is_enforced_from_the_cli(cli: Cli, engine: Engine) -> None:
    add_users(cli)
    households, members = family(1)
    paths = write_batch(cli.data_dir.parent / "batch", [households], members)
    cli.ok("import", *map(str, paths), "--as", "operator")
    outside = cli.run("registry", "verify", "--region", "32.73", "--as", "verifier")
    assert outside.exit_code == 1
    assert "di luar kewenangan" in said(outside.stderr)
    reject = cli.json(
        "registry",
        "reject",
        "--reason",
        "musdes belum",
        "--region",
        "31.71.01",
        "--as",
        "verifier",
    )
    assert (reject["households"], reject["to"]) == (1, "rejected")
    assert count(engine, "SELECT count(*) FROM household WHERE status = 'rejected'") == 1
    # A family outside the reader's region is answered as one that does not exist: neither
    # that it exists nor where.
    cli.ok("users", "add", "bandung", "--role", "verifier", "--region", "32.73", "--as", "admin")
    known, unknown = households["kk_number"], "3273010101990001"
    hidden, absent = (
        cli.run("registry", "show", kk_number, "--as", "bandung", "--json")
        for kk_number in (known, unknown)
    )
    assert hidden.exit_code == absent.exit_code == 1
    answers = [json.loads(r.stdout) for r in (hidden, absent)]
    assert answers[0]["error"] == answers[1]["error"] == "not_found"
    assert answers[0]["message"].replace(known, "KK") == answers[1]["message"].replace(
        unknown, "KK"
    )
    assert "31.71" not in answers[0]["message"]
    assert cli.json("registry", "show", known, "--as", "verifier")["kk_number"] == known


def test_a_database_missing_on_the_server_is_named(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a database that was never created is not sent to `db upgrade` (which would
    fail the same way) but named, with how to create it. SQLite creates its file itself, and
    an empty one is sent to `db upgrade`."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        url, expected = url.set(database="lumbung_never_created"), "createdb lumbung_never_created"
    else:
        url, expected = url.set(database=str(tmp_path / "fresh.db")), "lumbung db upgrade"
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", url.render_as_string(hide_password=False))
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "data"))
    _reset()
    try:
        result = CliRunner().invoke(app, ["registry", "stats", "--as", "admin", "--json"])
    finally:
        _reset()
    assert result.exit_code == 1
    assert expected in json.loads(result.stdout)["message"]


def test_a_database_not_yet_migrated_gets_a_plain_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lumbung.cli import app, common
    from lumbung.config import get_settings

    def stats() -> Any:
        get_settings.cache_clear()
        common._engines.clear()
        try:
            result = CliRunner().invoke(app, ["registry", "stats", "--as", "admin", "--json"])
        finally:
            get_settings.cache_clear()
            common._engines.clear()
        assert result.exit_code == 1
        return json.loads(result.stdout)

    # A SQLite file that is not there is not created by a mistaken command...
    missing = tmp_path / "nowhere.db"
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", f"sqlite:///{missing}")
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "data"))
    answer = stats()
    assert "lumbung db upgrade" in answer["message"] and str(missing) in answer["message"]
    assert not missing.exists()
    # ... and one that is there but empty is named as not yet migrated.
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", f"sqlite:///{empty}")
    assert "lumbung db upgrade" in stats()["message"]


def test_the_demo_runs_the_whole_path(cli: Cli) -> None:
    summary = cli.json("demo", "--households", "300", "--seed", "5", "--noise", "0.05")
    imported = summary["import"]
    assert summary["regions"]["villages"] == 83762
    assert imported["households_read"] == 300
    assert imported["households_rejected"] > 0  # the noise is caught
    assert summary["determined"] == imported["households_accepted"]
    assert summary["release"]["households"] == imported["households_accepted"]
    assert summary["release"]["verified"] is True
    assert summary["audit"]["ok"] is True
    # The approved cycles are paid through every channel, and their money adds up.
    delivery = summary["delivery"]
    assert delivery["bank"]["recorded"]["paid"] > 0 and delivery["pos"]["letters"] > 0
    assert delivery["bpjs"]["total_idr"] == 42_000 * delivery["bpjs"]["persons"]
    assert [c["ok"] for c in delivery["checks"]] == [True, True, True], delivery["checks"]
    # A second run adds nothing new and still verifies.
    again = cli.json("demo", "--households", "300", "--seed", "5", "--noise", "0.05")
    assert again["import"]["households_accepted"] == 0
    assert again["release"]["households"] == imported["households_accepted"]
    assert all(c["ok"] for c in again["delivery"]["checks"])


def test_numbers_are_written_as_operators_read_them(cli: Cli) -> None:
    """Counts in Indonesian messages are grouped with dots, as the rupiah amounts are: one
    way of writing numbers in one summary."""
    assert (grouped(83762), grouped(1239), grouped(999), grouped(0)) == (
        "83.762",
        "1.239",
        "999",
        "0",
    )
    summary = said(cli.ok("regions", "load").stdout)
    assert "83.762" in summary and "83,762" not in summary


def test_the_import_summary_names_every_count_in_words() -> None:
    """Every count of the import summary has its words on screen (the JSON keeps the keys)."""
    from lumbung.cli.imports import SUMMARY_LABELS
    from lumbung.registry.import_run import ImportSummary

    counts = {
        name
        for name, value in ImportSummary().as_dict().items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
    assert set(SUMMARY_LABELS) == counts


@pytest.mark.parametrize(("asked", "used"), [(None, "jemalloc"), ("system", "system")])
def test_the_command_chooses_arrows_allocator_unless_the_operator_did(
    asked: str | None, used: str
) -> None:
    """jemalloc for Arrow in the command's process (a release frees and allocates gigabytes;
    benchmarks/README.md), chosen before pyarrow is imported; an operator's choice stands."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if asked:
        env["ARROW_DEFAULT_MEMORY_POOL"] = asked
    probe = "import lumbung.cli, pyarrow; print(pyarrow.default_memory_pool().backend_name)"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == used


def test_users_add_refuses_a_village_operator_without_a_region(cli: Cli, engine: Engine) -> None:
    cli.ok("users", "add", "admin", "--role", "admin")
    national = cli.run("users", "add", "op-nasional", "--role", "operator", "--as", "admin")
    assert national.exit_code == 1
    assert "Wilayah (region) wajib diisi" in said(national.stderr)
    assert "operator" in said(national.stderr)
    assert count(engine, "SELECT count(*) FROM user_account WHERE username = 'op-nasional'") == 0
    # Other roles may still be national.
    cli.ok("users", "add", "auditor-pusat", "--role", "auditor", "--as", "admin")
