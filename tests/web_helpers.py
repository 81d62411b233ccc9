"""The web application against a test database: the app, passwords for the `users` fixture,
and signing in through the pages as a browser does."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from conftest import user
from lumbung.config import Settings
from lumbung.db import session_scope

PASSWORD = "kata-sandi-uji-yang-panjang-1"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def make_app(engine: Engine, data_dir: Path) -> FastAPI:
    """The application as `lumbung serve` builds it, on the test database (a bare FastAPI app
    with the pages where the app factory is not there)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=data_dir
    )
    if importlib.util.find_spec("lumbung.app") is not None:
        factory = importlib.import_module("lumbung.app").create_app
        app: FastAPI = factory(settings)
        return app
    from lumbung.web import install

    app = FastAPI()
    app.state.settings = settings
    install(app)
    return app


def give_passwords(engine: Engine, *usernames: str) -> None:
    """Each user a password (as an admin's reset would, without the forced change)."""
    from lumbung.auth.passwords import hash_password

    with session_scope(engine) as session:
        for name in usernames:
            account = user(session, name)
            account.password_hash = hash_password(PASSWORD)
            account.must_change_password = False


def client(app: FastAPI) -> TestClient:
    # https: the session cookie is Secure, and a client keeps it for https only.
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html[:2000]
    return found.group(1)


def sign_in(web: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through /masuk; returns where the site sent the browser next."""
    page = web.get("/masuk")
    assert page.status_code == 200
    answer = web.post(
        "/masuk",
        data={"csrf": csrf_of(page.text), "username": username, "password": password},
    )
    assert answer.status_code in (303, 401), answer.text[:2000]
    location: str = answer.headers.get("location", "")
    return location


def totp_code(secret: str) -> str:
    import pyotp

    return str(pyotp.TOTP(secret).now())


def enrolled(app: FastAPI, username: str) -> TestClient:
    """A browser signed in as `username`, with TOTP enrolled (determiners and admins)."""
    browser = client(app)
    assert sign_in(browser, username).startswith("/masuk/totp/daftar")
    enrol = browser.get("/masuk/totp/daftar")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    browser.post(
        "/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)}
    )
    return browser


def followed(web: TestClient, answer: httpx.Response) -> httpx.Response:
    """A form's answer after POST/redirect/GET: a 303 to the page that shows the result once
    (Page.done), and that page."""
    assert answer.status_code == 303, answer.text[:2000]
    page: httpx.Response = web.get(answer.headers["location"])
    return page
