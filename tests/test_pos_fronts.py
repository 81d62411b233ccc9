"""PT Pos on the pages: vouchers issued for an approved pos batch, the invitation letters
written as a job and downloaded as one ZIP, offline redemptions recorded from a counter's
file, counters' tokens made (shown once), listed and revoked. Both databases."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from conftest import user
from delivery_helpers import approve_batch, approved_cycle, create
from lumbung.config import Settings
from lumbung.db import session_scope
from lumbung.delivery import ledger
from lumbung.delivery.pos import vouchers
from lumbung.delivery.pos.models import Voucher
from lumbung.jobs.queue import JobQueue, set_default_queue, start_embedded_worker
from web_helpers import csrf_of, enrolled, followed, give_passwords, make_app

pytestmark = pytest.mark.usefixtures("users")
PAGE = "/siklus/BBM-1/penyaluran"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def worker(engine: Engine, data_dir: Path) -> Iterator[JobQueue]:
    """The embedded queue with a worker thread, as `lumbung serve` runs it."""
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=data_dir
    )
    queue = JobQueue(settings, engine=engine)
    set_default_queue(queue)
    running = start_embedded_worker(queue, workers=1)
    yield queue
    running.stop()
    set_default_queue(None)


def finished(browser: TestClient, url: str) -> str:
    """The job's page once its job has ended."""
    for _ in range(600):
        html: str = browser.get(url).text
        if 'hx-trigger="every 1s"' not in html:
            return html
        time.sleep(0.2)
    raise AssertionError(f"{url} did not finish")


def approved_pos_batch(engine: Engine, data_dir: Path) -> int:
    approved_cycle(engine, data_dir, "BBM-1", "BLT-BBM-2022")
    (batch,) = create(engine, "BBM-1").batches
    approve_batch(engine, batch.id)
    return batch.id


def tokens_and_niks(engine: Engine) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        rows = session.query(Voucher).order_by(Voucher.id).all()
        return [(vouchers.token_of(v), v.nik) for v in rows]


def test_vouchers_letters_and_offline_redemptions_from_the_pages(
    engine: Engine, data_dir: Path, worker: JobQueue
) -> None:
    batch = approved_pos_batch(engine, data_dir)
    give_passwords(engine, "determiner")
    app = make_app(engine, data_dir)
    maker = enrolled(app, "determiner")

    page = maker.get(PAGE).text
    assert f'action="/penyaluran/batch/{batch}/voucher"' in page
    issued = maker.post(
        f"/penyaluran/batch/{batch}/voucher", data={"csrf": csrf_of(page), "expires": "2099-01-31"}
    )
    assert issued.status_code == 303, issued.text[:500]
    assert (
        "selesai=issued" in issued.headers["location"] and "voucher=7" in issued.headers["location"]
    )
    shown = maker.get(issued.headers["location"]).text
    assert "Voucher diterbitkan. (7)" in shown
    # again: nothing new, said as such
    again = maker.post(
        f"/penyaluran/batch/{batch}/voucher", data={"csrf": csrf_of(shown), "expires": ""}
    )
    assert "voucher=0" in again.headers["location"]
    bad_day = maker.post(
        f"/penyaluran/batch/{batch}/voucher", data={"csrf": csrf_of(shown), "expires": "31-01-2099"}
    )
    assert bad_day.status_code == 422 and "YYYY-MM-DD" in bad_day.text

    form = maker.get(f"/penyaluran/batch/{batch}/surat")
    assert form.status_code == 200
    refused = maker.post(
        f"/penyaluran/batch/{batch}/surat",
        data={"csrf": csrf_of(form.text), "place": "Kantor Pos Gambir", "date": "besok"},
    )
    assert refused.status_code == 422 and "YYYY-MM-DD" in refused.text
    asked = maker.post(
        f"/penyaluran/batch/{batch}/surat",
        data={
            "csrf": csrf_of(form.text),
            "place": "Kantor Pos <Gambir>",
            "date": "2027-01-15",
            "hours": "",
            "stage": "Tahap I",
        },
    )
    assert asked.status_code == 303
    job_page = finished(maker, asked.headers["location"])
    assert 'id="letters-zip"' in job_page, job_page[:3000]
    archive = maker.get(asked.headers["location"] + "/surat")
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        names = zipped.namelist()
        manifest = json.loads(zipped.read(next(n for n in names if n.endswith("manifest.json"))))
        pdfs = [n for n in names if n.endswith(".pdf")]
        assert pdfs and all(zipped.read(n).startswith(b"%PDF") for n in pdfs)
    assert manifest["letters"] == 7 and manifest["batch_id"] == batch
    assert len(pdfs) == len(manifest["files"])

    # a counter's offline file: four paid, the fifth names another family's NIK
    issued_codes = tokens_and_niks(engine)
    when = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    rows = [
        {"token": code, "nik": nik, "redeemed_at": when, "counter": "DESA-07"}
        for code, nik in issued_codes[:4]
    ]
    rows.append(
        {
            "token": issued_codes[4][0],
            "nik": issued_codes[5][1],
            "redeemed_at": when,
            "counter": "D",
        }
    )
    upload = json.dumps(rows).encode()
    offline_page = maker.get("/penyaluran/luring")
    recorded = followed(
        maker,
        maker.post(
            "/penyaluran/luring",
            data={"csrf": csrf_of(offline_page.text), "partner": "POS"},
            files={"file": ("loket.json", upload, "application/json")},
        ),
    )
    assert recorded.status_code == 200 and 'id="offline-result"' in recorded.text
    assert "5 baris: 4 dibayar" in recorded.text and "1 ditolak" in recorded.text, (
        recorded.text.split("offline-result")[1][:1500]
    )
    assert 'id="offline-problems"' in recorded.text
    assert 'id="offline-result"' not in maker.get("/penyaluran/luring").text  # shown once
    twice = followed(
        maker,
        maker.post(
            "/penyaluran/luring",
            data={"csrf": csrf_of(offline_page.text), "partner": "POS"},
            files={"file": ("loket.json", upload, "application/json")},
        ),
    )
    assert "0 dibayar" in twice.text and "4 sudah tercatat" in twice.text
    broken = maker.post(
        "/penyaluran/luring",
        data={"csrf": csrf_of(offline_page.text), "partner": "POS"},
        files={"file": ("loket.csv", b"token,nik\nx,y\n", "text/csv")},
    )
    assert broken.status_code == 422
    with session_scope(engine) as session:
        check = ledger.check_cycle(session, actor=user(session, "auditor"), label="BBM-1")
    assert check.ok, check.problems
    assert check.states["paid"].entitlements == 4
    with engine.connect() as conn:
        paid = conn.execute(text("SELECT count(*) FROM payment_event WHERE kind = 'paid'"))
        assert paid.scalar_one() == 4


def test_letters_are_only_for_those_who_prepare_payments(
    engine: Engine, data_dir: Path, worker: JobQueue
) -> None:
    batch = approved_pos_batch(engine, data_dir)
    give_passwords(engine, "auditor", "operator")
    app = make_app(engine, data_dir)
    from web_helpers import client, sign_in

    for name in ("auditor", "operator"):
        browser = client(app)
        sign_in(browser, name)
        assert browser.get(f"/penyaluran/batch/{batch}/surat").status_code == 403
        assert browser.get("/penyaluran/luring").status_code == 403
        assert browser.get("/pekerjaan/00000000000000000000000000000000/surat").status_code in (
            403,
            404,
        )


def test_the_letters_form_of_a_batch_that_does_not_exist_is_not_found(
    engine: Engine, data_dir: Path
) -> None:
    batch = approved_pos_batch(engine, data_dir)
    give_passwords(engine, "determiner")
    maker = enrolled(make_app(engine, data_dir), "determiner")
    assert maker.get(f"/penyaluran/batch/{batch}/surat").status_code == 200
    missing = maker.get(f"/penyaluran/batch/{batch + 998}/surat")
    assert missing.status_code == 404 and 'name="place"' not in missing.text
    posted = maker.post(
        f"/penyaluran/batch/{batch + 998}/surat",
        data={"csrf": csrf_of(maker.get(f"/penyaluran/batch/{batch}/surat").text), "place": "x"},
    )
    assert posted.status_code == 404


def test_counters_tokens_are_made_shown_once_and_revoked(engine: Engine, data_dir: Path) -> None:
    give_passwords(engine, "admin", "auditor", "operator")
    app = make_app(engine, data_dir)
    admin = enrolled(app, "admin")
    page = admin.get("/penyaluran/loket")
    assert page.status_code == 200 and "Belum ada token loket" in page.text
    made = followed(
        admin,
        admin.post(
            "/penyaluran/loket",
            data={
                "csrf": csrf_of(page.text),
                "action": "create",
                "name": "Loket <b>Gambir</b>",
                "counter": "GAMBIR-01",
                "partner": "POS",
                "region": "",
                "days": "30",
            },
        ),
    )
    assert made.status_code == 200 and 'id="new-token"' in made.text
    raw = made.text.split('id="new-token">')[1].split("<")[0]
    assert raw.startswith("lmc_")
    assert "<b>Gambir</b>" not in made.text and "&lt;b&gt;Gambir&lt;/b&gt;" in made.text
    listed = admin.get("/penyaluran/loket").text
    assert raw not in listed and 'id="tokens"' in listed and "aktif" in listed
    bad = admin.post(
        "/penyaluran/loket",
        data={"csrf": csrf_of(listed), "action": "create", "name": "x", "counter": "a b"},
    )
    assert bad.status_code == 422 and "Kode loket" in bad.text
    with engine.connect() as conn:
        token_id = conn.execute(text("SELECT id FROM partner_token")).scalar_one()
    revoked = admin.post(
        "/penyaluran/loket",
        data={
            "csrf": csrf_of(listed),
            "action": "revoke",
            "token": str(token_id),
            "reason": "hilang",
        },
    )
    assert revoked.status_code == 303 and "selesai=revoked" in revoked.headers["location"]
    assert "dicabut" in admin.get("/penyaluran/loket").text
    from web_helpers import client, sign_in

    auditor = client(app)
    sign_in(auditor, "auditor")
    seen = auditor.get("/penyaluran/loket")
    assert seen.status_code == 200 and 'id="tokens"' in seen.text and "Buat token" not in seen.text
    operator = client(app)
    sign_in(operator, "operator")
    assert operator.get("/penyaluran/loket").status_code == 403


def test_letters_over_the_api_as_a_job_and_a_zip(engine: Engine, data_dir: Path) -> None:
    from api_helpers import make_api, problem_of

    batch = approved_pos_batch(engine, data_dir)
    with session_scope(engine) as session:
        vouchers.issue_vouchers(session, actor=user(session, "determiner"), batch_id=batch)
    api = make_api(engine, data_dir, ["determiner", "auditor"])
    queue = JobQueue(api.client.app.state.settings, engine=engine)  # type: ignore[attr-defined]
    api.client.app.state.queue = queue  # type: ignore[attr-defined]
    body = {"place": "Kantor Pos Gambir", "collect_on": "2027-01-15", "stage": "Tahap I"}
    problem_of(
        api.post("auditor", f"/delivery/batches/{batch}/letters", json=body),
        403,
        "permission_denied",
    )
    bad = api.post("determiner", f"/delivery/batches/{batch}/letters", json={"place": "x"})
    assert bad.status_code == 422
    asked = api.post("determiner", f"/delivery/batches/{batch}/letters", json=body)
    assert asked.status_code == 202, asked.text
    job_id = asked.json()["id"]
    problem_of(api.get("determiner", f"/jobs/{job_id}/letters"), 404, "not_found")
    with start_embedded_worker(queue, workers=1):
        for _ in range(600):
            state = api.get("determiner", f"/jobs/{job_id}").json()["state"]
            if state in ("succeeded", "failed"):
                break
            time.sleep(0.2)
    done = api.get("determiner", f"/jobs/{job_id}").json()
    assert done["state"] == "succeeded", done
    assert done["result"]["letters"] == 7 and done["result"]["archive"].endswith(".zip")
    archive = api.get("determiner", f"/jobs/{job_id}/letters")
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        assert any(name.endswith(".pdf") for name in zipped.namelist())
    problem_of(api.get("auditor", f"/jobs/{job_id}/letters"), 403, "permission_denied")
