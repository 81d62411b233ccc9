"""In-kind distributions imported from CSV, on SQLite and PostgreSQL: the happy path, every
row error, idempotence, the registry link and the importer's region."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from aid_helpers import (
    OUTSIDER,
    OUTSIDER_2,
    problems,
    row,
    run_aid_import,
    write_file,
)
from conftest import user
from factories import OTHER_VILLAGE, family, write_batch
from helpers import run_import
from lumbung.aid.errors import ERROR_CODES, WARNING_CODES
from lumbung.aid.importer import AidImportSummary
from lumbung.aid.models import AidDistribution, AidImport
from lumbung.audit.models import AuditEvent
from lumbung.db import session_scope
from lumbung.errors import PermissionDenied, ValidationFailed

pytestmark = pytest.mark.usefixtures("users")


def counted(engine: Engine) -> tuple[int, int, int]:
    with session_scope(engine) as session:
        return (
            session.execute(select(func.count()).select_from(AidDistribution)).scalar_one(),
            session.execute(select(func.count()).select_from(AidImport)).scalar_one(),
            session.execute(
                select(func.count()).where(AuditEvent.action == "aid.import")
            ).scalar_one(),
        )


def test_a_file_of_handovers_loads_with_one_import_row_and_one_audit_event(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_file(
        tmp_path / "bantuan.csv",
        [
            row(),
            row(item="kruk", quantity="2", unit_value_idr=""),  # the catalogue's value
            row(
                nik=OUTSIDER_2,
                name="SRI",
                program="INDONESIA_MENDENGAR",
                item="alat_bantu_dengar",
                unit_value_idr="3100000",
            ),
            row(program="TAGANA", item="selimut", quantity="3", unit_value_idr="75000"),
        ],
    )
    summary = run_aid_import(engine, path)
    assert summary.errors == [] and summary.rows_read == 4
    assert (summary.accepted, summary.unchanged, summary.rejected) == (4, 0, 0)
    assert summary.accepted_value_idr == 2_500_000 + 2 * 400_000 + 3_100_000 + 3 * 75_000
    assert summary.reject_file is None and summary.import_id is not None
    assert counted(engine) == (4, 1, 1)
    with session_scope(engine) as session:
        kruk = session.execute(
            select(AidDistribution).where(AidDistribution.item_code == "kruk")
        ).scalar_one()
        assert (kruk.quantity, kruk.unit_value_idr, kruk.value_idr) == (2, 400_000, 800_000)
        assert isinstance(kruk.value_idr, int) and kruk.member_id is None
        assert (kruk.home_village_code, kruk.regency_code) == ("31.71.01.1001", "31.71")
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "aid.import")
        ).scalar_one()
        assert event.diff["distributions"] == 4
        assert len(event.diff["rows_sha256"]) == 64
        assert event.diff["programs"] == {
            "INDONESIA_MELANGKAH": 2,
            "INDONESIA_MENDENGAR": 1,
            "TAGANA": 1,
        }


def test_the_same_file_or_the_same_rows_again_change_nothing_and_say_so(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [row(), row(nik=OUTSIDER_2, name="SRI")]
    path = write_file(tmp_path / "a.csv", rows)
    run_aid_import(engine, path)
    before = counted(engine)
    again = run_aid_import(engine, path)
    assert (again.accepted, again.unchanged, again.import_id) == (0, 2, None)
    assert {w["code"] for w in again.warnings} == {"already_recorded"}
    assert (
        "Tidak ada penyerahan baru" in again.message and "tidak ada yang berubah" in again.message
    )
    assert counted(engine) == before
    # The same rows in another order, in a file of another name, spaces and case aside.
    other = write_file(tmp_path / "b.csv", [rows[1], {**rows[0], "name": " sutrisno "}])
    assert run_aid_import(engine, other).unchanged == 2
    assert counted(engine) == before
    # One new row among them: only it loads.
    third = write_file(tmp_path / "c.csv", [*rows, row(item="walker", unit_value_idr="750000")])
    summary = run_aid_import(engine, third)
    assert (summary.accepted, summary.unchanged) == (1, 2)
    assert counted(engine) == (3, 2, 2)


def test_every_row_error_names_file_row_and_field_and_goes_to_the_reject_file(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_file(
        tmp_path / "salah.csv",
        [
            row(),  # 2: good
            row(program="PKH"),  # 3
            row(item="sepeda"),  # 4
            row(item="tenda", unit_value_idr="3500000"),  # 5: not a Melangkah item
            row(nik="31710112"),  # 6
            row(nik="9971011203800011"),  # 7: no province 99
            row(quantity="0", item="tongkat_adaptif", unit_value_idr=""),  # 8
            row(quantity="1,5", nik=OUTSIDER_2),  # 9
            row(unit_value_idr="2.500.000", item="walker"),  # 10
            row(unit_value_idr="2500000.50", item="kruk"),  # 11
            row(date="20-11-2026", item="kaki_palsu", unit_value_idr="8000000"),  # 12
            row(date="2026-02-30", item="tongkat_adaptif", unit_value_idr=""),  # 13
            row(date="2026-12-05", program="TAGANA", item="tenda", unit_value_idr=""),  # 14
            row(village_code="3171011001", program="TAGANA", item="kasur", unit_value_idr=""),
            row(village_code="31.71.01.9999", program="TAGANA", item="selimut", unit_value_idr=""),
            row(
                village_code=OTHER_VILLAGE,
                program="TAGANA",
                item="paket_sembako",
                unit_value_idr="",
            ),  # 16: outside the operator's village
            row(),  # 17: the same handover as row 2
            row(
                name='=HYPERLINK("http://x")',
                program="TAGANA",
                item="perlengkapan_dapur",
                unit_value_idr="",
            ),  # 18
            row(
                name="", program="TAGANA", item="selimut", date="2026-11-01", unit_value_idr=""
            ),  # 19
        ],
    )
    summary = run_aid_import(engine, path, actor="operator")
    assert problems(summary) == {
        (3, "program", "unknown_program"),
        (4, "item", "unknown_item"),
        (5, "item", "item_not_in_program"),
        (6, "nik", "invalid_nik"),
        (7, "nik", "nik_unknown_province"),
        (8, "quantity", "invalid_quantity"),
        (9, "quantity", "invalid_quantity"),
        (10, "unit_value_idr", "invalid_amount"),
        (11, "unit_value_idr", "invalid_amount"),
        (12, "date", "invalid_date"),
        (13, "date", "invalid_date"),
        (14, "date", "future_date"),
        (15, "village_code", "invalid_village"),
        (16, "village_code", "unknown_village"),
        (17, "village_code", "out_of_scope"),
        (18, "nik", "duplicate_row"),
        (19, "name", "formula"),
        (20, "name", "required"),
    }
    assert all(e["file"] == "salah.csv" for e in summary.errors)
    assert (summary.accepted, summary.rejected, summary.rows_read) == (1, 18, 19)
    messages = {e["code"]: e["message"] for e in summary.errors}
    assert "tidak dikenal" in messages["unknown_program"]
    assert "di masa depan" in messages["future_date"]
    assert "baris 2" in messages["duplicate_row"]
    assert summary.reject_file is not None
    with open(summary.reject_file, encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == 18 and {int(x["row"]) for x in lines} == set(range(3, 21))
    formula = next(x for x in lines if x["code"] == "formula")
    assert formula["message"].startswith("Nama diawali")
    assert (formula["program"], formula["nik"], formula["item"]) == (
        "TAGANA",
        OUTSIDER,
        "perlengkapan_dapur",
    )
    assert counted(engine) == (1, 1, 1)
    with session_scope(engine) as session:
        record = session.execute(select(AidImport)).scalar_one()
        assert record.reject_file == Path(summary.reject_file).name


def test_a_file_with_another_header_or_not_utf8_is_refused_whole(
    engine: Engine, tmp_path: Path
) -> None:
    header = [
        "program",
        "nik",
        "nama",
        "item",
        "quantity",
        "unit_value_idr",
        "date",
        "village_code",
    ]
    wrong = write_file(tmp_path / "h.csv", [row()], header=header)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        b"program,nik,name,item,quantity,unit_value_idr,date,village_code\n"
        b"TAGANA,1,\xe9,x,1,1,2026-01-01,31.71.01.1001\n"
    )
    empty = write_file(tmp_path / "kosong.csv", [])
    for path, code in ((wrong, "bad_header"), (latin, "file_unreadable"), (empty, "no_rows")):
        summary = run_aid_import(engine, path)
        assert summary.refused and summary.accepted == 0 and summary.reject_file is None
        assert [(e["file"], e["code"]) for e in summary.errors] == [(path.name, code)]
        assert summary.message.startswith("Berkas ditolak seluruhnya")
    assert "ditemukan: program,nik,nama" in run_aid_import(engine, wrong).errors[0]["message"]
    assert counted(engine) == (0, 0, 0)


def test_a_registered_person_is_linked_and_their_familys_region_counts(
    engine: Engine, tmp_path: Path
) -> None:
    household, members = family(1)
    run_import(engine, write_batch(tmp_path / "batch", [household], members))
    head = str(members[0]["nik"])
    path = write_file(tmp_path / "d.csv", [row(nik=head, name="BUDI SANTOSO")])
    summary = run_aid_import(engine, path, actor="verifier")
    assert summary.accepted == summary.accepted_in_registry == 1
    with session_scope(engine) as session:
        linked = session.execute(select(AidDistribution)).scalar_one()
        member_id = session.execute(
            text("SELECT id FROM member WHERE nik = :nik"), {"nik": head}
        ).scalar_one()
        assert linked.member_id == member_id
    # Handed over in Bandung by Bandung's verifier: the family lives in Jakarta Pusat.
    there = write_file(
        tmp_path / "e.csv",
        [
            row(
                nik=head,
                name="BUDI SANTOSO",
                item="walker",
                unit_value_idr="",
                village_code=OTHER_VILLAGE,
            )
        ],
    )
    refused = run_aid_import(engine, there, actor="other_verifier")
    assert problems(refused) == {(2, "nik", "out_of_scope")}
    assert "di luar wilayah Anda" in refused.errors[0]["message"]


def test_who_may_import(engine: Engine, tmp_path: Path) -> None:
    path = write_file(tmp_path / "f.csv", [row()])
    for who in ("auditor", "determiner"):
        with pytest.raises(PermissionDenied):
            run_aid_import(engine, path, actor=who)
    assert counted(engine) == (0, 0, 0)
    assert run_aid_import(engine, path, actor="operator").accepted == 1


def test_a_changed_row_is_refused_not_overwritten_and_a_dry_run_loads_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    run_aid_import(engine, write_file(tmp_path / "g.csv", [row()]))
    changed = run_aid_import(engine, write_file(tmp_path / "h.csv", [row(quantity="2")]))
    assert problems(changed) == {(2, "nik", "distribution_exists")}
    assert changed.reject_file is not None
    with open(changed.reject_file, encoding="utf-8", newline="") as handle:
        [line] = list(csv.DictReader(handle))
    assert (line["program"], line["nik"], line["item"], line["date"]) == (
        "INDONESIA_MELANGKAH",
        OUTSIDER,
        "kursi_roda",
        "2026-11-20",
    )
    dry = run_aid_import(
        engine,
        write_file(tmp_path / "i.csv", [row(item="walker", unit_value_idr="")]),
        dry_run=True,
    )
    assert dry.accepted == 1 and dry.import_id is None
    assert counted(engine) == (1, 1, 1)


def test_a_failure_after_the_rows_were_written_leaves_no_trace(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lumbung.aid import importer

    def broken(*args: object, **kwargs: object) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(importer, "write_rejects", broken)
    path = write_file(tmp_path / "j.csv", [row(), row(program="PKH")])
    with pytest.raises(ValidationFailed):
        run_aid_import(engine, path)
    assert counted(engine) == (0, 0, 0)
    with session_scope(engine) as session:
        assert user(session, "admin").username == "admin"


@pytest.mark.parametrize("code", sorted({*ERROR_CODES, *WARNING_CODES}))
def test_every_code_is_in_errors_md(code: str) -> None:
    errors_md = (Path(__file__).resolve().parent.parent / "docs" / "ERRORS.md").read_text()
    section = errors_md.split("## In-kind aid")[1]
    assert f"`{code}`" in section, f"`{code}` is not documented in docs/ERRORS.md"


def test_two_imports_of_one_file_at_once_load_it_once_and_the_chain_holds(
    engine: Engine, tmp_path: Path
) -> None:
    from lumbung.audit import integrity

    path = write_file(
        tmp_path / "k.csv", [row(), row(nik=OUTSIDER_2, name="SRI"), row(item="walker")]
    )
    start = threading.Barrier(2)
    outcomes: list[AidImportSummary] = []

    def run() -> None:
        start.wait()
        outcomes.append(run_aid_import(engine, path))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    first, second = outcomes
    assert sorted([first.accepted, second.accepted]) == [0, 3]
    assert sorted([first.unchanged, second.unchanged]) == [0, 3]
    assert counted(engine) == (3, 1, 1)
    with session_scope(engine) as session:
        report = integrity.verify(session, data_dir=None)
    assert report.ok, report.problems
