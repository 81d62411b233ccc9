"""In-kind aid from the command line, over the API and on the pages, on SQLite and
PostgreSQL: each front end parses, calls the same services and renders."""

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

from aid_helpers import OUTSIDER, OUTSIDER_2, row, write_file
from api_helpers import make_api, problem_of
from factories import OTHER_VILLAGE
from lumbung.cli import app, common
from lumbung.config import get_settings
from web_helpers import client, csrf_of, followed, give_passwords, make_app, sign_in, totp_code

pytestmark = pytest.mark.usefixtures("users")


def good_and_bad(folder: Path) -> bytes:
    path = write_file(
        folder / "bantuan.csv",
        [
            row(),
            row(item="kruk", quantity="2", unit_value_idr=""),
            row(
                nik=OUTSIDER_2,
                name="SRI",
                program="INDONESIA_MENDENGAR",
                item="alat_bantu_dengar",
                unit_value_idr="",
            ),
            row(program="PKH"),
        ],
    )
    return path.read_bytes()


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


def test_the_command_line(lumbung: CliRunner, tmp_path: Path) -> None:
    good_and_bad(tmp_path)

    def run(*args: str) -> tuple[int, str]:
        get_settings.cache_clear()
        result = lumbung.invoke(app, ["aid", *args])
        return result.exit_code, result.stdout

    code, out = run("import", "bantuan.csv", "--as", "operator", "--json")
    first = json.loads(out)
    assert code == 0 and (first["accepted"], first["rejected"]) == (3, 1)
    assert Path(first["reject_file"]).is_file()
    code, out = run("import", "bantuan.csv", "--as", "operator")
    assert code == 0 and "Tidak ada penyerahan baru" in " ".join(out.split())
    (tmp_path / "lain.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    code, out = run("import", "lain.csv", "--as", "operator", "--json")
    assert code == 2 and json.loads(out)["errors"][0]["code"] == "bad_header"
    code, out = run("import", "bantuan.csv", "--as", "operator")
    assert code == 0 and "Tidak ada penyerahan baru" in " ".join(out.split())
    code, out = run("report", "--as", "verifier", "--json", "--csv", "r.csv", "--xlsx", "r.xlsx")
    body = json.loads(out)
    assert (body["persons"], body["distributions"], body["value_idr"]) == (2, 3, 6_300_000)
    assert body["programs"]["INDONESIA_MELANGKAH"] == {
        "persons": 1,
        "distributions": 2,
        "quantity": 3,
        "value_idr": 3_300_000,
    }
    assert (tmp_path / "r.csv").read_text(encoding="utf-8").startswith("program,kode_wilayah")
    assert load_workbook(tmp_path / "r.xlsx").sheetnames == ["wilayah", "barang", "keterangan"]
    code, out = run("report", "--as", "verifier", "--level", "village")
    assert code == 0 and "Gambir" in out and "dihitung sekali" in " ".join(out.split())
    code, out = run("report", "--as", "verifier", "--region", "32", "--json")
    assert code == 1 and json.loads(out)["error"] == "permission_denied"
    code, out = run("list", "--as", "auditor", "--json")
    assert code == 0 and OUTSIDER not in out and "SUTRISNO" not in out
    code, out = run("items", "--as", "operator", "--program", "INDONESIA_MENDENGAR", "--json")
    assert [i["code"] for i in json.loads(out)] == ["alat_bantu_dengar"]
    code, out = run("programs", "--as", "operator")
    assert code == 0 and "TAGANA" in out
    code, out = run(
        "item-add",
        "kursi_roda_anak",
        "--label",
        "Kursi roda anak",
        "--unit",
        "unit",
        "--value",
        "2000000",
        "--program",
        "INDONESIA_MELANGKAH",
        "--as",
        "operator",
    )
    assert code == 1  # an operator does not extend the catalogue
    code, out = run(
        "item-add",
        "kursi_roda_anak",
        "--label",
        "Kursi roda anak",
        "--unit",
        "unit",
        "--value",
        "2000000",
        "--program",
        "INDONESIA_MELANGKAH",
        "--as",
        "admin",
        "--json",
    )
    assert code == 0 and json.loads(out)["unit_value_idr"] == 2_000_000


def test_the_api(engine: Engine, tmp_path: Path) -> None:
    api = make_api(engine, tmp_path / "data", ["operator", "verifier", "auditor", "admin"])
    data = good_and_bad(tmp_path)
    refused = api.post("auditor", "/aid/imports", files={"file": ("b.csv", data, "text/csv")})
    problem_of(refused, 403, "permission_denied")
    answer = api.post("operator", "/aid/imports", files={"file": ("b.csv", data, "text/csv")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"], body["file"]) == (3, 1, "b.csv")
    assert "/" not in body["reject_file"]
    rejects = api.get("operator", f"/aid/rejects/{body['reject_file']}")
    assert rejects.status_code == 200 and "unknown_program" in rejects.text
    problem_of(api.get("operator", "/aid/rejects/aid-0-x.csv"), 404, "not_found")
    again = api.post("operator", "/aid/imports", files={"file": ("b.csv", data, "text/csv")})
    assert (again.json()["accepted"], again.json()["unchanged"]) == (0, 3)
    bad = api.post("operator", "/aid/imports", files={"file": ("c.csv", b"a,b\n1,2\n", "text/csv")})
    assert bad.status_code == 200 and bad.json()["refused"] is True
    assert bad.json()["errors"][0]["code"] == "bad_header"

    found = api.get("verifier", "/aid/report", params={"level": "village"}).json()
    assert (found["persons"], found["distributions"]) == (2, 3)
    assert found["rows"][0]["region_code"] == "31.71.01.1001"
    problem_of(
        api.get("verifier", "/aid/report", params={"region": "32.73"}), 403, "permission_denied"
    )
    xlsx = api.get("auditor", "/aid/report.xlsx")
    assert xlsx.status_code == 200
    assert load_workbook(io.BytesIO(xlsx.content))["wilayah"]["A2"].value == "INDONESIA_MELANGKAH"
    assert api.get("auditor", "/aid/report.csv").text.startswith("program,")
    listed = api.get("auditor", "/aid/distributions", params={"nik": OUTSIDER}).json()
    assert listed["total"] == 2 and OUTSIDER not in json.dumps(listed)
    assert {i["name"] for i in listed["items"]} == {"S****O"}

    item = {
        "code": "kruk_anak",
        "label": "Kruk anak",
        "unit": "pasang",
        "unit_value_idr": 300000,
        "programs": ["INDONESIA_MELANGKAH"],
    }
    problem_of(api.post("operator", "/aid/items", json=item), 403, "permission_denied")
    assert api.post("admin", "/aid/items", json=item).status_code == 201
    problem_of(api.post("admin", "/aid/items", json=item), 409, "conflict")
    codes = [i["code"] for i in api.get("operator", "/aid/items").json()]
    assert "kruk_anak" in codes
    programs = api.get("operator", "/aid/programs").json()
    assert {p["code"] for p in programs} >= {"INDONESIA_MENDENGAR", "TAGANA"}


@pytest.fixture
def web(engine: Engine, tmp_path: Path) -> TestClient:
    give_passwords(engine, "operator", "other_verifier", "auditor", "admin")
    return client(make_app(engine, tmp_path / "data"))


def test_the_pages(web: TestClient, tmp_path: Path) -> None:
    data = good_and_bad(tmp_path)
    sign_in(web, "operator")
    form = web.get("/bantuan/impor")
    assert form.status_code == 200 and 'href="/bantuan"' in form.text
    assert "program,nik,name,item,quantity,unit_value_idr,date,village_code" in form.text
    done = followed(
        web,
        web.post(
            "/bantuan/impor",
            data={"csrf": csrf_of(form.text)},
            files={"file": ("bantuan.csv", data, "text/csv")},
        ),
    )
    assert done.status_code == 200, done.text[:2000]
    assert '<dd id="accepted">3</dd>' in done.text and '<dd id="rejected">1</dd>' in done.text
    assert "unknown_program" in done.text
    link = done.text.split('href="/bantuan/tolakan/')[1].split('"')[0]
    assert web.get(f"/bantuan/tolakan/{link}").text.startswith("file,row,column")
    # POST/redirect/GET: the result was shown once; a reload shows the empty form.
    assert 'id="aid-result"' not in web.get("/bantuan/impor").text
    again = followed(
        web,
        web.post(
            "/bantuan/impor",
            data={"csrf": csrf_of(form.text)},
            files={"file": ("bantuan.csv", data, "text/csv")},
        ),
    )
    assert 'id="nothing-new"' in again.text and '<dd id="unchanged">3</dd>' in again.text
    page = web.get("/bantuan?tingkat=village")
    assert '<dd id="total-persons">2</dd>' in page.text
    assert '<dd id="total-distributions">3</dd>' in page.text
    assert "Gambir (31.71.01.1001)" in page.text and 'id="persons-note"' in page.text
    assert "dihitung sekali" in page.text
    sheet = web.get("/bantuan/laporan.xlsx?tingkat=village")
    assert load_workbook(io.BytesIO(sheet.content))["wilayah"]["B2"].value == "31.71.01.1001"
    web.get("/bahasa/en?kembali=/bantuan")
    assert "counts once among persons" in web.get("/bantuan").text

    web.cookies.clear()
    sign_in(web, "other_verifier")  # Bandung: nothing of Gambir
    assert 'id="aid-empty"' in web.get("/bantuan").text
    assert web.get("/bantuan?wilayah=31.71").status_code == 403
    web.cookies.clear()
    sign_in(web, "auditor")
    assert web.get("/bantuan/impor").status_code == 403
    listed = web.get("/bantuan/penyerahan")
    assert "S****O" in listed.text and "SUTRISNO" not in listed.text and OUTSIDER not in listed.text


def test_a_national_admin_adds_an_item_on_the_catalogue_page(web: TestClient) -> None:
    sign_in(web, "admin")
    enrol = web.get("/masuk/totp/daftar")
    secret = enrol.text.split('id="totp-secret">')[1].split("<")[0]
    web.post("/masuk/totp/daftar", data={"csrf": csrf_of(enrol.text), "code": totp_code(secret)})
    page = web.get("/bantuan/barang")
    assert "kaki_palsu" in page.text and 'name="programs"' in page.text
    added = followed(
        web,
        web.post(
            "/bantuan/barang",
            data={
                "csrf": csrf_of(page.text),
                "code": "tongkat_anak",
                "label": "Tongkat anak",
                "unit": "buah",
                "unit_value_idr": "150000",
                "programs": ["INDONESIA_MELIHAT"],
            },
        ),
    )
    assert added.status_code == 200 and 'id="notice"' in added.text
    assert "tongkat_anak" in added.text
    refused = web.post(
        "/bantuan/barang",
        data={
            "csrf": csrf_of(page.text),
            "code": "x_y",
            "label": "X",
            "unit": "buah",
            "unit_value_idr": "1.500",
            "programs": ["TAGANA"],
        },
    )
    assert refused.status_code == 422 and "rupiah bulat" in refused.text


def test_an_operator_sees_no_form_to_add_items(web: TestClient) -> None:
    sign_in(web, "operator")
    page = web.get("/bantuan/barang")
    assert page.status_code == 200 and 'name="programs"' not in page.text
    assert OTHER_VILLAGE not in page.text
