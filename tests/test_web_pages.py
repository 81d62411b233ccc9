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
from lumbung.registry import decisions
from web_helpers import client, csrf_of, give_passwords, make_app, sign_in, totp_code

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
