"""Civil registry (Dukcapil) matching on SQLite and PostgreSQL: reading an extract (bad rows,
a broken file), each outcome, a mistyped NIK found by KK, name and birth date, deceased and
not found proposed through the workflow, importing again, scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from civil_helpers import (
    RIGHT_NIK,
    add_admin,
    every_outcome,
    extract_row,
    registry,
    run_civil_import,
    write_extract,
)
from conftest import user
from lumbung.audit import service as audit
from lumbung.audit.models import AuditEvent
from lumbung.civil import report
from lumbung.civil.models import CivilImport, CivilMatch
from lumbung.db import session_scope
from lumbung.errors import PermissionDenied, ValidationFailed
from lumbung.registry import workflow
from lumbung.registry.models import ChangeRequest, Member

pytestmark = pytest.mark.usefixtures("users")


def results(engine: Engine) -> dict[str, dict[str, Any]]:
    """The latest result of each member, by NIK."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Member.nik, CivilMatch)
            .join(Member, Member.id == CivilMatch.member_id)
            .order_by(CivilMatch.id)
        ).all()
        return {
            nik: {
                "outcome": m.outcome,
                "fields": {
                    f
                    for f in ("nik", "name", "birth_date", "birth_date_swapped", "sex", "kk")
                    if getattr(m, f"{f}_differs" if f != "birth_date_swapped" else f)
                },
                "extract_nik": m.extract_nik,
                "death_date": m.death_date.isoformat() if m.death_date else None,
                "request": m.change_request_id,
                "note": m.note,
            }
            for nik, m in rows
        }


def flags(engine: Engine) -> dict[str, bool | None]:
    with session_scope(engine) as session:
        rows = session.execute(select(Member.nik, Member.dukcapil_match)).all()
        return {str(nik): match for nik, match in rows}


def requests(engine: Engine) -> list[tuple[str, dict[str, Any], str, str]]:
    with session_scope(engine) as session:
        return [
            (r.kind, r.payload, r.state, r.proposed_by)
            for r in session.execute(select(ChangeRequest).order_by(ChangeRequest.id)).scalars()
        ]


def test_each_outcome_marked_and_proposed(engine: Engine, tmp_path: Path) -> None:
    people = registry(engine, tmp_path / "batch")
    path = write_extract(tmp_path / "ekstrak.csv", every_outcome(people))
    summary = run_civil_import(engine, path)
    assert not summary.refused, summary.errors
    assert (summary.rows_read, summary.rows_rejected) == (9, 2)
    assert {(e["row"], e["column"], e["code"]) for e in summary.errors} == {
        (4, "sex", "invalid_sex"),
        (10, "nik", "invalid_nik"),
    }
    assert (summary.members, summary.unmarked) == (8, 1)
    assert (summary.matched, summary.mismatched, summary.deceased, summary.not_found) == (
        2,
        4,
        1,
        1,
    )
    assert summary.mismatched_fields["nik"] == 2 and summary.mismatched_fields["sex"] == 1
    assert summary.proposals == 3 and summary.proposals_refused == 0
    found = results(engine)
    p = {k: v["nik"] for k, v in people.items()}
    assert found[p["f1_head"]]["outcome"] == "matched"
    # The title dropped: the name agrees; the birth date differs, day and month swapped.
    assert found[p["f1_wife"]]["outcome"] == "mismatched"
    assert found[p["f1_wife"]]["fields"] == {"birth_date", "birth_date_swapped"}
    assert p["f1_child"] not in found  # its row refused: not marked, never "not found"
    assert found[p["f2_head"]]["outcome"] == "deceased"
    assert found[p["f2_head"]]["death_date"] == "2026-10-02"
    # Not the NIK alone: the mistyped NIK is absent, the person found by KK, name and date.
    assert found[p["f2_wife"]]["outcome"] == "mismatched"
    assert found[p["f2_wife"]]["fields"] == {"nik"}
    assert found[p["f2_wife"]]["extract_nik"] == RIGHT_NIK
    assert (found[p["f2_child"]]["outcome"], found[p["f2_child"]]["fields"]) == (
        "mismatched",
        {"sex"},
    )
    assert found[p["f3_wife"]]["outcome"] == "not_found"
    # A NIK whose row is another person's (another name and birth date) is not theirs: never
    # marked deceased because that other person died.
    assert found[p["f3_child"]]["outcome"] == "mismatched"
    assert found[p["f3_child"]]["fields"] >= {"nik", "name", "birth_date"}
    assert found[p["f3_child"]]["death_date"] is None
    marked = flags(engine)
    assert marked[p["f1_head"]] is True and marked[p["f3_head"]] is True
    assert marked[p["f1_wife"]] is False and marked[p["f2_head"]] is False
    assert marked[p["f1_child"]] is None
    made = requests(engine)
    assert [(k, s, by) for k, _, s, by in made] == [("remove_member", "proposed", "admin")] * 2 + [
        ("update_member", "proposed", "admin")
    ] or sorted((k, s, by) for k, _, s, by in made) == sorted(
        [("remove_member", "proposed", "admin")] * 2 + [("update_member", "proposed", "admin")]
    )
    payloads = {
        (k, p_["nik"] if "nik" in p_ else p_["members"][0]["nik"]): p_ for k, p_, _, _ in made
    }
    died = payloads[("remove_member", p["f2_head"])]
    assert (died["status"], died["new_head"]) == ("deceased", people["f2_wife"]["nik"])
    assert payloads[("remove_member", p["f3_wife"])]["status"] == "removed"
    assert payloads[("update_member", p["f2_wife"])]["members"][0]["changes"] == {"nik": RIGHT_NIK}
    assert found[p["f2_head"]]["request"] is not None
    with session_scope(engine) as session:
        event = session.execute(
            select(AuditEvent).where(AuditEvent.action == "civil.import")
        ).scalar_one()
        assert event.diff["members"] == 8 and event.diff["proposals"] == 3
        assert audit.verify(session).ok


def test_the_same_file_twice_changes_nothing_and_nothing_is_proposed_twice(
    engine: Engine, tmp_path: Path
) -> None:
    people = registry(engine, tmp_path / "batch")
    rows = every_outcome(people)
    path = write_extract(tmp_path / "ekstrak.csv", rows)
    first = run_civil_import(engine, path)
    assert first.proposals == 3
    before = (results(engine), requests(engine), flags(engine))
    again = run_civil_import(engine, path)
    assert again.already_imported and again.import_id == first.import_id
    assert (results(engine), requests(engine), flags(engine)) == before
    # The same rows in another order: another file, marked again, but no request twice.
    other = write_extract(tmp_path / "ekstrak-2.csv", list(reversed(rows)))
    second = run_civil_import(engine, other)
    assert (second.proposals, second.proposals_open) == (0, 3)
    assert second.dukcapil_match_changed == 0
    assert len(requests(engine)) == 3
    with session_scope(engine) as session:
        assert len(session.execute(select(CivilImport)).all()) == 2


def test_deceased_goes_through_the_workflow(engine: Engine, tmp_path: Path) -> None:
    people = registry(engine, tmp_path / "batch")
    path = write_extract(tmp_path / "ekstrak.csv", every_outcome(people))
    run_civil_import(engine, path)
    request_id = results(engine)[people["f2_head"]["nik"]]["request"]
    with session_scope(engine) as session:
        member = session.execute(
            select(Member).where(Member.nik == people["f2_head"]["nik"])
        ).scalar_one()
        assert member.status == "active"  # proposed, never applied by the import
        workflow.verify(session, actor=user(session, "verifier"), request_id=request_id)
    with session_scope(engine) as session:
        workflow.determine(session, actor=user(session, "determiner"), request_id=request_id)
    with session_scope(engine) as session:
        statuses = dict(
            session.execute(
                select(Member.nik, Member.status).where(
                    Member.nik.in_([people["f2_head"]["nik"], people["f2_wife"]["nik"]])
                )
            ).all()
        )
        assert statuses[people["f2_head"]["nik"]] == "deceased"
        heads = session.execute(
            select(Member.nik).where(
                Member.relationship == "kepala_keluarga", Member.nik == people["f2_wife"]["nik"]
            )
        ).all()
        assert len(heads) == 1


def test_a_broken_file_is_refused_whole(engine: Engine, tmp_path: Path) -> None:
    people = registry(engine, tmp_path / "batch")
    wrong = write_extract(
        tmp_path / "salah.csv",
        every_outcome(people),
        header=["nik", "kk", "nama", "tempat_lahir", "tanggal_lahir", "jk", "meninggal"],
    )
    summary = run_civil_import(engine, wrong)
    assert summary.refused and summary.errors[0]["code"] == "bad_header"
    quote = tmp_path / "kutip.csv"
    quote.write_text(
        "nik,kk_number,name,birth_place,birth_date,sex,death_date\n"
        f'{people["f1_head"]["nik"]},{people["f1_head"]["kk_number"]},"BUDI,JAKARTA,'
        "1980-03-12,L,\n",
        encoding="utf-8",
    )
    summary = run_civil_import(engine, quote)
    assert summary.refused and summary.errors[0]["code"] == "file_unreadable"
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        b"nik,kk_number,name,birth_place,birth_date,sex,death_date\n"
        + f"{people['f1_head']['nik']},{people['f1_head']['kk_number']},".encode()
        + "JOS\u00c9,X,1980-03-12,L,\n".encode("latin-1")
    )
    summary = run_civil_import(engine, latin)
    assert summary.refused and summary.errors[0] == {
        "file": "latin.csv",
        "row": 2,
        "column": "",
        "code": "file_unreadable",
        "message": "baris 2 bukan teks UTF-8; simpan berkas sebagai CSV UTF-8.",
        "severity": "error",
    }
    empty = write_extract(tmp_path / "kosong.csv", [])
    assert run_civil_import(engine, empty).errors[0]["code"] == "no_rows"
    assert results(engine) == {} and requests(engine) == []
    with session_scope(engine) as session:
        assert session.execute(select(CivilImport)).first() is None


def test_row_problems_in_words(engine: Engine, tmp_path: Path) -> None:
    people = registry(engine, tmp_path / "batch")
    head = people["f1_head"]
    rows = [
        {
            "nik": "",
            "kk_number": head["kk_number"],
            "name": "",
            "birth_place": "",
            "birth_date": "1980-02-30",
            "sex": "L",
            "death_date": "kemarin",
        },
        {
            "nik": head["nik"],
            "kk_number": "12",
            "name": "=HYPERLINK(1)",
            "birth_place": "X",
            "birth_date": "2030-01-01",
            "sex": "L",
            "death_date": "2029-01-01",
        },
        {
            "nik": head["nik"],
            "kk_number": head["kk_number"],
            "name": "BUDI",
            "birth_place": "X",
            "birth_date": "1980-03-12",
            "sex": "L",
            "death_date": "1970-01-01",
        },
    ]
    path = write_extract(tmp_path / "ekstrak.csv", rows)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n1,2,3\n")  # a blank line, then a short row: row 6
    summary = run_civil_import(engine, path)
    codes = {(e["row"], e["column"], e["code"]) for e in summary.errors}
    assert codes == {
        (2, "nik", "required"),
        (2, "name", "required"),
        (2, "birth_date", "invalid_date"),
        (2, "death_date", "invalid_date"),
        (3, "kk_number", "invalid_kk"),
        (3, "birth_date", "future_date"),
        (3, "death_date", "future_date"),
        (3, "death_date", "death_before_birth"),
        (3, "nik", "duplicate_nik"),
        (4, "nik", "duplicate_nik"),
        (4, "death_date", "death_before_birth"),
        (6, "", "field_count"),
    }
    message = next(e["message"] for e in summary.errors if e["code"] == "invalid_date")
    assert message == 'Tanggal lahir "1980-02-30" bukan tanggal YYYY-MM-DD.'
    assert summary.reject_file is not None
    text = Path(summary.reject_file).read_text(encoding="utf-8")
    assert text.splitlines()[0] == "file,row,column,code,message,severity,nik,kk_number"
    # The head's NIK is on refused rows only: left unmarked, not "not found".
    assert head["nik"] not in results(engine)


def test_scope_and_roles(engine: Engine, tmp_path: Path) -> None:
    people = registry(engine, tmp_path / "batch")
    path = write_extract(tmp_path / "ekstrak.csv", every_outcome(people))
    for name in ("operator", "verifier", "determiner", "auditor"):
        with pytest.raises(PermissionDenied):
            run_civil_import(engine, path, actor=name)
    add_admin(engine, "desa_admin", "31.71.01")
    with pytest.raises(PermissionDenied, match="kabupaten/kota"):
        run_civil_import(engine, path, actor="desa_admin")
    # An admin of Kota Bandung marks Bandung's members: none of Gambir's.
    add_admin(engine, "bandung_admin", "32.73")
    summary = run_civil_import(engine, path, actor="bandung_admin")
    assert (summary.region, summary.members, summary.proposals) == ("32.73", 0, 0)
    with pytest.raises(PermissionDenied):
        run_civil_import(
            engine,
            write_extract(tmp_path / "b.csv", every_outcome(people)[:3]),
            actor="bandung_admin",
            region="31.71",
        )
    add_admin(engine, "jakpus_admin", "31.71")
    summary = run_civil_import(
        engine, write_extract(tmp_path / "c.csv", every_outcome(people)[:5]), actor="jakpus_admin"
    )
    assert summary.members == 8 and summary.region == "31.71"
    with session_scope(engine) as session:
        found = report.match_rate(session, user(session, "other_verifier"))
        assert found.total.members == 0
        found = report.match_rate(session, user(session, "verifier"))
        assert (found.region, found.level, found.total.members) == ("31.71", "district", 8)


def test_an_extract_of_another_area_is_refused_unless_forced(
    engine: Engine, tmp_path: Path
) -> None:
    people = registry(engine, tmp_path / "batch")
    import lumbung.civil.service as service

    rows = every_outcome(people)[:1]
    path = write_extract(tmp_path / "ekstrak.csv", rows)
    floor = service.NOT_FOUND_FLOOR
    service.NOT_FOUND_FLOOR = 2
    try:
        with pytest.raises(ValidationFailed, match="bukan untuk wilayah"):
            run_civil_import(engine, path)
        summary = run_civil_import(engine, path, force=True)
    finally:
        service.NOT_FOUND_FLOOR = floor
    assert (summary.matched, summary.not_found) == (1, 8)


def test_the_report_per_region(engine: Engine, tmp_path: Path) -> None:
    people = registry(engine, tmp_path / "batch")
    path = write_extract(tmp_path / "ekstrak.csv", every_outcome(people))
    run_civil_import(engine, path)
    with session_scope(engine) as session:
        found = report.match_rate(session, user(session, "auditor"))
        assert found.level == "province"
        assert [(r.region_code, r.rates.members) for r in found.rows] == [("31", 8)]
        total = found.total
        assert (total.matched, total.mismatched, total.deceased, total.not_found) == (2, 4, 1, 1)
        assert total.percent["matched"] == 25.0 and total.percent["not_found"] == 12.5
        assert total.fields["birth_date_swapped"] == 1
        deeper = report.match_rate(
            session, user(session, "auditor"), region="31.71", level="district"
        )
        assert [(r.region_code, r.region_name, r.rates.members) for r in deeper.rows] == [
            ("31.71.01", "Gambir", 8)
        ]


def test_proposals_past_the_bound_are_deferred_to_the_next_import(
    engine: Engine, tmp_path: Path
) -> None:
    people = registry(engine, tmp_path / "batch")
    rows = every_outcome(people)
    first = run_civil_import(engine, write_extract(tmp_path / "a.csv", rows), max_proposals=1)
    assert (first.proposals, first.proposals_deferred, first.proposals_refused) == (1, 2, 0)
    deferred = [r for r in results(engine).values() if r["note"]]
    assert len(deferred) == 2 and all(r["note"].startswith("Ditunda") for r in deferred)
    second = run_civil_import(
        engine, write_extract(tmp_path / "b.csv", list(reversed(rows))), max_proposals=1
    )
    assert (second.proposals, second.proposals_open, second.proposals_deferred) == (1, 1, 1)
    assert len(requests(engine)) == 2


def test_removals_of_members_not_found_wait_for_their_number_to_be_confirmed(
    engine: Engine, tmp_path: Path
) -> None:
    """A partial extract (here: the first family's head alone, of nine members) would propose
    removing everyone else: nothing is marked or proposed until the importer confirms the
    number of removals it was shown, and the coverage is said in words."""
    people = registry(engine, tmp_path / "batch")
    path = write_extract(tmp_path / "sebagian.csv", every_outcome(people)[:1])
    before = (requests(engine), flags(engine))
    asked = run_civil_import(engine, path, confirm=False)
    assert asked.needs_confirmation and (asked.removals, asked.members) == (8, 9)
    assert asked.import_id is None and asked.proposals == 0
    assert "akan mengusulkan penghapusan 8 anggota wilayah nasional" in asked.message
    assert "hanya 1 dari 9 anggota wilayah nasional (11 %) ada di ekstrak ini" in asked.warning
    assert (requests(engine), flags(engine)) == before
    with session_scope(engine) as session:
        assert session.execute(select(CivilImport)).first() is None
    # Another number than the one shown: asked again, in words, still nothing written.
    stale = run_civil_import(engine, path, confirm=False, confirm_removals=3)
    assert stale.needs_confirmation and "(3) tidak sama" in stale.message
    assert (requests(engine), flags(engine)) == before
    done = run_civil_import(engine, path, confirm=False, confirm_removals=8)
    assert not done.needs_confirmation and done.import_id is not None
    assert done.not_found == 8 and done.proposals > 0 and done.warning == asked.warning
    assert len(requests(engine)) == done.proposals
    # An extract that finds everyone asks nothing: imported at once.
    everyone = write_extract(tmp_path / "lengkap.csv", [extract_row(p) for p in people.values()])
    whole = run_civil_import(engine, everyone, confirm=False)
    assert (whole.needs_confirmation, whole.removals, whole.warning) == (False, 0, "")
    assert whole.import_id is not None and whole.matched == 9
