"""A file written aside and put in place whole: the temporary file is created exclusively
(mode 0600) in the target's folder, hashed as it is written, synced, and renamed over the
target only when the writer finished and its checks passed; on any failure it is removed and
the target is left as it was. A rename replaces a symbolic link at the target rather than
writing through it. A writer killed outright leaves its partial file; the next writer of the
same target removes it (its name carries the dead writer's process id), so a command run again
after `kill -9` leaves the folder as an uninterrupted run would."""

from __future__ import annotations

import glob
import hashlib
import os
import tempfile
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


def _sweep(target: Path) -> None:
    """Remove the partial files of `target` left by writers that died (killed outright: no
    `finally` ran). Their names carry their process id; a live writer's is left alone."""
    for partial in target.parent.glob(f".{glob.escape(target.name)}.*.*.part"):
        pid = partial.name[len(target.name) + 2 :].split(".", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            partial.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's


@contextmanager
def atomic(out: Path) -> Iterator[HashedFile]:
    """A `HashedFile` whose bytes become `out` when the block ends without an error."""
    target = checked_target(out)
    _sweep(target)
    descriptor, partial = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".part"
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
