"""The web application through HTTP (TestClient), on SQLite and PostgreSQL: sessions, CSRF,
lockout, the language switch, what a reader sees of a family, the second factor, and a change
request from its form to its determination."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from conftest import user
from factories import family, write_batch
from helpers import edit_directly, run_import
from lumbung.db import session_scope, utcnow
from lumbung.identity.masking import mask_name
from lumbung.registry import decisions
from web_helpers import (
    PASSWORD,
    client,
    csrf_of,
    followed,
    give_passwords,
    make_app,
    sign_in,
    totp_code,
)

pytestmark = pytest.mark.usefixtures("users")


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> TestClient:
    give_passwords(engine, "operator", "verifier", "other_verifier", "auditor", "admin")
    return client(make_app(engine, tmp_path / "data"))


@pytest.fixture
def kk_number(engine: Engine, tmp_path: Path) -> str:
    """One family in the operator's village, verified and determined."""
    households, members = family(1)
    run_import(engine, write_batch(tmp_path / "batch", [households], members))
    with session_scope(engine) as session:
        decisions.decide(session, actor=user(session, "verifier"), decision="verify")
    with session_scope(engine) as session:
        decisions.decide(session, actor=user(session, "determiner"), decision="determine")
    return str(households["kk_number"])


def test_sign_in_opens_the_home_page_and_sign_out_ends_the_session(web: TestClient) -> None:
    assert web.get("/").headers["location"].startswith("/masuk")
    assert sign_in(web, "operator") == "/"
    home = web.get("/")
    assert home.status_code == 200
    assert "operator" in home.text and "Menunggu Anda" in home.text
    cookie = web.cookies.get("lumbung_session")
    assert cookie
    out = web.post("/keluar", data={"csrf": csrf_of(home.text)})
    assert out.status_code == 303
    # The old cookie no longer opens anything, even when sent again by hand.
    web.cookies.set("lumbung_session", cookie, domain="testserver")
    assert web.get("/").headers["location"].startswith("/masuk")


def test_the_session_cookie_is_secure_httponly_and_samesite(web: TestClient) -> None:
    page = web.get("/masuk")
    answer = web.post(
        "/masuk",
        data={
            "csrf": csrf_of(page.text),
            "username": "operator",
            "password": "kata-sandi-uji-yang-panjang-1",
        },
    )
    set_cookie = next(
        h for h in answer.headers.get_list("set-cookie") if h.startswith("lumbung_session=")
    )
    lowered = set_cookie.lower()
    assert "secure" in lowered and "httponly" in lowered and "samesite=lax" in lowered
    assert "path=/" in lowered


def test_an_idle_session_ends(web: TestClient, engine: Engine) -> None:
    sign_in(web, "operator")
    assert web.get("/").status_code == 200
    edit_directly(
        engine, "UPDATE web_session SET last_seen_at = :t", {"t": utcnow() - timedelta(hours=2)}
    )
    assert web.get("/").headers["location"].startswith("/masuk")


def test_a_post_without_the_csrf_token_is_refused(web: TestClient, engine: Engine) -> None:
    assert web.post("/masuk", data={"username": "operator", "password": "x"}).status_code == 403
    sign_in(web, "verifier")
    home = web.get("/")
    refused = web.post("/usulan/putuskan", data={"ids": "1", "decision": "accept"})
    assert refused.status_code == 403
    assert "Formulir ini kedaluwarsa" in refused.text
    wrong = web.post("/usulan/putuskan", data={"csrf": csrf_of(home.text) + "x", "ids": "1"})
    assert wrong.status_code == 403
    # Another session's token is not this session's.
    other = client(web.app)  # type: ignore[arg-type]
    sign_in(other, "operator")
    theirs = csrf_of(other.get("/").text)
    assert web.post("/keluar", data={"csrf": theirs}).status_code == 403


def test_repeated_failures_lock_the_account_and_the_page_says_so(web: TestClient) -> None:
    messages = set()
    for _ in range(12):
        page = web.get("/masuk")
        answer = web.post(
            "/masuk",
            data={"csrf": csrf_of(page.text), "username": "operator", "password": "salah"},
        )
        assert answer.status_code == 401
        assert 'class="error-summary"' in answer.text
        messages.add(answer.text.split('<div class="error-summary"')[1].split("</div>")[0])
    # Now even the right password is refused, with the lockout's message.
    page = web.get("/masuk")
    locked = web.post(
        "/masuk",
        data={
            "csrf": csrf_of(page.text),
            "username": "operator",
            "password": "kata-sandi-uji-yang-panjang-1",
        },
    )
    assert locked.status_code == 401
    assert "lumbung_session=" not in locked.headers.get("set-cookie", "")
    assert len(messages) >= 2  # the wrong password's message, then the lockout's


def test_the_english_switch(web: TestClient) -> None:
    assert "Nama pengguna" in web.get("/masuk").text
    switched = web.get("/bahasa/en?kembali=/masuk")
    assert switched.headers["location"] == "/masuk"
    page = web.get("/masuk")
    assert "Username" in page.text and 'lang="en"' in page.text
    assert "Bahasa Indonesia" in page.text  # the way back
    # Never a redirect to another site.
    assert web.get("/bahasa/id?kembali=//evil.example").headers["location"] == "/"
    assert web.get("/bahasa/id?kembali=/%5Cevil.example").headers["location"] == "/"


def test_the_family_page_masks_nik_for_a_reader_not_entitled(
    web: TestClient, kk_number: str
) -> None:
    _, members = family(1)
    nik = str(members[0]["nik"])
    sign_in(web, "operator")
    page = web.get(f"/keluarga/{kk_number}")
    assert page.status_code == 200
    assert nik in page.text and "BUDI SANTOSO" in page.text
    web.post("/keluar", data={"csrf": csrf_of(page.text)})
    sign_in(web, "auditor")
    masked = web.get(f"/keluarga/{kk_number}")
    assert masked.status_code == 200
    assert nik not in masked.text and "BUDI SANTOSO" not in masked.text
    assert nik[:4] + "*" * 12 in masked.text
    assert mask_name("BUDI SANTOSO") in masked.text  # as the service gave it
    web.post("/keluar", data={"csrf": csrf_of(masked.text)})
    sign_in(web, "verifier")  # of the family's regency: in full
    full = web.get(f"/keluarga/{kk_number}")
    assert nik in full.text and "BUDI SANTOSO" in full.text


def test_the_family_page_shows_its_desil_and_entitlements(
    web: TestClient, engine: Engine, tmp_path: Path
) -> None:
    from factories import kk
    from test_cycle_listing import stored
    from test_cycles import cycle, setup_registry

    data_dir = tmp_path / "data"
    setup_registry(engine, data_dir)
    cycle(engine, data_dir, "PKH-1")
    [(_, _, _, amount)] = [r for r in stored(engine, "PKH-1") if r[1] == kk(1)]
    sign_in(web, "verifier")
    page = web.get(f"/keluarga/{kk(1)}")
    assert page.status_code == 200, page.text
    assert '<dd id="desil">1 (R1)</dd>' in page.text  # the floor model: family 1 in desil 1
    rupiah = "Rp" + f"{amount:,}".replace(",", ".")
    assert 'id="entitlements"' in page.text and "PKH-1" in page.text and rupiah in page.text
    richest = web.get(f"/keluarga/{kk(10)}")
    assert '<dd id="desil">10 (R1)</dd>' in richest.text
    assert "tidak mendapat bantuan di siklus mana pun" in richest.text


def test_a_family_outside_the_readers_region_is_not_found(web: TestClient, kk_number: str) -> None:
    sign_in(web, "other_verifier")
    page = web.get(f"/keluarga/{kk_number}")
    assert page.status_code == 404
    assert "BUDI" not in page.text
    # The search box says nothing of it either.
    found = web.get(f"/keluarga?q={kk_number}")
    assert found.status_code == 200
    assert "BUDI" not in found.text
    assert f"/keluarga/{kk_number}" not in found.text


def test_search_by_name_and_by_nik(web: TestClient, kk_number: str) -> None:
    _, members = family(1)
    sign_in(web, "verifier")
    by_name = web.get("/keluarga?q=siti+aminah")
    assert by_name.status_code == 200
    assert kk_number in by_name.text
    by_nik = web.get(f"/keluarga?q={members[1]['nik']}")
    assert by_nik.headers["location"] == f"/keluarga/{kk_number}"
    # A number of neither kind here: said as the reader typed it, neither called a NIK nor
    # masked, nothing said of other regions.
    missing = web.get("/keluarga?q=3273010101200099")
    assert missing.status_code == 200
    assert "Tidak ada KK atau NIK 3273010101200099 di wilayah Anda." in missing.text
    assert '<link rel="icon" href="/static/favicon.svg"' in by_name.text
    assert web.get("/static/favicon.svg").headers["content-type"].startswith("image/svg")


def test_a_determiner_enrols_totp_then_gives_a_code_at_each_sign_in(
    engine: Engine, tmp_path: Path
) -> None:
    give_passwords(engine, "determiner")
    web = client(make_app(engine, tmp_path / "data"))
    assert sign_in(web, "determiner").startswith("/masuk/totp/daftar")
    # Until the second factor is given, no other page opens.
    assert web.get("/").headers["location"].startswith("/masuk/totp")
    enrol = web.get("/masuk/totp/daftar")
    assert enrol.status_code == 200 and "<svg" in enrol.text
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    wrong = web.post("/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": "000000"})
    assert wrong.status_code == 401
    enrol = web.get("/masuk/totp/daftar")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    done = web.post(
        "/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)}
    )
    assert done.status_code == 303
    assert web.get("/").status_code == 200
    # A new sign-in asks for a code (the enrolment is not offered again).
    again = client(web.app)  # type: ignore[arg-type]
    assert sign_in(again, "determiner").startswith("/masuk/totp?")
    assert again.get("/masuk/totp/daftar").headers["location"] == "/masuk/totp"


def test_a_reload_during_totp_enrolment_keeps_the_secret_just_scanned(
    engine: Engine, tmp_path: Path
) -> None:
    give_passwords(engine, "determiner")
    web = client(make_app(engine, tmp_path / "data"))
    sign_in(web, "determiner")

    def shown(browser: TestClient) -> tuple[str, str]:
        page = browser.get("/masuk/totp/daftar")
        assert page.status_code == 200
        return page.text.split('id="totp-secret">')[1].split("<")[0], page.text

    first, _ = shown(web)
    again, page = shown(web)
    assert again == first  # the authenticator scanned at the first view still matches
    wrong = web.post("/masuk/totp/daftar", data={"csrf": csrf_of(page), "code": "000000"})
    assert wrong.status_code == 401 and f'id="totp-secret">{first}<' in wrong.text
    # A new session (signed in again without confirming) enrols afresh, and keeps its own
    # secret across a reload until the code confirms it.
    other = client(web.app)  # type: ignore[arg-type]
    sign_in(other, "determiner")
    secret, _ = shown(other)
    assert secret != first
    reloaded, fresh = shown(other)
    assert reloaded == secret
    done = other.post(
        "/masuk/totp/daftar", data={"csrf": csrf_of(fresh), "code": totp_code(secret)}
    )
    assert done.status_code == 303
    assert other.get("/").status_code == 200
    with session_scope(engine) as session:
        assert user(session, "determiner").totp_enabled_at is not None


def test_a_change_request_from_its_form_to_its_determination(
    engine: Engine, web: TestClient, kk_number: str
) -> None:
    sign_in(web, "operator")
    form = web.get(f"/usulan/baru/update?kk={kk_number}")
    assert form.status_code == 200
    version = form.text.split('name="version" value="')[1].split('"')[0]
    # A wrong value: the service's message beside the field, nothing recorded.
    refused = web.post(
        f"/usulan/baru/update?kk={kk_number}",
        data={
            "csrf": csrf_of(form.text),
            "kk": kk_number,
            "version": version,
            "h.floor_material": "emas",
        },
    )
    assert refused.status_code == 422
    assert 'class="field-error" id="f-floor_material"' in refused.text
    proposed = web.post(
        f"/usulan/baru/update?kk={kk_number}",
        data={
            "csrf": csrf_of(form.text),
            "kk": kk_number,
            "version": version,
            "h.floor_material": "keramik",
        },
    )
    assert proposed.status_code == 303, proposed.text[:3000]
    request_id = proposed.headers["location"].split("/")[2].split("?")[0]
    web.post("/keluar", data={"csrf": csrf_of(form.text)})

    sign_in(web, "verifier")
    queue = web.get("/usulan")
    assert f"#{request_id}" in queue.text
    # A rejection needs a reason.
    no_reason = web.post(
        "/usulan/putuskan",
        data={"csrf": csrf_of(queue.text), "ids": request_id, "decision": "reject"},
    )
    assert no_reason.status_code == 422
    verified = web.post(
        "/usulan/putuskan",
        data={"csrf": csrf_of(queue.text), "ids": request_id, "decision": "accept"},
    )
    assert verified.headers["location"].startswith("/usulan?selesai=1")
    with engine.connect() as conn:
        state = conn.execute(
            text("SELECT state FROM change_request WHERE id = :id"), {"id": int(request_id)}
        ).scalar_one()
    assert state == "verified"


def test_the_demo_accounts_sign_in_with_their_printed_passwords(
    engine: Engine, tmp_path: Path, kk_number: str
) -> None:
    from lumbung.cli.demo import demo_accounts

    households, _ = family(1)
    paths = write_batch(tmp_path / "demo-batch", [households], [])
    with session_scope(engine) as session:
        accounts = {a.username: a for a in demo_accounts(session, households_csv=paths[0])}
    assert {a.role for a in accounts.values()} == {
        "operator",
        "verifier",
        "determiner",
        "admin",
        "auditor",
    }
    assert accounts["operator-desa"].region == households["village_code"]
    assert accounts["verifikator-kab"].region == households["village_code"][:5]
    assert accounts["penyetuju"].region is None
    web = client(make_app(engine, tmp_path / "data"))
    assert sign_in(web, "operator-desa", accounts["operator-desa"].password) == "/"
    assert web.get(f"/keluarga/{kk_number}").status_code == 200
    # Run again, every password is new (the old one no longer opens anything).
    with session_scope(engine) as session:
        again = {a.username: a for a in demo_accounts(session, households_csv=paths[0])}
    assert again["operator-desa"].password != accounts["operator-desa"].password
    other = client(web.app)  # type: ignore[arg-type]
    assert sign_in(other, "operator-desa", accounts["operator-desa"].password) == ""


def test_an_admin_makes_a_user_and_a_token_that_opens_the_api(
    engine: Engine, tmp_path: Path
) -> None:
    give_passwords(engine, "admin")
    web = client(make_app(engine, tmp_path / "data"))
    assert sign_in(web, "admin").startswith("/masuk/totp/daftar")
    enrol = web.get("/masuk/totp/daftar")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    web.post("/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)})
    users = web.get("/pengguna")
    assert users.status_code == 200
    made = followed(
        web,
        web.post(
            "/pengguna",
            data={
                "csrf": csrf_of(users.text),
                "action": "create",
                "username": "op-baru",
                "full_name": "Operator Baru",
                "role": "operator",
                "region": "31.71.01.1001",
                "password": "kata-sandi-awal-yang-panjang",
            },
        ),
    )
    assert made.status_code == 200 and "op-baru" in made.text and 'id="notice"' in made.text
    posted = web.post(
        "/pengguna",
        data={
            "csrf": csrf_of(users.text),
            "action": "token",
            "username": "op-baru",
            "name": "uji",
            "days": "30",
        },
    )
    issued = followed(web, posted)
    token = issued.text.split('id="token-secret">')[1].split("<")[0]
    assert token.startswith("lmb_")
    assert web.get("/pengguna").text.count(token) == 0  # shown once
    # The cookie that carried it across the redirect is sealed: the token is not in it.
    assert "lumbung_flash=" in posted.headers["set-cookie"]
    assert "Max-Age=300" in posted.headers["set-cookie"]  # not kept past its use
    assert token not in posted.headers["set-cookie"] and token[4:20] not in posted.text
    api = web.get("/api/v1/stats", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200, api.text
    # The new user must choose their own password at first sign-in.
    other = client(web.app)  # type: ignore[arg-type]
    assert sign_in(other, "op-baru", "kata-sandi-awal-yang-panjang") == "/masuk/sandi"
    assert other.get("/").headers["location"] == "/masuk/sandi"


def test_every_kind_of_change_has_a_form(web: TestClient, kk_number: str) -> None:
    sign_in(web, "operator")
    for kind in ("update", "update_member", "add_member", "remove_member", "exit"):
        form = web.get(f"/usulan/baru/{kind}?kk={kk_number}")
        assert form.status_code == 200, kind
        assert 'name="csrf"' in form.text and 'name="version"' in form.text
    new = web.get("/usulan/baru/new_family?anggota=2")
    assert new.status_code == 200 and 'name="m1.nik"' in new.text
    assert web.get("/usulan/baru/merge?kk=1").status_code == 404
    # An exit with its reason is recorded; a new family with a member's wrong NIK is refused
    # with the message beside that member's field.
    form = web.get(f"/usulan/baru/exit?kk={kk_number}")
    version = form.text.split('name="version" value="')[1].split('"')[0]
    done = web.post(
        f"/usulan/baru/exit?kk={kk_number}",
        data={"csrf": csrf_of(form.text), "kk": kk_number, "version": version, "reason": "pindah"},
    )
    assert done.status_code == 303 and "/usulan/" in done.headers["location"]
    households, members = family(7)
    data = {"csrf": csrf_of(form.text), "member_count": "1", "kk_number": households["kk_number"]}
    data |= {f"h.{k}": str(v) for k, v in households.items() if k != "kk_number"}
    data |= {f"m0.{k}": str(v) for k, v in members[0].items() if k != "kk_number"}
    data["m0.nik"] = "12345"
    refused = web.post("/usulan/baru/new_family", data=data)
    assert refused.status_code == 422
    assert 'class="field-error" id="f-1.nik"' in refused.text
    assert 'href="#f-1.nik"' in refused.text


def test_a_refused_member_change_names_its_fields_in_words(web: TestClient, kk_number: str) -> None:
    # A wrong new NIK and a man marked pregnant: the summary says what to do, lists the fields
    # by their labels (no codes, no "1."), each message beside its one field.
    sign_in(web, "operator")
    form = web.get(f"/usulan/baru/update_member?kk={kk_number}")
    member = form.text.split('<select id="nik" name="nik" required><option value="')[1].split('"')[
        0
    ]
    version = form.text.split('name="version" value="')[1].split('"')[0]
    refused = web.post(
        f"/usulan/baru/update_member?kk={kk_number}",
        data={
            "csrf": csrf_of(form.text),
            "kk": kk_number,
            "version": version,
            "nik": member,
            "m.nik": "12345",
            "m.sex": "L",
            "m.pregnant": "1",
        },
    )
    assert refused.status_code == 422
    summary = refused.text.split('class="error-summary"')[1].split("</div>")[0]
    assert "Usulan belum dikirim" in summary
    assert "invalid_nik" not in summary and "(inconsistent)" not in summary
    assert '<a href="#f-nik">NIK</a>' in summary
    assert "1. " not in summary
    assert refused.text.count('id="f-nik"') == 1
    assert 'class="field-error" id="f-nik"' in refused.text


def test_a_running_job_page_polls_its_progress_and_works_without_javascript(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No worker here: the import stays queued, as a long one would look."""
    from lumbung.config import get_settings
    from lumbung.jobs import queue

    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    queue.set_default_queue(None)
    try:
        give_passwords(engine, "operator")
        web = client(make_app(engine, tmp_path / "data"))
        sign_in(web, "operator")
        page = web.get("/impor")
        households, members = family(3)
        paths = write_batch(tmp_path / "batch", [households], members)
        sent = web.post(
            "/impor",
            data={"csrf": csrf_of(page.text)},
            files=[("files", (p.name, p.read_bytes(), "text/csv")) for p in paths],
        )
        assert sent.status_code == 303, sent.text[:2000]
        job = web.get(sent.headers["location"])
        assert job.status_code == 200
        assert "<progress" in job.text and 'hx-trigger="every 1s"' in job.text
        assert '<meta http-equiv="refresh"' in job.text  # inside <noscript>
        fragment = web.get(sent.headers["location"], headers={"HX-Request": "true"})
        assert fragment.text.lstrip().startswith('<section id="job"')
        assert "<html" not in fragment.text
        # Only one file: refused before anything is saved or queued.
        one = web.post(
            "/impor",
            data={"csrf": csrf_of(page.text)},
            files=[("files", (paths[0].name, paths[0].read_bytes(), "text/csv"))],
        )
        assert one.status_code == 422 and "Pilih dua berkas" in one.text
        # A second file refused after the first was saved: neither is kept, and the message
        # names the file as sent, not where the server put it.
        kept = set((tmp_path / "data" / "uploads").iterdir())
        wrong = web.post(
            "/impor",
            data={"csrf": csrf_of(page.text)},
            files=[
                ("files", (paths[0].name, paths[0].read_bytes(), "text/csv")),
                ("files", ("kosong.csv", b"", "text/csv")),
            ],
        )
        assert wrong.status_code == 422 and "kosong.csv" in wrong.text
        assert str(tmp_path) not in wrong.text
        assert set((tmp_path / "data" / "uploads").iterdir()) == kept
    finally:
        queue.set_default_queue(None)
        get_settings.cache_clear()


@pytest.fixture
def three_proposed(engine: Engine, tmp_path: Path) -> list[str]:
    """Three imported families in the operator's village, still proposed."""
    batch = [family(i) for i in (11, 12, 13)]
    households = [h for h, _ in batch]
    members = [m for _, ms in batch for m in ms]
    run_import(engine, write_batch(tmp_path / "three", households, members))
    return sorted(str(h["kk_number"]) for h in households)


def test_a_verifier_verifies_ticked_families_and_rejects_the_rest_of_the_region(
    web: TestClient, engine: Engine, three_proposed: list[str]
) -> None:
    sign_in(web, "verifier")
    home = web.get("/")
    assert 'href="/antrean"' in home.text  # the menu and "what awaits you"
    page = web.get("/antrean")
    assert page.status_code == 200
    for kk in three_proposed:
        assert kk in page.text
    token = csrf_of(page.text)
    first, *rest = three_proposed
    done = web.post(
        "/antrean?status=proposed", data={"csrf": token, "kk": first, "decision": "accept"}
    )
    assert done.status_code == 303 and "selesai=1" in done.headers["location"]
    # A rejection without a reason: the same page again, the message and the ticks kept.
    refused = web.post(
        "/antrean?status=proposed",
        data={"csrf": token, "kk": rest, "decision": "reject", "reason": ""},
    )
    assert refused.status_code == 422
    assert "Penolakan wajib disertai alasan" in refused.text
    assert all(f'value="{kk}" aria-label="{kk}" checked' in refused.text for kk in rest)
    everything = web.post(
        "/antrean?status=proposed",
        data={"csrf": token, "scope": "region", "decision": "reject", "reason": "ganda"},
    )
    assert everything.status_code == 303 and "selesai=2" in everything.headers["location"]
    with engine.connect() as connection:
        statuses: dict[str, str] = dict(
            connection.execute(text("SELECT kk_number, status FROM household")).all()
        )
    assert statuses == {first: "verified", **dict.fromkeys(rest, "rejected")}
    # Verified families are the determiner's: the verifier sees them without boxes to tick.
    verified = web.get("/antrean?status=verified")
    assert first in verified.text and 'name="kk"' not in verified.text


def test_the_home_page_counts_members_by_their_own_status(web: TestClient, kk_number: str) -> None:
    sign_in(web, "operator")
    home = web.get("/")
    members = home.text[home.text.index('id="stats-members"') :]
    assert "aktif" in members and '<td class="num">3</td>' in members
    families = home.text[
        home.text.index('id="stats-families"') : home.text.index('id="stats-members"')
    ]
    assert "ditetapkan" in families and '<td class="num">1</td>' in families


def test_an_unknown_page_is_an_html_page_and_an_unknown_api_path_problem_json(
    web: TestClient, kk_number: str
) -> None:
    anonymous = web.get("/tidak-ada")
    assert anonymous.status_code == 404
    assert anonymous.headers["content-type"].startswith("text/html")
    assert "Tidak ditemukan" in anonymous.text and "<nav" not in anonymous.text
    api = web.get("/api/v1/tidak-ada")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    sign_in(web, "other_verifier")
    # Signed in: the error pages keep the menu and the user, a missing page and a family
    # outside the region alike.
    for missing in (web.get("/tidak-ada"), web.get(f"/keluarga/{kk_number}")):
        assert missing.status_code == 404
        assert 'class="menu"' in missing.text and "other_verifier" in missing.text


def test_a_bulk_rejection_without_a_reason_shows_the_queue_again_with_the_ticks(
    web: TestClient, kk_number: str
) -> None:
    sign_in(web, "operator")
    form = web.get(f"/usulan/baru/update?kk={kk_number}")
    version = form.text.split('name="version" value="')[1].split('"')[0]
    created = web.post(
        f"/usulan/baru/update?kk={kk_number}",
        data={
            "csrf": csrf_of(form.text),
            "kk": kk_number,
            "version": version,
            "h.floor_material": "keramik",
        },
    )
    assert created.status_code == 303, created.text[:2000]
    request_id = created.headers["location"].split("/")[2].split("?")[0]
    web.cookies.clear()
    sign_in(web, "verifier")
    page = web.get("/usulan")
    refused = web.post(
        "/usulan/putuskan",
        data={"csrf": csrf_of(page.text), "ids": request_id, "decision": "reject"},
    )
    assert refused.status_code == 422
    assert "Penolakan wajib disertai alasan" in refused.text
    assert f'value="{request_id}" aria-label="#{request_id}" checked' in refused.text
    assert 'class="menu"' in refused.text


def test_a_password_change_keeps_the_session_and_says_so(web: TestClient) -> None:
    from lumbung.auth.passwords import MIN_LENGTH

    sign_in(web, "operator")
    form = web.get("/masuk/sandi")
    assert f"minimal {MIN_LENGTH} karakter" in form.text
    new = "sandi-baru-yang-cukup-panjang-2"
    changed = web.post(
        "/masuk/sandi",
        data={"csrf": csrf_of(form.text), "old": PASSWORD, "new": new, "again": new},
    )
    assert changed.status_code == 303
    home = web.get(changed.headers["location"])
    assert home.status_code == 200 and "Kata sandi diganti" in home.text


def test_the_family_page_shows_labels_in_the_readers_language(
    web: TestClient, kk_number: str
) -> None:
    sign_in(web, "operator")
    page = web.get(f"/keluarga/{kk_number}")
    housing = page.text[page.text.index('id="housing"') :]
    assert "Kepala keluarga" in page.text and "kepala_keluarga" not in page.text
    assert "PLN 900 VA" in housing and "pln_900" not in housing
    assert "<dd>Tidak</dd>" in housing  # has_car 0
    assert "ditetapkan" in page.text
    web.get("/bahasa/en?kembali=/")
    english = web.get(f"/keluarga/{kk_number}")
    assert "Head of family" in english.text and "<dd>No</dd>" in english.text


def test_an_admin_resets_a_lost_second_factor_on_the_web(engine: Engine, tmp_path: Path) -> None:
    """A determiner lost their phone: an admin resets their TOTP from the users page (with a
    reason); the determiner's sessions end and their next sign-in enrols a new one."""
    give_passwords(engine, "admin", "determiner")
    app = make_app(engine, tmp_path / "data")

    def enrolled(username: str) -> TestClient:
        browser = client(app)
        assert sign_in(browser, username).startswith("/masuk/totp/daftar")
        enrol = browser.get("/masuk/totp/daftar")
        secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
        browser.post(
            "/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)}
        )
        assert browser.get("/").status_code == 200
        return browser

    admin, determiner = enrolled("admin"), enrolled("determiner")
    users = admin.get("/pengguna")
    form = {"csrf": csrf_of(users.text), "action": "reset_totp", "username": "determiner"}
    refused = admin.post("/pengguna", data={**form, "reason": ""})
    assert refused.status_code == 422
    assert determiner.get("/").status_code == 200  # nothing happened
    done = followed(admin, admin.post("/pengguna", data={**form, "reason": "ponsel hilang"}))
    assert done.status_code == 200 and "TOTP determiner dihapus" in done.text
    assert determiner.get("/").headers["location"].startswith("/masuk")  # session ended
    assert sign_in(client(app), "determiner").startswith("/masuk/totp/daftar")


def test_a_token_is_revoked_by_its_own_button_by_its_holder_or_an_admin(
    engine: Engine, tmp_path: Path
) -> None:
    from lumbung.auth import tokens as api_tokens
    from web_helpers import enrolled

    with session_scope(engine) as session:
        admin = user(session, "admin")
        raw, mine = api_tokens.issue(
            session, actor=admin, username="verifier", name="Mitra <b>X</b>"
        )
        _, theirs = api_tokens.issue(session, actor=admin, username="operator", name="lain")
        mine_id, theirs_id = mine.id, theirs.id
    give_passwords(engine, "verifier", "admin")
    app = make_app(engine, tmp_path / "data")
    web = client(app)
    sign_in(web, "verifier")
    page = web.get("/token")
    assert page.status_code == 200 and 'href="/token"' in page.text  # linked from every page
    assert f'id="token-{mine_id}"' in page.text and f'id="token-{theirs_id}"' not in page.text
    assert "Mitra &lt;b&gt;X&lt;/b&gt;" in page.text
    form = {"csrf": csrf_of(page.text), "action": "revoke", "reason": "bocor di log"}
    assert web.post("/token", data={**form, "token_id": str(theirs_id)}).status_code == 403
    done = followed(web, web.post("/token", data={**form, "token_id": str(mine_id)}))
    assert "Token Mitra &lt;b&gt;X&lt;/b&gt; dicabut." in done.text
    assert f'name="token_id" value="{mine_id}"' not in done.text  # no button on a revoked one
    assert 'id="notice"' not in web.get("/token").text  # shown once
    refused = web.get("/api/v1/stats", headers={"Authorization": f"Bearer {raw}"})
    assert refused.status_code in (401, 403) and "dicabut" in refused.text

    # The admin's view: every token with its holder, a button on each active one.
    admin_web = enrolled(app, "admin")
    users = admin_web.get("/pengguna")
    assert f'name="token_id" value="{theirs_id}"' in users.text
    assert 'id="r-id"' not in users.text  # no field to type a number into
    gone = followed(
        admin_web,
        admin_web.post(
            "/pengguna",
            data={
                "csrf": csrf_of(users.text),
                "action": "revoke",
                "token_id": str(theirs_id),
                "reason": "kontrak selesai",
            },
        ),
    )
    assert "Token lain dicabut." in gone.text
    assert f'name="token_id" value="{theirs_id}"' not in gone.text
