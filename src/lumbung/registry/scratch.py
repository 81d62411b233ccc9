"""The scratch folder of one import (converted tables, DuckDB's spill, the staged reject file):
made and removed by `scratch_dir`, held by a lock while its import runs; the folders of imports
that died without removing theirs are swept by the next one (`sweep_scratch`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRATCH_PREFIX = "lumbung-import-"
OWNER_LOCK = ".owner"
YOUNG = 60  # seconds: a folder this new is left alone, its owner may be about to lock it
UNLOCKED_GRACE = 3600  # seconds: a folder without its lock file (made before locks) left alone


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A scratch folder for one import (converted tables, DuckDB's spill, the staged reject
    file), removed afterwards. Its owner holds a lock on a file in it for as long as it runs:
    an import killed outright (SIGKILL, a machine that lost power) cannot remove its folder,
    which holds copies of the batch's rows, so every import first removes the folders of
    imports that no live process holds any more (`sweep_scratch`)."""
    base = Path(tempfile.gettempdir())
    sweep_scratch(base)
    path = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=base))
    lock = os.open(path / OWNER_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(lock)


def sweep_scratch(base: Path) -> list[Path]:
    """Remove the scratch folders under `base` that belong to this user and whose lock no
    process holds (their import died); those of running imports stay. What was removed."""
    removed = []
    for entry in base.glob(SCRATCH_PREFIX + "*"):
        try:
            info = entry.lstat()
        except OSError:  # gone meanwhile
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        if time.time() - info.st_mtime <= YOUNG:
            # Made this instant: its owner may not hold its lock yet (between creating the
            # lock file and locking it); taking the lock here would remove a live import's
            # folder and fail its own lock.
            continue
        try:
            fd = os.open(entry / OWNER_LOCK, os.O_RDWR)
        except FileNotFoundError:
            # No lock file: made by an older version, or made this instant and not yet locked.
            if time.time() - info.st_mtime > UNLOCKED_GRACE:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: an import is running in it
            continue
        else:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        finally:
            os.close(fd)
    return removed
