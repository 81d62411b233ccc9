"""Docs that cannot fall behind the code: every command and every error code is documented."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from lumbung.cli import app
from lumbung.registry.errors import ERROR_CODES, WARNING_CODES

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _walk(command: Any, path: list[str]) -> Iterator[str]:
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in sorted(subcommands.items()):
            yield from _walk(sub, [*path, name])
    else:
        yield " ".join(path)


def cli_commands() -> list[str]:
    """Every leaf command of the Typer app, e.g. "lumbung registry verify"."""
    return list(_walk(typer.main.get_command(app), ["lumbung"]))


def _doc(name: str) -> str:
    path = DOCS / name
    assert path.exists(), f"{path} is missing"
    return path.read_text(encoding="utf-8")


def test_the_command_walk_finds_every_group() -> None:
    commands = cli_commands()
    groups = {c.split()[1] for c in commands}
    assert {"db", "regions", "users", "registry", "request", "release", "audit"} <= groups
    assert {"lumbung import", "lumbung synth", "lumbung registry verify"} <= set(commands)


@pytest.mark.parametrize("command", cli_commands())
def test_every_command_is_in_cli_md(command: str) -> None:
    assert re.search(rf"{re.escape(command)}(?![\w-])", _doc("CLI.md")), (
        f"`{command}` is not documented in docs/CLI.md"
    )


@pytest.mark.parametrize("code", sorted(ERROR_CODES) + sorted(WARNING_CODES))
def test_every_error_and_warning_code_is_in_errors_md(code: str) -> None:
    # As code (`duplicate_nik`) or as a table cell (| duplicate_nik |), not as a mere word:
    # "required" in prose does not document the code.
    pattern = rf"`{re.escape(code)}`|\|\s*{re.escape(code)}\s*\|"
    assert re.search(pattern, _doc("ERRORS.md")), f"`{code}` is not documented in docs/ERRORS.md"
