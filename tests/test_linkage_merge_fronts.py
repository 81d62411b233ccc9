"""Merging another registry from the command line and over the API (a job), on SQLite and
PostgreSQL: each front end parses, calls the same service (linkage/merge.py) and renders."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from api_helpers import make_api, problem_of
from lumbung.cli import app, common
from lumbung.config import Settings, get_settings
from lumbung.jobs.queue import JobQueue, set_default_queue
from lumbung.jobs.runner import execute
from merge_helpers import export, registry
from web_helpers import client, csrf_of, give_passwords, make_app, sign_in, totp_code

pytestmark = pytest.mark.usefixtures("users")


@pytest.fixture
def lumbung(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
    for cached in common._engines.values():
        cached.dispose()
    common._engines.clear()


def test_the_command_line(lumbung: CliRunner, engine: Engine, tmp_path: Path) -> None:
    _, people = registry(engine, tmp_path)
    export(tmp_path / "export", people)

    def run(*args: str) -> tuple[int, str]:
        get_settings.cache_clear()
        result = lumbung.invoke(app, ["link", *args])
        return result.exit_code, result.stdout

    code, out = run("merge", "export", "--source", "dinsos-dki", "--as", "verifier", "--json")
    assert code == 1 and json.loads(out)["error"] == "permission_denied"
    code, out = run("merge", "export", "--source", "bad name", "--as", "admin", "--json")
    assert code != 0 and json.loads(out)["error"] == "validation_failed"
    code, out = run("merge", "export", "--source", "dinsos-dki", "--as", "admin", "--json")
    first = json.loads(out)
    assert code == 0 and (first["matched"], first["new"], first["conflicting"]) == (2, 2, 1)
    assert first["proposals"] == 2
    code, out = run("merges", "--as", "auditor", "--json")
    assert code == 0 and [m["id"] for m in json.loads(out)] == [first["merge_id"]]
    merge = str(first["merge_id"])
    code, out = run("merge-records", merge, "--outcome", "matched", "--as", "admin", "--json")
    matched = json.loads(out)
    assert code == 0 and matched["total"] == 2
    assert {r["nik"]: r["differs"] for r in matched["items"]}[people[1]["nik"]] == ["name"]
    code, out = run("merge-records", merge, "--as", "auditor", "--json")
    assert code == 0 and json.loads(out)["total"] == 5 and people[1]["nik"] not in out
    code, out = run("merge-records", merge, "--as", "other_verifier", "--json")
    assert code == 0 and json.loads(out)["total"] == 0  # Bandung's verifier: none in region
    code, out = run(
        "merge-report", "--as", "auditor", "--json", "--csv", "r.csv", "--xlsx", "r.xlsx"
    )
    body = json.loads(out)
    assert code == 0 and body["total"]["records"] == 5 and body["total"]["proposed"] == 3
    assert (tmp_path / "r.csv").read_text(encoding="utf-8").startswith("sumber,kode_wilayah,")
    assert load_workbook(tmp_path / "r.xlsx").sheetnames == ["wilayah", "keterangan"]
    code, out = run("merge-report", "--as", "other_verifier", "--json")
    assert code == 0 and json.loads(out)["total"]["records"] == 0  # Bandung: none of it


def test_the_api(engine: Engine, tmp_path: Path) -> None:
    data_dir, people = registry(engine, tmp_path)
    paths = export(tmp_path / "export", people)
    api = make_api(engine, data_dir, ["verifier", "auditor", "admin"])
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=data_dir
    )
    api.client.app.state.queue = JobQueue(settings, engine=engine, immediate=True)  # type: ignore[attr-defined]
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in paths]
    refused = api.post("verifier", "/link/merges", files=files, data={"source": "dinsos-dki"})
    problem_of(refused, 403, "permission_denied")
    sent = api.post("admin", "/link/merges", files=files, data={"source": "dinsos-dki"})
    assert sent.status_code == 202, sent.text
    job = api.get("admin", f"/jobs/{sent.json()['id']}").json()
    assert job["state"] == "succeeded", job["error"]
    assert (job["result"]["new"], job["result"]["proposals"]) == (2, 2)
    listed = api.get("auditor", "/link/merges?source=dinsos-dki").json()
    assert [m["id"] for m in listed] == [job["result"]["merge_id"]]
    conflicting = api.get(
        "verifier", f"/link/merges/{job['result']['merge_id']}/records?outcome=conflicting"
    ).json()
    assert [r["candidates"] for r in conflicting["items"]] == [2]
    problem_of(api.get("verifier", "/link/merges/99/records"), 404, "not_found")
    report = api.get("verifier", "/link/merges/report").json()
    assert (report["region"], report["level"], report["total"]["records"]) == (
        "31.71",
        "regency",
        5,
    )
    sheet = api.get("auditor", "/link/merges/report.xlsx?level=regency")
    assert load_workbook(io.BytesIO(sheet.content))["wilayah"]["B2"].value == "31.71"
    assert api.get("auditor", "/link/merges/report.csv").text.startswith("sumber,")


@pytest.fixture
def queue(engine: Engine, tmp_path: Path) -> Iterator[JobQueue]:
    """A queue without a worker: the test runs the job once the page has queued it."""
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path / "data"
    )
    made = JobQueue(settings, engine=engine, immediate=False)
    set_default_queue(made)
    try:
        yield made
    finally:
        set_default_queue(None)


def test_the_page(engine: Engine, tmp_path: Path, queue: JobQueue) -> None:
    data_dir, people = registry(engine, tmp_path)
    paths = export(tmp_path / "export", people)
    give_passwords(engine, "admin", "auditor")
    web: TestClient = client(make_app(engine, data_dir))
    sign_in(web, "admin")
    enrol = web.get("/masuk/totp/daftar")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    web.post("/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)})
    form = web.get("/kemiripan/gabung")
    assert form.status_code == 200 and 'name="source"' in form.text, form.text[:2000]
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in paths]
    bad = web.post(
        "/kemiripan/gabung", data={"csrf": csrf_of(form.text), "source": "x y"}, files=files
    )
    assert bad.status_code == 422 and "Nama sumber" in bad.text
    sent = web.post(
        "/kemiripan/gabung", data={"csrf": csrf_of(form.text), "source": "dinsos-dki"}, files=files
    )
    assert sent.status_code == 303, sent.text[:2000]
    execute(queue, sent.headers["location"].rsplit("/", 1)[1])
    job = web.get(sent.headers["location"])
    assert 'id="merge-open"' in job.text, job.text[:3000]
    page = web.get("/kemiripan/gabung")
    assert "<td>dinsos-dki</td>" in page.text
    assert web.get("/kemiripan/gabung/laporan.csv").text.startswith("sumber,")

    web.cookies.clear()
    sign_in(web, "auditor")
    read = web.get("/kemiripan/gabung")
    assert read.status_code == 200 and 'name="source"' not in read.text
    assert "<td>dinsos-dki</td>" in read.text
