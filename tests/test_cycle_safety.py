"""Cycles under failure, tampering and curiosity: what a run leaves behind when it fails, files
that changed after the fact, people outside a family's region, and options given wrong."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine as DbEngine
from typer.testing import CliRunner

from conftest import user
from factories import kk
from helpers import edit_directly
from lumbung.cli import app
from lumbung.cycles import compute
from lumbung.cycles.files import cycle_folder
from lumbung.cycles.models import Cycle
from lumbung.db import session_scope
from lumbung.errors import Conflict, NotFound, ValidationFailed
from lumbung.targeting.models import Scoring
from lumbung.targeting.pmt import PmtModel, check_name
from test_cycles import approve, cycle, explained, setup_registry

pytestmark = pytest.mark.usefixtures("users")


def folder_of(engine: DbEngine, data_dir: Path, label: str) -> Path:
    with session_scope(engine) as session:
        row = session.execute(select(Cycle).where(Cycle.label == label)).scalar_one()
        return cycle_folder(row, data_dir)


def test_a_failed_rerun_leaves_the_draft_and_its_files_as_they_were(
    engine: DbEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_registry(engine, tmp_path)
    first = cycle(engine, tmp_path, "PKH-T1")
    before = folder_of(engine, tmp_path, "PKH-T1")

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    # The rerun dies while loading the database, after its own files were written.
    monkeypatch.setattr("lumbung.cycles.service.load_entitlements", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        cycle(engine, tmp_path, "PKH-T1", replace=True)
    monkeypatch.undo()
    # The draft in the database still names its own, unchanged files (hashes checked).
    assert folder_of(engine, tmp_path, "PKH-T1") == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM entitlement")).scalar_one() == 2
    # The next run converges: the failed run's folder is gone; the draft it replaces keeps
    # its folder until then (a crash before commit must find it), and no other is left.
    again = cycle(engine, tmp_path, "PKH-T1", replace=True)
    assert (again.beneficiaries, again.total_idr) == (first.beneficiaries, first.total_idr)
    after = folder_of(engine, tmp_path, "PKH-T1")
    assert after != before
    left = {p.name for p in (tmp_path / "cycles" / "PKH-T1").iterdir()}
    assert left == {before.name, after.name}
    cycle(engine, tmp_path, "PKH-T1", replace=True)
    assert after.name in {p.name for p in (tmp_path / "cycles" / "PKH-T1").iterdir()}
    assert not before.exists()


def test_changed_cycle_or_score_files_are_refused_not_used(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-T1")
    approve(engine, "PKH-T1", data_dir=tmp_path)
    cycle(engine, tmp_path, "MIGOR-1", program="BLT-MIGOR-2022")
    folder = folder_of(engine, tmp_path, "MIGOR-1")
    (folder / "enrolled-PKH.parquet").unlink()
    with pytest.raises(Conflict, match="MIGOR-1"):
        explained(engine, tmp_path, "MIGOR-1", kk(1))
    with session_scope(engine) as session:
        scores = tmp_path / session.execute(select(Scoring.path)).scalar_one()
    scores.write_bytes(scores.read_bytes() + b"tampered")
    with pytest.raises(Conflict, match="skor"):
        cycle(engine, tmp_path, "PKH-T2")


def test_someone_outside_the_region_learns_nothing_about_where_a_family_lives(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-T1")
    with session_scope(engine) as session:
        from lumbung.cycles.explain import explain

        with pytest.raises(NotFound) as outside:
            explain(
                session,
                actor=user(session, "other_verifier"),
                cycle_label="PKH-T1",
                kk_number=kk(1),
                data_dir=tmp_path,
            )
        with pytest.raises(NotFound) as missing:
            explain(
                session,
                actor=user(session, "other_verifier"),
                cycle_label="PKH-T1",
                kk_number=kk(99),
                data_dir=tmp_path,
            )
        # A KK that cannot be one is a typo, said as such (not "not found", which hides it).
        for typo in ("3171-0215-1017", kk(1)[:-1], kk(1) + "0"):
            with pytest.raises(ValidationFailed, match=f"KK '{typo}' tidak sah: .*16 digit"):
                explain(
                    session,
                    actor=user(session, "verifier"),
                    cycle_label="PKH-T1",
                    kk_number=typo,
                    data_dir=tmp_path,
                )
    assert "31." not in str(outside.value)
    assert str(outside.value).replace(kk(1)[-4:], "") != ""  # a message, masked
    assert type(outside.value) is type(missing.value)
    # inside the region, the verifier sees the explanation
    with session_scope(engine) as session:
        from lumbung.cycles.explain import explain

        report = explain(
            session,
            actor=user(session, "verifier"),
            cycle_label="PKH-T1",
            kk_number=kk(1),
            data_dir=tmp_path,
        )
    assert report["amount_idr"] == 1_575_000


def test_a_member_dropped_by_a_component_cap_is_told_which_cap(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-T1")
    report = explained(engine, tmp_path, "PKH-T1", kk(1))
    notes = [m["note"] for m in report["members"]]
    assert not any(note and "None" in note for note in notes)


def test_model_names_and_versions_cannot_leave_the_data_folder() -> None:
    for version in ("../../tmp/x", "2026/11", "", ".hidden"):
        with pytest.raises(ValidationFailed):
            check_name("pmt", version)
        with pytest.raises(ValueError, match="version"):
            PmtModel(name="pmt", version=version, intercept=1.0)
    check_name("pmt", "2026.11")


def test_a_wrong_date_option_is_a_message_not_a_traceback(
    engine: DbEngine, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lumbung.config import get_settings

    setup_registry(engine, tmp_path)
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    result = CliRunner().invoke(
        app,
        [
            "cycle",
            "run",
            "--program",
            "PKH",
            "--release",
            "R1",
            "--label",
            "X",
            "--as-of",
            "26-11-2026",
            "--as",
            "determiner",
        ],
    )
    assert result.exit_code != 0
    assert "--as-of" in result.output and "YYYY-MM-DD" in result.output
    assert "Traceback" not in result.output
    get_settings.cache_clear()


def test_a_person_unit_per_person_benefit_counts_up_to_its_cap() -> None:
    from lumbung.engine.backend import open_engine
    from lumbung.programs.definition import parse_program
    from targeting_helpers import Households, head, person, run_entitlements

    definition = parse_program(
        """
code: IURAN
name: Iuran per orang
version: "1"
unit: person
eligibility: "true"
benefit: {kind: per_person, monthly_idr: 42000, max_persons: 3}
schedule: {kind: monthly}
channel: bpjs
"""
    )
    built = Households()
    built.add(1, [head(), person(10), person(11), person(12), person(13), person(14)])
    with open_engine("duckdb") as batch:
        rows = run_entitlements(batch, definition, built)
    assert len(rows) == 3
    assert {r["amount_idr"] for r in rows} == {42_000}
    assert compute.features_used(definition) == frozenset()


def test_four_eyes_and_national_scope_for_cycles(engine: DbEngine, tmp_path: Path) -> None:
    from conftest import add_user
    from lumbung.auth.roles import Role
    from lumbung.errors import PermissionDenied

    setup_registry(engine, tmp_path)
    add_user(engine, "dinsos-jabar", Role.DETERMINER, "32")
    with pytest.raises(PermissionDenied, match="nasional"):
        cycle(engine, tmp_path, "PKH-T1", actor="dinsos-jabar")
    cycle(engine, tmp_path, "PKH-T1")
    with pytest.raises(PermissionDenied, match="empat mata"):
        approve(engine, "PKH-T1", actor="determiner", data_dir=tmp_path)
    with pytest.raises(PermissionDenied, match="nasional"):
        approve(engine, "PKH-T1", actor="dinsos-jabar", data_dir=tmp_path)
    assert approve(engine, "PKH-T1", actor="approver", data_dir=tmp_path).state == "approved"


def test_explain_names_the_outcome(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-T1")
    assert explained(engine, tmp_path, "PKH-T1", kk(1))["outcome"] == "entitled"
    assert explained(engine, tmp_path, "PKH-T1", kk(3))["outcome"] == "not_eligible"
    assert explained(engine, tmp_path, "PKH-T1", kk(5))["outcome"] == "not_eligible"
    # A flat benefit for the family (Sembako) is paid to the family, not counted per member.
    cycle(engine, tmp_path, "SEMBAKO-T1", program="SEMBAKO")
    family = explained(engine, tmp_path, "SEMBAKO-T1", kk(1))
    assert family["outcome"] == "entitled" and family["amount_idr"] > 0
    assert family["members"] and all(not m["qualifies_for"] for m in family["members"])


def test_a_person_who_died_exits_a_person_program_the_family_stays(
    engine: DbEngine, tmp_path: Path
) -> None:
    from factories import nik
    from targeting_helpers import floor_model, release, score

    setup_registry(engine, tmp_path)
    first = cycle(engine, tmp_path, "PBI-1", program="PBI-JKN")
    approve(engine, "PBI-1", data_dir=tmp_path)
    grandmother = nik(date(1950, 6, 1), "P", 14)
    edit_directly(
        engine, "UPDATE member SET status = 'deceased' WHERE nik = :n", {"n": grandmother}
    )
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT status FROM member WHERE nik = :n"), {"n": grandmother}
            ).scalar_one()
            == "deceased"
        )
    release(engine, tmp_path, "R2")
    score(engine, tmp_path, "R2", floor_model())
    second = cycle(engine, tmp_path, "PBI-2", program="PBI-JKN", release_label="R2")
    assert second.beneficiaries == first.beneficiaries - 1
    approve(engine, "PBI-2", data_dir=tmp_path)
    with engine.connect() as conn:
        states: dict[Any, Any] = dict(
            conn.execute(
                text(
                    "SELECT m.nik, e.state FROM enrollment e JOIN member m "
                    "ON m.id = e.beneficiary_id WHERE e.program_code = 'PBI-JKN'"
                )
            ).all()
        )
    assert states.pop(grandmother) == "exited"
    assert set(states.values()) == {"enrolled"}


def test_a_draft_older_than_an_approved_cycle_of_its_program_must_be_rerun(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-A")
    cycle(engine, tmp_path, "PKH-B")
    approve(engine, "PKH-B", data_dir=tmp_path)
    with pytest.raises(Conflict, match="PKH-B"):
        approve(engine, "PKH-A", data_dir=tmp_path)
    again = cycle(engine, tmp_path, "PKH-A", replace=True)
    assert again.enrollment == {"entered": 0, "stayed": 2, "left": 0}
    assert approve(engine, "PKH-A", data_dir=tmp_path).state == "approved"


def partition_rows(engine: DbEngine) -> dict[str, int]:
    """PostgreSQL: rows per partition of `entitlement` (empty partitions included)."""
    with engine.connect() as conn:
        names = conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'entitlement'::regclass"
            )
        ).scalars()
        return {
            name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in names
        }


def test_each_cycle_has_its_own_partition_and_a_replaced_draft_leaves_none(
    engine: DbEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL keeps a cycle's entitlements in a partition of their own (loaded bare,
    indexed and checked once); SQLite in the one table. Either way a rerun of a draft leaves
    exactly the new rows, and a crash during the load leaves the draft as it was."""
    setup_registry(engine, tmp_path)
    pkh = cycle(engine, tmp_path, "PKH-T1")
    sembako = cycle(engine, tmp_path, "SEMBAKO-1", program="SEMBAKO")
    with session_scope(engine) as session:
        ids = dict(session.execute(select(Cycle.label, Cycle.id)).all())
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        assert partition_rows(engine) == {
            f"entitlement_p{ids['PKH-T1']}": pkh.beneficiaries,
            f"entitlement_p{ids['SEMBAKO-1']}": sembako.beneficiaries,
        }

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("attach failed")

    monkeypatch.setattr("lumbung.partitions.attach", crash)  # the last step before commit
    if postgres:  # the load dies after its rows were copied into the new partition
        with pytest.raises(RuntimeError, match="attach failed"):
            cycle(engine, tmp_path, "PKH-T1", replace=True)
    monkeypatch.undo()
    again = cycle(engine, tmp_path, "PKH-T1", replace=True)
    assert again.beneficiaries == pkh.beneficiaries
    with session_scope(engine) as session:
        new_id = session.execute(select(Cycle.id).where(Cycle.label == "PKH-T1")).scalar_one()
        counts: dict[Any, Any] = dict(
            session.execute(
                text("SELECT cycle_id, count(*) FROM entitlement GROUP BY cycle_id")
            ).all()
        )
    assert new_id != ids["PKH-T1"]
    assert counts == {new_id: pkh.beneficiaries, ids["SEMBAKO-1"]: sembako.beneficiaries}
    if postgres:
        assert partition_rows(engine) == {
            f"entitlement_p{new_id}": pkh.beneficiaries,
            f"entitlement_p{ids['SEMBAKO-1']}": sembako.beneficiaries,
        }


def test_a_data_folder_of_another_registry_is_not_written_by_a_cycle(
    engine: DbEngine, tmp_path: Path
) -> None:
    """A cycle run, an approval or a scoring against a data folder another registry claimed
    touch nothing in it (issue 14, item 1: the SQLite walkthrough's approved cycle was
    deleted by PostgreSQL's run of the same label)."""
    import json

    from lumbung.installation.datafolder import MARKER

    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-T1")
    approve(engine, "PKH-T1", data_dir=tmp_path)
    folder = folder_of(engine, tmp_path, "PKH-T1")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    (tmp_path / MARKER).write_text(json.dumps({"registry_id": "another-registry"}))
    with pytest.raises(Conflict):
        cycle(engine, tmp_path, "PKH-T1")
    with pytest.raises(Conflict):
        cycle(engine, tmp_path, "PKH-T2")
    assert sorted(p.name for p in (tmp_path / "cycles").iterdir()) == ["PKH-T1"]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    from targeting_helpers import floor_model, score

    with pytest.raises(Conflict):
        score(engine, tmp_path, "R1", floor_model(version="9"))
    assert not list((tmp_path / "scores" / "R1").glob("*@9*"))
