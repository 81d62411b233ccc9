"""One run of `lumbung import`: what it is asked (`ImportRequest`), what it reports
(`ImportSummary`), what links it (`BatchLinker`), and how it tells its stage as it
goes (`Progress`). Shared by the import (registry/importer.py) and the load
(registry/loading.py), and by the front ends that ask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import duckdb
    from sqlalchemy.orm import Session

    from lumbung.auth.models import User


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


class LinkedBatch(Protocol):
    """What linking a checked batch found (linkage/batch.py `BatchLinks`)."""

    def queue(self, session: Session, *, actor: User, import_batch_id: int | None) -> None:
        """Send the loaded rows' probable duplicates to review (after the load)."""

    def as_dict(self) -> dict[str, Any]:
        """The summary's `linkage`."""


class BatchLinker(Protocol):
    """Links a checked batch against the latest release (linkage/batch.py `ReleaseLinker`):
    given by the front end that asks for `--link`, so that the import itself never loads the
    matching engine, nor depends on the linkage package."""

    def link(
        self,
        session: Session,
        con: duckdb.DuckDBPyConnection,
        *,
        actor: User,
        members_file: str,
        scratch: Path,
    ) -> LinkedBatch:
        """Link the batch in `con`'s checked tables; its warnings added to `errors`."""


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
    link: BatchLinker | None = None


Progress = Callable[[str], None]
