"""The main flows in a real browser (headless chromium), on SQLite and PostgreSQL: sign-in with
TOTP, an import with errors, propose → verify → determine by three people, a release, a cycle
run and its approval by a second determiner, and the explanation of one family's amount."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine

from browser.conftest import DESKTOP, PHONE
from conftest import user
from factories import family, write_batch
from helpers import run_import
from lumbung.db import session_scope
from lumbung.registry import decisions
from web_helpers import PASSWORD, give_passwords

pytestmark = pytest.mark.usefixtures("users")

JOB_TIMEOUT = 120_000  # ms: a cycle run on PostgreSQL with a cold DuckDB


def new_page(browser: Browser, base: str, *, phone: bool = False) -> Page:
    context = browser.new_context(
        base_url=base,
        viewport=PHONE if phone else DESKTOP,
        locale="id-ID",
    )
    context.set_default_timeout(20_000)
    return context.new_page()


def sign_in(page: Page, username: str) -> None:
    page.goto("/masuk")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def sign_in_with_totp(page: Page, username: str) -> str:
    """Sign in a determiner or admin: enrol at the first sign-in (the QR page shows the key),
    then the code. Returns the TOTP secret."""
    sign_in(page, username)
    expect(page).to_have_url(re.compile(r"/masuk/totp/daftar"))
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.inner_text("#totp-secret").strip()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Selamat datang")
    return secret


def sign_out(page: Page) -> None:
    page.click("form[action='/keluar'] button")
    expect(page).to_have_url(re.compile(r"/masuk$"))


def wait_for_job(page: Page) -> None:
    """The job page polls itself (htmx); wait until it says finished."""
    expect(page.locator("#job-state")).to_have_text("selesai", timeout=JOB_TIMEOUT)


def approved_family(engine: Engine, tmp_path: Path, serial: int = 1) -> str:
    households, members = family(serial)
    run_import(engine, write_batch(tmp_path / f"batch{serial}", [households], members))
    with session_scope(engine) as session:
        decisions.decide(session, actor=user(session, "verifier"), decision="verify")
    with session_scope(engine) as session:
        decisions.decide(session, actor=user(session, "determiner"), decision="determine")
    return str(households["kk_number"])


def test_sign_in_with_totp_on_desktop_and_phone(
    browser: Browser, server: str, engine: Engine, shots: Path
) -> None:
    give_passwords(engine, "determiner", "operator")
    page = new_page(browser, server)
    sign_in(page, "determiner")
    scanned = page.inner_text("#totp-secret").strip()
    page.reload()  # a reload during the enrolment keeps the secret just scanned
    assert page.inner_text("#totp-secret").strip() == scanned
    page.screenshot(path=str(shots / "totp-enrol-desktop.png"), full_page=True)
    page.context.close()
    page = new_page(browser, server)
    sign_in_with_totp(page, "determiner")
    page.screenshot(path=str(shots / "home-determiner-desktop.png"), full_page=True)
    # The cookie is the session's: HttpOnly, Secure, SameSite.
    cookie = next(c for c in page.context.cookies() if c["name"] == "lumbung_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] in ("Lax", "Strict")
    page.context.close()

    phone = new_page(browser, server, phone=True)
    sign_in(phone, "operator")
    expect(phone.locator("h1")).to_contain_text("Selamat datang")
    phone.screenshot(path=str(shots / "home-operator-phone.png"), full_page=True)
    # Nothing wider than the phone but the tables, which scroll inside their box.
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    phone.click("text=English")
    expect(phone.locator("h1")).to_contain_text("Welcome")


def _batch_with_errors(folder: Path) -> list[Path]:
    households: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    for serial in (1, 2, 3):
        h, m = family(serial)
        households.append(h)
        members.extend(m)
    households[1]["floor_material"] = "emas"  # not a floor material: the family is rejected
    members[0]["birth_date"] = "1980-02-31"  # no such date
    return write_batch(folder, households, members)


def test_import_with_errors_shows_the_rejected_rows_and_the_reject_file(
    browser: Browser, server: str, engine: Engine, tmp_path: Path, shots: Path
) -> None:
    give_passwords(engine, "operator")
    page = new_page(browser, server)
    sign_in(page, "operator")
    page.click("nav.menu >> text=Impor")
    page.set_input_files("#files", [str(p) for p in _batch_with_errors(tmp_path / "upload")])
    page.click("form[action='/impor'] button[type=submit]")
    wait_for_job(page)
    expect(page.locator("#rejected")).to_be_visible()
    assert int(page.inner_text("#r-households_rejected")) >= 1
    assert int(page.inner_text("#r-households_accepted")) >= 1
    expect(page.locator("#rejected")).to_contain_text("floor_material")
    expect(page.locator("#rejected th").first).to_have_text("Berkas")
    page.screenshot(path=str(shots / "import-errors-desktop.png"), full_page=True)
    with page.expect_download() as download:
        page.click("text=Unduh berkas tolakan")
    saved = tmp_path / "rejects.csv"
    download.value.save_as(saved)
    with saved.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) >= 2 and any("emas" in ",".join(r) for r in rows)


def test_propose_verify_determine_by_three_people(
    browser: Browser, server: str, engine: Engine, tmp_path: Path, shots: Path
) -> None:
    kk = approved_family(engine, tmp_path)
    give_passwords(engine, "operator", "verifier", "determiner")
    page = new_page(browser, server, phone=True)
    sign_in(page, "operator")
    page.goto(f"/keluarga/{kk}")
    page.click("text=Ubah data rumah")
    page.select_option("#h\\.floor_material", "keramik")
    page.click("form button[type=submit] >> text=Kirim usulan")
    expect(page.locator(".ok")).to_be_visible()
    page.screenshot(path=str(shots / "request-phone.png"), full_page=True)
    request_url = page.url.split("?")[0]
    sign_out(page)

    sign_in(page, "verifier")
    page.goto("/usulan")
    page.check("input[name=ids]")
    page.click("button[value=accept]")
    expect(page.locator(".ok")).to_contain_text("1")
    sign_out(page)
    page.context.close()

    page = new_page(browser, server)
    sign_in_with_totp(page, "determiner")
    page.goto("/usulan")
    page.check("#all")
    page.screenshot(path=str(shots / "queue-determiner-desktop.png"), full_page=True)
    page.click("button[value=accept]")
    expect(page.locator(".ok")).to_contain_text("1")
    page.goto(request_url)
    expect(page.locator(".tag.approved")).to_be_visible()
    page.goto(f"/keluarga/{kk}")
    expect(page.locator("#housing")).to_contain_text("Keramik")


def test_release_cycle_run_approval_by_a_second_determiner_and_explain(
    browser: Browser, server: str, engine: Engine, tmp_path: Path, shots: Path
) -> None:
    kk = approved_family(engine, tmp_path)
    for serial in (2, 3):
        approved_family(engine, tmp_path, serial)
    give_passwords(engine, "determiner", "approver")
    page = new_page(browser, server)
    sign_in_with_totp(page, "determiner")
    page.click("nav.menu >> text=Rilis")
    page.fill("#label", "uji-web-1")
    page.fill("#decree", "SK uji")
    page.click("form[action='/rilis'] button[type=submit] >> text=Buat rilis")
    wait_for_job(page)
    page.goto("/rilis")
    expect(page.locator("table")).to_contain_text("uji-web-1")
    page.click("text=Hitung skor")
    wait_for_job(page)
    page.goto("/siklus")
    page.select_option("#program", "PKH")
    page.select_option("#release", "uji-web-1")
    page.fill("#label", "PKH-uji-web")
    page.click("text=Hitung")
    wait_for_job(page)
    # The result as a labelled table, amounts in rupiah, the state said once.
    expect(page.locator("#result")).to_contain_text("Penerima")
    expect(page.locator("#result")).to_contain_text(re.compile(r"Rp\d{1,3}(\.\d{3})+"))
    expect(page.locator("#job")).not_to_contain_text("selesai selesai")
    page.screenshot(path=str(shots / "cycle-run-job-desktop.png"), full_page=True)
    page.goto("/siklus/PKH-uji-web")
    expect(page.locator("#cycle-state")).to_have_text("draf")
    # Four eyes: the one who ran it is told another approves it, and offered no button (the
    # service refuses it anyway: tests/test_cycles.py).
    expect(page.locator("#own-cycle")).to_be_visible()
    expect(page.locator("text=Setujui siklus")).to_have_count(0)
    page.context.close()

    page = new_page(browser, server)
    sign_in_with_totp(page, "approver")
    page.goto("/siklus/PKH-uji-web")
    page.click("text=Setujui siklus")
    expect(page.locator("#cycle-state")).to_have_text("disetujui")
    expect(page.locator(".bars svg")).to_be_visible()
    page.screenshot(path=str(shots / "cycle-approved-desktop.png"), full_page=True)
    page.goto(f"/siklus/PKH-uji-web/jelaskan/{kk}")
    expect(page.locator("#explain")).to_be_visible()
    expect(page.locator("h1")).to_contain_text("Penjelasan")
    expect(page.locator("#features")).to_contain_text("Jumlah anggota keluarga")
    expect(page.locator("#clauses")).to_contain_text("Desil:")
    page.screenshot(path=str(shots / "explain-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(shots / "explain-phone.png"), full_page=True)
    for part in ("score-terms", "clauses", "members"):
        page.locator(f"#{part}").screenshot(path=str(shots / f"explain-{part}-phone.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto("/siklus/PKH-uji-web")
    page.screenshot(path=str(shots / "cycle-phone.png"), full_page=True)


def test_a_verifier_verifies_imported_families_ticked_with_select_all(
    browser: Browser, server: str, engine: Engine, tmp_path: Path, shots: Path
) -> None:
    batch = [family(serial) for serial in (21, 22)]
    run_import(
        engine,
        write_batch(tmp_path / "batch", [h for h, _ in batch], [m for _, ms in batch for m in ms]),
    )
    give_passwords(engine, "verifier")
    page = new_page(browser, server)
    sign_in(page, "verifier")
    page.click("nav.menu >> text=Antrean keluarga")
    expect(page.locator("#families")).to_contain_text(str(batch[0][0]["kk_number"]))
    page.check("#all")
    expect(page.locator("input[name=kk]").first).to_be_checked()
    page.screenshot(path=str(shots / "families-verifier-desktop.png"), full_page=True)
    page.click("button[value=accept]")
    expect(page.locator(".ok")).to_contain_text("2 keluarga")


def test_a_stale_request_is_shown_as_fields_with_its_warning_on_a_phone_and_a_desktop(
    browser: Browser, server: str, engine: Engine, tmp_path: Path, shots: Path
) -> None:
    """The request page as labelled fields and the warning of a family changed since the
    proposal, at 390 px and on a desktop; nothing but the tables wider than the phone."""
    from lumbung.registry import proposals, views, workflow

    kk = approved_family(engine, tmp_path)
    give_passwords(engine, "verifier")
    with session_scope(engine) as session:
        operator = user(session, "operator")
        version = views.family(session, operator, kk=kk).version
        first, second = (
            proposals.propose(
                session,
                actor=operator,
                kind="update",
                payload={"changes": {"floor_material": floor, "has_car": "1"}},
                kk_number=kk,
                base_version=version,
            ).request.id
            for floor in ("keramik", "ubin")
        )
    with session_scope(engine) as session:
        workflow.verify(session, actor=user(session, "verifier"), request_id=first)
    with session_scope(engine) as session:
        workflow.determine(session, actor=user(session, "determiner"), request_id=first)
    for phone in (True, False):
        page = new_page(browser, server, phone=phone)
        if phone:
            page.set_viewport_size({"width": 390, "height": 844})
        sign_in(page, "verifier")
        page.goto(f"/usulan/{second}")
        expect(page.locator("#family-changed")).to_contain_text("berubah sejak usulan dibuat")
        expect(page.locator("#proposed")).to_contain_text("Jenis lantai")
        expect(page.locator("#proposed")).to_contain_text("Ubin")
        name = "phone" if phone else "desktop"
        page.screenshot(path=str(shots / f"request-changed-{name}.png"), full_page=True)
        page.goto("/usulan")
        expect(page.locator(".tag.changed")).to_be_visible()
        page.screenshot(path=str(shots / f"queue-changed-{name}.png"), full_page=True)
        page.goto(f"/keluarga/{kk}")
        expect(page.locator("#village")).to_contain_text("Gambir")
        page.screenshot(path=str(shots / f"family-{name}.png"), full_page=True)
        if phone:
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, width
        page.context.close()


def test_the_home_page_of_an_empty_registry_on_a_phone(
    browser: Browser, server: str, engine: Engine, shots: Path
) -> None:
    give_passwords(engine, "operator")
    page = new_page(browser, server, phone=True)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "operator")
    expect(page.locator("#registry-empty")).to_contain_text("Belum ada keluarga")
    page.click("#registry-empty >> text=Impor batch")
    expect(page.locator("h1")).to_contain_text("Impor")
    page.go_back()
    page.screenshot(path=str(shots / "home-empty-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
