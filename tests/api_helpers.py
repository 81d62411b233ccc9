"""The HTTP API against the test database: an app built on the `engine` fixture's database
and a data folder of the test, a client, and a token for each user."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from conftest import user
from lumbung.app import create_app
from lumbung.auth import tokens
from lumbung.config import Settings
from lumbung.db import session_scope

API = "/api/v1"


@dataclass
class Api:
    """A client of the app, and the raw token of each user by username."""

    client: TestClient
    engine: Engine
    data_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)
    token_ids: dict[str, int] = field(default_factory=dict)

    def get(self, who: str | None, path: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.client.get(API + path, headers=self.auth(who), **kwargs)
        return response

    def post(self, who: str | None, path: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.client.post(API + path, headers=self.auth(who), **kwargs)
        return response

    def auth(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def issue(self, username: str, *, days: int = 30) -> str:
        with session_scope(self.engine) as session:
            raw, token = tokens.issue(
                session,
                actor=user(session, "admin"),
                username=username,
                name=f"test {username}",
                expires_days=days,
            )
            self.token_ids[username] = token.id
        self.tokens[username] = raw
        return raw


def make_api(engine: Engine, data_dir: Path, usernames: list[str]) -> Api:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=data_dir
    )
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    api = Api(client, engine, data_dir)
    for name in usernames:
        api.issue(name)
    return api


def problem_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response's problem+json body, after checking its status, type and fields."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["title"] and body["detail"] and body["type"]
    assert "Traceback" not in response.text
    return body
