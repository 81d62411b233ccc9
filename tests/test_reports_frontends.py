"""The realisation report from the command line, over the API and on its page: the same
figures, within the reader's region, with files and charts to download."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine as DbEngine
from typer.testing import CliRunner

from api_helpers import make_api, problem_of
from lumbung.cli import app
from lumbung.config import get_settings
from report_helpers import LABEL, SEMBAKO, paid_in_every_state, report
from web_helpers import client, give_passwords, make_app, sign_in

pytestmark = pytest.mark.usefixtures("users")


def test_the_command_gives_json_csv_xlsx_a_table_and_charts(
    engine: DbEngine, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    paid_in_every_state(engine, tmp_path)
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        words = ["report", "realisation", "--program", "SEMBAKO", "--as", "auditor"]
        shown = runner.invoke(app, [*words, "--level", "regency", "--format", "json"])
        assert shown.exit_code == 0, shown.output
        payload = json.loads(shown.stdout)
        assert payload == report(engine, "auditor", level="regency").as_dict()
        (one,) = payload["cycles"]
        assert [r["code"] for r in one["rows"]] == ["31.71", "32.73"]
        assert one["total"]["paid_idr"] == SEMBAKO and one["total"]["realisation_pct"] == 10.0

        chart = tmp_path / "realisasi.png"
        xlsx = tmp_path / "realisasi.xlsx"
        written = runner.invoke(
            app, [*words, "--format", "xlsx", "--out", str(xlsx), "--chart", str(chart)]
        )
        assert written.exit_code == 0, written.output
        assert chart.read_bytes().startswith(b"\x89PNG") and chart.stat().st_size > 10_000
        sheet = load_workbook(xlsx)["Realisasi"]
        assert sheet["C5"].value == "31" and "Jakarta" in sheet["D5"].value

        as_csv = runner.invoke(app, [*words, "--cycle", LABEL, "--format", "csv"])
        assert as_csv.exit_code == 0, as_csv.output
        lines = list(csv.reader(io.StringIO(as_csv.stdout)))
        assert lines[0][2:4] == ["Kode wilayah", "Nama wilayah"] and len(lines) == 4

        svg = tmp_path / "tren.svg"
        as_table = runner.invoke(
            app, [*words[:-2], "--as", "verifier", "--chart", str(svg), "--chart-kind", "trend"]
        )
        assert as_table.exit_code == 0, as_table.output
        flat = " ".join(as_table.stdout.split())
        assert "31.71.01" in flat and "32.73" not in flat and "Rp1.200.000" in flat
        assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")

        refused = runner.invoke(app, [*words, "--format", "xlsx"])
        assert refused.exit_code == 1 and "--out" in refused.output
        outside = runner.invoke(app, [*words[:-2], "--as", "verifier", "--region", "32.73"])
        assert outside.exit_code == 1 and "di luar wilayah" in outside.output
    finally:
        get_settings.cache_clear()


def test_the_api_answers_json_files_and_charts_within_the_readers_region(
    engine: DbEngine, tmp_path: Path
) -> None:
    paid_in_every_state(engine, tmp_path)
    api = make_api(engine, tmp_path / "data", ["verifier", "auditor"])
    query = {"program": "SEMBAKO", "level": "village"}
    national = api.get("auditor", "/reports/realisation", params=query)
    assert national.status_code == 200, national.text
    body = national.json()
    assert body == report(engine, "auditor", level="village").as_dict()
    own = api.get("verifier", "/reports/realisation", params=query).json()
    assert own["area"] == "31.71"
    assert {r["code"][:5] for r in own["cycles"][0]["rows"]} == {"31.71"}
    assert own["cycles"][0]["total"]["beneficiaries"] == 6
    problem_of(
        api.get("verifier", "/reports/realisation", params={**query, "region": "32.73"}),
        403,
        "permission_denied",
    )
    problem_of(
        api.get("auditor", "/reports/realisation", params={"program": "PKH"}), 404, "not_found"
    )
    problem_of(
        api.get("auditor", "/reports/realisation", params={**query, "level": "rt"}),
        422,
        "validation_failed",
    )

    as_csv = api.get("verifier", "/reports/realisation.csv", params=query)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="realisasi-SEMBAKO.csv"' in as_csv.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(as_csv.text)))
    assert {line[2] for line in lines[1:-1]} == {"31.71.01.1001", "31.71.01.1002"}
    as_xlsx = api.get("auditor", "/reports/realisation.xlsx", params=query)
    assert as_xlsx.status_code == 200
    book = load_workbook(io.BytesIO(as_xlsx.content))
    assert book.sheetnames == ["Realisasi", "Per siklus"]
    png = api.get("auditor", "/reports/realisation/chart.png", params=query)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    svg = api.get("auditor", "/reports/realisation/chart.svg", params={**query, "kind": "trend"})
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "per siklus" in svg.text


def test_the_page_shows_the_table_the_chart_and_the_downloads(
    engine: DbEngine, tmp_path: Path
) -> None:
    paid_in_every_state(engine, tmp_path)
    give_passwords(engine, "verifier", "auditor")
    web = client(make_app(engine, tmp_path / "data"))
    assert sign_in(web, "verifier") == "/"
    home = web.get("/")
    assert 'href="/laporan/realisasi"' in home.text  # in the menu
    cycle_page = web.get(f"/siklus/{LABEL}").text
    assert f'href="/laporan/realisasi?program=SEMBAKO&amp;siklus={LABEL}"' in cycle_page
    form = web.get("/laporan/realisasi")  # the form alone: nothing is read until asked
    assert form.status_code == 200 and "SBK-1 (SEMBAKO)" in form.text
    assert 'id="report-chart"' not in form.text
    shown = web.get("/laporan/realisasi", params={"program": "SEMBAKO", "tingkat": "village"})
    assert shown.status_code == 200, shown.text[:2000]
    page = shown.text
    assert "Realisasi penyaluran" in page and "<svg" in page
    assert "Gambir (31.71.01.1001)" in page and "Cideng (31.71.01.1002)" in page
    assert "32.73" not in page  # Bandung is outside the verifier's region
    assert "Rp200.000" in page and "/laporan/realisasi.xlsx?program=SEMBAKO" in page
    drawn = page.split('id="report-chart"')[1].split("</div>")[0]
    assert "style=" not in drawn  # presentation attributes only: the CSP allows no inline style
    assert 'width="72"' in drawn  # Gambir's 20 % is a fifth of the 360 px that mean 100 %
    download = web.get("/laporan/realisasi.xlsx", params={"program": "SEMBAKO"})
    assert download.status_code == 200 and download.content.startswith(b"PK")
    chart = web.get("/laporan/realisasi.svg", params={"program": "SEMBAKO"})
    assert chart.status_code == 200 and "Gambir (31.71.01)" in chart.text
    refused = web.get("/laporan/realisasi", params={"program": "SEMBAKO", "wilayah": "32.73"})
    assert refused.status_code == 403 and "di luar wilayah" in refused.text
    english = web.get("/bahasa/en", params={"kembali": "/laporan/realisasi"})
    assert english.status_code in (302, 303)
    assert "Payment realisation" in web.get("/laporan/realisasi", params={"program": "X"}).text
