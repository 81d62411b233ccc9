"""The SHA-256 of a file, read in blocks: how every file Lumbung writes or reads is known
(a release's Parquet files, a scoring's and a cycle's files, an import batch's sources)."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 22  # 4 MiB: large enough that hashing a national release is bound by the disk


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()
