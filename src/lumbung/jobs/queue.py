"""The queue that carries job ids to workers: huey, on a SQLite file of the data folder by
default (no server) and on Redis when `LUMBUNG_REDIS_URL` is set (docs/ARCHITECTURE.md, "Jobs").

The queue carries nothing but a job's id; the `job` row in the registry's database says what
to do, for whom, and how it went. Messages are signed with a key derived from the key file,
so that whoever can write into Redis cannot have a worker unpickle a message of theirs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from pathlib import Path
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer
from huey.serializer import SignedSerializer
from sqlalchemy.engine import Engine

from lumbung.audit import keys
from lumbung.config import Settings, get_settings
from lumbung.db import create_engine

log = logging.getLogger("lumbung.jobs")

QUEUE_NAME = "lumbung-jobs"
LIVE_PREFIX = "lumbung-job-live:"
CLEAN_EVERY = 3600.0  # seconds between two removals of expired uploads (jobs/retention.py)
SIGNING_CONTEXT = b"lumbung job queue messages\x00"


def queue_file(data_dir: Path) -> Path:
    return data_dir / "jobs" / "queue.db"


def _serializer(settings: Settings) -> SignedSerializer:
    # The key file's first key: it never changes (rotation appends), so a message signed
    # before a rotation is still accepted after it.
    ring = keys.load(settings.key_file)
    first = next(iter(ring.keys.values()))
    secret = hmac.new(first.secret, SIGNING_CONTEXT, hashlib.sha256).hexdigest()
    return SignedSerializer(secret=secret, salt=QUEUE_NAME)


def make_huey(settings: Settings, *, name: str = QUEUE_NAME, immediate: bool = False) -> Huey:
    """SqliteHuey on `DATA_DIR/jobs/queue.db`, or RedisHuey on `LUMBUNG_REDIS_URL`. Results
    are not kept by huey (the job row holds them)."""
    options: dict[str, Any] = {
        "results": False,
        "immediate": immediate,
        "serializer": _serializer(settings),
    }
    if settings.redis_url:
        return RedisHuey(name, url=settings.redis_url, **options)
    path = queue_file(settings.data_dir)
    if not immediate:
        path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(path), **options)


class JobQueue:
    """One queue: its huey, the settings its workers run jobs with, and the registry's
    database engine. A front end enqueues through it; a worker consumes from it."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        immediate: bool = False,
        name: str = QUEUE_NAME,
    ) -> None:
        self.settings = settings
        self._engine = engine
        self.huey = make_huey(settings, name=name, immediate=immediate)
        self._run = self.huey.task(name="run_job")(self._execute)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.settings.database_url)
        return self._engine

    @property
    def backend(self) -> str:
        return "redis" if self.settings.redis_url else "sqlite"

    def _execute(self, job_id: str) -> None:
        from lumbung.jobs.runner import execute

        execute(self, job_id)

    def enqueue(self, job_id: str) -> None:
        """Put a job's id on the queue (in immediate mode: run it now, in this thread)."""
        self._run(job_id)

    def pending(self) -> int:
        """Messages waiting for a worker."""
        return int(self.huey.pending_count())

    def waiting_ids(self) -> set[str]:
        """The ids of the jobs whose messages wait for a worker."""
        return {str(task.args[0]) for task in self.huey.pending() if task.args}

    # A running job's live state (heartbeat and progress), kept in the queue's own store: on
    # SQLite the job's own transaction holds the registry's only writer lock until it ends.
    def put_live(self, job_id: str, live: dict[str, Any]) -> None:
        self.huey.put(LIVE_PREFIX + job_id, live)

    def live(self, job_id: str) -> dict[str, Any] | None:
        found = self.huey.get(LIVE_PREFIX + job_id, peek=True)
        return found if isinstance(found, dict) else None

    def forget_live(self, job_id: str) -> None:
        self.huey.delete(LIVE_PREFIX + job_id)


_default: JobQueue | None = None
_default_lock = threading.Lock()


def default_queue() -> JobQueue:
    """The queue of this process's settings (`LUMBUNG_*`), made on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = JobQueue(get_settings())
        return _default


def set_default_queue(queue: JobQueue | None) -> None:
    """Make `queue` the one `default_queue` gives (a test's, an application's)."""
    global _default
    with _default_lock:
        _default = queue


class _ThreadConsumer(Consumer):  # type: ignore[misc]
    """A huey consumer that may start outside the main thread (no signal handlers: the
    process that embeds it handles its own signals and stops it)."""

    def _set_signal_handlers(self) -> None:
        pass


class Sweeper:
    """Fails the running jobs whose worker stopped saying it is alive and sends again the
    queued ones whose message was lost, at start and then every few seconds; removes expired
    uploads at start and then hourly (jobs/retention.py); on a thread of its own."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lumbung-sweeper", daemon=True)
        self._next_clean = 0.0  # at start, then every CLEAN_EVERY seconds

    def start(self) -> None:
        self._sweep()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sweep(self) -> None:
        from lumbung.jobs.runner import requeue_lost, sweep_lost

        try:
            failed = sweep_lost(self.queue)
            requeued = requeue_lost(self.queue)
            if time.monotonic() >= self._next_clean:
                self._clean()
        except Exception:  # a database away for a moment: try again next time
            log.exception("sweeping lost jobs failed")
            return
        for job_id in failed:
            log.warning("job %s: its worker stopped; marked failed (worker_lost)", job_id)
        for job_id in requeued:
            log.warning("job %s: queued but not in the queue; sent again", job_id)

    def _clean(self) -> None:
        from lumbung.db import session_scope
        from lumbung.jobs.retention import expire_uploads

        self._next_clean = time.monotonic() + CLEAN_EVERY
        settings = self.queue.settings
        with session_scope(self.queue.engine) as session:
            cleaned = expire_uploads(
                session, data_dir=settings.data_dir, keep_days=settings.upload_keep_days
            )
        if cleaned.jobs or cleaned.orphans:
            log.info("uploads removed: %s", cleaned.as_dict())

    def _loop(self) -> None:
        interval = max(1.0, self.queue.settings.job_lost_seconds / 4)
        while not self._stop.wait(interval):
            self._sweep()


class EmbeddedWorker:
    """A consumer on background threads of this process (the server's, on the embedded
    default); `stop` lets the job under way finish, then returns."""

    def __init__(self, queue: JobQueue, *, workers: int) -> None:
        self.queue = queue
        self.consumer = _ThreadConsumer(
            queue.huey, workers=workers, periodic=False, max_delay=1.0, worker_type="thread"
        )
        self.sweeper = Sweeper(queue)
        self.started = False

    def start(self) -> EmbeddedWorker:
        self.sweeper.start()
        self.consumer.start()
        self.started = True
        return self

    def stop(self, *, timeout: float | None = None) -> None:
        if not self.started:
            return
        self.consumer.shutdown_timeout = timeout
        self.consumer.stop(graceful=True)
        self.sweeper.stop()
        self.started = False

    def __enter__(self) -> EmbeddedWorker:
        return self if self.started else self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_embedded_worker(
    queue: JobQueue | None = None, *, workers: int | None = None
) -> EmbeddedWorker:
    """Start working the queue on background threads of this process (`lumbung serve` on the
    embedded default); call `.stop()` on the result when the process ends."""
    queue = queue or default_queue()
    return EmbeddedWorker(queue, workers=workers or queue.settings.worker_threads).start()


def run_worker(queue: JobQueue | None = None, *, workers: int | None = None) -> None:
    """Work the queue in this process until SIGINT (finish the jobs under way, then stop) or
    SIGTERM (stop now: the jobs under way roll back and show as failed): `lumbung worker`."""
    queue = queue or default_queue()
    consumer = Consumer(
        queue.huey,
        workers=workers or queue.settings.worker_threads,
        periodic=False,
        max_delay=1.0,
        worker_type="thread",
    )
    sweeper = Sweeper(queue)
    sweeper.start()
    try:
        consumer.run()
    finally:
        sweeper.stop()
