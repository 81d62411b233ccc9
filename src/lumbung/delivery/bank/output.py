"""A file written aside and put in place whole: the temporary file is created exclusively
(mode 0600) in the target's folder, hashed as it is written, synced, and renamed over the
target only when the writer finished and its checks passed; on any failure it is removed and
the target is left as it was. A rename replaces a symbolic link at the target rather than
writing through it."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
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
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if now - leftover.stat().st_mtime > STALE_SECONDS:
                leftover.unlink()


@contextmanager
def atomic(out: Path) -> Iterator[HashedFile]:
    """A `HashedFile` whose bytes become `out` when the block ends without an error."""
    target = checked_target(out)
    _sweep(target)
    descriptor, partial = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
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
