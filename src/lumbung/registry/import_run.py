"""One run of `lumbung import`: what it is asked (`ImportRequest`), what it reports
(`ImportSummary`), where its `--link` looks (`LinkFolders`), and how it tells its stage as it
goes (`Progress`). Shared by the import (registry/importer.py) and the load
(registry/loading.py), and by the front ends that ask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class ImportSummary:
    households_read: int = 0
    members_read: int = 0
    households_accepted: int = 0
    members_accepted: int = 0
    households_rejected: int = 0
    members_rejected: int = 0
    households_unchanged: int = 0
    members_unchanged: int = 0
    duplicates_for_review: int = 0
    errors_total: int = 0
    warnings_total: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    reject_file: str | None = None
    # Problems written to the reject file, and those left out past its bound (`REJECT_LINES`).
    reject_file_rows: int = 0
    reject_file_omitted: int = 0
    batch_id: int | None = None
    batch_sha256: str = ""
    status: str = "proposed"
    dry_run: bool = False
    # What `--link` found against the latest release (linkage/batch.py `BatchLinks.as_dict`);
    # None when the batch was not linked.
    linkage: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class LinkFolders:
    """Where an import asked to link its batch (`--link`) finds the latest release and the
    model its link run trained (linkage/batch.py)."""

    data_dir: Path
    releases_dir: Path


@dataclass(frozen=True, slots=True)
class ImportRequest:
    paths: list[Path]
    rejects_dir: Path
    status: str = "proposed"
    dry_run: bool = False
    allow_duplicates: bool = False
    as_of: date | None = None
    max_listed: int = 1000
    reject_lines: int | None = None  # the reject file's bound; None: REJECT_LINES
    # Link the batch against the latest release first (probable duplicates as warnings, and
    # sent to review when loaded); None: not linked, and nothing of the engine is loaded.
    link: LinkFolders | None = None


Progress = Callable[[str], None]
