"""What the job queue keeps, and for how long.

- A job whose message never reached the queue, or was lost from it (the server stopped
  between the job's commit and its enqueue; a Redis flushed), would stay `queued` for ever:
  `requeue_lost` puts it on the queue again. A message delivered twice does no harm (a worker
  runs a job only while it is `queued`: runner._start).
- Uploaded batch files are kept for `LUMBUNG_UPLOAD_KEEP_DAYS` after their job finished (a
  failed import can be run again meanwhile), then removed: they hold every NIK and name of
  a batch. An upload folder no job names (a refused submission whose clean-up was cut short)
  is removed after a day. The job rows stay: they are the record of who imported what.

The worker's sweeper runs both (jobs/queue.py); `lumbung jobs clean` runs the second now.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.db import utcnow
from lumbung.errors import PermissionDenied, ValidationFailed
from lumbung.jobs.kinds import UPLOAD_KINDS
from lumbung.jobs.models import Job
from lumbung.jobs.runner import stamp
from lumbung.jobs.uploads import uploads_dir

ORPHAN_AFTER = timedelta(days=1)
FINISHED = ("succeeded", "failed")


@dataclass(frozen=True, slots=True)
class Cleaned:
    """What a clean-up removed: the upload folders of finished jobs, and orphan folders."""

    jobs: int
    orphans: int

    def as_dict(self) -> dict[str, int]:
        return {"jobs": self.jobs, "orphans": self.orphans}


def upload_folders(job: Job, data_dir: Path) -> list[Path]:
    """The upload folders an import job's files lie in (only those under the uploads folder:
    a job made by the CLI names the operator's own files, never removed). `data_dir`
    absolute (resolved once by the caller)."""
    root = uploads_dir(data_dir)
    folders = []
    for name in (job.params or {}).get("files", []) if job.kind in UPLOAD_KINDS else []:
        # Kept relative to the data folder (jobs/service.submit), or absolute.
        folder = (data_dir / str(name)).resolve().parent
        if folder.parent == root:
            folders.append(folder)
    return folders


def expire_uploads(
    session: Session, *, data_dir: Path, keep_days: int, now: datetime | None = None
) -> Cleaned:
    """Remove the uploads of import jobs finished more than `keep_days` ago (noted in each
    job's log) and the upload folders no job names that are older than a day."""
    now = now or utcnow()
    data_dir = data_dir.resolve()
    root = uploads_dir(data_dir)
    if not root.is_dir():
        return Cleaned(0, 0)
    named: set[Path] = set()
    expired = 0
    cutoff = now - timedelta(days=keep_days)
    for job in session.execute(select(Job).where(Job.kind.in_(UPLOAD_KINDS))).scalars():
        folders = upload_folders(job, data_dir)
        named.update(folders)
        finished = job.finished_at
        if finished is None or job.state not in FINISHED:
            continue
        if finished.tzinfo is None:  # SQLite: stored as UTC
            finished = finished.replace(tzinfo=now.tzinfo)
        present = [f for f in folders if f.is_dir()]
        if finished < cutoff and present:
            for folder in present:
                shutil.rmtree(folder, ignore_errors=True)
            job.log = (job.log or "") + stamp(
                f"berkas unggahan dihapus ({keep_days} hari setelah selesai)"
            )
            expired += 1
    orphans = 0
    oldest = time.time() - ORPHAN_AFTER.total_seconds()
    for folder in root.iterdir():
        if folder.is_dir() and folder not in named and folder.stat().st_mtime < oldest:
            shutil.rmtree(folder, ignore_errors=True)
            orphans += 1
    session.flush()
    return Cleaned(expired, orphans)


def clean(session: Session, actor: User, *, data_dir: Path, keep_days: int) -> Cleaned:
    """`expire_uploads` now, asked for by an admin."""
    authorize(actor, Action.MANAGE_USERS)
    if actor.region_code is not None:
        raise PermissionDenied("Hanya admin nasional yang membersihkan unggahan seluruh instalasi.")
    if keep_days < 0:
        raise ValidationFailed(f"Lama simpan {keep_days} hari: tidak boleh negatif.")
    return expire_uploads(session, data_dir=data_dir, keep_days=keep_days)


def missing_uploads(job: Job, data_dir: Path) -> bool:
    """Whether an import job's uploaded files were removed (it cannot be run again)."""
    return any(not folder.is_dir() for folder in upload_folders(job, data_dir.resolve()))
