"""Jobs for front ends: submit one, see one or a page of them, run a failed one again, and the
reject file of an import job. The `job` row is the truth; the queue carries only its id."""

from __future__ import annotations

import csv
import logging
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, true
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Role, entitled_to_identity
from lumbung.db import session_scope, utcnow
from lumbung.errors import Conflict, NotFound, ValidationFailed
from lumbung.identity.masking import mask_id
from lumbung.jobs.kinds import KINDS, PUBLIC_KINDS, UPLOAD_KINDS
from lumbung.jobs.models import Job
from lumbung.jobs.queue import JobQueue, default_queue
from lumbung.jobs.runner import stamp
from lumbung.paging import Page, check_window

log = logging.getLogger("lumbung.jobs")

CHANNELS = ("web", "api", "cli")
JOB_ID = re.compile(r"[0-9a-f]{32}")
PENDING = "lumbung.jobs.pending"
LISTENING = "lumbung.jobs.listening"
# Jobs one user may have waiting or running at once: a script (or a held-down button) cannot
# fill the queue and the data folder with uploads for everyone else.
MAX_OPEN_PER_USER = 10
UNQUEUED = "Job tidak bisa dimasukkan ke antrean (antrean tidak terjangkau); jalankan ulang nanti."


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as its reader may see it. `log` (the steps, and a failure's traceback) only for
    national admins and auditors: it may hold technical detail."""

    id: str
    kind: str
    state: str
    params: dict[str, Any]
    username: str
    channel: str
    region_code: str | None
    done: int
    total: int | None
    message: str | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    worker: str | None
    log: str | None

    def as_dict(self) -> dict[str, Any]:
        body = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("created_at", "started_at", "finished_at", "heartbeat_at"):
            value = body[name]
            body[name] = value.isoformat() if value is not None else None
        return body


def _oversees(actor: User) -> bool:
    return actor.role in (Role.ADMIN, Role.AUDITOR) and actor.region_code is None


def submit(
    session: Session,
    actor: User,
    *,
    kind: str,
    params: dict[str, Any],
    channel: str,
    queue: JobQueue | None = None,
) -> Job:
    """A new job, queued: the asker's right and the parameters are checked now (the service
    checks again when it runs); its id goes on the queue once this transaction commits (a
    worker never looks for a row not yet there; if the queue refuses it, the job is failed)."""
    queue = queue or default_queue()
    test_kind = kind == "sleep" and bool(queue.settings.jobs_test_pause_at)
    if kind not in PUBLIC_KINDS and not test_kind:
        raise ValidationFailed(
            f"Jenis job '{kind}' tidak dikenal; pilihan: {', '.join(PUBLIC_KINDS)}."
        )
    if channel not in CHANNELS:
        raise ValidationFailed(
            f"Saluran '{channel}' tidak dikenal; pilihan: {', '.join(CHANNELS)}."
        )
    if not isinstance(params, dict):
        raise ValidationFailed("Parameter job harus objek JSON.")
    stored = KINDS[kind].check(actor, dict(params), queue.settings)
    vet = KINDS[kind].vet
    if vet is not None:
        vet(session, actor, stored)
    open_jobs = session.execute(
        select(func.count())
        .select_from(Job)
        .where(Job.user_id == actor.id, Job.state.in_(("queued", "running")))
    ).scalar_one()
    if open_jobs >= MAX_OPEN_PER_USER:
        raise TooManyJobs(
            f"{actor.username} sudah punya {open_jobs} job yang menunggu atau berjalan (batas "
            f"{MAX_OPEN_PER_USER}); tunggu sampai ada yang selesai, lalu kirim lagi.",
            retry_after=60,
        )
    job = Job(
        id=uuid.uuid4().hex,
        kind=kind,
        params=stored,
        state="queued",
        user_id=actor.id,
        channel=channel,
        region_code=actor.region_code,
        done=0,
        total=len(KINDS[kind].steps),
        message="menunggu giliran diproses",
        log=stamp(f"diminta oleh {actor.username} lewat {channel}"),
        attempts=0,
        created_at=utcnow(),
    )
    session.add(job)
    session.flush()
    _enqueue_after_commit(session, queue, job.id)
    return job


class TooManyJobs(Conflict):
    """The asker has MAX_OPEN_PER_USER jobs waiting or running: try again after some end."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _enqueue_after_commit(session: Session, queue: JobQueue, job_id: str) -> None:
    session.info.setdefault(PENDING, []).append((queue, job_id))
    if not session.info.get(LISTENING):
        session.info[LISTENING] = True
        event.listen(session, "after_commit", _enqueue_pending)
        event.listen(session, "after_rollback", _drop_pending)


def _drop_pending(session: Session) -> None:
    session.info.pop(PENDING, None)


def _enqueue_pending(session: Session) -> None:
    pending: list[tuple[JobQueue, str]] = session.info.pop(PENDING, [])
    if not pending:
        return
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    for queue, job_id in pending:
        try:
            queue.enqueue(job_id)
        except Exception:
            log.exception("job %s could not be queued", job_id)
            _mark_unqueued(engine, job_id)


def _mark_unqueued(engine: Engine, job_id: str) -> None:
    try:
        with session_scope(engine) as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is not None and job.state == "queued":
                job.state = "failed"
                job.error = {"code": "queue_unavailable", "message": UNQUEUED}
                job.finished_at = utcnow()
                job.message = "gagal"
                job.log = (job.log or "") + stamp("gagal masuk antrean")
    except Exception:
        log.exception("job %s: could not be marked failed either", job_id)


def _view(job: Job, username: str, actor: User, queue: JobQueue | None) -> JobView:
    done, total, message, heartbeat = job.done, job.total, job.message, job.heartbeat_at
    if job.state == "running":
        # On SQLite a running job cannot write its row (its transaction holds the writer
        # lock): its progress is in the queue's store.
        try:
            live = (queue or default_queue()).live(job.id)
        except Exception:
            live = None
        if live:
            done, total, message = live["done"], live["total"], live["message"]
    return JobView(
        id=job.id,
        kind=job.kind,
        state=job.state,
        params=job.params,
        username=username,
        channel=job.channel,
        region_code=job.region_code,
        done=done,
        total=total,
        message=message,
        result=job.result if entitled_to_identity(actor.role) else _masked_result(job),
        error=job.error,
        attempts=job.attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        heartbeat_at=heartbeat,
        worker=job.worker,
        log=job.log if _oversees(actor) else None,
    )


def _visible(session: Session, actor: User, job_id: str) -> tuple[Job, str]:
    found = None
    if isinstance(job_id, str) and JOB_ID.fullmatch(job_id):
        found = session.execute(
            select(Job, User.username).join(User, User.id == Job.user_id).where(Job.id == job_id)
        ).first()
    # Someone else's job is answered as one that does not exist: ids are not to be probed.
    if found is None or not (found[0].user_id == actor.id or _oversees(actor)):
        raise NotFound(f"Job {str(job_id)[:40]} tidak ada.")
    return found[0], found[1]


def get(session: Session, actor: User, *, job_id: str, queue: JobQueue | None = None) -> JobView:
    """One job: its asker's, or any for a national admin or auditor; others: NotFound."""
    job, username = _visible(session, actor, job_id)
    return _view(job, username, actor, queue)


def list_jobs(
    session: Session,
    actor: User,
    *,
    limit: int = 50,
    offset: int = 0,
    queue: JobQueue | None = None,
) -> Page[JobView]:
    """The jobs the reader may see (their own; all for a national admin or auditor), newest
    first."""
    check_window(limit, offset)
    condition = true() if _oversees(actor) else Job.user_id == actor.id
    total = session.execute(select(func.count()).select_from(Job).where(condition)).scalar_one()
    rows = session.execute(
        select(Job, User.username)
        .join(User, User.id == Job.user_id)
        .where(condition)
        .order_by(Job.created_at.desc(), Job.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return Page([_view(job, name, actor, queue) for job, name in rows], total, limit, offset)


def rerun(
    session: Session,
    actor: User,
    job_id: str,
    *,
    channel: str | None = None,
    queue: JobQueue | None = None,
) -> Job:
    """A new job with a failed job's parameters, asked for by `actor` (checked as any
    submission: the actor's own right). The commands are atomic and idempotent, so a job that
    failed, its worker killed included, left nothing to undo."""
    job, _ = _visible(session, actor, job_id)
    if job.state != "failed":
        raise Conflict(
            f"Job {job.id} berstatus {job.state}; hanya job yang gagal yang dijalankan ulang."
        )
    return _submit_again(
        session,
        actor,
        job,
        params=dict(job.params),
        channel=channel or job.channel,
        queue=queue,
    )


def confirm_removals(
    session: Session,
    actor: User,
    job_id: str,
    *,
    removals: int,
    channel: str,
    queue: JobQueue | None = None,
) -> Job:
    """A new civil_import job for the extract a finished one left waiting for confirmation of
    its removals (`needs_confirmation`), with the number its asker confirms (the import
    refuses again if it no longer is the count). Only the asker's own job: another's upload
    is not someone else's to import."""
    job, _ = _visible(session, actor, job_id)
    result = job.result or {}
    if (
        job.kind != "civil_import"
        or job.user_id != actor.id
        or not result.get("needs_confirmation")
    ):
        raise Conflict(f"Job {job.id} bukan impor Dukcapil Anda yang menunggu konfirmasi.")
    return _submit_again(
        session,
        actor,
        job,
        params={**job.params, "confirm_removals": removals},
        channel=channel,
        queue=queue,
    )


def _submit_again(
    session: Session,
    actor: User,
    job: Job,
    *,
    params: dict[str, Any],
    channel: str,
    queue: JobQueue | None,
) -> Job:
    """A new job of `job`'s kind on its uploads (refused if they were already removed)."""
    from lumbung.jobs.retention import missing_uploads

    settings = (queue or default_queue()).settings
    if missing_uploads(job, settings.data_dir):
        raise Conflict(
            f"Berkas unggahan job {job.id} sudah dihapus (disimpan "
            f"{settings.upload_keep_days} hari setelah job selesai); unggah lagi."
        )
    return submit(session, actor, kind=job.kind, params=params, channel=channel, queue=queue)


def reject_file(
    session: Session, actor: User, *, job_id: str, data_dir: Path | None = None
) -> Path:
    """The reject file of an import job, for its reader to download (the same rule as `get`)."""
    job, _ = _visible(session, actor, job_id)
    relative = (job.result or {}).get("reject_file") if job.kind in UPLOAD_KINDS else None
    if not isinstance(relative, str):
        raise NotFound(f"Job {job.id} tidak punya berkas tolakan.")
    path = _data_file(data_dir, relative, ("rejects",))
    if path is None:
        raise NotFound(f"Berkas tolakan job {job.id} tidak ada lagi di folder data.")
    if entitled_to_identity(actor.role):
        return path
    return masked_copy(path)


def letters_archive(
    session: Session, actor: User, *, job_id: str, data_dir: Path | None = None
) -> Path:
    """The ZIP of a letters job's PDFs, for the one who may print them: the job's own rule
    (national, preparing payments) checked again, as the letters name families and carry
    their vouchers."""
    from lumbung.auth.roles import Action
    from lumbung.auth.service import authorize, require_national

    job, _ = _visible(session, actor, job_id)
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "mengunduh surat undangan")
    relative = (job.result or {}).get("archive") if job.kind == "letters" else None
    if not isinstance(relative, str) or job.state != "succeeded":
        raise NotFound(f"Job {job.id} tidak punya berkas surat.")
    path = _data_file(data_dir, relative, ("letters", "*"))
    if path is None or path.suffix != ".zip":
        raise NotFound(f"Berkas surat job {job.id} tidak ada lagi di folder data.")
    return path


def _data_file(data_dir: Path | None, relative: str, under: tuple[str, ...]) -> Path | None:
    """A job result's file, `relative` to the data folder, when it still exists exactly at
    the depth `under` names inside it ("*": any one folder), never elsewhere."""
    if data_dir is None:
        from lumbung.config import get_settings

        data_dir = get_settings().data_dir
    root = data_dir.resolve()
    path = (data_dir / relative).resolve()
    parts = path.parent.relative_to(root).parts if path.is_relative_to(root) else ()
    if len(parts) != len(under) or not path.is_file():
        return None
    if any(want not in ("*", got) for want, got in zip(under, parts, strict=True)):
        return None
    return path


MASKED_SUFFIX = ".disamarkan.csv"
# The reject file's columns whose values, and whose messages, hold a person's identity.
IDENTITY_COLUMNS = frozenset({"nik", "name", "mother_name", "new_head"})
MASKED_MESSAGE = "(disamarkan: isi data pribadi tidak ditampilkan untuk peran Anda)"


def masked_problem(row: dict[str, Any]) -> dict[str, Any]:
    """One problem of an import (a reject file's row, a job result's error) as a reader not
    entitled to identities reads it: the NIK masked, a message about a name or a NIK (it
    quotes the value) replaced."""
    row = dict(row)
    if row.get("nik"):
        row["nik"] = mask_id(str(row["nik"]))
    if row.get("column") in IDENTITY_COLUMNS and row.get("message") is not None:
        row["message"] = MASKED_MESSAGE
    return row


def _masked_result(job: Job) -> dict[str, Any] | None:
    result = job.result
    if job.kind not in UPLOAD_KINDS or not result or not isinstance(result.get("errors"), list):
        return result
    return {**result, "errors": [masked_problem(e) for e in result["errors"]]}


def masked_copy(path: Path) -> Path:
    """The reject file as a reader not entitled to identities may read it (an auditor): NIKs
    masked, and the messages about a name or a NIK replaced (they quote the value). Written
    once beside the file (atomically), then served as it is."""
    target = path.with_name(path.stem + MASKED_SUFFIX)
    if target.is_file() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    partial = target.with_name(target.name + f".{os.getpid()}.part")
    with (
        path.open(newline="", encoding="utf-8") as source,
        partial.open("w", newline="", encoding="utf-8") as out,
    ):
        reader = csv.DictReader(source)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        for row in reader:
            writer.writerow(masked_problem(row))
    partial.replace(target)
    return target
