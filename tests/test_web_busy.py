"""The web application while another unit of work is long (a job, `lumbung link run`), on a
real SQLite file and on PostgreSQL: pages open, and sign-in works, while a link run's engine
matches for minutes; a request that must write while a writer holds SQLite's lock answers 503
"sedang sibuk", not 500; a sign-in left at its second factor starts over; a village operator
is never national (the admin's page)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from conftest import user
from factories import family, write_batch
from linkage_helpers import all_records, build_registry, link, matcher, story_pairs
from lumbung.auth.models import User, WebSession
from lumbung.db import is_postgres, session_scope, utcnow
from lumbung.linkage.service import RunView
from web_helpers import PASSWORD, client, csrf_of, give_passwords, make_app, sign_in, totp_code

pytestmark = pytest.mark.usefixtures("users")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from lumbung.config import get_settings
    from lumbung.jobs import queue

    folder = tmp_path / "data"
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(folder))
    get_settings.cache_clear()
    queue.set_default_queue(None)  # no worker: a job asked for stays queued
    yield folder
    queue.set_default_queue(None)
    get_settings.cache_clear()


def job_page(web: TestClient, tmp_path: Path) -> str:
    """The page of an import job the signed-in operator asks for (queued: no worker)."""
    page = web.get("/impor")
    households, members = family(3)
    paths = write_batch(tmp_path / "batch", [households], members)
    sent = web.post(
        "/impor",
        data={"csrf": csrf_of(page.text)},
        files=[("files", (p.name, p.read_bytes(), "text/csv")) for p in paths],
    )
    assert sent.status_code == 303, sent.text[:2000]
    location: str = sent.headers["location"]
    assert location.startswith("/pekerjaan/")
    return location


def open_sessions(engine: Engine, username: str) -> int:
    with session_scope(engine) as session:
        account = user(session, username)
        return int(
            session.execute(
                select(func.count())
                .select_from(WebSession)
                .where(WebSession.user_id == account.id, WebSession.ended_at.is_(None))
            ).scalar_one()
        )


def test_a_link_run_matching_for_long_lets_a_browser_sign_in_and_read_a_job_page(
    engine: Engine, tmp_path: Path, data_dir: Path
) -> None:
    """The newcomer's `make demo`: a link run (a job, or `lumbung link run`) held SQLite's
    writer lock for the whole of its engine's minutes, and sign-in and the job page answered
    500 "database is locked". Here the engine waits until the browser is done."""
    registry = build_registry(engine, tmp_path / "registry", data_dir)
    give_passwords(engine, "operator")
    app = make_app(engine, data_dir)
    first = client(app)
    sign_in(first, "operator")
    job = job_page(first, tmp_path)

    matching = threading.Event()
    browsed = threading.Event()
    finished: list[RunView] = []
    failed: list[BaseException] = []

    def slow_engine(release_dir: Path, run_dir: Path) -> None:
        matching.set()
        assert browsed.wait(60)
        matcher(story_pairs(registry), all_records(registry))(release_dir, run_dir)

    def run() -> None:
        try:
            finished.append(link(engine, data_dir, slow_engine))
        except BaseException as error:  # seen by the test below
            failed.append(error)
            matching.set()

    runner = threading.Thread(target=run)
    runner.start()
    try:
        assert matching.wait(60)
        assert not failed, failed
        started = time.monotonic()
        other = client(app)
        assert sign_in(other, "operator") == "/"  # 303 to the home page: signed in
        page = other.get(job)
        assert page.status_code == 200, page.text[:2000]
        assert first.get(job).status_code == 200
        assert first.get("/").status_code == 200
        took = time.monotonic() - started
    finally:
        browsed.set()
        runner.join(60)
    assert not failed, failed
    # Nothing waited for the lock (a wait would have lasted WRITE_WAIT_MS, ten seconds).
    assert took < 8, took
    assert finished and finished[0].pairs_queued > 0
    assert open_sessions(engine, "operator") == 2


def test_pages_open_while_a_writer_holds_the_lock_and_a_write_says_busy(
    engine: Engine, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lumbung.web import context

    monkeypatch.setattr(context, "WRITE_WAIT_MS", 300)
    give_passwords(engine, "operator")
    web = client(make_app(engine, data_dir))
    sign_in(web, "operator")
    job = job_page(web, tmp_path)
    # The session's last request long ago: the next page would note it.
    an_hour_ago = utcnow() - timedelta(minutes=5)
    with session_scope(engine) as session:
        session.execute(update(WebSession).values(last_seen_at=an_hour_ago))

    def last_seen() -> object:
        with session_scope(engine) as session:
            return session.execute(
                select(func.max(WebSession.last_seen_at)).where(WebSession.ended_at.is_(None))
            ).scalar_one()

    noted_before = last_seen()
    with writer_holding(engine) as release:
        for path in (job, "/", "/masuk"):
            page = web.get(path)
            assert page.status_code in (200, 303), (path, page.status_code, page.text[:2000])
        assert web.get(job).status_code == 200
        other = client(web.app)  # type: ignore[arg-type]
        form = other.get("/masuk")
        assert form.status_code == 200
        signing = other.post(
            "/masuk",
            data={"csrf": csrf_of(form.text), "username": "operator", "password": PASSWORD},
        )
        if is_postgres(engine):
            # Row locks: a sign-in does not wait for an unrelated writer.
            assert signing.status_code == 303
            assert last_seen() != noted_before  # noted in the page's own transaction
        else:
            assert signing.status_code == 503, signing.text[:2000]
            assert "sedang sibuk" in signing.text and "coba lagi" in signing.text
            assert "OperationalError" not in signing.text
            assert last_seen() == noted_before  # the note waits for a free moment
        release.set()
    assert web.get(job).status_code == 200
    assert last_seen() != noted_before
    retried = client(web.app)  # type: ignore[arg-type]
    assert sign_in(retried, "operator") == "/"


class writer_holding:
    """`writer`, for use inside a test after other steps."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.done = threading.Event()
        self.holding = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        with session_scope(self.engine) as session:
            session.execute(
                update(User).where(User.username == "auditor").values(full_name="Auditor")
            )
            session.flush()
            self.holding.set()
            self.done.wait(60)

    def __enter__(self) -> threading.Event:
        self.thread.start()
        assert self.holding.wait(30)
        return self.done

    def __exit__(self, *_exc: object) -> None:
        self.done.set()
        self.thread.join(60)


def test_a_sign_in_left_at_its_second_factor_starts_over(engine: Engine, tmp_path: Path) -> None:
    """The password given, the second factor not: opening /masuk again and signing in was
    refused (403, the form "expired") on every try in that browser."""
    give_passwords(engine, "determiner")
    web = client(make_app(engine, tmp_path / "data"))
    assert sign_in(web, "determiner").startswith("/masuk/totp/daftar")
    assert open_sessions(engine, "determiner") == 1
    form = web.get("/masuk")
    assert form.status_code == 200
    # The sign-in form's own token, as the browser sends it (the page's first form is the
    # header's sign-out, with the pending session's token).
    signin_form = form.text.split('action="/masuk"')[1]
    again = web.post(
        "/masuk",
        data={"csrf": csrf_of(signin_form), "username": "determiner", "password": PASSWORD},
    )
    assert again.status_code == 303, again.text[:2000]
    assert again.headers["location"].startswith("/masuk/totp/daftar")
    assert open_sessions(engine, "determiner") == 1  # the pending one ended, a new one begun
    # The new pending sign-in goes on to the end.
    enrol = web.get("/masuk/totp/daftar")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    done = web.post(
        "/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)}
    )
    assert done.status_code == 303
    assert web.get("/").status_code == 200
    # A form of another site (no pre-sign-in token) is still refused.
    forged = client(web.app)  # type: ignore[arg-type]
    assert sign_in(forged, "determiner").startswith("/masuk/totp?")
    refused = forged.post(
        "/masuk", data={"csrf": "x" * 43, "username": "determiner", "password": PASSWORD}
    )
    assert refused.status_code == 403


def test_the_admin_page_refuses_a_village_operator_without_a_region(
    engine: Engine, tmp_path: Path
) -> None:
    give_passwords(engine, "admin")
    web = client(make_app(engine, tmp_path / "data"))
    assert sign_in(web, "admin").startswith("/masuk/totp/daftar")
    enrol = web.get("/masuk/totp/daftar")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    web.post("/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)})
    users = web.get("/pengguna")
    form = {
        "csrf": csrf_of(users.text),
        "action": "create",
        "username": "op-nasional",
        "full_name": "Operator Nasional",
        "role": "operator",
        "region": "",
        "password": "kata-sandi-awal-yang-panjang",
    }
    refused = web.post("/pengguna", data=form)
    assert refused.status_code == 422, refused.status_code
    assert "Wilayah (region) wajib diisi" in refused.text
    with session_scope(engine) as session:
        assert (
            session.execute(
                select(func.count()).select_from(User).where(User.username == "op-nasional")
            ).scalar_one()
            == 0
        )
    made = web.post("/pengguna", data={**form, "region": "31.71.01.1001"})
    assert made.status_code == 303
    assert "op-nasional" in web.get(made.headers["location"]).text
