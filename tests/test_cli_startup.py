"""`lumbung` starts without loading what only some commands need (`lumbung --help`, `lumbung
db upgrade` paid ~1.4 s of imports for the job queue, record linkage and the PDF letters)."""

from __future__ import annotations

import subprocess
import sys

# What `lumbung --help` or `lumbung db upgrade` must not pay for: the job queue (huey, redis),
# record linkage (splink), the engines (duckdb, pyspark, pyarrow), the letters' PDFs
# (reportlab) and `lokal`, which loads all its modules at once. Each is imported inside the
# commands that use it.
HEAVY_FOR_THE_CLI = (
    "huey",
    "redis",
    "splink",
    "duckdb",
    "pyspark",
    "reportlab",
    "pyarrow",
    "lokal",
)


def test_the_command_line_starts_without_its_heavy_libraries() -> None:
    probe = (
        "import sys\n"
        "from typer.main import get_command\n"
        "from lumbung.cli import app\n"
        "get_command(app)\n"  # every command's options resolved, as `lumbung --help` does
        f"heavy = {set(HEAVY_FOR_THE_CLI)!r}\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & heavy)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == []
    # The probe can fail: the same check sees the engine once a command's module loads it.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            probe.replace("get_command(app)\n", "import lumbung.civil.service\n"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "duckdb" in loaded.stdout.split()


def test_the_defaults_the_help_names_are_the_services() -> None:
    """Two options' defaults live in their service, loaded when the command runs; the help
    text names the number, and it must be the service's."""
    from typer.testing import CliRunner

    from lumbung.cli import app
    from lumbung.linkage.merge_proposals import MAX_PROPOSALS
    from lumbung.linkage.service import DEFAULT_REVIEW_WEIGHT

    runner = CliRunner()
    run_help = runner.invoke(app, ["link", "run", "--help"], env={"COLUMNS": "200"}).output
    merge_help = runner.invoke(app, ["link", "merge", "--help"], env={"COLUMNS": "200"}).output
    assert f"(default: {DEFAULT_REVIEW_WEIGHT})" in run_help
    assert f"(default: {MAX_PROPOSALS})" in merge_help
