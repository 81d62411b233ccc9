"""`lumbung aid import`: a file of handovers checked row by row and its good rows loaded, in
the caller's transaction.

The flow: the file read and every row checked (`rows.py`) → the registry members its NIKs
name (a person in the registry is linked, and their family's region counts for scope) → the
distributions already recorded under the same keys → the new rows loaded with one import row
and one audit event (count and sha256 of the rows) → the reject file. A failure anywhere
rolls the caller's transaction back. A file with nothing new writes nothing (no import row,
no audit event) and says so: importing the same file, or the same rows, again changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.aid.catalog import catalogue
from lumbung.aid.loading import load
from lumbung.aid.matching import (
    Registered,
    chunks,
    judge,
    recorded_handovers,
    registered_members,
)
from lumbung.aid.models import AidImport
from lumbung.aid.rejects import write_rejects
from lumbung.aid.rows import (
    MAX_BYTES,
    VILLAGE,
    CheckedFile,
    DistributionRow,
    FileRefused,
    RowContext,
    check_file,
    refused,
)
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.errors import ValidationFailed
from lumbung.installation.datafolder import owned
from lumbung.regions.models import Region
from lumbung.registry.errors import RowError


@dataclass(slots=True)
class AidImportSummary:
    file: str
    sha256: str
    rows_read: int = 0
    accepted: int = 0
    unchanged: int = 0
    rejected: int = 0
    accepted_value_idr: int = 0
    accepted_in_registry: int = 0  # accepted rows whose NIK is a registry member's
    errors_total: int = 0
    warnings_total: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    reject_file: str | None = None
    import_id: int | None = None
    dry_run: bool = False
    # The file refused whole (not UTF-8 CSV, another header, too large): its one problem is in
    # `errors`, and nothing was read further or loaded.
    refused: bool = False
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def import_distributions(
    session: Session,
    *,
    actor: User,
    path: Path,
    rejects_dir: Path,
    file_name: str | None = None,
    dry_run: bool = False,
    as_of: date | None = None,
    max_listed: int = 1000,
) -> AidImportSummary:
    """Check a distribution file and load its good rows; see the module docstring. Users who
    may import batches (operators, verifiers, admins) import within their region: every
    row's village, and the family's village of a registered person, must lie in it."""
    authorize(actor, Action.IMPORT)
    display = file_name or path.name
    try:
        if path.stat().st_size > MAX_BYTES:  # before it is read into memory
            raise refused(
                display,
                "too_many_rows",
                f"berkas lebih dari {MAX_BYTES >> 20} MB; bagi menjadi beberapa impor.",
            )
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        return _import(
            session, actor, data, sha256, display, rejects_dir, dry_run, as_of, max_listed
        )
    except FileRefused as refusal:
        return AidImportSummary(
            file=display,
            sha256="",
            rejected=0,
            errors_total=1,
            errors=[refusal.problem.as_dict()],
            dry_run=dry_run,
            refused=True,
            message=f"Berkas ditolak seluruhnya, tidak ada yang dimuat: {refusal.message}",
        )


def _import(
    session: Session,
    actor: User,
    data: bytes,
    sha256: str,
    display: str,
    rejects_dir: Path,
    dry_run: bool,
    as_of: date | None,
    max_listed: int,
) -> AidImportSummary:
    context = RowContext(
        file=display,
        catalogue=catalogue(session),
        villages=_villages(session, data),
        scope=actor.region_code,
        as_of=as_of or date.today(),
    )
    checked = check_file(data, context)
    # Two imports at once must not both admit the same handover (the key would refuse the
    # second's commit; this makes it wait and then see the first's rows).
    bulk.lock_for_writing(session, ("aid_distribution",))
    niks = sorted({r.nik for r in checked.rows})
    registered = registered_members(session, niks)
    recorded = recorded_handovers(session, niks)
    fresh = judge(checked, registered, recorded, display, actor.region_code)
    summary = _summarise(checked, fresh, registered, display, sha256, dry_run, max_listed)
    owned(session, rejects_dir.parent)
    if fresh and not dry_run:
        summary.import_id = load(session, actor, fresh, registered, display, sha256)
    if summary.errors_total:
        try:
            target = write_rejects(
                rejects_dir,
                sha256=sha256,
                problems=checked.problems,
                cells=checked.cells,
                dry_run=dry_run,
            )
        except OSError as exc:
            raise ValidationFailed(
                f"Berkas tolakan tidak bisa ditulis di {rejects_dir} (izin tulis? disk penuh?); "
                "impor dibatalkan, tidak ada yang dimuat."
            ) from exc
        summary.reject_file = str(target)
        if summary.import_id is not None:
            session.get_one(AidImport, summary.import_id).reject_file = target.name
    return summary


def _villages(session: Session, data: bytes) -> frozenset[str]:
    """The codes in the file that look like village codes and are villages (one query)."""
    text = data.decode("utf-8", errors="replace")
    wanted = sorted({m.group() for m in VILLAGE.finditer(text)})
    found: set[str] = set()
    for chunk in chunks(wanted):
        found.update(
            session.execute(
                select(Region.code).where(Region.code.in_(chunk), Region.level == 4)
            ).scalars()
        )
    return frozenset(found)


def _summarise(
    checked: CheckedFile,
    fresh: list[DistributionRow],
    registered: dict[str, Registered],
    file: str,
    sha256: str,
    dry_run: bool,
    max_listed: int,
) -> AidImportSummary:
    errors = [p for p in checked.problems if p.severity == "error"]
    warnings = [p for p in checked.problems if p.severity != "error"]
    unchanged = sum(1 for p in warnings if p.code == "already_recorded")
    summary = AidImportSummary(
        file=file,
        sha256=sha256,
        rows_read=checked.read,
        accepted=len(fresh),
        unchanged=unchanged,
        rejected=len({p.row for p in errors}),
        accepted_value_idr=sum(r.value_idr for r in fresh),
        accepted_in_registry=sum(1 for r in fresh if r.nik in registered),
        errors_total=len(errors),
        warnings_total=len(warnings),
        errors=[p.as_dict() for p in sorted(errors, key=_order)[:max_listed]],
        warnings=[p.as_dict() for p in sorted(warnings, key=_order)[:max_listed]],
        dry_run=dry_run,
    )
    if fresh:
        summary.message = (
            f"{len(fresh)} penyerahan {'akan ' if dry_run else ''}dimuat"
            f"{' (dry run: tidak ada yang dimuat)' if dry_run else ''}."
        )
    else:
        summary.message = "Tidak ada penyerahan baru: tidak ada yang berubah" + (
            f" ({unchanged} sudah tercatat persis sama)." if unchanged else "."
        )
    return summary


def _order(p: RowError) -> tuple[int, str, str]:
    return (p.row, p.column, p.code)
