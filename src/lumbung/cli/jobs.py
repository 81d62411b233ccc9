"""`lumbung worker` and `lumbung jobs …`: work the job queue; see and rerun jobs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import typer

from lumbung.cli.common import (
    ActorOption,
    JsonOption,
    LimitOption,
    OffsetOption,
    acting_user,
    emit,
    engine,
    handled,
    out,
    say,
    settings,
    shown,
    table,
    unit_of_work,
)
from lumbung.db import read_scope

if TYPE_CHECKING:  # the queue brings huey and redis: loaded by the commands that use it
    from lumbung.jobs.queue import JobQueue

jobs_app = typer.Typer(
    help="Background jobs (imports, releases, scores, cycles asked for on the web or the API).",
    no_args_is_help=True,
)

STATES = {"queued": "antre", "running": "berjalan", "succeeded": "berhasil", "failed": "gagal"}


def _queue() -> JobQueue:
    from lumbung.jobs.queue import JobQueue, set_default_queue

    queue = JobQueue(settings(), engine=engine())
    set_default_queue(queue)
    return queue


@handled
def worker_command(
    threads: int | None = typer.Option(
        None, "--threads", help="Jobs run at once (default: LUMBUNG_WORKER_THREADS)."
    ),
) -> None:
    """Run queued jobs until stopped (Ctrl-C: the jobs under way finish first)."""
    from lumbung.jobs.queue import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    queue = _queue()
    say(f"Worker antrean {queue.backend}: menunggu job (Ctrl-C untuk berhenti).")
    run_worker(queue, workers=threads)


def _progress(job: dict[str, Any]) -> str:
    if job["total"]:
        return f"{job['done']}/{job['total']}"
    return str(job["done"])


@jobs_app.command("list")
@handled
def jobs_list(
    limit: int = LimitOption,
    offset: int = OffsetOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Jobs you may see, newest first (national admins and auditors: every job)."""
    from lumbung.jobs import service

    queue = _queue()
    with read_scope(queue.engine) as session:  # never waits for a running job
        page = service.list_jobs(
            session, acting_user(session, actor), limit=limit, offset=offset, queue=queue
        )
    payload = page.as_dict()
    rows = payload["items"]
    emit(
        as_json,
        payload,
        lambda: out.print(
            table(
                f"Job ({page.total})",
                ["id", "jenis", "status", "oleh", "langkah", "pesan", "dibuat (UTC)"],
                [
                    [
                        r["id"],
                        r["kind"],
                        STATES.get(r["state"], r["state"]),
                        r["username"],
                        _progress(r),
                        shown(r["message"]),
                        r["created_at"][:19].replace("T", " "),
                    ]
                    for r in rows
                ],
            )
        ),
    )


def _print_job(job: dict[str, Any]) -> None:
    rows = [
        ["jenis", job["kind"]],
        ["status", STATES.get(job["state"], job["state"])],
        ["diminta oleh", f"{job['username']} ({job['channel']})"],
        ["langkah", f"{_progress(job)} {shown(job['message'])}"],
        ["percobaan", str(job["attempts"])],
        ["worker", shown(job["worker"])],
        ["dibuat", job["created_at"]],
        ["mulai", shown(job["started_at"])],
        ["selesai", shown(job["finished_at"])],
    ]
    if job["error"]:
        rows.append(["galat", f"{job['error']['code']}: {job['error']['message']}"])
    out.print(table(f"Job {job['id']}", ["", ""], rows))
    if job["result"]:
        say(
            "Hasil: "
            + ", ".join(
                f"{k}={shown(v)}"
                for k, v in job["result"].items()
                if not isinstance(v, list | dict)
            )
        )
    if job["log"]:
        say("Log:")
        for line in job["log"].rstrip().splitlines():  # a line at a time: no line break escaped
            say(line)


@jobs_app.command("show")
@handled
def jobs_show(job_id: str, actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """One job: its progress, result or error (and its log, for national admins/auditors)."""
    from lumbung.jobs import service

    queue = _queue()
    with read_scope(queue.engine) as session:  # never waits for a running job
        view = service.get(session, acting_user(session, actor), job_id=job_id, queue=queue)
    payload = view.as_dict()
    emit(as_json, payload, lambda: _print_job(payload))


@jobs_app.command("rerun")
@handled
def jobs_rerun(job_id: str, actor: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Queue a failed job again, with the same parameters, as a new job asked for by --as."""
    from lumbung.jobs import service

    queue = _queue()
    with unit_of_work() as session:
        job = service.rerun(
            session, acting_user(session, actor), job_id, channel="cli", queue=queue
        )
        payload = {"id": job.id, "kind": job.kind, "state": job.state, "rerun_of": job_id}
    emit(as_json, payload, lambda: say(f"Job {job_id} dijalankan ulang sebagai job {job.id}."))


@jobs_app.command("clean")
@handled
def jobs_clean(
    keep_days: int | None = typer.Option(
        None,
        "--keep-days",
        min=0,
        help="Days after a job finished (default LUMBUNG_UPLOAD_KEEP_DAYS, 30).",
    ),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove now the uploaded files of import jobs finished more than --keep-days ago (and
    upload folders no job names); the worker does it hourly. National admins only."""
    from lumbung.config import get_settings
    from lumbung.jobs.retention import clean

    settings = get_settings()
    days = settings.upload_keep_days if keep_days is None else keep_days
    with unit_of_work() as session:
        cleaned = clean(
            session, acting_user(session, actor), data_dir=settings.data_dir, keep_days=days
        )
    payload = {**cleaned.as_dict(), "keep_days": days}
    emit(
        as_json,
        payload,
        lambda: say(
            f"Unggahan dihapus: {cleaned.jobs} job selesai > {days} hari, "
            f"{cleaned.orphans} folder tanpa job."
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)
    app.add_typer(jobs_app, name="jobs")
