"""A partner's status file recorded: a bank's pain.002 report or CSV statement, read row by
row (`delivery.bank.status`) and recorded idempotently (`delivery.outcomes`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.delivery.bank.status import read_status_file
from lumbung.delivery.outcomes import OutcomeSummary, record_outcomes
from lumbung.errors import ValidationFailed
from lumbung.releases.hashing import sha256_file


def import_status_file(
    session: Session,
    *,
    actor: User,
    path: Path,
    name: str | None = None,
    partner_code: str | None = None,
) -> OutcomeSummary:
    """Record what a status file says; the rows it could not read are among the problems."""
    authorize(actor, Action.RECONCILE)
    read = read_status_file(path)
    summary = record_outcomes(
        session,
        actor=actor,
        rows=read.rows(),
        file_name=name or read.file,
        file_sha256=sha256_file(path),
        partner_code=partner_code,
    )
    # The reader's own refusals are complete once its rows are exhausted (above). A file that
    # breaks part-way is refused whole: what it says after the break is unknown, and a status
    # file is the partner's statement, read in full or not at all (the caller rolls back).
    broken = [p for p in read.problems if p.get("code") == "unreadable"]
    if broken:
        raise ValidationFailed(
            f"{read.file} rusak di baris {broken[0]['row']}: {broken[0]['message']} Tidak ada "
            "yang dicatat; minta berkas yang utuh dari mitra.",
            details=broken,
        )
    summary.problems.extend(read.problems)
    summary.problems.sort(key=lambda p: (p["row"], p["column"]))
    summary.rows += len(read.problems)
    summary.rejected = len(summary.problems)
    return summary
