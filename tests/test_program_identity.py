"""A program is known by its content: a code and version always mean the same definition, a
shipped program's code is not for another file, and every cycle records the hashes of the
definition and PMT model that decided it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine as DbEngine

from lumbung.cycles.models import Cycle
from lumbung.db import session_scope
from lumbung.errors import Conflict
from lumbung.programs.catalog import content_sha256, shipped_sha256
from lumbung.programs.definition import shipped_programs
from lumbung.programs.models import Program
from lumbung.targeting.models import PmtModelRecord
from test_cli import Cli, _reset
from test_cycles import cycle, setup_registry

pytestmark = pytest.mark.usefixtures("users")

PKH_TEXT = shipped_programs()["PKH"].read_text(encoding="utf-8")
SEMBAKO_TEXT = shipped_programs()["SEMBAKO"].read_text(encoding="utf-8")
OWN = """
code: BANSOS-KOTA
name: Bantuan sosial kota
version: "1"
unit: household
eligibility: decile <= 3
benefit:
  kind: flat
  monthly_idr: 100000
schedule:
  kind: monthly
channel: pos
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def program_row(engine: DbEngine, code: str) -> tuple[str, str]:
    with session_scope(engine) as session:
        row = session.execute(select(Program).where(Program.code == code)).scalar_one()
        return row.version, row.sha256


def test_a_shipped_programs_code_is_not_taken_by_another_file(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    sembako = cycle(engine, tmp_path, "SEMBAKO-1", program="SEMBAKO")
    before = program_row(engine, "SEMBAKO")
    wider = write(tmp_path, "sembako.yaml", SEMBAKO_TEXT.replace("decile <= 6", "decile <= 10"))
    assert "decile <= 10" in wider.read_text(encoding="utf-8")
    with pytest.raises(Conflict) as refused:
        cycle(engine, tmp_path, "SEMBAKO-2", program=str(wider))
    assert shipped_sha256()["SEMBAKO"] in str(refused.value)
    assert "milik program bawaan" in str(refused.value)
    assert program_row(engine, "SEMBAKO") == before  # the row of the shipped program stands
    # The same for PKH with more families: under the shipped code and version, refused,
    # with the hash of each content.
    looser = write(tmp_path, "pkh.yaml", PKH_TEXT.replace("decile <= 3", "decile <= 5"))
    with pytest.raises(Conflict, match=shipped_sha256()["PKH"]):
        cycle(engine, tmp_path, "PKH-COPY", program=str(looser))
    with session_scope(engine) as session:
        labels = set(session.execute(select(Cycle.label)).scalars())
    assert labels == {"SEMBAKO-1"}
    # A file saying exactly what the shipped definition says is the shipped program.
    same = write(tmp_path, "same.yaml", "# a copy\n" + SEMBAKO_TEXT)
    again = cycle(engine, tmp_path, "SEMBAKO-3", program=str(same))
    assert again.definition_sha256 == sembako.definition_sha256 == shipped_sha256()["SEMBAKO"]


def test_a_code_and_version_that_ran_keep_their_content(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    first = cycle(engine, tmp_path, "KOTA-1", program=str(write(tmp_path, "a.yaml", OWN)))
    changed = write(tmp_path, "b.yaml", OWN.replace("decile <= 3", "decile <= 5"))
    with pytest.raises(Conflict) as refused:
        cycle(engine, tmp_path, "KOTA-2", program=str(changed))
    message = str(refused.value)
    assert first.definition_sha256 in message and "KOTA-1" in message
    assert "version" in message
    other = content_sha256(json.loads(json.dumps(_content(changed))))
    assert other in message
    # The same draft may be recomputed with other content (its own row does not count)…
    redone = cycle(engine, tmp_path, "KOTA-1", program=str(changed), replace=True)
    assert redone.definition_sha256 == other
    # …and a new version is a new content.
    newer = write(tmp_path, "c.yaml", OWN.replace('version: "1"', 'version: "2"'))
    second = cycle(engine, tmp_path, "KOTA-3", program=str(newer))
    assert second.version == "2"
    # A program that ran runs again by its code: its definition as last run.
    by_code = cycle(engine, tmp_path, "KOTA-4", program="BANSOS-KOTA")
    assert (by_code.program, by_code.version) == ("BANSOS-KOTA", "2")
    assert by_code.definition_sha256 == second.definition_sha256


def _content(path: Path) -> dict[str, object]:
    from lumbung.programs.definition import load_program

    return load_program(path).model_dump(mode="json")


def test_every_cycle_records_its_definitions_and_models_hashes(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    result = cycle(engine, tmp_path, "PKH-T1")
    with session_scope(engine) as session:
        model = session.execute(select(PmtModelRecord)).scalar_one()
        row = session.execute(select(Cycle)).scalar_one()
        assert row.definition_sha256 == shipped_sha256()["PKH"] == result.definition_sha256
        assert content_sha256(row.definition) == row.definition_sha256
        assert row.summary["model_sha256"] == model.sha256 == result.model_sha256
    assert result.as_dict()["version"] == "2025.1"
    assert result.as_dict()["model"] == "test-floor@1"


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LUMBUNG_ACTOR", raising=False)
    monkeypatch.chdir(tmp_path)
    _reset()
    yield Cli(tmp_path)
    _reset()


def test_validate_accepts_what_a_cycle_run_accepts(
    cli: Cli, engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    own = write(tmp_path, "own.yaml", OWN)
    topup = write(
        tmp_path,
        "topup.yaml",
        OWN.replace("BANSOS-KOTA", "TOPUP").replace(
            "decile <= 3", "decile <= 3 and enrolled('BANSOS-KOTA')"
        ),
    )
    # Before BANSOS-KOTA ran, neither validate nor cycle run knows it (alone).
    assert cli.run("program", "validate", str(topup)).exit_code == 1
    assert cli.run("cycle", "run", "--program", str(topup), "--release", "R1", "--label",
                   "T-0", "--as", "determiner").exit_code == 1  # fmt: skip
    cli.ok("cycle", "run", "--program", str(own), "--release", "R1", "--label", "K-1",
           "--as", "determiner")  # fmt: skip
    [checked] = cli.json("program", "validate", str(topup))
    assert checked["ok"] and checked["code"] == "TOPUP"
    cli.ok("cycle", "run", "--program", str(topup), "--release", "R1", "--label", "T-1",
           "--as", "determiner")  # fmt: skip
    # What cycle run refuses, validate reports, at the key at fault.
    copy = write(tmp_path, "pkh.yaml", PKH_TEXT.replace("decile <= 3", "decile <= 5"))
    changed = write(tmp_path, "changed.yaml", OWN.replace("monthly_idr: 100000", "monthly_idr: 1"))
    result = cli.run("program", "validate", str(copy), str(changed))
    assert result.exit_code == 1
    lines = result.stdout.strip().split("\n")
    assert lines[0].startswith(f"{copy}:5:7: Kode PKH milik program bawaan"), lines
    assert lines[1].startswith(f"{changed}:4:10: Program BANSOS-KOTA versi 1 sudah"), lines
    # cycle list shows code, version and the hashes.
    rows = cli.json("cycle", "list", "--as", "determiner")
    assert [(r["cycle"], r["program"], r["version"]) for r in rows] == [
        ("K-1", "BANSOS-KOTA", "1"),
        ("T-1", "TOPUP", "1"),
    ]
    assert all(len(r["definition_sha256"]) == 64 and len(r["model_sha256"]) == 64 for r in rows)
    listed = cli.ok("cycle", "list", "--as", "determiner").stdout
    assert rows[0]["definition_sha256"][:12] in listed and "draf" in listed
