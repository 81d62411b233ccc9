"""Simulations side by side (issue 18, item 4) and the map of provinces (item 2), on both
databases: the web page, its XLSX and CSV, the API, and who is refused.

The registry is test_cycles' ten families, all in one regency of Jakarta (31): PKH pays
families 1 and 2 (a grandmother of 75 in family 1), SEMBAKO desil 1–3. The three scenarios:
LANSIA (PKH's elderly component doubled), PKH-D4 (PKH to desil 4) and SEMBAKO-D4.
"""

from __future__ import annotations

import io
import re
from csv import reader
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine as DbEngine

from api_helpers import make_api, problem_of
from conftest import add_user, user
from lumbung.auth.roles import Role
from lumbung.db import session_scope
from lumbung.errors import PermissionDenied, ValidationFailed
from lumbung.reports.province_map import GAINS, LOSSES, NO_VALUE, ZERO, province_map, svg
from lumbung.simulation.compare import side_by_side
from lumbung.simulation.scenario import ProgramChange, Scenario
from lumbung.simulation.service import run_simulation, show_simulation
from lumbung.web.i18n import number, rupiah
from test_cycles import AS_OF, setup_registry
from test_simulation import PKH_ELDERLY_YEAR, eligible_elderly

pytestmark = pytest.mark.usefixtures("users")

LABELS = ["LANSIA", "PKH-D4", "SEMBAKO-D4"]
EVIL_TITLE = '=HYPERLINK("http://x","klik")'


def three_simulations(engine: DbEngine, data: Path) -> dict[str, dict[str, Any]]:
    """The three scenarios run and stored; each as `show_simulation` gives it back."""
    setup_registry(engine, data)
    scenarios = {
        "LANSIA": Scenario(
            EVIL_TITLE, (ProgramChange("PKH", {"amounts": {"elderly": 4_800_000}}),)
        ),
        "PKH-D4": Scenario("PKH desil 4", (ProgramChange("PKH", {"decile": 4}),)),
        "SEMBAKO-D4": Scenario("Sembako desil 4", (ProgramChange("SEMBAKO", {"decile": 4}),)),
    }
    with session_scope(engine) as session:
        for label, scenario in scenarios.items():
            run_simulation(
                session,
                actor=user(session, "determiner"),
                label=label,
                scenario=scenario,
                release_label="R1",
                data_dir=data,
                as_of=AS_OF,
            )
    with session_scope(engine) as session:
        actor = user(session, "auditor")
        return {label: show_simulation(session, actor=actor, label=label) for label in scenarios}


def row_of(html: str, head: str) -> str:
    """The table row whose header cell is `head` (the first one)."""
    found = re.search(rf"<tr><th>{re.escape(head)}</th>(.*?)</tr>", html, re.S)
    assert found, head
    return found.group(1)


def cells(row: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", row)


def test_the_side_by_side_page_shows_each_scenario_and_its_map(
    engine: DbEngine, tmp_path: Path
) -> None:
    from web_helpers import client, enrolled, give_passwords, make_app, sign_in

    data = tmp_path / "data"
    stored = three_simulations(engine, data)
    lansia = stored["LANSIA"]["programs"]["PKH"]
    assert lansia["scenario"]["per_year_idr"] - lansia["baseline"]["per_year_idr"] == (
        eligible_elderly() * PKH_ELDERLY_YEAR
    )
    add_user(engine, "jabar", Role.DETERMINER, "32")
    give_passwords(engine, "determiner", "verifier", "jabar")
    app = make_app(engine, data)
    browser = enrolled(app, "determiner")
    listed = browser.get("/simulasi")
    assert listed.text.count('type="checkbox" name="label"') == 3
    query = "&".join(f"label={label}" for label in LABELS)
    page = browser.get(f"/simulasi/_banding?{query}")
    assert page.status_code == 200, page.text[:500]
    assert "SIMULASI" in page.text
    pkh, sembako = page.text.split('id="program-PKH"')[1].split('id="program-SEMBAKO"')
    for label in ("LANSIA", "PKH-D4"):
        result = stored[label]["programs"]["PKH"]
        sc, bl = result["scenario"], result["baseline"]
        assert cells(row_of(pkh, label)) == [
            number("id", sc["beneficiaries"]),
            number("id", bl["beneficiaries"]),
            number("id", sc["beneficiaries"] - bl["beneficiaries"]),
            rupiah("id", sc["per_year_idr"]),
            rupiah("id", bl["per_year_idr"]),
            rupiah("id", sc["per_year_idr"] - bl["per_year_idr"]),
        ]
    assert "tidak ada di simulasi ini" in row_of(pkh, "SEMBAKO-D4")
    semb = stored["SEMBAKO-D4"]["programs"]["SEMBAKO"]
    assert rupiah("id", semb["scenario"]["per_year_idr"]) in row_of(sembako, "SEMBAKO-D4")
    # The province table: Jakarta with each simulation's scenario and difference.
    jakarta = re.search(r"<tr><td>Daerah Khusus Ibukota Jakarta \(31\)</td>(.*?)</tr>", pkh)
    assert jakarta is not None
    province = [stored[label]["programs"]["PKH"]["by"]["province"][0] for label in LABELS[:2]]
    assert cells(jakarta.group(1)) == [
        *[rupiah("id", province[0][k]) for k in ("scenario_year_idr", "difference_year_idr")],
        *[rupiah("id", province[1][k]) for k in ("scenario_year_idr", "difference_year_idr")],
        "–",
    ]
    # A map per simulation that has the program, on one scale; Jakarta's value in its title.
    maps = re.findall(r"<svg[^>]*class=\"map\".*?</svg>", pkh, re.S)
    assert len(maps) == 2
    gain = rupiah("id", lansia["by"]["province"][0]["difference_year_idr"])
    assert f"Daerah Khusus Ibukota Jakarta (31): +{gain}</title>" in maps[0]
    assert all(m.count("<path data-code=") == 38 for m in maps)
    # The PNG of a map, the XLSX and the CSV behind the page's links.
    picture = browser.get("/simulasi/LANSIA/peta/PKH.png")
    assert picture.status_code == 200 and picture.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert browser.get("/simulasi/LANSIA/peta/SEMBAKO.png").status_code == 404
    book = browser.get(f"/simulasi/_banding.xlsx?{query}")
    assert book.status_code == 200 and book.content[:2] == b"PK"
    csv = browser.get(f"/simulasi/_banding.csv?{query}")
    assert csv.status_code == 200 and "SEMBAKO-D4,SEMBAKO,nasional" in csv.text
    titles = [f for line in reader(io.StringIO(csv.text)) for f in line if "HYPERLINK" in f]
    assert titles and not [f for f in titles if f.startswith("=")]  # never run as a formula
    # One simulation alone, or five, is not a comparison.
    one = browser.get("/simulasi/_banding?label=LANSIA")
    assert one.status_code == 422 and "Pilih 2 sampai 4 simulasi" in one.text
    assert browser.get("/simulasi/_banding?label=LANSIA&label=NONE").status_code == 404
    # A verifier (the wrong role) and a determiner of one province (a region) are refused.
    verifier = client(app)
    sign_in(verifier, "verifier")
    assert verifier.get(f"/simulasi/_banding?{query}").status_code == 403
    assert verifier.get(f"/simulasi/_banding.xlsx?{query}").status_code == 403
    regional = enrolled(app, "jabar")
    assert regional.get(f"/simulasi/_banding?{query}").status_code == 403
    # The single simulation's page has its map too, beside the bars.
    shown = browser.get("/simulasi/LANSIA").text
    assert shown.count('<path data-code="31"') == 1 and "/simulasi/LANSIA/peta/PKH.png" in shown


def test_the_side_by_side_workbook_has_a_sheet_per_part_and_no_formula(
    engine: DbEngine, tmp_path: Path
) -> None:
    from lumbung.simulation.compare import workbook

    stored = three_simulations(engine, tmp_path)
    with session_scope(engine) as session:
        found = side_by_side(session, actor=user(session, "admin"), labels=LABELS)
    book = load_workbook(io.BytesIO(workbook(found)))
    assert book.sheetnames == [
        "Ringkasan",
        "Provinsi",
        "Desil",
        "Simulasi",
        "Peta 1",
        "Peta 2",
        "Peta 3",
    ]
    assert all(len(book[f"Peta {n}"]._images) == 1 for n in (1, 2, 3))
    summary = [list(r) for r in book["Ringkasan"].iter_rows(min_row=4, values_only=True)]
    expected = []
    for code in ("PKH", "SEMBAKO"):
        for label in LABELS:
            result = stored[label]["programs"].get(code)
            if result is None:
                expected.append([code, label, "tidak ada di simulasi ini"] + [None] * 5)
                continue
            sc, bl = result["scenario"], result["baseline"]
            expected.append(
                [
                    code,
                    label,
                    sc["beneficiaries"],
                    bl["beneficiaries"],
                    sc["beneficiaries"] - bl["beneficiaries"],
                    sc["per_year_idr"],
                    bl["per_year_idr"],
                    sc["per_year_idr"] - bl["per_year_idr"],
                ]
            )
    assert summary == expected
    assert summary[0][7] == eligible_elderly() * PKH_ELDERLY_YEAR
    provinces = [list(r) for r in book["Provinsi"].iter_rows(min_row=4, values_only=True)]
    pkh_jakarta = next(r for r in provinces if r[:2] == ["PKH", "31"])
    lansia = stored["LANSIA"]["programs"]["PKH"]["by"]["province"][0]
    assert pkh_jakarta[2] == "Daerah Khusus Ibukota Jakarta (31)"
    assert pkh_jakarta[3:7] == [
        lansia["scenario_year_idr"],
        lansia["baseline_year_idr"],
        lansia["difference_year_idr"],
        lansia["difference_beneficiaries"],
    ]
    deciles = [list(r) for r in book["Desil"].iter_rows(min_row=4, values_only=True)]
    d4 = stored["PKH-D4"]["programs"]["PKH"]["by"]["decile"]
    entered = next(g for g in d4 if g["key"] == 4)
    row = next(r for r in deciles if r[:2] == ["PKH", "4"])
    assert row[2] == "desil 4" and row[7:11] == [
        entered["scenario_year_idr"],
        entered["baseline_year_idr"],
        entered["difference_year_idr"],
        entered["difference_beneficiaries"],
    ]
    assert entered["difference_beneficiaries"] > 0  # family 4 enters
    title = book["Simulasi"]["B4"]
    assert (title.value, title.data_type) == ("'" + EVIL_TITLE, "s")
    formulas = [
        c.coordinate
        for sheet in book.worksheets
        for r in sheet.iter_rows()
        for c in r
        if c.data_type == "f" or (isinstance(c.value, str) and c.value.startswith("="))
    ]
    assert formulas == []


def test_the_service_and_the_api_refuse_who_may_not_read(engine: DbEngine, tmp_path: Path) -> None:
    three_simulations(engine, tmp_path)
    add_user(engine, "jabar", Role.DETERMINER, "32")
    with session_scope(engine) as session:
        for who in ("verifier", "operator", "jabar"):
            with pytest.raises(PermissionDenied):
                side_by_side(session, actor=user(session, who), labels=LABELS[:2])
        with pytest.raises(ValidationFailed, match="Pilih 2 sampai 4"):
            side_by_side(session, actor=user(session, "admin"), labels=["LANSIA", "LANSIA"])
    api = make_api(engine, tmp_path, ["auditor", "verifier"])
    params = {"label": LABELS}
    found = api.get("auditor", "/simulations/side-by-side", params=params).json()
    assert found["kind"] == "simulation_comparison"
    assert [s["label"] for s in found["simulations"]] == LABELS
    pkh = found["programs"][0]
    assert pkh["code"] == "PKH" and pkh["totals"][2] is None
    assert pkh["totals"][0]["difference_year_idr"] == eligible_elderly() * PKH_ELDERLY_YEAR
    problem_of(
        api.get("verifier", "/simulations/side-by-side", params=params), 403, "permission_denied"
    )
    book = api.get("auditor", "/simulations/side-by-side/xlsx", params=params)
    assert book.status_code == 200 and book.content[:2] == b"PK"
    picture = api.get("auditor", "/simulations/LANSIA/map.png", params={"program": "PKH"})
    assert picture.status_code == 200 and picture.content[:4] == b"\x89PNG"
    problem_of(
        api.get("auditor", "/simulations/LANSIA/map.png", params={"program": "SEMBAKO"}),
        404,
        "not_found",
    )


def test_the_map_has_a_shape_per_province_its_value_and_a_legend() -> None:
    drawn = province_map()
    codes = [s.code for s in drawn.shapes]
    assert len(codes) == 38 and codes[0] == "11" and codes[-1] == "96"
    assert {s.code for s in drawn.shapes if s.approximate} == {
        "64",
        "65",
        "91",
        "92",
        "93",
        "94",
        "95",
        "96",
    }
    values = {"31": 9_000_000, "32": 1_000_000, "33": 5_000_000, "35": -4_500_000, "11": 0}
    text = svg(values, title="uji <peta>")
    assert "<title>uji &lt;peta&gt;</title>" in text
    shapes = dict(re.findall(r'<path data-code="(\d\d)" d="[^"]+" fill="(#[0-9a-f]{6})"', text))
    assert len(shapes) == 38
    # Gains in three classes by rank; the one loss in the strongest red.
    assert [shapes[c] for c in ("32", "33", "31", "35", "11", "12")] == [
        GAINS[0],
        GAINS[1],
        GAINS[2],
        LOSSES[2],
        ZERO,
        NO_VALUE,
    ]
    titles = dict(re.findall(r'data-code="(\d\d)"[^>]*><title>([^<]*)</title>', text))
    assert titles["31"] == "Daerah Khusus Ibukota Jakarta (31): +Rp9.000.000"
    assert titles["35"] == "Jawa Timur (35): -Rp4.500.000"
    assert titles["12"] == "Sumatera Utara (12): tanpa penerima"
    assert "batas perkiraan" in titles["95"]
    legend = text.split('<g class="legend"')[1]
    assert re.findall(r"<text[^>]*>([^<]*)</text>", legend)[:6] == [
        "-Rp4,5 jt … Rp0",
        "0",
        "Rp0 … +Rp1 jt",
        "+Rp1 jt … +Rp5 jt",
        "+Rp5 jt … +Rp9 jt",
        "tanpa penerima",
    ]
    # Several maps on one scale: Jakarta's 9 million is in the palest third of a pool reaching
    # 90 million; a loss beyond a scale without losses takes the strongest red.
    pool = [9_000_000, 30_000_000, 60_000_000, 90_000_000]
    shared = svg(values, title="x", pool=pool)
    fills = dict(re.findall(r'<path data-code="(\d\d)" d="[^"]+" fill="(#[0-9a-f]{6})"', shared))
    assert (fills["31"], fills["33"], fills["35"]) == (GAINS[0], GAINS[0], LOSSES[2])
