"""`lumbung cycle beneficiaries`: who is in a cycle, page by page, as far as the reader may see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine
from typer.testing import CliRunner

from conftest import user
from factories import OTHER_VILLAGE, kk, write_batch
from helpers import run_import
from lumbung.auth.roles import in_scope
from lumbung.cli import app
from lumbung.config import get_settings
from lumbung.cycles.listing import list_beneficiaries
from lumbung.db import session_scope
from lumbung.errors import NotFound, PermissionDenied, ValidationFailed
from targeting_helpers import floor_model, release, score
from test_cycles import cycle, registry_families, setup_registry

pytestmark = pytest.mark.usefixtures("users")


def stored(engine: DbEngine, label: str) -> list[tuple[str, str, str, int]]:
    """(village, kk, regency, amount) of every entitlement of the cycle, by beneficiary."""
    with engine.connect() as conn:
        return [
            (r[0], r[1], r[2], r[3])
            for r in conn.execute(
                text(
                    "SELECT h.village_code, e.kk_number, e.regency_code, e.amount_idr "
                    "FROM entitlement e JOIN cycle c ON c.id = e.cycle_id "
                    "JOIN household h ON h.id = e.household_id "
                    "WHERE c.label = :label ORDER BY e.beneficiary_id"
                ),
                {"label": label},
            )
        ]


def page(engine: DbEngine, actor: str, label: str, **options: object) -> dict[str, Any]:
    with session_scope(engine) as session:
        return list_beneficiaries(
            session,
            actor=user(session, actor),
            cycle_label=label,
            **options,  # type: ignore[arg-type]
        )


def two_regions(engine: DbEngine, data_dir: Path) -> None:
    """The ten families of test_cycles, the last four moved to Kota Bandung."""
    households, members = registry_families()
    for h in households[6:]:
        h["village_code"] = OTHER_VILLAGE
    summary = run_import(
        engine, write_batch(data_dir / "batch", households, members), status="approved"
    )
    assert (summary.households_rejected, summary.members_rejected) == (0, 0), summary.errors[:3]
    release(engine, data_dir, "R1")
    score(engine, data_dir, "R1", floor_model())


def test_each_reader_sees_the_beneficiaries_of_their_region(
    engine: DbEngine, tmp_path: Path
) -> None:
    two_regions(engine, tmp_path)
    result = cycle(engine, tmp_path, "PBI-1", program="PBI-JKN")
    rows = stored(engine, "PBI-1")
    assert len(rows) == result.beneficiaries > 0
    for actor, scope in (
        ("determiner", None),
        ("verifier", "31.71"),
        ("other_verifier", "32.73"),
        ("operator", "31.71.01.1001"),
    ):
        listed = page(engine, actor, "PBI-1", limit=1000)
        expected = [r for r in rows if in_scope(scope, r[0])]
        assert listed["total"] == len(expected), actor
        got = [
            (b["kk_number"], b["regency_code"], b["amount_idr"]) for b in listed["beneficiaries"]
        ]
        assert got == [(kk, regency, amount) for _, kk, regency, amount in expected], actor
        for b in listed["beneficiaries"]:
            assert "*" in b["nik"]  # persons' NIKs are masked for every reader
            assert sum(c["amount_idr"] for c in b["components"].values()) == b["amount_idr"]
    assert {r[0][:5] for r in rows} >= {"31.71", "32.73"}  # both regions are really in it


def test_pages_and_the_regency_filter(engine: DbEngine, tmp_path: Path) -> None:
    two_regions(engine, tmp_path)
    cycle(engine, tmp_path, "PBI-1", program="PBI-JKN")
    rows = stored(engine, "PBI-1")
    first = page(engine, "determiner", "PBI-1", limit=2)
    second = page(engine, "determiner", "PBI-1", limit=2, offset=2)
    kks = [b["kk_number"] for b in first["beneficiaries"] + second["beneficiaries"]]
    assert kks == [r[1] for r in rows[:4]]
    assert first["total"] == second["total"] == len(rows)
    bandung = page(engine, "determiner", "PBI-1", regency="32.73", limit=1000)
    assert [b["kk_number"] for b in bandung["beneficiaries"]] == [
        r[1] for r in rows if r[2] == "32.73"
    ]
    assert bandung["total"] == len([r for r in rows if r[2] == "32.73"])
    with pytest.raises(ValidationFailed, match="--limit"):
        page(engine, "determiner", "PBI-1", limit=0)
    with pytest.raises(ValidationFailed, match=r"31\.71"):
        page(engine, "determiner", "PBI-1", regency="3273")


def test_a_regency_outside_the_readers_region_is_said_to_be_so(
    engine: DbEngine, tmp_path: Path
) -> None:
    two_regions(engine, tmp_path)
    cycle(engine, tmp_path, "PBI-1", program="PBI-JKN")
    # Kota Bandung has beneficiaries, and Kabupaten Bandung none: the same answer for both,
    # that it is outside Jakarta Pusat's, never an empty list that looks like "nobody".
    answers = []
    for regency in ("32.73", "32.04"):
        with pytest.raises(PermissionDenied) as outside:
            page(engine, "verifier", "PBI-1", regency=regency)
        answers.append(str(outside.value).replace(regency, "KAB"))
    assert answers[0] == answers[1]
    assert "di luar wilayah" in answers[0]
    # Within the reader's region (and a district reader in its regency) it is a list.
    assert page(engine, "verifier", "PBI-1", regency="31.71")["total"] > 0
    assert page(engine, "operator", "PBI-1", regency="31.71")["total"] > 0
    with pytest.raises(NotFound):
        page(engine, "determiner", "NO-SUCH-CYCLE")


def test_the_command_prints_and_gives_json(
    engine: DbEngine, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_registry(engine, tmp_path)
    result = cycle(engine, tmp_path, "PKH-1")
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        words = ["cycle", "beneficiaries", "PKH-1", "--as", "determiner"]
        shown = runner.invoke(app, [*words, "--json"])
        assert shown.exit_code == 0, shown.output
        payload = json.loads(shown.output)
        assert payload["total"] == result.beneficiaries
        assert sum(b["amount_idr"] for b in payload["beneficiaries"]) == result.total_idr
        table = runner.invoke(app, words)
        assert table.exit_code == 0, table.output
        assert payload["beneficiaries"][0]["kk_number"] in table.output
        # States and components as people read them: "draf", the definition's labels.
        assert "draf" in table.output and "draft" not in table.output
        assert "Ibu hamil/nifas ×1" in " ".join(table.output.split())
        # Numbers for people: 22 m² for 3 persons is 7.33 m² each, not 7.333333333333333.
        told = runner.invoke(
            app, ["explain", "--cycle", "PKH-1", "--kk", kk(2), "--as", "determiner"]
        )
        assert told.exit_code == 0, told.output
        assert "7.33" in told.output and "7.333" not in told.output
        assert "Anak sekolah SD/sederajat" in " ".join(told.output.split())
        outside = runner.invoke(app, [*words[:3], "--regency", "32.73", "--as", "verifier"])
        assert outside.exit_code == 1
        assert "di luar wilayah" in outside.output
    finally:
        get_settings.cache_clear()
