"""A bank's status file of either kind: a pain.002 report (XML) or a CSV statement, told apart
by their first character."""

from __future__ import annotations

from pathlib import Path

from lumbung.delivery.bank.pain002 import read_status_report
from lumbung.delivery.bank.reading import StatusRead
from lumbung.delivery.bank.statement import read_statement
from lumbung.errors import ValidationFailed


def read_status_file(path: Path) -> StatusRead:
    """Start reading `path`; iterate `rows()` once, then read `problems`."""
    if not path.is_file():
        raise ValidationFailed(f"Berkas {path} tidak ada.")
    with path.open("rb") as f:
        start = f.read(512).removeprefix(b"\xef\xbb\xbf").lstrip()
    if start.startswith(b"<"):
        return read_status_report(path)
    return read_statement(path)
