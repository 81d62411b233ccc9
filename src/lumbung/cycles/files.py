"""A cycle's own files: one folder per run, named by the database row, checked by hash."""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from lumbung.cycles.models import Cycle
from lumbung.errors import Conflict
from lumbung.releases.hashing import sha256_file

ENROLLED_FILE = "enrolled-{code}.parquet"


ENTITLEMENTS = "entitlements.parquet"
RUN_NAME = re.compile(r"(\.staging-)?run-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class RunFolder:
    staging: Path
    folder: Path


def new_run_folder(data_dir: Path, label: str, *, keep: Cycle | None) -> RunFolder:
    """A fresh folder for this run's files, `cycles/LABEL/run-…`.

    Each run writes its own folder and the database row names it, so a run that fails leaves
    the draft it would have replaced intact. Run folders of this label that no committed row
    names (a run killed before it could clean up, replaced drafts) are removed here: reruns
    converge. The caller holds the label's lock (locks.py), so no other run of the label is
    writing one of them; anything not named like a run's folder is left alone.
    """
    parent = data_dir / "cycles" / label
    parent.mkdir(parents=True, exist_ok=True)
    named = (
        (data_dir / keep.summary["folder"]).name if keep and keep.summary.get("folder") else None
    )
    for leftover in parent.iterdir():
        if RUN_NAME.fullmatch(leftover.name) and leftover.name != named:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
    name = f"run-{uuid.uuid4().hex[:12]}"
    staging = parent / f".staging-{name}"
    staging.mkdir()
    return RunFolder(staging, parent / name)


def cycle_folder(cycle: Cycle, data_dir: Path) -> Path:
    """The folder of a cycle's files, after each file's hash matched the cycle's record."""
    folder = data_dir / str(cycle.summary.get("folder", ""))
    files: dict[str, str] = cycle.summary.get("files", {})
    problems = [
        name
        for name, digest in files.items()
        if not (folder / name).exists() or sha256_file(folder / name) != digest
    ]
    if not files or problems:
        raise Conflict(
            f"Berkas siklus {cycle.label} di {folder} hilang atau berubah"
            + (f": {', '.join(problems)}" if problems else "")
            + "; hitung ulang siklus (draf) atau pulihkan folder data."
        )
    return folder


def save_enrollment(enrolled: dict[str, pa.Table], folder: Path) -> None:
    """Keep the enrollment a cycle was computed with, so it can be explained later."""
    import pyarrow.parquet as pq

    for code, rows in enrolled.items():
        pq.write_table(rows, folder / ENROLLED_FILE.format(code=code))


def saved_enrollment(folder: Path, codes: frozenset[str]) -> dict[str, pa.Table]:
    """The enrollment saved with a cycle (empty for a program the cycle never asked about)."""
    import pyarrow.parquet as pq

    found = {}
    for code in sorted(codes):
        path = folder / ENROLLED_FILE.format(code=code)
        if not path.exists():
            raise Conflict(f"{path} tidak ada: kepesertaan saat siklus dihitung tidak diketahui.")
        found[code] = pq.read_table(path)
    return found
