"""Files made for one download: written to a private file under the data folder, handed to
the web server to send, and removed once sent."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def private_file(lines: Iterable[str], data_dir: Path, *, suffix: str = ".csv") -> Path:
    """`lines` written to a new file only this process's user may read
    (`DATA_DIR/exports/…`); nothing is left behind when writing fails."""
    folder = data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, suffix=suffix)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            for line in lines:
                out.write(line)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)
