"""A bank's answer recorded from the command line: the whole bank path, file to check."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as DbEngine

from bank_helpers import approved_bank_batches
from test_cli import Cli, cli  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("users")


@pytest.mark.parametrize("form", ["pain.002", "csv"])
def test_a_bank_answer_is_recorded_once_and_the_cycle_adds_up(
    cli: Cli,  # noqa: F811
    engine: DbEngine,
    tmp_path: Path,
    form: str,
) -> None:
    (batch,) = approved_bank_batches(engine, tmp_path, "SBK-1", "SEMBAKO")
    written = cli.json(
        "delivery", "file", "write", str(batch.id), "--out", str(tmp_path), "--as", "determiner"
    )
    answer = tmp_path / ("status.xml" if form == "pain.002" else "status.csv")
    kind = "pain.002.001.03" if form == "pain.002" else "csv"
    cli.ok(
        "delivery",
        "file",
        "simulate-answer",
        written["path"],
        "--out",
        str(answer),
        "--fail-every",
        "3",
        "--format",
        kind,
    )
    refused = cli.run("delivery", "status", "import", str(answer), "--as", "auditor")
    assert refused.exit_code == 1 and "permission_denied" in refused.output
    first = cli.json(
        "delivery", "status", "import", str(answer), "--partner", "BRI", "--as", "determiner"
    )
    failed = batch.count // 3
    assert first["recorded"] == {"paid": batch.count - failed, "failed": failed, "returned": 0}
    assert first["rejected"] == 0, first["problems"]
    again = cli.json("delivery", "status", "import", str(answer), "--as", "determiner")
    assert again["unchanged"] == batch.count and again["recorded"]["paid"] == 0
    checked = cli.json("cycle", "check", "SBK-1", "--as", "auditor")
    assert checked["ok"], checked["problems"]
    assert checked["states"]["failed"]["entitlements"] == failed
    assert checked["states"]["paid"]["entitlements"] == batch.count - failed
    other = cli.json(
        "delivery", "status", "import", str(answer), "--partner", "BNI", "--as", "determiner"
    )
    assert {p["code"] for p in other["problems"]} == {"other_partner"}


def test_a_status_file_broken_part_way_is_refused_whole(
    cli: Cli,  # noqa: F811
    engine: DbEngine,
    tmp_path: Path,
) -> None:
    (batch,) = approved_bank_batches(engine, tmp_path, "SBK-1", "SEMBAKO")
    written = cli.json(
        "delivery", "file", "write", str(batch.id), "--out", str(tmp_path), "--as", "determiner"
    )
    answer = tmp_path / "status.xml"
    cli.ok("delivery", "file", "simulate-answer", written["path"], "--out", str(answer))
    body = answer.read_bytes()
    answer.write_bytes(body[: len(body) * 2 // 3])  # cut off in transmission
    refused = cli.run("delivery", "status", "import", str(answer), "--as", "determiner")
    assert refused.exit_code == 1 and "rusak" in refused.output, refused.output
    checked = cli.json("cycle", "check", "SBK-1", "--as", "auditor")
    assert checked["ok"] and checked["states"]["paid"]["entitlements"] == 0
