"""Civil registry matching from the command line, over the API and on the pages, on SQLite
and PostgreSQL: each front end parses, calls the same services and renders."""

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
from civil_helpers import RIGHT_NIK, every_outcome, registry, write_extract
from lumbung.cli import app, common
from lumbung.config import Settings, get_settings
from lumbung.db import session_scope
from lumbung.jobs.models import Job
from lumbung.jobs.queue import JobQueue, set_default_queue
from lumbung.jobs.runner import execute
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
    people = registry(engine, tmp_path / "batch")
    write_extract(tmp_path / "ekstrak.csv", every_outcome(people))

    def run(*args: str) -> tuple[int, str]:
        get_settings.cache_clear()
        result = lumbung.invoke(app, ["civil", *args])
        return result.exit_code, result.stdout

    code, out = run("import", "ekstrak.csv", "--as", "verifier", "--json")
    assert code == 1 and json.loads(out)["error"] == "permission_denied"
    # A member not found: the removal's number first, nothing imported (exit 3), then confirmed.
    code, out = run("import", "ekstrak.csv", "--as", "admin")
    said = " ".join(out.split())
    assert code == 3 and "akan mengusulkan penghapusan 1 anggota" in said
    assert "--confirm-removals 1" in said
    code, out = run("import", "ekstrak.csv", "--as", "admin", "--confirm-removals", "1", "--json")
    first = json.loads(out)
    assert code == 0 and (first["members"], first["proposals"]) == (8, 3)
    assert Path(first["reject_file"]).is_file()
    code, out = run("import", "ekstrak.csv", "--as", "admin")
    assert code == 0 and "sudah diimpor" in " ".join(out.split())
    (tmp_path / "lain.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    code, out = run("import", "lain.csv", "--as", "admin", "--json")
    assert code == 2 and json.loads(out)["errors"][0]["code"] == "bad_header"
    code, out = run("imports", "--as", "verifier", "--json")
    assert code == 0 and json.loads(out) == []  # a national import: not the regency's to read
    code, out = run("imports", "--as", "auditor", "--json")
    assert [i["id"] for i in json.loads(out)] == [first["import_id"]]
    code, out = run(
        "members", str(first["import_id"]), "--outcome", "mismatched", "--as", "admin", "--json"
    )
    listed = json.loads(out)
    assert code == 0 and listed["total"] == 4
    assert RIGHT_NIK in {m["extract_nik"] for m in listed["items"]}
    code, out = run("members", str(first["import_id"]), "--as", "auditor", "--json")
    assert code == 0 and RIGHT_NIK not in out and people["f1_head"]["nik"] not in out
    assert "BUDI SANTOSO" not in out
    code, out = run("report", "--as", "auditor", "--json", "--csv", "r.csv", "--xlsx", "r.xlsx")
    body = json.loads(out)
    assert code == 0 and body["total"]["members"] == 8 and body["total"]["matched"] == 2
    assert (tmp_path / "r.csv").read_text(encoding="utf-8").startswith("kode_wilayah,")
    assert load_workbook(tmp_path / "r.xlsx").sheetnames == ["wilayah", "keterangan"]
    code, out = run("report", "--as", "verifier", "--region", "32", "--json")
    assert code == 1 and json.loads(out)["error"] == "permission_denied"


def _immediate(engine: Engine, data_dir: Path, *, immediate: bool = True) -> JobQueue:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=data_dir
    )
    return JobQueue(settings, engine=engine, immediate=immediate)


def test_the_api(engine: Engine, tmp_path: Path) -> None:
    people = registry(engine, tmp_path / "batch")
    data = write_extract(tmp_path / "ekstrak.csv", every_outcome(people)).read_bytes()
    api = make_api(engine, tmp_path / "data", ["verifier", "auditor", "admin"])
    api.client.app.state.queue = _immediate(engine, tmp_path / "data")  # type: ignore[attr-defined]
    refused = api.post("verifier", "/civil/imports", files={"file": ("e.csv", data, "text/csv")})
    problem_of(refused, 403, "permission_denied")
    asked = api.post("admin", "/civil/imports", files={"file": ("e.csv", data, "text/csv")})
    waiting = api.get("admin", f"/jobs/{asked.json()['id']}").json()["result"]
    assert (waiting["needs_confirmation"], waiting["removals"], waiting["import_id"]) == (
        True,
        1,
        None,
    )
    sent = api.post(
        "admin",
        "/civil/imports",
        files={"file": ("e.csv", data, "text/csv")},
        data={"confirm_removals": "1"},
    )
    assert sent.status_code == 202, sent.text
    job = api.get("admin", f"/jobs/{sent.json()['id']}").json()
    assert job["state"] == "succeeded", job["error"]
    import_id = job["result"]["import_id"]
    assert job["result"]["deceased"] == 1
    one = api.get("auditor", f"/civil/imports/{import_id}").json()
    assert (one["members"], one["proposals"], one["has_rejects"]) == (8, 3, True)
    rejects = api.get("admin", f"/civil/imports/{import_id}/rejects")
    assert rejects.status_code == 200 and rejects.text.startswith("file,row,column")
    problem_of(api.get("auditor", f"/civil/imports/{import_id}/rejects"), 403, "permission_denied")
    members = api.get("admin", f"/civil/imports/{import_id}/members?outcome=deceased").json()
    assert [m["nik"] for m in members["items"]] == [people["f2_head"]["nik"]]
    assert members["items"][0]["change_request_id"] is not None
    report = api.get("verifier", "/civil/report").json()
    assert (report["region"], report["level"], report["total"]["not_found"]) == (
        "31.71",
        "district",
        1,
    )
    sheet = api.get("auditor", "/civil/report.xlsx?level=district")
    assert load_workbook(io.BytesIO(sheet.content))["wilayah"]["A2"].value == "31.71.01"
    assert api.get("auditor", "/civil/report.csv").text.startswith("kode_wilayah,")


@pytest.fixture
def queue(engine: Engine, tmp_path: Path) -> Iterator[JobQueue]:
    """A queue without a worker: the test runs the job itself once the page has queued it (a
    queue that ran it at once would wait on the page's own transaction on SQLite)."""
    made = _immediate(engine, tmp_path / "data", immediate=False)
    set_default_queue(made)
    try:
        yield made
    finally:
        set_default_queue(None)


@pytest.fixture
def web(engine: Engine, tmp_path: Path, queue: JobQueue) -> TestClient:
    give_passwords(engine, "admin", "auditor", "verifier")
    return client(make_app(engine, tmp_path / "data"))


def test_the_pages_round_trip(
    web: TestClient, engine: Engine, tmp_path: Path, queue: JobQueue
) -> None:
    people = registry(engine, tmp_path / "batch")
    data = write_extract(tmp_path / "ekstrak.csv", every_outcome(people)).read_bytes()
    sign_in(web, "admin")
    enrol = web.get("/masuk/totp/daftar")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    web.post("/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)})
    form = web.get("/dukcapil/impor")
    assert form.status_code == 200, form.text[:2000]
    assert "nik,kk_number,name,birth_place,birth_date,sex,death_date" in form.text
    sent = web.post(
        "/dukcapil/impor",
        data={"csrf": csrf_of(form.text)},
        files={"file": ("ekstrak.csv", data, "text/csv")},
    )
    assert sent.status_code == 303, sent.text[:2000]
    waiting = web.get(sent.headers["location"])
    assert "<progress" in waiting.text
    execute(queue, sent.headers["location"].rsplit("/", 1)[1])
    # A member not found: the job stops at the count of removals and asks to confirm it.
    asked = web.get(sent.headers["location"])
    assert 'id="civil-confirm"' in asked.text and 'id="civil-open"' not in asked.text
    assert '<dd id="r-removals">1</dd>' in asked.text
    assert 'name="confirm_removals" value="1"' in asked.text
    confirmed = web.post(
        "/dukcapil/impor",
        data={
            "csrf": csrf_of(asked.text),
            "action": "confirm",
            "job": sent.headers["location"].rsplit("/", 1)[1],
            "confirm_removals": "1",
        },
    )
    assert confirmed.status_code == 303, confirmed.text[:2000]
    assert confirmed.headers["location"] != sent.headers["location"]  # a job of its own
    execute(queue, confirmed.headers["location"].rsplit("/", 1)[1])
    job = web.get(confirmed.headers["location"])
    assert '<dd id="r-members">8</dd>' in job.text and "invalid_sex" in job.text
    result_link = job.text.split('id="civil-open" href="')[1].split('"')[0]
    result = web.get(result_link)
    assert '<dd id="r-deceased">1</dd>' in result.text and 'id="civil-rejects"' in result.text
    assert people["f2_head"]["nik"] in result.text and RIGHT_NIK in result.text
    assert web.get(result_link + "/tolakan").text.startswith("file,row,column")
    only = web.get(result_link + "?hasil=not_found")
    assert people["f3_wife"]["nik"] in only.text and people["f2_head"]["nik"] not in only.text
    page = web.get("/dukcapil")
    assert '<dd id="total-members">8</dd>' in page.text
    assert '<dd id="total-matched">2 (25,0 %)</dd>' in page.text or "25.0 %" in page.text
    # The force the refusal speaks of is a box on the form, handed to the job.
    form = web.get("/dukcapil/impor")
    assert 'name="force" value="1"' in form.text
    forced = web.post(
        "/dukcapil/impor",
        data={"csrf": csrf_of(form.text), "force": "1"},
        files={"file": ("ekstrak.csv", data, "text/csv")},
    )
    assert forced.status_code == 303
    with session_scope(engine) as session:
        job = session.get(Job, forced.headers["location"].rsplit("/", 1)[1])
        assert job is not None and job.params["force"] is True
    web.get("/bahasa/en?kembali=/dukcapil")
    assert "Members marked" in web.get("/dukcapil").text

    web.cookies.clear()
    sign_in(web, "auditor")
    assert web.get("/dukcapil/impor").status_code == 403
    masked = web.get(result_link)
    assert masked.status_code == 200
    assert people["f2_head"]["nik"] not in masked.text and "BUDI SANTOSO" not in masked.text
    web.cookies.clear()
    sign_in(web, "verifier")
    drill = web.get("/dukcapil?wilayah=31.71")
    assert "Gambir (31.71.01)" in drill.text
    assert web.get("/dukcapil?wilayah=32").status_code == 403
