"""Background jobs: submit → run → result for each kind, errors, who may ask and who may see,
the queue on SQLite (and Redis with LUMBUNG_TEST_REDIS_URL) with a real consumer, a worker
killed mid-import, and uploads. Both databases."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from conftest import user
from factories import family, write_batch
from helpers import counts, run_import
from lumbung.config import Settings
from lumbung.db import read_scope, session_scope, utcnow
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.jobs import retention, service, uploads
from lumbung.jobs.models import Job
from lumbung.jobs.queue import JobQueue, set_default_queue, start_embedded_worker
from lumbung.jobs.runner import requeue_lost, sweep_lost
from lumbung.jobs.service import JobView

pytestmark = pytest.mark.usefixtures("users")

REDIS_URL = os.environ.get("LUMBUNG_TEST_REDIS_URL")
QUEUES = ["sqlite"] + (["redis"] if REDIS_URL else [])


def settings_for(engine: Engine, data_dir: Path, **over: Any) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=data_dir,
        **over,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def immediate(engine: Engine, data_dir: Path) -> Iterator[JobQueue]:
    """A queue that runs each job at once, in the submitting thread, after its commit: for
    tests about the job row, not the queue."""
    queue = JobQueue(
        settings_for(engine, data_dir, jobs_test_pause_at="-"), engine=engine, immediate=True
    )
    set_default_queue(queue)
    yield queue
    set_default_queue(None)


def upload_batch(data_dir: Path, folder: Path, households: Any, members: Any) -> list[str]:
    paths = write_batch(folder, households, members)
    return [
        str(uploads.save(data_dir, p.name, io.BytesIO(p.read_bytes()), max_bytes=10**7))
        for p in paths
    ]


def submit(
    engine: Engine,
    username: str,
    kind: str,
    params: dict[str, Any],
    *,
    queue: JobQueue | None = None,
    channel: str = "web",
) -> str:
    with session_scope(engine) as session:
        job = service.submit(
            session, user(session, username), kind=kind, params=params, channel=channel, queue=queue
        )
        return job.id


def view(engine: Engine, username: str, job_id: str, queue: JobQueue | None = None) -> JobView:
    # As a front end asks while a job runs: a reader that never waits for the job's writer.
    with read_scope(engine) as session:
        return service.get(session, user(session, username), job_id=job_id, queue=queue)


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    assert predicate(), f"not within {timeout} s"


def job_rows(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(Job)).scalar_one()


# --- each kind, through the row ------------------------------------------------------------


def test_an_upload_into_a_data_folder_given_relative_is_imported(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo` sets LUMBUNG_DATA_DIR=data: the saved upload's path must not be taken
    relative to the data folder a second time (`data/data/uploads/…`) by the job."""
    monkeypatch.chdir(tmp_path)
    relative = Path("data")
    queue = JobQueue(
        settings_for(engine, relative, jobs_test_pause_at="-"), engine=engine, immediate=True
    )
    h1, m1 = family(1)
    files = upload_batch(relative, tmp_path / "batch", [h1], m1)
    job_id = submit(engine, "operator", "import", {"files": files}, queue=queue)
    job = view(engine, "operator", job_id, queue=queue)
    assert job.state == "succeeded", job.error
    assert job.result is not None and job.result["households_accepted"] == 1
    assert all(f.startswith("uploads/") for f in job.params["files"])


def test_an_import_job_loads_the_batch_and_keeps_its_result(
    engine: Engine, data_dir: Path, tmp_path: Path, immediate: JobQueue
) -> None:
    h1, m1 = family(1)
    h2, m2 = family(2)
    m2[0]["birth_date"] = "1980-13-45"  # the second family's head: rejected, and the family
    files = upload_batch(data_dir, tmp_path / "batch", [h1, h2], m1 + m2)
    job_id = submit(engine, "operator", "import", {"files": files})
    job = view(engine, "operator", job_id)
    assert job.state == "succeeded", job.error
    assert (job.done, job.total, job.attempts, job.username) == (6, 6, 1, "operator")
    assert job.result is not None and job.error is None
    assert (job.result["households_accepted"], job.result["members_accepted"]) == (1, 3)
    assert job.result["households_rejected"] == 1
    assert any(e["row"] == 5 and e["column"] == "birth_date" for e in job.result["errors"])
    # Stored relative to the data folder, as uploaded files were.
    assert job.result["reject_file"].startswith("rejects/import-")
    assert all(f.startswith("uploads/") for f in job.params["files"])
    assert counts(engine) == (1, 3)
    with session_scope(engine) as session:
        channel, actor = session.execute(
            text("SELECT channel, actor FROM audit_event WHERE action = 'registry.import'")
        ).one()
        assert (channel, actor) == ("web", "operator")
        path = service.reject_file(
            session, user(session, "operator"), job_id=job_id, data_dir=data_dir
        )
        assert path.is_file() and path.parent == (data_dir / "rejects").resolve()
        assert "birth_date" in path.read_text(encoding="utf-8")
        with pytest.raises(NotFound):  # the same rule as the job itself
            service.reject_file(
                session, user(session, "verifier"), job_id=job_id, data_dir=data_dir
            )
        # An auditor oversees every job but reads no identity: NIKs masked, and the messages
        # about a name or a NIK (they quote it) replaced.
        audited = service.reject_file(
            session, user(session, "auditor"), job_id=job_id, data_dir=data_dir
        )
    full = path.read_text(encoding="utf-8")
    masked = audited.read_text(encoding="utf-8")
    niks = {m["nik"] for m in m2}
    assert any(nik in full for nik in niks)
    assert audited.parent == path.parent and not any(nik in masked for nik in niks)
    assert masked.count("\n") == full.count("\n") and "birth_date" in masked
    assert m2[0]["nik"][:4] + "*" * 12 in masked
    # And the job's own result, as the auditor's job page and the API show it.
    shown, own = view(engine, "auditor", job_id).result, view(engine, "operator", job_id).result
    assert shown is not None and own is not None
    assert shown["errors"] == own["errors"]  # these errors quote no identity


def test_an_auditor_reads_import_problems_without_identities() -> None:
    quoted = {"column": "name", "message": "Nama 'SITI\x07' memuat karakter kendali", "row": 4}
    with_nik = {"column": "nik", "nik": "3171011203800011", "message": "NIK 3171011203800011 ganda"}
    other = {"column": "birth_date", "message": "bukan tanggal", "row": 5}
    assert service.masked_problem(quoted)["message"] == service.MASKED_MESSAGE
    masked = service.masked_problem(with_nik)
    assert masked["nik"] == "3171" + "*" * 12 and "3171011203800011" not in str(masked)
    assert service.masked_problem(other) == other
    job = Job(kind="import", result={"errors": [quoted, other], "errors_total": 2})
    assert service._masked_result(job) == {
        "errors": [service.masked_problem(quoted), other],
        "errors_total": 2,
    }


def test_release_score_and_cycle_jobs_call_the_commands_services(
    engine: Engine, data_dir: Path, immediate: JobQueue
) -> None:
    from test_cycles import AS_OF, registry_families

    households, members = registry_families()
    summary = run_import(
        engine, write_batch(data_dir / "batch", households, members), status="approved"
    )
    assert summary.households_rejected == 0
    release = view(
        engine,
        "determiner",
        submit(engine, "determiner", "release", {"label": "R1", "decree": "SK 1/2026"}),
    )
    assert release.state == "succeeded", release.error
    assert release.result == {
        "release": "R1",
        "households": 10,
        "members": 30,
        "manifest": "releases/R1/manifest.json",
        "path": "releases/R1",
    }
    assert (data_dir / "releases" / "R1" / "manifest.json").is_file()

    score = view(engine, "determiner", submit(engine, "determiner", "score", {"release": "R1"}))
    assert score.state == "succeeded", score.error
    assert score.result is not None and score.result["households"] == 10
    assert sum(score.result["by_decile"].values()) == 10
    assert (data_dir / score.result["scores_file"]).is_file()

    params = {"program": "SEMBAKO", "release": "R1", "label": "SEMBAKO-1", "as_of": str(AS_OF)}
    cycle = view(engine, "determiner", submit(engine, "determiner", "cycle_run", params))
    assert cycle.state == "succeeded", cycle.error
    assert cycle.result is not None
    assert (cycle.result["cycle"], cycle.result["state"]) == ("SEMBAKO-1", "draft")
    with session_scope(engine) as session:
        stored = session.execute(
            text("SELECT beneficiaries, total_idr FROM cycle WHERE label = 'SEMBAKO-1'")
        ).one()
    assert tuple(stored) == (cycle.result["beneficiaries"], cycle.result["total_idr"])
    # The same label again: refused at submission (on the form, in the API's 409), no job
    # queued; asked deliberately (`replace`), the draft is computed again.
    queued = job_rows(engine)
    with pytest.raises(Conflict, match="SEMBAKO-1 sudah dipakai oleh draf"):
        submit(engine, "determiner", "cycle_run", params)
    assert job_rows(engine) == queued
    redone = view(
        engine, "determiner", submit(engine, "determiner", "cycle_run", {**params, "replace": True})
    )
    assert redone.state == "succeeded", redone.error
    assert redone.result is not None and redone.result["total_idr"] == cycle.result["total_idr"]

    # A failure of the service is the job's error, with the service's own code.
    again = view(engine, "determiner", submit(engine, "determiner", "release", {"label": "R1"}))
    assert again.state == "failed" and again.result is None
    assert again.error is not None and again.error["code"] == "conflict"
    assert "sudah ada" in again.error["message"]


def test_an_unexpected_failure_says_internal_and_keeps_the_traceback_in_the_log(
    engine: Engine, immediate: JobQueue
) -> None:
    job_id = submit(engine, "operator", "sleep", {"seconds": 0, "fail": "internal"})
    mine = view(engine, "operator", job_id)
    assert mine.state == "failed" and mine.error is not None
    assert mine.error["code"] == "internal"
    assert "Traceback" not in mine.error["message"] and "RuntimeError" not in mine.error["message"]
    assert mine.log is None  # technical detail: not for the asker
    admin = view(engine, "admin", job_id)
    assert admin.log is not None and "Traceback" in admin.log and "RuntimeError" in admin.log

    refused = view(engine, "operator", submit(engine, "operator", "sleep", {"fail": "Tidak."}))
    assert refused.error == {"code": "validation_failed", "message": "Tidak."}


def test_the_right_is_checked_at_submission_and_nothing_is_stored_when_refused(
    engine: Engine, data_dir: Path, tmp_path: Path, immediate: JobQueue
) -> None:
    h, m = family(1)
    files = upload_batch(data_dir, tmp_path / "batch", [h], m)
    with pytest.raises(PermissionDenied):
        submit(engine, "operator", "release", {"label": "R1"})
    with pytest.raises(PermissionDenied):  # straight into approved: a migration, admins only
        submit(engine, "operator", "import", {"files": files, "status": "approved"})
    with pytest.raises(PermissionDenied):  # national decisions: not a regional determiner
        submit(engine, "verifier", "cycle_run", {"program": "PKH", "release": "R", "label": "C"})
    with pytest.raises(PermissionDenied):
        submit(engine, "auditor", "score", {"release": "R1"})
    # A path of the asker's choosing is never read.
    batch = write_batch(tmp_path / "elsewhere", [h], m)
    with pytest.raises(ValidationFailed, match="bukan unggahan"):
        submit(engine, "operator", "import", {"files": [str(p) for p in batch]})
    with pytest.raises(ValidationFailed, match="bukan unggahan"):
        submit(engine, "operator", "import", {"files": ["uploads/../../../../etc/passwd"]})
    with pytest.raises(ValidationFailed):  # a definition file would be a path on the server
        submit(
            engine,
            "determiner",
            "cycle_run",
            {"program": "/etc/passwd", "release": "R1", "label": "C"},
        )
    with pytest.raises(ValidationFailed):
        submit(engine, "determiner", "release", {"label": "R1", "secret": "x"})
    with pytest.raises(ValidationFailed):
        submit(engine, "determiner", "delete_everything", {})
    assert job_rows(engine) == 0
    assert counts(engine) == (0, 0)


def test_a_job_is_seen_by_its_asker_and_national_admins_and_auditors_only(
    engine: Engine, immediate: JobQueue
) -> None:
    job_id = submit(engine, "operator", "sleep", {"seconds": 0})
    other = submit(engine, "verifier", "sleep", {"seconds": 0})
    assert view(engine, "operator", job_id).state == "succeeded"
    assert view(engine, "admin", job_id).username == "operator"
    assert view(engine, "auditor", job_id).id == job_id
    for stranger in ("verifier", "other_verifier", "determiner"):
        with pytest.raises(NotFound) as refused:
            view(engine, stranger, job_id)
        # Said as of an id that does not exist: neither that it exists nor whose it is.
        assert refused.value.message == f"Job {job_id} tidak ada."
    with pytest.raises(NotFound) as absent:
        view(engine, "admin", "0" * 32)
    assert absent.value.message == f"Job {'0' * 32} tidak ada."
    with session_scope(engine) as session:
        mine = service.list_jobs(session, user(session, "operator"), limit=10, offset=0)
        assert (mine.total, [j.id for j in mine.items]) == (1, [job_id])
        every = service.list_jobs(session, user(session, "auditor"), limit=1, offset=0)
        assert every.total == 2 and len(every.items) == 1
        assert every.items[0].id == other  # newest first
        with pytest.raises(NotFound):
            service.rerun(session, user(session, "verifier"), job_id)
        with pytest.raises(Conflict):  # only a failed job runs again
            service.rerun(session, user(session, "operator"), job_id)


# --- the queue itself, with a real consumer -------------------------------------------------


@pytest.fixture(params=QUEUES)
def queue_settings(
    request: pytest.FixtureRequest, engine: Engine, data_dir: Path
) -> Iterator[Settings]:
    over: dict[str, Any] = {"job_heartbeat_seconds": 0.3}
    if request.param == "redis":
        over["redis_url"] = REDIS_URL
    settings = settings_for(engine, data_dir, **over)
    yield settings
    if request.param == "redis":
        JobQueue(settings).huey.flush()


def test_a_job_is_queued_only_once_its_row_is_committed_and_a_worker_runs_it(
    engine: Engine, data_dir: Path, tmp_path: Path, queue_settings: Settings
) -> None:
    queue = JobQueue(queue_settings, engine=engine)
    queue.huey.flush()
    h1, m1 = family(1)
    files = upload_batch(data_dir, tmp_path / "batch", [h1], m1)
    with session_scope(engine) as session:
        job = service.submit(
            session,
            user(session, "operator"),
            kind="import",
            params={"files": files},
            channel="api",
            queue=queue,
        )
        job_id = job.id
        assert queue.pending() == 0  # not before the commit
    assert queue.pending() == 1
    assert view(engine, "operator", job_id, queue).state == "queued"
    with session_scope(engine) as session:  # a submission rolled back queues nothing
        service.submit(
            session,
            user(session, "operator"),
            kind="import",
            params={"files": files},
            channel="api",
            queue=queue,
        )
        session.rollback()
    assert queue.pending() == 1 and job_rows(engine) == 1
    worker = start_embedded_worker(queue, workers=1)
    try:
        wait_for(lambda: view(engine, "operator", job_id, queue).state == "succeeded")
    finally:
        worker.stop()
    done = view(engine, "operator", job_id, queue)
    assert done.result is not None and done.result["members_accepted"] == 3
    assert done.worker is not None and str(os.getpid()) in done.worker
    assert done.heartbeat_at is not None and done.finished_at is not None
    assert counts(engine) == (1, 3)
    assert queue.pending() == 0


def test_a_queue_that_cannot_be_reached_fails_the_job(engine: Engine, data_dir: Path) -> None:
    queue = JobQueue(
        settings_for(engine, data_dir, redis_url="redis://127.0.0.1:9/0"), engine=engine
    )
    h, m = family(1)
    files = upload_batch(data_dir, data_dir.parent / "batch", [h], m)
    job_id = submit(engine, "operator", "import", {"files": files}, queue=queue)
    job = view(engine, "operator", job_id, queue)
    assert job.state == "failed"
    assert job.error is not None and job.error["code"] == "queue_unavailable"


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "lumbung", "worker"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def test_a_worker_killed_mid_import_leaves_nothing_and_the_job_runs_again(
    engine: Engine, data_dir: Path, tmp_path: Path, queue_settings: Settings
) -> None:
    batch = tmp_path / "synth"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "lumbung",
            "synth",
            "--households",
            "120",
            "--seed",
            "3",
            "--region",
            "31.71",
            "--out",
            str(batch),
        ],
        check=True,
        capture_output=True,
    )
    files = [
        str(uploads.save(data_dir, p.name, io.BytesIO(p.read_bytes()), max_bytes=10**8))
        for p in (batch / "households.csv", batch / "members.csv")
    ]
    env = {
        **os.environ,
        "LUMBUNG_DATABASE_URL": queue_settings.database_url,
        "LUMBUNG_DATA_DIR": str(data_dir),
        "LUMBUNG_JOBS_TEST_PAUSE_AT": "memuat anggota",  # after the families went in
        "LUMBUNG_JOB_HEARTBEAT_SECONDS": "0.3",
    }
    if queue_settings.redis_url:
        env["LUMBUNG_REDIS_URL"] = queue_settings.redis_url
    queue = JobQueue(queue_settings, engine=engine)
    queue.huey.flush()
    job_id = submit(engine, "admin", "import", {"files": files}, queue=queue)
    worker = _worker(env, tmp_path / "worker.log")
    try:
        wait_for(lambda: view(engine, "admin", job_id, queue).message == "memuat anggota")
        running = view(engine, "admin", job_id, queue)
        assert running.state == "running" and running.done == 4
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    # Nothing half done: the families loaded before the kill went with its transaction.
    assert counts(engine) == (0, 0)
    with session_scope(engine) as session:
        imports = session.execute(text("SELECT count(*) FROM import_batch")).scalar_one()
        assert imports == 0
    # Not yet given up on: its last heartbeat is recent.
    assert sweep_lost(queue) == []
    assert view(engine, "admin", job_id, queue).state == "running"
    # A worker that starts finds it silent for longer than allowed, and fails it.
    impatient = JobQueue(queue_settings.model_copy(update={"job_lost_seconds": 1.0}), engine=engine)
    time.sleep(1.2)
    embedded = start_embedded_worker(impatient, workers=1)
    try:
        lost = view(engine, "admin", job_id, impatient)
        assert lost.state == "failed"
        assert lost.error is not None and lost.error["code"] == "worker_lost"
        assert "dijalankan ulang" in lost.error["message"]
        with session_scope(engine) as session:
            again = service.rerun(session, user(session, "admin"), job_id, queue=impatient)
            again_id = again.id
        assert again_id != job_id
        wait_for(lambda: view(engine, "admin", again_id, impatient).state != "queued")
        wait_for(lambda: view(engine, "admin", again_id, impatient).state != "running", 120)
    finally:
        embedded.stop()
    done = view(engine, "admin", again_id, impatient)
    assert done.state == "succeeded", done.error
    assert done.params == lost.params
    assert done.result is not None
    assert counts(engine) == (done.result["households_accepted"], done.result["members_accepted"])
    assert done.result["households_accepted"] > 0


# --- uploads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("households.csv", "households.csv"),
        ("../../etc/cron.d/x.csv", "x.csv"),
        ("..\\..\\windows\\batch.XLSX", "batch.xlsx"),
        ("desa\x1b[31m merah.csv", "desa_31m merah.csv"),
        ("\u202ecsv.xlsx", "csv.xlsx"),
        (".hidden.csv", "hidden.csv"),
        ("data desa; rm -rf.csv", "data desa_ rm -rf.csv"),
    ],
)
def test_an_upload_is_kept_under_a_safe_name_in_a_folder_of_its_own(
    tmp_path: Path, given: str, kept: str
) -> None:
    path = uploads.save(tmp_path, given, io.BytesIO(b"kk_number\n1\n"), max_bytes=100)
    assert path.name == kept
    assert path.parent.parent == tmp_path / "uploads"
    assert len(path.parent.name) == 32
    assert path.read_bytes() == b"kk_number\n1\n"
    assert uploads.inside_uploads(tmp_path, path)


@pytest.mark.parametrize("given", ["batch.exe", "batch", "batch.csv.sh", "", "/", "../.csv"])
def test_only_csv_and_xlsx_are_accepted(tmp_path: Path, given: str) -> None:
    with pytest.raises(ValidationFailed):
        uploads.save(tmp_path, given, io.BytesIO(b"x"), max_bytes=100)
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def test_an_upload_over_the_limit_is_refused_and_nothing_kept(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="batas unggahan"):
        uploads.save(tmp_path, "big.csv", io.BytesIO(b"x" * 101), max_bytes=100)
    assert list((tmp_path / "uploads").iterdir()) == []
    kept = uploads.save(tmp_path, "fits.csv", io.BytesIO(b"x" * 100), max_bytes=100)
    assert kept.stat().st_size == 100
    with pytest.raises(ValidationFailed, match="kosong"):
        uploads.save(tmp_path, "empty.csv", io.BytesIO(b""), max_bytes=100)


# --- the administrator's commands ------------------------------------------------------------


def test_jobs_commands_list_show_and_rerun(
    engine: Engine, data_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from lumbung.cli import app
    from lumbung.config import get_settings

    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LUMBUNG_JOBS_TEST_PAUSE_AT", "-")
    get_settings.cache_clear()
    queue = JobQueue(settings_for(engine, data_dir, jobs_test_pause_at="-"), engine=engine)
    failed = submit(engine, "operator", "sleep", {"fail": "Gagal uji."}, queue=queue)
    with start_embedded_worker(queue, workers=1):
        wait_for(lambda: view(engine, "operator", failed, queue).state == "failed")

    def run(*args: str) -> Any:
        get_settings.cache_clear()
        result = CliRunner().invoke(app, [*args, "--json"])
        return result.exit_code, json.loads(result.stdout)

    try:
        code, listed = run("jobs", "list", "--as", "admin")
        assert code == 0 and [j["id"] for j in listed["items"]] == [failed]
        code, shown = run("jobs", "show", failed, "--as", "operator")
        assert code == 0
        assert shown["error"] == {"code": "validation_failed", "message": "Gagal uji."}
        assert shown["log"] is None
        code, refused = run("jobs", "show", failed, "--as", "verifier")
        assert (code, refused["error"]) == (1, "not_found")
        # An admin sees the log on screen one line at a time, no line break printed as \x0a.
        get_settings.cache_clear()
        screen = CliRunner().invoke(app, ["jobs", "show", failed, "--as", "admin"])
        assert screen.exit_code == 0 and "Log:" in screen.stdout
        assert "\\x0a" not in screen.stdout and "diminta oleh operator" in screen.stdout
        code, again = run("jobs", "rerun", failed, "--as", "operator")
        assert code == 0 and again["rerun_of"] == failed and again["state"] == "queued"
        with start_embedded_worker(queue, workers=1):
            wait_for(lambda: view(engine, "operator", again["id"], queue).state == "failed")
        assert view(engine, "operator", again["id"], queue).channel == "cli"
    finally:
        get_settings.cache_clear()


def test_a_queued_job_whose_message_was_lost_is_sent_again_once(
    engine: Engine, data_dir: Path, tmp_path: Path, queue_settings: Settings
) -> None:
    """The server stopped between a job's commit and its enqueue (or the queue lost its
    messages): the job stayed `queued` for ever. A sweep sends it again, a job whose message
    is waiting is left alone, and a job delivered twice runs once."""
    queue = JobQueue(queue_settings.model_copy(update={"job_lost_seconds": 0.5}), engine=engine)
    queue.huey.flush()
    h1, m1 = family(1)
    files = upload_batch(data_dir, tmp_path / "batch", [h1], m1)
    lost = submit(engine, "operator", "import", {"files": files}, queue=queue)
    queue.huey.flush()  # its message gone
    h2, m2 = family(2)
    waiting = submit(
        engine,
        "operator",
        "import",
        {"files": upload_batch(data_dir, tmp_path / "b2", [h2], m2)},
        queue=queue,
    )
    assert requeue_lost(queue) == []  # too young to be called lost
    time.sleep(0.6)
    assert requeue_lost(queue) == [lost]
    assert queue.waiting_ids() == {lost, waiting}
    assert requeue_lost(queue) == []  # its message now waits
    queue.enqueue(lost)  # and a second delivery of the same job
    worker = start_embedded_worker(queue, workers=1)
    try:
        wait_for(
            lambda: all(
                view(engine, "operator", j, queue).state == "succeeded" for j in (lost, waiting)
            )
        )
        wait_for(lambda: queue.pending() == 0)
    finally:
        worker.stop()
    again = view(engine, "operator", lost, queue)
    assert again.attempts == 1 and counts(engine) == (2, 6)
    with session_scope(engine) as session:
        assert "dikirim ulang" in (session.get(Job, lost) or Job()).log


def test_uploads_are_removed_some_days_after_their_job_and_the_rows_stay(
    engine: Engine, data_dir: Path, tmp_path: Path, immediate: JobQueue
) -> None:
    """Uploaded batches hold every NIK and name of a batch: kept `upload_keep_days` after
    their job finished (a failed one can be run again meanwhile), then removed, the job's row
    and log kept; a folder no job names goes after a day; a job whose files are gone cannot
    be run again (said why); only a national admin cleans on demand."""
    h1, m1 = family(1)
    files = upload_batch(data_dir, tmp_path / "batch", [h1], m1)
    done = submit(engine, "operator", "import", {"files": files}, queue=immediate)
    broken = [
        str(uploads.save(data_dir, "keluarga.csv", io.BytesIO(b"bukan,batch\n1,2\n"), max_bytes=99))
    ]
    failed = submit(engine, "operator", "import", {"files": broken}, queue=immediate)
    assert view(engine, "operator", failed, immediate).state == "failed"
    orphan = uploads.uploads_dir(data_dir.resolve()) / ("0" * 32)
    orphan.mkdir()
    old = time.time() - 2 * 86400
    os.utime(orphan, (old, old))
    folders = {Path(f).parent for f in files + broken}
    assert all(f.parent == uploads.uploads_dir(data_dir.resolve()) for f in folders)
    with session_scope(engine) as session:
        soon = retention.expire_uploads(session, data_dir=data_dir, keep_days=30)
    assert soon.as_dict() == {"jobs": 0, "orphans": 1}
    assert all(f.is_dir() for f in folders) and not orphan.exists()
    later = utcnow() + timedelta(days=31)
    with session_scope(engine) as session:
        cleaned = retention.expire_uploads(session, data_dir=data_dir, keep_days=30, now=later)
    assert cleaned.as_dict() == {"jobs": 2, "orphans": 0}
    assert not any(f.exists() for f in folders)
    assert job_rows(engine) == 2
    assert view(engine, "operator", done, immediate).state == "succeeded"
    with session_scope(engine) as session:
        assert "berkas unggahan dihapus" in (session.get(Job, done) or Job()).log
        with pytest.raises(Conflict, match="sudah dihapus"):
            service.rerun(session, user(session, "operator"), failed, queue=immediate)
    with session_scope(engine) as session, pytest.raises(PermissionDenied):
        retention.clean(session, user(session, "operator"), data_dir=data_dir, keep_days=0)
    with session_scope(engine) as session:
        admin = user(session, "admin")
        assert retention.clean(session, admin, data_dir=data_dir, keep_days=0).jobs == 0
