"""What pages show, on SQLite and PostgreSQL: regions by their names, the home page of an
empty registry, the beneficiaries' NIK column, and the explanation's features and components
labelled in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from conftest import user
from factories import family, write_batch
from helpers import run_import
from lumbung.db import session_scope
from lumbung.regions.service import region_names
from lumbung.registry import decisions, views
from web_helpers import (
    client,
    csrf_of,
    enrolled,
    give_passwords,
    make_app,
    sign_in,
    totp_code,
)

pytestmark = pytest.mark.usefixtures("users")

GAMBIR = "Gambir (31.71.01.1001)"


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> TestClient:
    give_passwords(engine, "operator", "verifier", "auditor", "admin")
    return client(make_app(engine, tmp_path / "data"))


def imported(engine: Engine, tmp_path: Path, *serials: int) -> list[str]:
    """Families in the operator's village, still proposed."""
    batch = [family(s) for s in serials]
    paths = write_batch(
        tmp_path / "batch", [h for h, _ in batch], [m for _, ms in batch for m in ms]
    )
    run_import(engine, paths)
    return [str(h["kk_number"]) for h, _ in batch]


def test_region_names_are_resolved_in_one_query(engine: Engine) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with session_scope(engine) as session:
        reader = user(session, "auditor")
        event.listen(engine, "before_cursor_execute", count)
        try:
            names = region_names(
                session, reader, codes=["31.71.01.1001", "31.71", "31", "99.99", "", "31.71"]
            )
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert names == {
        "31": "Daerah Khusus Ibukota Jakarta",
        "31.71": "Kota Administrasi Jakarta Pusat",
        "31.71.01.1001": "Gambir",
    }
    assert len([s for s in statements if "region" in s]) == 1
    with session_scope(engine) as session:
        assert region_names(session, user(session, "auditor"), codes=[]) == {}


def test_pages_name_the_regions_they_show(engine: Engine, web: TestClient, tmp_path: Path) -> None:
    [kk] = imported(engine, tmp_path, 1)
    sign_in(web, "verifier")
    page = web.get(f"/keluarga/{kk}")
    assert f'<dd id="village">{GAMBIR}</dd>' in page.text
    area = page.text.split('<dd id="area">')[1].split("</dd>")[0]
    assert area == "Gambir, Kota Administrasi Jakarta Pusat, Daerah Khusus Ibukota Jakarta"
    # The reader's own region in the header.
    assert "Kota Administrasi Jakarta Pusat (31.71)" in page.text.split("</header>")[0]
    found = web.get("/keluarga?q=budi")
    assert f"<td>{GAMBIR}</td>" in found.text
    queue = web.get("/antrean")
    assert f"<td>{GAMBIR}</td>" in queue.text
    with session_scope(engine) as session:
        decisions.decide(session, actor=user(session, "verifier"), decision="verify")
    with session_scope(engine) as session:
        decisions.decide(session, actor=user(session, "determiner"), decision="determine")
    web.cookies.clear()
    sign_in(web, "operator")
    form = web.get(f"/usulan/baru/exit?kk={kk}")
    version = form.text.split('name="version" value="')[1].split('"')[0]
    web.post(
        f"/usulan/baru/exit?kk={kk}",
        data={"csrf": csrf_of(form.text), "kk": kk, "version": version, "reason": "pindah"},
    )
    requests = web.get("/usulan")
    assert f"<td>{GAMBIR}</td>" in requests.text


def test_the_users_list_names_each_users_region(engine: Engine, web: TestClient) -> None:
    assert sign_in(web, "admin").startswith("/masuk/totp/daftar")
    enrol = web.get("/masuk/totp/daftar")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    web.post("/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)})
    page = web.get("/pengguna")
    assert page.status_code == 200
    rows = {row.split("</td>")[0]: row for row in page.text.split("<tr><td>")[1:] if "</td>" in row}
    assert GAMBIR in rows["operator"]
    assert "Kota Bandung (32.73)" in rows["other_verifier"]
    assert "<td>nasional</td>" in rows["auditor"]


def test_the_home_page_of_an_empty_registry_says_so_and_how_to_fill_it(
    engine: Engine, web: TestClient, tmp_path: Path
) -> None:
    sign_in(web, "operator")
    home = web.get("/")
    empty = home.text.split('id="registry-empty"')[1].split("</div>")[0]
    assert "Belum ada keluarga" in empty
    assert 'href="/impor"' in empty  # an operator may import: the way to fill it
    assert 'id="stats-families"' not in home.text
    web.get("/bahasa/en?kembali=/")
    english = web.get("/").text.split('id="registry-empty"')[1].split("</div>")[0]
    assert "no families" in english and "Import a batch" in english
    web.cookies.clear()
    sign_in(web, "auditor")  # may not import: told how families come in, no import link
    told = web.get("/").text.split('id="registry-empty"')[1].split("</div>")[0]
    assert "Belum ada keluarga" in told and "/impor" not in told and "impor batch" in told
    imported(engine, tmp_path, 1)
    filled = web.get("/")
    assert 'id="registry-empty"' not in filled.text and 'id="stats-families"' in filled.text


def test_beneficiaries_show_a_nik_only_where_the_program_pays_persons(
    engine: Engine, web: TestClient, tmp_path: Path
) -> None:
    """PKH pays the family (no NIK: the column is left out, the page says why); PBI-JKN pays
    each member (the NIK shown, masked on the cycle's list for every reader, and on the family
    page masked only for a reader not entitled to identities)."""
    from factories import kk
    from test_cycles import cycle, setup_registry

    data_dir = tmp_path / "data"
    setup_registry(engine, data_dir)
    cycle(engine, data_dir, "PKH-1")
    cycle(engine, data_dir, "PBI-1", program="PBI-JKN")
    with session_scope(engine) as session:
        family_view = views.family(session, user(session, "verifier"), kk=kk(1))
    niks = [str(m["nik"]) for m in family_view.members]
    sign_in(web, "verifier")
    pkh = web.get("/siklus/PKH-1")
    table = pkh.text.split('id="beneficiaries"')[1].split("</table>")[0]
    assert "<th>NIK</th>" not in table and "<code>" not in table
    assert 'id="unit"' in pkh.text
    pbi = web.get("/siklus/PBI-1")
    listed = pbi.text.split('id="beneficiaries"')[1].split("</table>")[0]
    assert "<th>NIK</th>" in listed and 'id="unit"' not in pbi.text
    assert niks[0][:4] + "*" * 12 in listed and niks[0] not in listed
    page = web.get(f"/keluarga/{kk(1)}")
    rows = page.text.split('id="entitlements"')[1].split("</table>")[0]
    pbi_rows = [r for r in rows.split("<tr>") if "PBI-1" in r]
    assert sorted(r.split("<code>")[1].split("</code>")[0] for r in pbi_rows) == sorted(niks)
    assert any("PKH-1" in r and "keluarga" in r for r in rows.split("<tr>"))
    web.cookies.clear()
    sign_in(web, "auditor")
    masked = web.get(f"/keluarga/{kk(1)}").text.split('id="entitlements"')[1]
    masked = masked.split("</table>")[0]
    assert all(nik not in masked for nik in niks)
    assert masked.count(niks[0][:4] + "*" * 12) == len(niks)


def test_the_explanation_labels_every_feature_and_component_in_both_languages(
    engine: Engine, web: TestClient, tmp_path: Path
) -> None:
    from factories import kk
    from test_cycles import cycle, setup_registry

    data_dir = tmp_path / "data"
    setup_registry(engine, data_dir)
    cycle(engine, data_dir, "PKH-1")
    sign_in(web, "verifier")
    page = web.get(f"/siklus/PKH-1/jelaskan/{kk(1)}")
    assert page.status_code == 200, page.text[:2000]
    explained = page.text.split('id="explain"')[1]
    features = explained.split('id="features"')[1].split("</table>")[0]
    assert "<td>Jumlah anggota keluarga</td><td>4</td>" in features
    assert "<td>Pendidikan tertinggi kepala keluarga</td><td>SMA</td>" in features
    assert "<td>Memiliki kulkas</td><td>Ya</td>" in features
    assert "<td>Kabupaten/kota</td><td>Kota Administrasi Jakarta Pusat (31.71)</td>" in features
    terms = explained.split('id="score-terms"')[1].split("</table>")[0]
    assert "<td>Konstanta</td>" in terms and "<td>Luas lantai (m²)</td>" in terms
    clauses = explained.split('id="clauses"')[1].split("</table>")[0]
    assert "Desil: 1" in clauses and "Anggota sedang hamil: 1" in clauses
    components = explained.split('id="components"')[1].split("</table>")[0]
    assert "<td>Ibu hamil/nifas</td>" in components
    assert "<td>Lanjut usia (70 tahun ke atas)</td>" in components
    members = explained.split('id="members"')[1].split("</table>")[0]
    assert "<td>Anak sekolah SD/sederajat</td>" in members
    # No feature or component is shown by its code outside a rule's own text.
    shown = explained.replace("<code>", "\0").split("\0")
    outside_rules = "".join(part.split("</code>", 1)[-1] for part in shown)
    for code in ("hh_size", "n_pregnant", "head_education", "school_sd", "elderly", "pregnant"):
        assert code not in outside_rules, code
    web.get("/bahasa/en?kembali=/")
    english = web.get(f"/siklus/PKH-1/jelaskan/{kk(1)}").text.split('id="explain"')[1]
    assert "<td>Household size</td><td>4</td>" in english
    assert "<td>Head&#39;s highest education</td><td>Senior high school</td>" in english
    assert "<td>Pregnant or postpartum mother</td>" in english
    assert "Members aged 0–6: 0" in english


def test_a_determiner_is_asked_to_approve_only_the_cycles_another_ran(
    engine: Engine, tmp_path: Path
) -> None:
    """Four eyes on the pages too: the determiner who ran a cycle sees it as waiting for
    someone else (no approve button, not counted on their home page); another determiner is
    asked to approve it."""
    from test_cycles import cycle, setup_registry

    data_dir = tmp_path / "data"
    setup_registry(engine, data_dir)
    cycle(engine, data_dir, "PKH-1", actor="determiner")
    give_passwords(engine, "determiner", "approver")
    app = make_app(engine, data_dir)

    def enrolled(username: str) -> TestClient:
        browser = client(app)
        assert sign_in(browser, username).startswith("/masuk/totp/daftar")
        enrol = browser.get("/masuk/totp/daftar")
        secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
        browser.post(
            "/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)}
        )
        return browser

    def waiting(browser: TestClient) -> str:
        home: str = browser.get("/").text
        return next(c for c in home.split('class="card"') if "/siklus" in c.split(">")[0])

    ran, other = enrolled("determiner"), enrolled("approver")
    assert '<span class="count">0</span>' in waiting(ran)
    assert '<span class="count">1</span>' in waiting(other)
    own = ran.get("/siklus/PKH-1").text
    assert 'id="own-cycle"' in own and 'action="/siklus/PKH-1"' not in own
    theirs = other.get("/siklus/PKH-1").text
    assert 'id="own-cycle"' not in theirs and 'action="/siklus/PKH-1"' in theirs


def test_a_cycle_label_in_use_is_refused_on_the_form_unless_its_draft_is_replaced(
    engine: Engine, tmp_path: Path
) -> None:
    from test_cycles import cycle, setup_registry

    data_dir = tmp_path / "data"
    setup_registry(engine, data_dir)
    cycle(engine, data_dir, "PKH-1")
    give_passwords(engine, "determiner")
    browser = enrolled(make_app(engine, data_dir), "determiner")
    form = browser.get("/siklus")
    assert 'name="replace" value="1" id="replace" >' in form.text  # offered, not ticked
    asked = {"csrf": csrf_of(form.text), "program": "PKH", "release": "R1", "label": "PKH-1"}
    refused = browser.post("/siklus", data=asked)
    assert refused.status_code == 422
    assert "Label PKH-1 sudah dipakai oleh draf siklus program PKH" in refused.text
    assert 'name="label" value="PKH-1"' in refused.text  # what was typed, kept
    replaced = browser.post("/siklus", data={**asked, "replace": "1"})
    assert replaced.status_code == 303
    assert replaced.headers["location"].startswith("/pekerjaan/")
