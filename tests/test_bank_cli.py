"""`lumbung payfile …` (to be mounted as `lumbung delivery file …`): write, answer, check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as DbEngine

from bank_helpers import approved_bank_batches, schema
from test_cli import Cli, cli  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("users")


def test_write_a_file_answer_it_and_check_the_answer(
    cli: Cli,  # noqa: F811
    engine: DbEngine,
    tmp_path: Path,
) -> None:
    (batch,) = approved_bank_batches(engine, tmp_path, "SBK-1", "SEMBAKO")
    folder = tmp_path / "out"
    folder.mkdir()
    written = cli.json(
        "delivery",
        "file",
        "write",
        str(batch.id),
        "--out",
        str(folder),
        "--date",
        "2027-01-04",
        "--as",
        "determiner",
    )
    assert written["format"] == "pain.001" and written["count"] == batch.count
    assert written["total_idr"] == batch.total_idr and written["execution_date"] == "2027-01-04"
    schema("pain.001.001.09").validate(written["path"])
    human = cli.ok(
        "delivery",
        "file",
        "write",
        str(batch.id),
        "--out",
        str(folder / "again.xml"),
        "--date",
        "2027-01-04",
        "--as",
        "determiner",
    ).stdout
    assert written["sha256"] in human and "pain.001" in human
    refused = cli.run(
        "delivery", "file", "write", str(batch.id), "--out", str(folder), "--as", "auditor"
    )
    assert refused.exit_code == 1 and "permission_denied" in refused.output
    answer = folder / "status.xml"
    cli.ok(
        "delivery",
        "file",
        "simulate-answer",
        written["path"],
        "--out",
        str(answer),
        "--fail-every",
        "2",
    )
    schema("pain.002.001.03").validate(str(answer))
    assert written["message_id"] in answer.read_text()
    checked = cli.json("delivery", "file", "check", str(answer))
    assert checked["read"] == batch.count and checked["rejected"] == 0
    assert checked["statuses"] == {
        "paid": batch.count - batch.count // 2,
        "failed": batch.count // 2,
    }
    statement = folder / "statement.csv"
    statement.write_text(
        "end_to_end_id,status,amount_idr,date\n1-2,berhasil,300000,2027-01-05\nx,gagal,1,\n"
    )
    bad = cli.run("delivery", "file", "check", str(statement), "--json")
    assert bad.exit_code == 1
    body = json.loads(bad.stdout)
    assert body["read"] == 1 and [p["code"] for p in body["problems"]] == ["unknown_id"]
