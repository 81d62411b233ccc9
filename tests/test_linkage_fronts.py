"""Record linkage from the command line, over the API and on the pages, on SQLite and
PostgreSQL: each front end parses, calls the same services (linkage/) and renders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from api_helpers import make_api, problem_of
from linkage_helpers import Registry, all_records, build_registry, link, matcher, story_pairs
from lumbung.cli import app, common
from lumbung.config import get_settings
from web_helpers import client, csrf_of, followed, give_passwords, make_app, sign_in

pytestmark = pytest.mark.usefixtures("users")


def _linked(engine: Engine, tmp_path: Path) -> tuple[Registry, int]:
    data = tmp_path / "data"
    registry = build_registry(engine, tmp_path / "batch", data)
    run = link(engine, data, matcher(story_pairs(registry), all_records(registry)))
    return registry, run.id


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
    registry, run_id = _linked(engine, tmp_path)

    def run(*args: str) -> tuple[int, str]:
        get_settings.cache_clear()
        result = lumbung.invoke(app, ["link", *args])
        return result.exit_code, result.stdout

    code, out = run("pairs", "--as", "verifier", "--json")
    listed = json.loads(out)
    assert code == 0 and listed["total"] == 2
    assert "SITI" not in out and listed["items"][0]["left"]["name"] == "B****I S****O"
    code, out = run("pairs", "--as", "verifier")
    assert code == 0 and "B****I S****O" in out and "31.71" in out
    siti = next(p["id"] for p in listed["items"] if p["match_weight"] == 18.5)
    code, out = run("show", str(siti), "--as", "verifier")
    assert code == 0 and "SITTI NURHALIZAH" in out and "berbeda" in out and "+15.25" in out
    code, out = run("show", str(siti), "--as", "other_verifier", "--json")
    assert code == 1 and json.loads(out)["error"] == "not_found"
    code, out = run("decide", str(siti), "--decision", "same_person", "--as", "verifier")
    assert code == 0 and "Usulan" in out and "remove_member" in out
    code, out = run("decide", str(siti), "--decision", "not_same", "--as", "verifier", "--json")
    assert code == 1 and json.loads(out)["error"] == "conflict"
    code, out = run("pairs", "--as", "verifier", "--state", "same_person", "--json")
    assert [p["id"] for p in json.loads(out)["items"]] == [siti]
    assert json.loads(out)["items"][0]["change_request_id"] is not None
    code, out = run("report", "--run", str(run_id), "--as", "auditor", "--json")
    report = json.loads(out)
    assert code == 0 and [b["pairs"] for b in report["bands"]] == [1, 1, 1, 0, 1, 1]
    assert report["decided"] == 1 and report["agreement"] == 1.0
    code, out = run("report", "--run", str(run_id), "--as", "auditor")
    assert code == 0 and "Presisi menurut model" in out and "100.0 %" in out
    code, out = run("runs", "--as", "auditor", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)["items"]] == [run_id]
    # The matching engine itself, with the shipped settings, on the eight members.
    code, out = run("run", "--release", "R1", "--as", "determiner", "--json")
    assert code == 0, out
    engine_run = json.loads(out)
    assert engine_run["state"] == "finished" and engine_run["records"] == 8
    code, out = run("run", "--release", "R1", "--as", "verifier", "--json")
    assert code == 1 and json.loads(out)["error"] == "permission_denied"
    assert registry.siti


def test_the_api(engine: Engine, tmp_path: Path) -> None:
    registry, run_id = _linked(engine, tmp_path)
    api = make_api(
        engine, tmp_path / "data", ["verifier", "other_verifier", "auditor", "determiner"]
    )
    queue = api.get("verifier", "/link/pairs").json()
    assert queue["total"] == 2 and "SITI" not in json.dumps(queue)
    assert [p["match_weight"] for p in api.get("determiner", "/link/pairs").json()["items"]] == [
        22.0,
        18.5,
        7.0,
        4.0,
    ]
    problem_of(
        api.get("verifier", "/link/pairs", params={"region": "32"}), 403, "permission_denied"
    )
    problem_of(api.get("verifier", "/link/pairs", params={"state": "x"}), 422, "validation_failed")
    twins = api.get("other_verifier", "/link/pairs").json()["items"][0]
    pair = api.get("other_verifier", f"/link/pairs/{twins['id']}").json()
    assert pair["pair"]["left"]["name"] == "ASEP" and pair["masked"] is False
    assert [w["name"] for w in pair["waterfall"]] == ["name", "birth_date", "nik"]
    assert pair["prior_weight"] == -12.0 and "nik" in pair["differs"]
    masked = api.get("auditor", f"/link/pairs/{twins['id']}").json()
    assert masked["masked"] is True and masked["pair"]["left"]["name"] == "A****P"
    problem_of(api.get("verifier", f"/link/pairs/{twins['id']}"), 404, "not_found")
    problem_of(
        api.post("auditor", f"/link/pairs/{twins['id']}/decision", json={"decision": "not_same"}),
        403,
        "permission_denied",
    )
    problem_of(
        api.post("other_verifier", f"/link/pairs/{twins['id']}/decision", json={"decision": "x"}),
        422,
        "validation_failed",
    )
    decided = api.post(
        "other_verifier", f"/link/pairs/{twins['id']}/decision", json={"decision": "not_same"}
    )
    assert decided.status_code == 200, decided.text
    assert decided.json() == {
        "pair_id": twins["id"],
        "decision": "not_same",
        "pairs_settled": 1,
        "change_request_id": None,
        "request_kind": None,
    }
    problem_of(
        api.post(
            "other_verifier", f"/link/pairs/{twins['id']}/decision", json={"decision": "not_same"}
        ),
        409,
        "conflict",
    )
    quality = api.get("auditor", f"/link/runs/{run_id}/quality").json()
    assert quality["decided"] == 1 and quality["agreement"] == 0.0
    assert quality["bands"][2]["not_same"] == 1 and quality["run"]["release"] == "R1"
    assert api.get("auditor", f"/link/runs/{run_id}").json()["pairs_queued"] == 4
    assert api.get("auditor", "/link/runs").json()["total"] == 1
    problem_of(api.get("auditor", f"/link/runs/{run_id + 1}"), 404, "not_found")
    job = api.post("determiner", "/link/runs", json={"release": "R1", "review_weight": 5})
    assert job.status_code == 202, job.text
    assert job.json()["kind"] == "link"
    problem_of(api.post("verifier", "/link/runs", json={"release": "R1"}), 403, "permission_denied")
    assert registry.bandung


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> TestClient:
    give_passwords(engine, "verifier", "other_verifier", "auditor")
    return client(make_app(engine, tmp_path / "data"))


def test_the_pages(engine: Engine, web: TestClient, tmp_path: Path) -> None:
    registry, run_id = _linked(engine, tmp_path)
    sign_in(web, "verifier")
    home = web.get("/")
    assert 'href="/kemiripan"' in home.text
    queue = web.get("/kemiripan")
    assert queue.status_code == 200 and 'id="link-queue"' in queue.text
    assert "B****I S****O" in queue.text and "SITI NURHALIZA" not in queue.text
    assert 'name="release"' not in queue.text  # a verifier starts no run
    siti = queue.text.split('href="/kemiripan/pasangan/')[2].split('"')[0]
    page = web.get(f"/kemiripan/pasangan/{siti}")
    assert page.status_code == 200 and "SITTI NURHALIZAH" in page.text
    assert 'id="link-waterfall"' in page.text and "wf-bar wf-pos wf-w" in page.text
    assert "exact &lt;b&gt;" in page.text and "exact <b>" not in page.text  # escaped
    assert 'name="decision"' in page.text
    refused = web.post(f"/kemiripan/pasangan/{siti}", data={"decision": "not_same"})
    assert refused.status_code == 403  # no CSRF token
    done = followed(
        web,
        web.post(
            f"/kemiripan/pasangan/{siti}",
            data={"csrf": csrf_of(page.text), "decision": "same_person", "keep": "left"},
        ),
    )
    assert done.status_code == 200 and 'id="notice"' in done.text
    assert 'href="/usulan/' in done.text and 'name="decision"' not in done.text
    again = web.post(
        f"/kemiripan/pasangan/{siti}", data={"csrf": csrf_of(page.text), "decision": "not_same"}
    )
    assert again.status_code == 422 and "sudah diputuskan" in again.text
    report = web.get(f"/kemiripan/run/{run_id}")
    assert report.status_code == 200 and 'id="link-bands"' in report.text
    assert "Presisi menurut model" in report.text
    web.get("/bahasa/en?kembali=/kemiripan")
    assert "Possible duplicates" in web.get("/kemiripan").text

    web.cookies.clear()
    sign_in(web, "other_verifier")
    assert web.get(f"/kemiripan/pasangan/{siti}").status_code == 404
    web.cookies.clear()
    sign_in(web, "auditor")
    seen = web.get(f"/kemiripan/pasangan/{siti}")
    assert seen.status_code == 200 and "SITTI" not in seen.text and "S****I" in seen.text
    assert 'name="decision"' not in seen.text
    assert registry.siti
