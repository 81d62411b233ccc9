"""Running one job on a worker: mark it running, keep a heartbeat, call its service in a
transaction of its own, and record the result or the error; and failing the jobs whose worker
died (no heartbeat for `LUMBUNG_JOB_LOST_SECONDS`)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from lumbung.audit.service import CHANNEL
from lumbung.auth.models import User
from lumbung.db import briefly, session_scope, utcnow
from lumbung.errors import LumbungError, PermissionDenied
from lumbung.jobs.kinds import KINDS, Context
from lumbung.jobs.models import Job
from lumbung.registry.errors import BatchFileError

if TYPE_CHECKING:
    from lumbung.jobs.queue import JobQueue

log = logging.getLogger("lumbung.jobs")

LOG_LIMIT = 64 * 1024  # characters of a job's log kept (a traceback, the steps)
INTERNAL = (
    "Galat internal saat menjalankan job; tidak ada yang tersimpan. Administrator dapat melihat "
    "rinciannya di log job; job bisa dijalankan ulang."
)
LOST = (
    "Worker yang menjalankan job ini berhenti (mati atau dimatikan) sebelum selesai; tidak ada "
    "yang tersimpan setengah jadi. Job bisa dijalankan ulang."
)


def worker_name() -> str:
    """host:pid:thread of the worker running the job (at most 64 characters)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:64]


def stamp(line: str) -> str:
    return f"{utcnow().isoformat(timespec='seconds')} {line}\n"


class Progress:
    """What a running job is doing: its step (`done` of `total`), its message and log lines;
    shared between the job's thread and its heartbeat."""

    def __init__(self, steps: tuple[str, ...], pause_at: str | None) -> None:
        self.steps = steps
        self.total = len(steps)
        self.done = 0
        self.message = "mulai"
        self.pause_at = pause_at
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self.changed = threading.Event()

    def step(self, stage: str) -> None:
        with self._lock:
            if stage in self.steps:
                self.done = self.steps.index(stage)
            self.message = stage[:200]
            self._lines.append(stamp(stage))
        self.changed.set()
        if self.pause_at and stage == self.pause_at:
            # Tests only (LUMBUNG_JOBS_TEST_PAUSE_AT): hold the job here, mid-transaction, so
            # that a test can kill the worker at this very point.
            self.note(f"berhenti di '{stage}' (pengujian)")
            time.sleep(3600)

    def note(self, line: str) -> None:
        with self._lock:
            self._lines.append(stamp(line))
        self.changed.set()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"done": self.done, "total": self.total, "message": self.message}

    def lines(self) -> str:
        with self._lock:
            return "".join(self._lines)


class Heartbeat:
    """Says every few seconds, and at every step, that the job is alive and how far it got:
    in the queue's store always, and on the job row whenever the database lets it write
    (on SQLite, not while the job's own transaction holds the writer lock)."""

    def __init__(self, queue: JobQueue, job_id: str, worker: str, progress: Progress) -> None:
        self.queue = queue
        self.job_id = job_id
        self.worker = worker
        self.progress = progress
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"heartbeat-{job_id[:8]}", daemon=True
        )

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.progress.changed.set()
        self._thread.join()

    def _loop(self) -> None:
        interval = self.queue.settings.job_heartbeat_seconds
        while not self._stop.is_set():
            self.progress.changed.wait(interval)
            self.progress.changed.clear()
            if not self._stop.is_set():
                self.beat()

    def beat(self) -> None:
        live = {**self.progress.snapshot(), "at": time.time(), "worker": self.worker}
        try:
            self.queue.put_live(self.job_id, live)
        except Exception:
            log.exception("job %s: heartbeat to the queue failed", self.job_id)
        try:
            with briefly(self.queue.engine) as session:
                session.execute(
                    update(Job)
                    .where(Job.id == self.job_id, Job.state == "running")
                    .values(
                        heartbeat_at=utcnow(),
                        done=live["done"],
                        total=live["total"],
                        message=live["message"],
                    )
                )
        except OperationalError:
            pass  # SQLite's writer lock is the job's own: the queue's store says it is alive
        except Exception:
            log.exception("job %s: heartbeat to the database failed", self.job_id)


def execute(queue: JobQueue, job_id: str) -> None:
    """Run job `job_id` (a worker's task): nothing is raised; the row tells how it went."""
    engine = queue.engine
    worker = worker_name()
    started = _start(engine, job_id, worker)
    if started is None:
        return
    kind = KINDS[started["kind"]]
    progress = Progress(kind.steps, queue.settings.jobs_test_pause_at)
    heartbeat = Heartbeat(queue, job_id, worker, progress)
    heartbeat.start()
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    try:
        with session_scope(engine) as session:
            # Audit events of the job's work name the asker and the channel they used.
            session.info[CHANNEL] = started["channel"]
            actor = session.get(User, started["user_id"])
            if actor is None or not actor.active:
                raise PermissionDenied("Pengguna yang meminta job ini tidak aktif lagi.")
            context = Context(session, actor, started["params"], queue.settings, progress.step)
            result = kind.run(context)
            if context.discard:
                session.rollback()
    except BatchFileError as exc:
        errors = [e.as_dict() for e in exc.errors]
        error = {
            "code": "batch_unreadable",
            "message": "; ".join(e["message"] for e in errors[:5]),
            "errors": errors,
        }
        progress.note(f"gagal: batch_unreadable\n{traceback.format_exc()}")
    except LumbungError as exc:
        error = {"code": exc.code, "message": exc.message}
        if exc.details:
            error["errors"] = exc.details
        progress.note(f"gagal: {exc.code}\n{traceback.format_exc()}")
    except Exception:
        error = {"code": "internal", "message": INTERNAL}
        progress.note(f"gagal: internal\n{traceback.format_exc()}")
        log.exception("job %s failed", job_id)
    finally:
        heartbeat.stop()
    _finish(engine, job_id, worker, progress, result, error)
    try:
        queue.forget_live(job_id)
    except Exception:
        log.exception("job %s: clearing its live state failed", job_id)


def _start(engine: Engine, job_id: str, worker: str) -> dict[str, Any] | None:
    """Mark a queued job running; None when there is no such job or it is not queued (a
    message delivered twice, a job failed meanwhile)."""
    with session_scope(engine) as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.kind not in KINDS:
            log.warning("job %s: not in the registry's database (or of no known kind)", job_id)
            return None
        if job.state != "queued":
            log.warning("job %s is %s, not queued: not run", job_id, job.state)
            return None
        now = utcnow()
        job.state = "running"
        job.started_at = now
        job.heartbeat_at = now
        job.worker = worker
        job.attempts += 1
        job.done = 0
        job.total = len(KINDS[job.kind].steps)
        job.message = "mulai"
        job.log = (job.log or "") + stamp(f"mulai di {worker}")
        return {
            "kind": job.kind,
            "params": dict(job.params),
            "user_id": job.user_id,
            "channel": job.channel,
        }


def _finish(
    engine: Engine,
    job_id: str,
    worker: str,
    progress: Progress,
    result: dict[str, Any] | None,
    error: dict[str, Any] | None,
) -> None:
    with session_scope(engine) as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None:
            return
        lines = progress.lines()
        if job.state != "running" or job.worker != worker:
            # Failed by a sweep while this worker still ran it (a pause longer than the
            # heartbeat allows): what really happened is what counts.
            lines += stamp(f"tercatat {job.state} oleh pihak lain; hasil sebenarnya dicatat")
        now = utcnow()
        snapshot = progress.snapshot()
        job.state = "failed" if error else "succeeded"
        job.result = result
        job.error = error
        job.finished_at = now
        job.heartbeat_at = now
        job.done = snapshot["total"] if error is None else snapshot["done"]
        job.total = snapshot["total"]
        job.message = "selesai" if error is None else "gagal"
        job.log = _bounded((job.log or "") + lines + stamp(job.state))


def _bounded(text: str) -> str:
    if len(text) <= LOG_LIMIT:
        return text
    return "… (awal log dipotong)\n" + text[-LOG_LIMIT:]


def requeue_lost(queue: JobQueue) -> list[str]:
    """Put on the queue again every job `queued` for longer than `job_lost_seconds` whose
    message is not waiting in the queue (lost, or never sent: the server stopped between the
    job's commit and its enqueue); give their ids. A message delivered twice runs the job
    once (`_start`)."""
    cutoff = utcnow() - timedelta(seconds=queue.settings.job_lost_seconds)
    with session_scope(queue.engine) as session:
        waiting = (
            session.execute(select(Job.id).where(Job.state == "queued", Job.created_at < cutoff))
            .scalars()
            .all()
        )
        if not waiting:
            return []
        queued = queue.waiting_ids()
        lost = [job_id for job_id in waiting if job_id not in queued]
        for job in session.execute(select(Job).where(Job.id.in_(lost))).scalars():
            job.log = (job.log or "") + stamp("tidak ada di antrean: dikirim ulang")
    for job_id in lost:
        queue.enqueue(job_id)
    return lost


def sweep_lost(queue: JobQueue) -> list[str]:
    """Fail every running job whose worker has said nothing for `job_lost_seconds`, neither
    on its row nor in the queue's store; give their ids. On SQLite, a sweep that finds the
    writer lock taken (a job is writing: its worker is alive) gives up until the next one."""
    lost_after = queue.settings.job_lost_seconds
    cutoff = utcnow() - timedelta(seconds=lost_after)
    failed: list[str] = []
    try:
        with briefly(queue.engine) as session:
            candidates = (
                session.execute(
                    select(Job).where(
                        Job.state == "running",
                        func.coalesce(Job.heartbeat_at, Job.started_at, Job.created_at) < cutoff,
                    )
                )
                .scalars()
                .all()
            )
            for job in candidates:
                live = queue.live(job.id)
                if live is not None and float(live.get("at", 0)) > time.time() - lost_after:
                    continue  # alive: its heartbeat could not reach the row
                job.state = "failed"
                job.error = {"code": "worker_lost", "message": LOST}
                job.finished_at = utcnow()
                job.message = "gagal"
                job.log = _bounded(
                    (job.log or "")
                    + stamp(f"worker {job.worker} tidak memberi kabar > {lost_after:g} s: gagal")
                )
                failed.append(job.id)
    except OperationalError:
        return []
    for job_id in failed:
        queue.forget_live(job_id)
    return failed
