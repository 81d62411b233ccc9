"""`lumbung import`: every error code, idempotence, atomicity, duplicates, scope; both backends."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from factories import OTHER_VILLAGE, family, kk, member, nik, write_batch
from helpers import codes, counts, run_import
from lumbung.db import session_scope
from lumbung.registry.checks import OUTSIDE
from lumbung.registry.errors import BatchFileError
from lumbung.registry.models import DuplicateReview, Household, Member

pytestmark = pytest.mark.usefixtures("users")

Rows = tuple[list[dict[str, Any]], list[dict[str, Any]]]


def two_families() -> Rows:
    h1, m1 = family(1)
    h2, m2 = family(2)
    return [h1, h2], m1 + m2


def test_valid_batch_loads_and_loading_again_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    households, members = two_families()
    paths = write_batch(tmp_path / "batch", households, members)
    first = run_import(engine, paths)
    assert (first.households_accepted, first.members_accepted) == (2, 6)
    assert first.errors == [] and first.reject_file is None
    assert counts(engine) == (2, 6)
    with session_scope(engine) as session:
        h = session.execute(select(Household).where(Household.kk_number == kk(1))).scalar_one()
        assert (h.status, h.rt, h.rw, h.regency_code, h.province_code) == (
            "proposed",
            "001",
            "002",
            "31.71",
            "31",
        )
        names = (
            session.execute(select(Member.name_normalised).where(Member.household_id == h.id))
            .scalars()
            .all()
        )
        assert "budi santoso" in names
        events = session.execute(
            text("SELECT count(*) FROM audit_event WHERE action = 'registry.import'")
        ).scalar_one()
        assert events == 1
    second = run_import(engine, paths)
    assert (second.households_accepted, second.members_accepted) == (0, 0)
    assert (second.households_unchanged, second.members_unchanged) == (2, 6)
    assert not [w for w in second.warnings if "berbeda" in w["message"]]  # truly the same
    assert second.batch_id is None
    assert counts(engine) == (2, 6)
    with session_scope(engine) as session:
        events = session.execute(
            text("SELECT count(*) FROM audit_event WHERE action = 'registry.import'")
        ).scalar_one()
        assert events == 1
    # A member registered already, with other values in the batch: skipped, and said so.
    changed = [dict(m) for m in members]
    changed[0].update(education="sma" if changed[0]["education"] != "sma" else "sd", name="X Y")
    third = run_import(engine, write_batch(tmp_path / "changed", households, changed))
    assert third.members_unchanged == 6 and counts(engine) == (2, 6)
    [said] = [w for w in third.warnings if (w["file"], w["row"]) == ("members.csv", 2)]
    assert said["message"].endswith(
        "tidak diubah oleh impor: name, education (ajukan usulan update_member)."
    )


def _set(index: int, **values: Any) -> Callable[[Rows], None]:
    def mutate(rows: Rows) -> None:
        rows[1][index].update(values)

    return mutate


def _set_household(index: int, **values: Any) -> Callable[[Rows], None]:
    def mutate(rows: Rows) -> None:
        rows[0][index].update(values)

    return mutate


HEAD_NIK_1 = nik(date(1980, 3, 12), "L", 11)

# (mutation of two valid families, expected (file, row, column, code))
CASES: dict[str, tuple[Callable[[Rows], None], tuple[str, int, str, str]]] = {
    "required": (_set(1, name=""), ("members.csv", 3, "name", "required")),
    "formula": (_set(1, name='=HYPERLINK("x")'), ("members.csv", 3, "name", "formula")),
    "formula_in_code": (
        _set_household(0, address="@SUM(A1)"),
        ("households.csv", 2, "address", "formula"),
    ),
    "invalid_value": (
        _set(1, marital_status="nikah"),
        ("members.csv", 3, "marital_status", "invalid_value"),
    ),
    "invalid_flag": (
        _set_household(0, has_car="ya"),
        ("households.csv", 2, "has_car", "invalid_value"),
    ),
    "invalid_number": (
        _set_household(0, floor_area_m2="36 m2"),
        ("households.csv", 2, "floor_area_m2", "invalid_number"),
    ),
    "ambiguous_number": (
        _set_household(0, floor_area_m2="23.393.366,000"),
        ("households.csv", 2, "floor_area_m2", "ambiguous_number"),
    ),
    "out_of_range_area": (
        _set_household(0, floor_area_m2="0"),
        ("households.csv", 2, "floor_area_m2", "out_of_range"),
    ),
    "out_of_range_count": (
        _set_household(0, motorbikes="1,5"),
        ("households.csv", 2, "motorbikes", "out_of_range"),
    ),
    "out_of_range_latitude": (
        _set_household(0, latitude="12.5"),
        ("households.csv", 2, "latitude", "out_of_range"),
    ),
    "too_long": (_set(1, name="A" * 101), ("members.csv", 3, "name", "too_long")),
    "invalid_format_rt": (
        _set_household(0, rt="12A"),
        ("households.csv", 2, "rt", "invalid_format"),
    ),
    "invalid_format_village": (
        _set_household(0, village_code="31-71-01"),
        ("households.csv", 2, "village_code", "invalid_format"),
    ),
    "unknown_village": (
        _set_household(0, village_code="31.71.01.9999"),
        ("households.csv", 2, "village_code", "unknown_village"),
    ),
    "invalid_date": (
        _set(1, birth_date="31-02-1983"),
        ("members.csv", 3, "birth_date", "invalid_date"),
    ),
    "future_date": (
        _set(2, birth_date="2099-01-20", nik=nik(date(2099, 1, 20), "L", 13)),
        ("members.csv", 4, "birth_date", "future_date"),
    ),
    "too_old": (
        _set(2, birth_date="1890-01-20", nik=nik(date(1890, 1, 20), "L", 13)),
        ("members.csv", 4, "birth_date", "out_of_range"),
    ),
    "invalid_kk": (
        _set_household(1, kk_number="9912345678901234"),
        ("households.csv", 3, "kk_number", "invalid_kk"),
    ),
    "invalid_nik": (_set(1, nik="31710147078300"), ("members.csv", 3, "nik", "invalid_nik")),
    "nik_unknown_province": (
        _set(1, nik="9971014707830012"),
        ("members.csv", 3, "nik", "nik_unknown_province"),
    ),
    "nik_invalid_date": (
        _set(1, nik="3171017307830012"),
        ("members.csv", 3, "nik", "nik_invalid_date"),
    ),
    "nik_serial": (_set(1, nik="3171014107830000"), ("members.csv", 3, "nik", "nik_serial")),
    "nik_mismatch_sex": (
        _set(1, nik=nik(date(1983, 7, 1), "L", 12)),
        ("members.csv", 3, "nik", "nik_mismatch"),
    ),
    "nik_mismatch_swapped_day_month": (
        _set(1, birth_date="1983-01-07"),
        ("members.csv", 3, "nik", "nik_mismatch"),
    ),
    "duplicate_kk": (
        _set_household(1, kk_number=kk(1)),
        ("households.csv", 3, "kk_number", "duplicate_kk"),
    ),
    "duplicate_nik": (
        _set(4, nik=HEAD_NIK_1, birth_date="1980-03-12"),
        ("members.csv", 6, "nik", "duplicate_nik"),
    ),
    "unknown_household": (
        _set(2, kk_number=kk(77)),
        ("members.csv", 4, "kk_number", "unknown_household"),
    ),
    "inconsistent_severity": (
        _set(1, disability="netra"),
        ("members.csv", 3, "disability_severity", "inconsistent"),
    ),
    "inconsistent_pregnant_man": (
        _set(0, pregnant="1"),
        ("members.csv", 2, "pregnant", "inconsistent"),
    ),
    "no_head": (_set(0, relationship="famili_lain"), ("households.csv", 2, "kk_number", "no_head")),
    "multiple_heads": (
        _set(1, relationship="kepala_keluarga"),
        ("households.csv", 2, "kk_number", "multiple_heads"),
    ),
    "household_rejected": (
        _set_household(0, toilet="kali"),
        ("members.csv", 2, "kk_number", "household_rejected"),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_error_code_names_file_row_column(engine: Engine, tmp_path: Path, case: str) -> None:
    households, members = two_families()
    mutate, expected = CASES[case]
    mutate((households, members))
    summary = run_import(engine, write_batch(tmp_path / "b", households, members))
    assert expected in codes(summary), summary.errors
    assert all(e["message"] for e in summary.errors)
    # The family that the mutation did not touch is loaded all the same.
    with session_scope(engine) as session:
        loaded = set(session.execute(select(Household.kk_number)).scalars())
    touched_second = (expected[0] == "households.csv" and expected[1] == 3) or case in (
        "duplicate_nik",
        "duplicate_kk",
    )
    if not touched_second:
        assert kk(2) in loaded
    assert summary.households_rejected + summary.members_rejected >= 1
    # The reject file carries the same errors for the operator.
    assert summary.reject_file is not None
    with open(summary.reject_file, newline="", encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    rejected = {(r["file"], int(r["row"]), r["column"], r["code"]) for r in lines}
    assert expected in rejected
    # Each line carries the row's KK (and a member's NIK) as the file has them.
    file, row, _, code = expected
    [line, *_] = [r for r in lines if (r["file"], int(r["row"]), r["code"]) == (file, row, code)]
    source = (households if file == "households.csv" else members)[row - 2]
    assert line["kk_number"] == source["kk_number"].strip()
    assert line["nik"] == (source["nik"].strip() if file == "members.csv" else "")


def test_no_valid_members_and_members_of_rejected_household(engine: Engine, tmp_path: Path) -> None:
    households, members = two_families()
    for m in members[:3]:
        m["sex"] = "X"
    summary = run_import(engine, write_batch(tmp_path / "b", households, members))
    assert ("households.csv", 2, "kk_number", "no_valid_members") in codes(summary)
    assert (summary.households_accepted, summary.members_accepted) == (1, 3)


def test_a_family_whose_head_was_rejected_is_told_which_row_and_why(
    engine: Engine, tmp_path: Path
) -> None:
    households, members = two_families()
    members[0]["nik"] = "3171014707830000"  # the first family's head: serial 0000
    summary = run_import(engine, write_batch(tmp_path / "b", households, members))
    [message] = [
        e["message"]
        for e in summary.errors
        if (e["file"], e["row"], e["code"]) == ("households.csv", 2, "no_head")
    ]
    assert message == "Kepala keluarga (members.csv baris 2) ditolak: nik_serial."
    assert (summary.households_accepted, summary.households_rejected) == (1, 1)


def test_indonesian_numbers_are_read_as_such(engine: Engine, tmp_path: Path) -> None:
    households, members = two_families()
    households[0].update(floor_area_m2="1.500", latitude="-6,2", motorbikes="2")
    households[1].update(floor_area_m2="12,5")
    summary = run_import(engine, write_batch(tmp_path / "b", households, members))
    assert summary.errors == []
    with session_scope(engine) as session:
        query = select(Household.kk_number, Household.floor_area_m2)
        areas = dict(session.execute(query).all())
        lat = session.execute(
            select(Household.latitude).where(Household.kk_number == kk(1))
        ).scalar_one()
    assert areas == {kk(1): 1500.0, kk(2): 12.5}
    assert lat == pytest.approx(-6.2)


def test_old_district_code_in_nik_is_a_warning(engine: Engine, tmp_path: Path) -> None:
    households, members = two_families()
    members[1]["nik"] = nik(date(1983, 7, 1), "P", 12, district="317199")
    summary = run_import(engine, write_batch(tmp_path / "b", households, members))
    assert summary.errors == []
    assert {w["code"] for w in summary.warnings} == {"nik_region_unknown"}
    assert summary.members_accepted == 6


def test_dry_run_checks_everything_and_loads_nothing(engine: Engine, tmp_path: Path) -> None:
    households, members = two_families()
    members[1]["name"] = ""
    summary = run_import(engine, write_batch(tmp_path / "b", households, members), dry_run=True)
    assert summary.dry_run and (summary.households_accepted, summary.members_accepted) == (2, 5)
    assert ("members.csv", 3, "name", "required") in codes(summary)
    assert counts(engine) == (0, 0)


def _fail_on_member(engine: Engine, bad_nik: str) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER boom BEFORE INSERT ON member WHEN NEW.nik = '" + bad_nik + "' "
                "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION boom() RETURNS trigger AS $$ BEGIN "
                "IF NEW.nik = '" + bad_nik + "' THEN RAISE EXCEPTION 'disk full (simulated)'; "
                "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER boom BEFORE INSERT ON member FOR EACH ROW EXECUTE FUNCTION boom()"
            )


def _drop_failure(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER boom" + (" ON member" if engine.dialect.name != "sqlite" else "")
        )


def test_crash_in_the_middle_leaves_no_trace_and_rerun_converges(
    engine: Engine, tmp_path: Path
) -> None:
    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    _fail_on_member(engine, members[-1]["nik"])  # the last member row: households are in by then
    with session_scope(engine) as session:
        before = session.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    with pytest.raises(Exception, match="simulated"):
        run_import(engine, paths)
    assert counts(engine) == (0, 0)
    with session_scope(engine) as session:
        assert session.execute(text("SELECT count(*) FROM import_batch")).scalar_one() == 0
        assert session.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == before
    _drop_failure(engine)
    summary = run_import(engine, paths)
    assert (summary.households_accepted, summary.members_accepted) == (2, 6)
    assert counts(engine) == (2, 6)


def test_nik_active_in_another_family_is_rejected_naming_it(engine: Engine, tmp_path: Path) -> None:
    households, members = two_families()
    run_import(engine, write_batch(tmp_path / "first", households, members))
    h3, m3 = family(3)
    m3[1].update(nik=members[1]["nik"], birth_date=members[1]["birth_date"])
    summary = run_import(engine, write_batch(tmp_path / "second", [h3], m3))
    duplicate = [e for e in summary.errors if e["code"] == "duplicate_nik"]
    assert duplicate and duplicate[0]["row"] == 3
    # The other family is named by its masked KK and village, not shown whole.
    assert kk(1)[:4] + "*" * 12 in duplicate[0]["message"]
    assert kk(1) not in duplicate[0]["message"]
    # Only the spouse is refused; the family itself, with its head, comes in.
    assert (summary.households_accepted, summary.members_accepted) == (1, 2)


def test_allow_duplicates_loads_and_queues_for_review(engine: Engine, tmp_path: Path) -> None:
    households, members = two_families()
    run_import(engine, write_batch(tmp_path / "first", households, members))
    h3, m3 = family(3)
    m3[1].update(nik=members[1]["nik"], birth_date=members[1]["birth_date"])
    summary = run_import(engine, write_batch(tmp_path / "second", [h3], m3), allow_duplicates=True)
    assert summary.members_accepted == 3 and summary.duplicates_for_review == 1
    assert {w["code"] for w in summary.warnings} == {"duplicate_allowed"}
    with session_scope(engine) as session:
        review = session.execute(select(DuplicateReview)).scalar_one()
        assert review.nik == members[1]["nik"] and review.state == "open"
        first = session.get(Member, review.other_member_id)
        second = session.get(Member, review.member_id)
        assert first is not None and second is not None
        assert first.household_id != second.household_id


def test_operator_imports_only_inside_their_village(engine: Engine, tmp_path: Path) -> None:
    h1, m1 = family(1)
    h2, m2 = family(2, village_code=OTHER_VILLAGE)
    summary = run_import(engine, write_batch(tmp_path / "b", [h1, h2], m1 + m2), actor="operator")
    assert ("households.csv", 3, "village_code", "out_of_scope") in codes(summary)
    assert summary.households_accepted == 1


def test_entering_as_approved_needs_the_admin_role(engine: Engine, tmp_path: Path) -> None:
    from lumbung.errors import PermissionDenied

    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    with pytest.raises(PermissionDenied):
        run_import(engine, paths, actor="operator", status="approved")
    summary = run_import(engine, paths, actor="admin", status="approved")
    assert summary.households_accepted == 2
    with session_scope(engine) as session:
        assert set(session.execute(select(Household.status)).scalars()) == {"approved"}


def test_members_join_proposed_family_but_not_an_approved_one(
    engine: Engine, tmp_path: Path
) -> None:
    households, members = two_families()
    run_import(engine, write_batch(tmp_path / "first", households, members))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE household SET status = 'approved' WHERE kk_number = :k"), {"k": kk(2)}
        )
    extra = [
        member(
            kk(1),
            date(2018, 5, 5),
            "P",
            "anak",
            14,
            school_level="paud",
            education="tidak_sekolah",
            occupation="tidak_bekerja",
        ),
        member(
            kk(2),
            date(2018, 5, 5),
            "P",
            "anak",
            24,
            school_level="paud",
            education="tidak_sekolah",
            occupation="tidak_bekerja",
        ),
    ]
    summary = run_import(engine, write_batch(tmp_path / "second", [], extra))
    assert summary.members_accepted == 1
    assert ("members.csv", 3, "kk_number", "household_locked") in codes(summary)


def test_registered_family_with_different_data_is_kk_exists(engine: Engine, tmp_path: Path) -> None:
    households, members = two_families()
    run_import(engine, write_batch(tmp_path / "first", households, members))
    registered = dict(households[0])
    households[0]["floor_area_m2"] = "48"
    households[0]["toilet"] = "umum" if households[0]["toilet"] != "umum" else "sendiri"
    summary = run_import(engine, write_batch(tmp_path / "second", households, members))
    assert ("households.csv", 2, "kk_number", "kk_exists") in codes(summary)
    assert summary.households_unchanged == 1
    # It names the columns that differ: what a change request would have to propose.
    [error] = [e for e in summary.errors if e["code"] == "kk_exists"]
    assert "(floor_area_m2, toilet)" in error["message"]
    # Of a family outside the importer's region nothing more is told than that it is
    # registered: not which columns differ, not whether a guessed row matches it (a verifier
    # of Bandung, guessing at a Jakarta family in a Bandung village).
    exact = registered  # the family's very values, its Jakarta village included
    for guessed in (exact, {**registered, "floor_area_m2": "48", "village_code": OTHER_VILLAGE}):
        outside = run_import(
            engine,
            write_batch(tmp_path / "guess", [guessed], []),
            actor="other_verifier",
            dry_run=True,
        )
        [error] = [e for e in outside.errors if e["code"] in ("kk_exists", "already_registered")]
        assert (error["code"], error["message"]) == ("kk_exists", OUTSIDE)
    # Nor are its members: neither which NIKs are in it, nor its state (a member row of that
    # KK gets the same one answer, whether its NIK is in the family or not).
    family_members = [m for m in members if m["kk_number"] == registered["kk_number"]]
    last = family_members[-1]
    newcomer = {**last, "nik": last["nik"][:12] + "0999", "name": "ORANG BARU"}
    outside = run_import(
        engine,
        write_batch(tmp_path / "members", [], [*family_members, newcomer]),
        actor="other_verifier",
        dry_run=True,
    )
    assert {(e["code"], e["message"]) for e in outside.errors} == {("kk_exists", OUTSIDE)}
    assert len(outside.errors) == len(family_members) + 1 and outside.members_unchanged == 0
    # And a NIK active in a family of another region is refused without naming that family.
    bandung, bandung_members = family(7, village_code=OTHER_VILLAGE)
    bandung_members[0]["nik"] = family_members[0]["nik"]
    clash = run_import(
        engine,
        write_batch(tmp_path / "clash", [bandung], bandung_members),
        actor="other_verifier",
        dry_run=True,
    )
    [duplicate] = [e for e in clash.errors if e["code"] == "duplicate_nik"]
    assert "di luar wilayah Anda" in duplicate["message"]
    assert "KK " not in duplicate["message"] and "desa" not in duplicate["message"]


def test_semicolons_bom_and_blank_lines_keep_row_numbers(engine: Engine, tmp_path: Path) -> None:
    households, members = two_families()
    members[4]["name"] = ""
    paths = write_batch(tmp_path / "b", households, members, delimiter=";", bom=True)
    lines = paths[1].read_text(encoding="utf-8-sig").splitlines()
    paths[1].write_text("\n".join([*lines[:3], "", *lines[3:]]) + "\n", encoding="utf-8")
    summary = run_import(engine, paths)
    # Row 6 of members plus the blank line: the spreadsheet row is 7.
    assert ("members.csv", 7, "name", "required") in codes(summary)
    assert (summary.households_accepted, summary.members_accepted) == (2, 5)


@pytest.mark.parametrize("block", [1, 2, 3, 5, 1 << 24])
def test_which_files_are_rewritten_before_reading_wherever_the_blocks_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Blank lines between rows and lines ending both ways are found even where a block of the
    scan ends between the two line feeds (or between CR and LF); blank lines at the very end,
    and one kind of line ending throughout, leave the file as it is."""
    from lumbung.registry import batch_files

    monkeypatch.setattr(batch_files, "BLOCK", block)
    cases = {
        b"a,b\r\n1,2\r\n3,4\r\n": False,
        b"a,b\n1,2\n3,4\n\n\n": False,
        b"a,b\r\n1,2\r\n3,4\r\n\r\n": False,
        b"a,b\n1,2\n3,4": False,
        b"a,b\n1,2\n\n3,4\n": True,
        b"a,b\r\n1,2\r\n\r\n3,4\r\n": True,
        b"a,b\n\n\n1,2": True,
        b"a,b\r\n1,2\n3,4\n": True,
        b"a,b\r\n1,2\r\n3,4\r\n\n": True,
    }
    for n, (data, rewritten) in enumerate(cases.items()):
        path = tmp_path / f"{n}.csv"
        path.write_bytes(data)
        assert batch_files._needs_rewriting(path) is rewritten, data


@pytest.mark.parametrize("tail", ["lf_rows", "lf_blank_line"])
def test_lines_ending_both_ways_are_read_and_keep_row_numbers(
    engine: Engine, tmp_path: Path, tail: str
) -> None:
    """A Windows file (CR LF) with rows appended by a Unix program (LF), or with one LF blank
    line at its end, is read as it is meant, row numbers intact."""
    households, members = two_families()
    members[4]["name"] = ""
    paths = write_batch(tmp_path / "b", households, members)
    lines = paths[1].read_text(encoding="utf-8").splitlines()
    if tail == "lf_rows":  # the first rows from Windows, the last two appended with LF
        body = "\r\n".join(lines[:-2]) + "\r\n" + "\n".join(lines[-2:]) + "\n"
    else:
        body = "\r\n".join(lines) + "\r\n\n"
    paths[1].write_bytes(body.encode())
    households_body = paths[0].read_text(encoding="utf-8").splitlines()
    paths[0].write_bytes(("\r\n".join(households_body) + "\n").encode())  # last line LF only
    summary = run_import(engine, paths)
    assert ("members.csv", 6, "name", "required") in codes(summary)
    assert (summary.households_accepted, summary.members_accepted) == (2, 5)
    with session_scope(engine) as session:
        names = session.execute(select(Member.name)).scalars().all()
    assert not [n for n in names if "\r" in n or "\n" in n]


@pytest.mark.parametrize(
    ("header_change", "code"),
    [
        (lambda h: h + ",warna_rumah", "unknown_column"),
        (lambda h: h.replace(",toilet", ""), "missing_column"),
        (lambda h: h + ",toilet", "duplicate_column"),
    ],
)
def test_header_problems_refuse_the_whole_batch(
    engine: Engine, tmp_path: Path, header_change: Callable[[str], str], code: str
) -> None:
    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    lines = paths[0].read_text().splitlines()
    paths[0].write_text("\n".join([header_change(lines[0]), *lines[1:]]) + "\n")
    with pytest.raises(BatchFileError) as caught:
        run_import(engine, paths)
    assert [e.code for e in caught.value.errors] == [code]
    assert caught.value.errors[0].file == "households.csv"
    assert counts(engine) == (0, 0)


@pytest.mark.parametrize("ending", ["\r\n", "\n"])  # as the file's other lines; or not
def test_broken_csv_and_missing_table_are_refused(
    engine: Engine, tmp_path: Path, ending: str
) -> None:
    """Read by DuckDB (lines all ending alike) or rewritten line by line first (lines ending
    both ways), a quote left open refuses the file, naming the line where the row starts."""
    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)  # CR LF, as Python's csv writes
    with pytest.raises(BatchFileError) as missing:
        run_import(engine, paths[:1])
    assert missing.value.errors[0].code == "missing_file"
    with paths[1].open("a", newline="") as handle:
        handle.write('3171010101200001,"unterminated' + ending)
    with pytest.raises(BatchFileError) as broken:
        run_import(engine, paths)
    [error] = broken.value.errors
    assert error.code == "file_unreadable"
    assert error.row == 2 + len(members)  # the line the broken row starts on
    assert "tanda kutip" in error.message and "Error" not in error.message  # no DuckDB English
    assert counts(engine) == (0, 0)


def test_xlsx_batch_with_numeric_nik_and_formula(engine: Engine, tmp_path: Path) -> None:
    from openpyxl import Workbook

    from lumbung.registry import vocab

    households, members = two_families()
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "households"
    sheet.append(list(vocab.HOUSEHOLD_COLUMNS))
    for h in households:
        sheet.append([h[c] for c in vocab.HOUSEHOLD_COLUMNS])
    sheet.append([None] * len(vocab.HOUSEHOLD_COLUMNS))  # an empty row is skipped, not an error
    mem = book.create_sheet("Members")
    mem.append(list(vocab.MEMBER_COLUMNS))
    for i, m in enumerate(members):
        row = [m[c] for c in vocab.MEMBER_COLUMNS]
        if i == 1:
            # Typed as a number, Excel kept 15 digits: serial 0001 became 0000.
            row[1] = int(m["nik"][:12] + "0000")
        if i == 4:
            row[2] = '=CONCAT("A","B")'
        mem.append(row)
    path = tmp_path / "batch.xlsx"
    book.save(path)
    summary = run_import(engine, [path])
    found = codes(summary)
    assert ("batch.xlsx:members", 3, "nik", "numeric_id_cell") in found
    # …and nothing else about what is left of those digits.
    assert [c for f, r, col, c in found if (r, col) == (3, "nik")] == ["numeric_id_cell"]
    assert ("batch.xlsx:members", 6, "name", "formula") in found
    # A rejected spouse does not take the family with them; the heads are intact.
    assert summary.households_accepted == 2 and summary.members_accepted == 4
    # The reject file names the member's family, from the sheet as for a CSV.
    assert summary.reject_file is not None
    with open(summary.reject_file, newline="", encoding="utf-8") as handle:
        kks = {int(r["row"]): r["kk_number"] for r in csv.DictReader(handle)}
    assert kks[3] == members[1]["kk_number"] and kks[6] == members[4]["kk_number"]


def _schema_objects(engine: Engine) -> tuple[set[str], set[str]]:
    from sqlalchemy import inspect

    inspector = inspect(engine)
    loaded = ("household", "member")
    indexes = {str(i["name"]) for t in loaded for i in inspector.get_indexes(t)}
    # Keys, and the foreign keys of every table that points at the loaded ones.
    keys = {
        *(str(inspector.get_pk_constraint(t)["name"]) for t in loaded),
        *(str(u["name"]) for t in loaded for u in inspector.get_unique_constraints(t)),
    }
    pointing = ("household", "member", "change_request", "duplicate_review")
    fks = {str(f["name"]) for t in pointing for f in inspector.get_foreign_keys(t)}
    return indexes, keys | fks


@pytest.mark.parametrize("fail", [False, True])
def test_large_first_load_defers_indexes_and_restores_them(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    from lumbung import bulk

    monkeypatch.setattr(bulk, "DEFER_INDEXES_FROM", 1)  # every load into an empty table
    before = _schema_objects(engine)
    assert "uq_member_active_head" in before[0] and "ix_member_nik" in before[0]
    assert {"uq_household_kk_number", "fk_duplicate_review_member_id_member"} <= before[1]
    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    if fail:
        _fail_on_member(engine, members[-1]["nik"])
        with pytest.raises(Exception, match="simulated"):
            run_import(engine, paths)
        _drop_failure(engine)
        assert counts(engine) == (0, 0)
    else:
        with engine.connect() as conn:
            start = conn.execute(text("SELECT CURRENT_TIMESTAMP")).scalar_one()
        assert run_import(engine, paths).members_accepted == 6
        assert counts(engine) == (2, 6)
        if engine.dialect.name == "postgresql":
            # The planner's statistics describe the loaded tables, not the empty ones.
            with engine.connect() as conn:
                analysed = conn.execute(
                    text(
                        "SELECT relname FROM pg_stat_user_tables WHERE last_analyze >= :start "
                        "AND relname IN ('household', 'member')"
                    ),
                    {"start": start},
                ).scalars()
                assert sorted(analysed) == ["household", "member"]
    # Indexes and foreign keys are back, whether the load committed or rolled back.
    assert _schema_objects(engine) == before
    if not fail:
        with engine.begin() as conn, pytest.raises(Exception, match=r"(?i)unique|constraint"):
            conn.execute(text("UPDATE member SET relationship = 'kepala_keluarga'"))
        # The keys hold again: a second family with the first one's KK, or a member's id, fails.
        for statement in (
            "UPDATE household SET kk_number = (SELECT min(kk_number) FROM household)",
            "UPDATE member SET id = (SELECT min(id) FROM member)",
        ):
            with engine.begin() as conn, pytest.raises(Exception, match=r"(?i)unique|duplicate"):
                conn.execute(text(statement))


@pytest.mark.parametrize("deferred", [False, True])
def test_ids_follow_the_files_and_free_text_arrives_unchanged(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deferred: bool
) -> None:
    """Families and members get their ids in the order of the files (rows travel to the
    database unsorted), one after another, above every id before them; an id given later by
    the database's own sequence does not collide. Text that needs escaping on its way into
    PostgreSQL (a backslash, a tab, a line break in a name or an address) arrives as written."""
    from lumbung import bulk

    monkeypatch.setattr(bulk, "DEFER_INDEXES_FROM", 1 if deferred else 10**9)
    households, members = [], []
    for serial in (5, 3, 9, 1):  # KK numbers out of order: the files' order counts
        h, m = family(serial)
        households.append(h)
        members += m
    households[1]["address"] = "Jl. Mawar\\Blok C\t12\r\nRT ujung \\N"
    members.append(members.pop(0))  # the first family's head comes last in its file
    members[3]["name"] = "SITI \\ AMINAH"
    members[4]["mother_name"] = "IBU\\ANDI"  # a tab: only an address may hold one
    run_import(engine, write_batch(tmp_path / "b", households, members))
    with session_scope(engine) as session:
        families = session.execute(select(Household.id, Household.kk_number).order_by(Household.id))
        ids, numbers = zip(*families.all(), strict=True)
        assert list(numbers) == [h["kk_number"] for h in households]
        assert list(ids) == list(range(ids[0], ids[0] + len(households)))
        people = session.execute(
            select(Member.id, Member.nik, Member.name, Member.mother_name).order_by(Member.id)
        ).all()
        assert [p.nik for p in people] == [m["nik"] for m in members]
        assert [p.id for p in people] == list(range(people[0].id, people[0].id + len(members)))
        address = session.execute(
            select(Household.address).where(Household.kk_number == households[1]["kk_number"])
        ).scalar_one()
        assert address == "Jl. Mawar\\Blok C\t12\r\nRT ujung \\N"
        by_nik = {p.nik: p for p in people}
        assert by_nik[members[3]["nik"]].name == "SITI \\ AMINAH"
        assert by_nik[members[4]["nik"]].mother_name == "IBU\\ANDI"
    # The sequences moved past the ids given: a row the database numbers itself fits. Flushed
    # and rolled back, never committed: a row written outside a command has no audit event.
    with Session(engine) as probe:
        h_id = probe.execute(select(Household.id).limit(1)).scalar_one()
        extra = Member(
            **{**_member_values(probe, members[0]["nik"]), "nik": nik(date(1990, 1, 1), "L", 99)},
            household_id=h_id,
        )
        probe.add(extra)
        probe.flush()
        assert extra.id > people[-1].id
        probe.rollback()
    second, second_members = family(7)
    run_import(engine, write_batch(tmp_path / "c", [second], second_members))
    with session_scope(engine) as session:
        later = (
            session.execute(
                select(Member.id).where(Member.nik.in_([m["nik"] for m in second_members]))
            )
            .scalars()
            .all()
        )
        assert min(later) > people[-1].id


def _member_values(session: Any, member_nik: str) -> dict[str, Any]:
    """A member's column values (no id, no NIK), to make another member like it."""
    row = session.execute(select(Member).where(Member.nik == member_nik)).scalar_one()
    skip = {"id", "nik", "household_id"}
    return {c.key: getattr(row, c.key) for c in Member.__table__.columns if c.key not in skip}


def test_a_duplicate_the_checks_missed_fails_the_deferred_load_whole(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KK twice in the rows loaded (as if the checks had missed it) fails the load where the
    key comes back (PostgreSQL) or at the row (SQLite): nothing stays, the schema is whole."""
    from lumbung import bulk
    from lumbung.registry import checks as registry_checks
    from lumbung.registry import importer

    monkeypatch.setattr(bulk, "DEFER_INDEXES_FROM", 1)
    checks = registry_checks.run_checks

    def missing_a_duplicate(con: Any, options: Any) -> None:
        checks(con, options)
        con.execute("UPDATE hh SET kk_number = (SELECT min(kk_number) FROM hh)")
        con.execute("UPDATE mb SET kk_number = (SELECT min(kk_number) FROM hh)")

    monkeypatch.setattr(importer, "run_checks", missing_a_duplicate)
    before = _schema_objects(engine)
    households, members = two_families()
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        run_import(engine, write_batch(tmp_path / "b", households, members))
    assert counts(engine) == (0, 0)
    assert _schema_objects(engine) == before


def test_rows_with_a_stray_separator_are_rejected_not_shifted(
    engine: Engine, tmp_path: Path
) -> None:
    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    lines = paths[1].read_text().splitlines()
    # Row 3: an unquoted comma in the name adds one (empty-ended) field; row 5: a field short.
    lines[2] = lines[2].replace("SITI AMINAH", "SITI,AMINAH", 1).rstrip(",") + ","
    lines[4] = lines[4].rsplit(",", 1)[0]
    paths[1].write_text("\n".join(lines) + "\n")
    summary = run_import(engine, paths)
    found = codes(summary)
    assert ("members.csv", 3, "", "field_count") in found
    assert ("members.csv", 5, "", "field_count") in found
    # Only that: the shifted values are not judged as if they were in their columns.
    assert {code for file, row, _, code in found if (file, row) == ("members.csv", 3)} == {
        "field_count"
    }
    assert summary.members_rejected >= 2
    with session_scope(engine) as session:
        names = set(session.execute(select(Member.name)).scalars())
    assert "SITI" not in names and "AMINAH" not in names


@pytest.mark.usefixtures("users")
def test_a_deferred_first_load_works_from_the_command_in_a_process_of_its_own(
    engine: Engine, tmp_path: Path
) -> None:
    """`lumbung import` in a fresh process, which imports only the models its command needs:
    the keys deferred on a first load, and every foreign key pointing at the tables, still go
    and come back (a first large PostgreSQL import once failed so, on a foreign key between
    models the command never loaded)."""
    import json
    import os
    import subprocess
    import sys

    households, members = two_families()
    paths = write_batch(tmp_path / "b", households, members)
    before = _schema_objects(engine)
    command = (
        "import sys; from lumbung import bulk; bulk.DEFER_INDEXES_FROM = 1; "
        "from lumbung.cli import app; app(sys.argv[1:])"
    )
    env = {
        **os.environ,
        "LUMBUNG_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "LUMBUNG_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", command, "import", *map(str, paths), "--as", "admin", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["members_accepted"] == 6
    assert counts(engine) == (2, 6)
    assert _schema_objects(engine) == before


def test_each_run_keeps_its_own_reject_file(engine: Engine, tmp_path: Path) -> None:
    """Importing a batch again, or a dry run of it, writes a reject file of its own: the first
    run's errors, which an operator may still be correcting, are not overwritten."""
    households, members = two_families()
    members[0]["nik"] = "12345"
    paths = write_batch(tmp_path / "b", households, members)
    runs = [
        run_import(engine, paths, dry_run=True),
        run_import(engine, paths),
        run_import(engine, paths),
    ]
    files = [summary.reject_file for summary in runs]
    assert all(files) and len(set(files)) == 3, files
    assert "-dry-run" in str(files[0])
    contents = [Path(str(f)).read_text(encoding="utf-8") for f in files]
    assert all("invalid_nik" in text for text in contents)
    assert "already_registered" not in contents[1]  # the first real run's file is intact
    assert "already_registered" in contents[2]
