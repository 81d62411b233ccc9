"""Files uploaded (web, API) for an import job: kept in the data folder under a safe name."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import unicodedata
from pathlib import Path
from typing import Protocol

from lumbung.errors import ValidationFailed

ACCEPTED = (".csv", ".xlsx")
CHUNK = 1024 * 1024
NAME_LIMIT = 100
# What a kept name may hold: letters and digits of any script, and `.`, `-`, `_`, space.
UNSAFE = re.compile(r"[^\w.\- ]")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def uploads_dir(data_dir: Path) -> Path:
    return data_dir / "uploads"


def safe_name(filename: str, *, accepted: tuple[str, ...] = ACCEPTED) -> str:
    """The name an upload is kept under: its last path component, with no control character,
    no bidirectional mark, nothing but letters, digits, `.`, `-`, `_` and spaces, not hidden
    (no leading dot), at most 100 characters, and ending in .csv or .xlsx."""
    base = re.split(r"[/\\]", filename)[-1]
    base = unicodedata.normalize("NFC", base)
    # Control characters (C0, C1, DEL) and format characters (bidirectional marks, zero width).
    base = "".join(c for c in base if unicodedata.category(c) not in ("Cc", "Cf"))
    base = UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    extension = f".{suffix.lower()}" if dot else ""
    if extension not in accepted:
        raise ValidationFailed(
            f"Berkas {filename[:NAME_LIMIT]!r}: hanya berkas "
            f"{' atau '.join(accepted)} yang bisa diterima di sini."
        )
    stem = stem.strip(" .")[: NAME_LIMIT - len(extension)] or "batch"
    return stem + extension


def save(
    data_dir: Path,
    filename: str,
    stream: Readable,
    *,
    max_bytes: int,
    accepted: tuple[str, ...] = ACCEPTED,
) -> Path:
    """Save an uploaded CSV or XLSX as `DATA_DIR/uploads/<random>/<safe name>` and give its
    path; refused (nothing kept) past `max_bytes`. Each upload gets a folder of its own, named
    by 128 random bits: two uploads of the same name never meet, and no name is guessed."""
    name = safe_name(filename, accepted=accepted)
    # Absolute: a data folder given relative (`LUMBUNG_DATA_DIR=data`, as `make demo` does)
    # would otherwise be prefixed twice by the job that reads the upload.
    folder = uploads_dir(data_dir.resolve()) / secrets.token_hex(16)
    folder.mkdir(mode=0o700, parents=True)
    target = folder / name
    written = 0
    try:
        # O_EXCL | O_NOFOLLOW: a file (or link) that appeared under the name is never written to.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(target, flags, 0o600), "wb") as out:
            while chunk := stream.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise ValidationFailed(
                        f"Berkas {name} lebih besar dari batas unggahan "
                        f"{max_bytes / 1024 / 1024:.0f} MB (LUMBUNG_UPLOAD_MAX_BYTES); "
                        "bagi batch menjadi beberapa berkas."
                    )
                out.write(chunk)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if written == 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise ValidationFailed(f"Berkas {name} kosong.")
    return target


def inside_uploads(data_dir: Path, path: Path) -> bool:
    """Whether `path` (resolved, links followed) is a file saved by `save` in this data folder."""
    root = uploads_dir(data_dir).resolve()
    try:
        resolved = path.resolve(strict=True)
    except OSError:
        return False
    return resolved.is_file() and resolved.parent.parent == root
