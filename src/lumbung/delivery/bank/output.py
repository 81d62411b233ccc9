"""A file written aside and put in place whole: the temporary file is created exclusively
(mode 0600) in the target's folder, hashed as it is written, synced, and renamed over the
target only when the writer finished and its checks passed; on any failure it is removed and
the target is left as it was. A rename replaces a symbolic link at the target rather than
writing through it. A writer killed outright (kill -9, power loss) leaves its partial file; the
next writer of the same target removes it: at once when its name says it was written on this
machine by a process that is gone, else once it is older than `STALE_SECONDS` (a writer on
another machine sharing the folder). A command run again after `kill -9` thus leaves the
folder as an uninterrupted run would."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from lumbung.errors import ValidationFailed
from lumbung.registry.check_sql import CONTROL_OR_BREAK

BUFFER = 1 << 20


class HashedFile:
    """Bytes to a file and to its sha256 at once."""

    __slots__ = ("_file", "_sha", "size")

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._sha.update(data)
        self._file.write(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def checked_target(out: Path) -> Path:
    """Where a file goes: `out` itself, its folder existing, its name printable."""
    if CONTROL_OR_BREAK.search(out.name) or not out.name or out.name in (".", ".."):
        raise ValidationFailed(f"Nama berkas tujuan tidak sah: {out.name!r}.")
    if out.is_dir():
        raise ValidationFailed(f"{out} adalah folder; beri nama berkasnya.")
    if not out.parent.is_dir():
        raise ValidationFailed(f"Folder {out.parent} tidak ada.")
    return out


# A partial file older than this was left by a writer killed outright (kill -9, power loss):
# the next writer of the same file removes it. Younger ones may still be written.
STALE_SECONDS = 15 * 60


def _sweep(target: Path) -> None:
    """Remove the partial files of `target` that killed writers left behind."""
    now = time.time()
    host = _host()
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if now - leftover.stat().st_mtime > STALE_SECONDS or _dead_here(
                leftover.name[len(target.name) + 2 :], host
            ):
                leftover.unlink()


def _host() -> str:
    return "".join(c for c in socket.gethostname() if c.isalnum())[:40] or "host"


def _dead_here(tail: str, host: str) -> bool:
    """Whether a partial file's name (`HOST.PID.random.part`) says its writer ran on this
    machine and is gone."""
    parts = tail.split(".")
    if len(parts) < 3 or parts[0] != host or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


@contextmanager
def atomic(out: Path) -> Iterator[HashedFile]:
    """A `HashedFile` whose bytes become `out` when the block ends without an error."""
    target = checked_target(out)
    _sweep(target)
    descriptor, partial = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.{_host()}.{os.getpid()}.", suffix=".part"
    )
    try:
        with os.fdopen(descriptor, "wb", buffering=BUFFER) as raw:
            hashed = HashedFile(raw)
            yield hashed
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
