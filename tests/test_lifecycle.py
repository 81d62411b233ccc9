"""Change requests end to end (propose → verify → determine / reject) and bulk decisions.

Every step runs the way a command runs it: one committed transaction, the acting user loaded
in it. Each test reads the outcome back from the database, audit events included.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conftest import add_user, user
from factories import OTHER_VILLAGE, family, kk, member, nik, write_batch
from helpers import run_import
from lumbung import migrate
from lumbung.audit import service as audit
from lumbung.audit.models import AuditEvent
from lumbung.auth.models import User
from lumbung.auth.roles import Role
from lumbung.db import session_scope
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.models import Base
from lumbung.registry import decisions, history, proposals, request_views, workflow
from lumbung.registry.decisions import DecisionResult
from lumbung.registry.models import ChangeRequest, Household, Member
from lumbung.registry.validation import typed

HEAD = migrate.head()

pytestmark = pytest.mark.usefixtures("users")

T = TypeVar("T")
Event = tuple[str, str, str, str, dict[str, Any]]


# --- helpers: one committed unit of work per step ------------------------------------------


def as_user(engine: Engine, username: str, work: Callable[[Session, User], T]) -> T:
    with session_scope(engine) as session:
        return work(session, user(session, username))


def propose(
    engine: Engine,
    kind: str,
    payload: dict[str, Any],
    *,
    username: str = "operator",
    kk_number: str | None = None,
    base_version: int | None = None,
) -> int:
    return as_user(
        engine,
        username,
        lambda s, u: (
            proposals.propose(
                s,
                actor=u,
                kind=kind,
                payload=payload,
                kk_number=kk_number,
                base_version=base_version,
            ).request.id
        ),
    )


def member_change(
    engine: Engine, kk_number: str, member_nik: str, changes: dict[str, Any], base_version: int
) -> int:
    """An operator's proposal to change one member's values."""
    return propose(
        engine,
        "update_member",
        {"nik": member_nik, "changes": changes},
        kk_number=kk_number,
        base_version=base_version,
    )


def verify(engine: Engine, request_id: int, username: str = "verifier") -> str:
    return as_user(
        engine, username, lambda s, u: workflow.verify(s, actor=u, request_id=request_id).state
    )


def determine(engine: Engine, request_id: int, username: str = "determiner") -> str:
    return as_user(
        engine, username, lambda s, u: workflow.determine(s, actor=u, request_id=request_id).state
    )


def reject(engine: Engine, request_id: int, reason: str, username: str = "verifier") -> str:
    return as_user(
        engine,
        username,
        lambda s, u: workflow.reject(s, actor=u, request_id=request_id, reason=reason).state,
    )


def decide(engine: Engine, username: str, decision: str, **options: Any) -> DecisionResult:
    return as_user(
        engine,
        username,
        lambda s, u: decisions.decide(s, actor=u, decision=decision, **options),
    )


def request_row(engine: Engine, request_id: int) -> ChangeRequest:
    with session_scope(engine) as session:
        request = session.get(ChangeRequest, request_id)
        assert request is not None
        return request


def household_row(engine: Engine, kk_number: str) -> Household:
    with session_scope(engine) as session:
        return session.execute(
            select(Household).where(Household.kk_number == kk_number)
        ).scalar_one()


def members_of(engine: Engine, kk_number: str) -> dict[str, str]:
    """NIK → member status of one family."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Member.nik, Member.status)
            .join(Household, Household.id == Member.household_id)
            .where(Household.kk_number == kk_number)
        ).all()
    return {str(n): str(status) for n, status in rows}


def last_event_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_event")).scalar_one())


def events_after(engine: Engine, event_id: int) -> list[Event]:
    """(actor, action, entity, entity_id, diff) of every event newer than `event_id`."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.id > event_id).order_by(AuditEvent.id)
        ).scalars()
        # A determination's `version` (the family's, for audit verify) has tests of its own.
        return [
            (
                e.actor,
                e.action,
                e.entity,
                e.entity_id,
                {
                    k: v
                    for k, v in e.diff.items()
                    if k != "version" or not e.action.startswith("request.determine")
                },
            )
            for e in rows
        ]


def chain_ok(engine: Engine) -> bool:
    with session_scope(engine) as session:
        return audit.verify(session).ok


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def new_family_payload(serial: int, **household_over: Any) -> dict[str, Any]:
    household, members = family(serial, **household_over)
    return {"household": household, "members": members}


def approved_family(engine: Engine, tmp_path: Path, serial: int) -> tuple[str, int]:
    """A family already in the registry (migrated as approved); its KK and version."""
    household, members = family(serial)
    run_import(
        engine,
        write_batch(tmp_path / f"approved-{serial}", [household], members),
        status="approved",
    )
    row = household_row(engine, kk(serial))
    assert row.status == "approved"
    return row.kk_number, row.version


def child(kk_number: str, serial: int, **over: Any) -> dict[str, Any]:
    values = member(
        kk_number,
        date(2019, 5, 5),
        "P",
        "anak",
        serial,
        name="PUTRI",
        school_level="paud",
        education="tidak_sekolah",
        occupation="tidak_bekerja",
    )
    values.update(over)
    return values


# --- each kind, end to end -----------------------------------------------------------------


def test_new_family_proposed_verified_determined_with_an_audit_event_per_step(
    engine: Engine,
) -> None:
    start = last_event_id(engine)
    payload = new_family_payload(1)
    request_id = propose(engine, "new_family", payload)

    household = household_row(engine, kk(1))
    assert (household.status, household.village_code, household.regency_code) == (
        "proposed",
        "31.71.01.1001",
        "31.71",
    )
    assert household.import_batch_id is None
    assert sorted(members_of(engine, kk(1)).values()) == ["active"] * 3
    request = request_row(engine, request_id)
    assert (request.kind, request.state, request.proposed_by) == (
        "new_family",
        "proposed",
        "operator",
    )
    assert request.household_id == household.id
    assert request.village_code == "31.71.01.1001"
    assert events_after(engine, start) == [
        (
            "operator",
            "request.propose.new_family",
            "change_request",
            str(request_id),
            {"kk_number": kk(1), "payload": payload},
        )
    ]

    step = last_event_id(engine)
    assert verify(engine, request_id) == "verified"
    assert household_row(engine, kk(1)).status == "verified"
    assert request_row(engine, request_id).verified_by == "verifier"
    assert events_after(engine, step) == [
        ("verifier", "request.verify", "change_request", str(request_id), {"kind": "new_family"})
    ]

    step = last_event_id(engine)
    assert determine(engine, request_id) == "approved"
    household = household_row(engine, kk(1))
    assert household.status == "approved"
    request = request_row(engine, request_id)
    assert (request.state, request.decided_by) == ("approved", "determiner")
    assert request.decided_at is not None
    [(actor, action, entity, entity_id, diff)] = events_after(engine, step)
    assert (actor, action, entity, entity_id) == (
        "determiner",
        "request.determine.new_family",
        "household",
        str(household.id),
    )
    assert diff["request"] == request_id
    assert diff["kk_number"] == kk(1)
    assert chain_ok(engine)


def test_update_changes_only_the_named_columns_and_bumps_the_version(
    engine: Engine, tmp_path: Path
) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    start = last_event_id(engine)
    changes = {"floor_area_m2": "48", "toilet": "bersama", "rt": "7"}
    request_id = propose(
        engine, "update", {"changes": changes}, kk_number=kk_number, base_version=version
    )
    # A proposal changes nothing until it is determined.
    assert household_row(engine, kk_number).floor_area_m2 == 36.0
    assert request_row(engine, request_id).base_version == version
    verify(engine, request_id)
    determine(engine, request_id)

    household = household_row(engine, kk_number)
    assert (household.floor_area_m2, household.toilet, household.rt) == (48.0, "bersama", "007")
    assert (household.wall_material, household.status) == ("tembok", "approved")
    assert household.version > version
    actions = [e[1] for e in events_after(engine, start)]
    assert actions == ["request.propose.update", "request.verify", "request.determine.update"]
    diff = events_after(engine, start)[-1][4]
    assert diff["changed"] == {
        "floor_area_m2": ["36", "48"],
        "toilet": ["sendiri", "bersama"],
        "rt": ["001", "007"],
    }
    assert chain_ok(engine)


def test_stored_fractions_and_json_values_survive_an_update(engine: Engine, tmp_path: Path) -> None:
    """A floor area of 36,125 m² must not come back as 36125 (a dot read as a thousands
    separator) when the family is re-checked for an unrelated change."""
    h, m = family(1, floor_area_m2="36,125", latitude="-6,175")
    run_import(engine, write_batch(tmp_path / "b", [h], m), status="approved")
    household = household_row(engine, kk(1))
    assert (household.floor_area_m2, household.latitude) == (36.125, -6.175)

    def update(changes: dict[str, Any]) -> Household:
        version = household_row(engine, kk(1)).version
        request_id = propose(
            engine, "update", {"changes": changes}, kk_number=kk(1), base_version=version
        )
        verify(engine, request_id)
        determine(engine, request_id)
        return household_row(engine, kk(1))

    household = update({"toilet": "umum"})
    assert (household.toilet, household.floor_area_m2, household.latitude) == (
        "umum",
        36.125,
        -6.175,
    )
    # JSON values as a client sends them: numbers and booleans, not only strings.
    earlier = household_row(engine, kk(1))
    household = update({"floor_area_m2": 42.375, "motorbikes": 3, "has_car": True})
    assert (household.floor_area_m2, household.motorbikes, household.has_car) == (42.375, 3, True)
    # The determined request shows what it changed from, typed as the family's values are.
    with session_scope(engine) as session:
        last = session.execute(select(ChangeRequest.id).order_by(ChangeRequest.id.desc())).first()
    assert last is not None
    view = as_user(
        engine, "verifier", lambda s, u: request_views.show(s, actor=u, request_id=last[0])
    )
    assert view.before == {
        c: getattr(earlier, c)
        for c in ("floor_area_m2", "motorbikes", "has_car")
        if getattr(earlier, c) != getattr(household, c)
    }
    assert view.before["floor_area_m2"] == 36.125 and view.current["floor_area_m2"] == 42.375
    household = update({"floor_area_m2": "1.500"})  # Indonesian notation in a string
    assert household.floor_area_m2 == 1500.0


def test_moving_a_family_updates_its_region_codes(engine: Engine, tmp_path: Path) -> None:
    add_user(engine, "operator_gambir", Role.OPERATOR, "31.71.01")
    kk_number, version = approved_family(engine, tmp_path, 1)
    request_id = propose(
        engine,
        "update",
        {"changes": {"village_code": "3171011002"}},
        kk_number=kk_number,
        base_version=version,
        username="operator_gambir",
    )
    pending = propose(  # by the operator of the village the family is about to leave
        engine, "update", {"changes": {"toilet": "umum"}}, kk_number=kk_number, base_version=version
    )
    verify(engine, request_id)
    determine(engine, request_id)
    household = household_row(engine, kk_number)
    assert (household.village_code, household.district_code, household.regency_code) == (
        "31.71.01.1002",
        "31.71.01",
        "31.71",
    )
    # Its open request went with it: the village it left no longer sees it.
    assert request_row(engine, pending).village_code == "31.71.01.1002"
    with pytest.raises(NotFound):
        as_user(engine, "operator", lambda s, u: request_views.show(s, actor=u, request_id=pending))
    seen = as_user(
        engine, "operator_gambir", lambda s, u: request_views.show(s, actor=u, request_id=pending)
    )
    assert seen.kk_number == kk_number
    # The family now lies outside the first operator's village: for them, it is not there.
    with pytest.raises(NotFound):
        propose(
            engine,
            "exit",
            {"reason": "pindah"},
            kk_number=kk_number,
            base_version=household.version,
        )
    # The move itself, proposed in (and so shown to) the village it left, tells that village
    # nothing of the family as it is now: not its state, version or values.
    add_user(engine, "operator_1001", Role.OPERATOR, "31.71.01.1001")
    old_village = as_user(
        engine, "operator_1001", lambda s, u: request_views.show(s, actor=u, request_id=request_id)
    )
    assert (old_village.household_status, old_village.household_version) == (None, None)
    assert old_village.current == {}
    new_village = as_user(
        engine,
        "operator_gambir",
        lambda s, u: request_views.show(s, actor=u, request_id=request_id),
    )
    assert new_village.current == {"village_code": "31.71.01.1002"}


def test_add_member_then_remove_member(engine: Engine, tmp_path: Path) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    newborn = child(kk_number, 14)
    del newborn["kk_number"]  # the request names the family; the member need not repeat it
    start = last_event_id(engine)
    add_id = propose(
        engine, "add_member", {"member": newborn}, kk_number=kk_number, base_version=version
    )
    assert newborn["nik"] not in members_of(engine, kk_number)
    # A new member with the NIK of one already in the family is refused for what it is, not
    # as a family without a head (which it would be, checked as a batch).
    [head_nik, *_] = members_of(engine, kk_number)
    with pytest.raises(ValidationFailed, match=f"NIK {head_nik} sudah dipakai") as refused:
        propose(
            engine,
            "add_member",
            {"member": {**newborn, "nik": head_nik}},
            kk_number=kk_number,
            base_version=version,
        )
    assert "no_head" not in str(refused.value) and "batch" not in str(refused.value)
    verify(engine, add_id)
    determine(engine, add_id)
    assert members_of(engine, kk_number)[newborn["nik"]] == "active"
    with session_scope(engine) as session:
        added = session.execute(select(Member).where(Member.nik == newborn["nik"])).scalar_one()
        assert (added.name, added.name_normalised, added.birth_date, added.pregnant) == (
            "PUTRI",
            "putri",
            date(2019, 5, 5),
            False,
        )
    household = household_row(engine, kk_number)
    assert household.version > version

    son = nik(date(2015, 1, 20), "L", 13)
    remove_id = propose(
        engine,
        "remove_member",
        {"nik": son, "status": "moved"},
        kk_number=kk_number,
        base_version=household.version,
    )
    verify(engine, remove_id)
    determine(engine, remove_id)
    statuses = members_of(engine, kk_number)
    assert statuses[son] == "moved"
    assert sorted(statuses.values()) == ["active", "active", "active", "moved"]
    assert household_row(engine, kk_number).version > household.version
    actions = [e[1] for e in events_after(engine, start)]
    assert actions == [
        "request.propose.add_member",
        "request.verify",
        "request.determine.add_member",
        "request.propose.remove_member",
        "request.verify",
        "request.determine.remove_member",
    ]


def test_update_member_changes_the_members_values_and_the_audit_names_them(
    engine: Engine, tmp_path: Path
) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    wife, son = nik(date(1983, 7, 1), "P", 12), nik(date(2015, 1, 20), "L", 13)
    start = last_event_id(engine)
    pregnancy = member_change(
        engine, kk_number, wife, {"pregnant": "1", "name": "Hj. Siti  Aminah"}, version
    )
    assert as_user(
        engine,
        "verifier",
        lambda s, u: request_views.show(s, actor=u, request_id=pregnancy).current,
    ) == {wife: {"pregnant": False, "name": "SITI AMINAH"}}
    verify(engine, pregnancy)
    determine(engine, pregnancy)
    with session_scope(engine) as session:
        changed = session.execute(select(Member).where(Member.nik == wife)).scalar_one()
        assert (changed.pregnant, changed.name, changed.name_normalised) == (
            True,
            "Hj. Siti  Aminah",
            "siti aminah",
        )
        wife_id = changed.id
    after_pregnancy = household_row(engine, kk_number).version
    assert after_pregnancy > version  # a member's change is the family's change

    # A mistyped NIK corrected: checked as a new one would be, then the member carries it.
    corrected = nik(date(2015, 1, 20), "L", 19)
    fix = member_change(engine, kk_number, son, {"nik": corrected}, after_pregnancy)
    verify(engine, fix)
    determine(engine, fix)
    assert members_of(engine, kk_number) == {
        nik(date(1980, 3, 12), "L", 11): "active",
        wife: "active",
        corrected: "active",
    }
    events = events_after(engine, start)
    assert [e[1] for e in events] == [
        "request.propose.update_member",
        "request.verify",
        "request.determine.update_member",
        "request.propose.update_member",
        "request.verify",
        "request.determine.update_member",
    ]
    assert events[2][4]["changed"] == {}
    assert events[2][4]["members_changed"] == [
        {
            "member_id": wife_id,
            "nik": wife,
            "changes": {"name": ["SITI AMINAH", "Hj. Siti  Aminah"], "pregnant": ["0", "1"]},
        }
    ]
    [correction] = events[5][4]["members_changed"]
    assert (correction["nik"], correction["changes"]) == (corrected, {"nik": [son, corrected]})
    assert chain_ok(engine)


def test_update_member_is_checked_with_the_whole_family(engine: Engine, tmp_path: Path) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    _, other_members = family(2)
    run_import(engine, write_batch(tmp_path / "other", [family(2)[0]], other_members))
    head, wife, son = (
        nik(date(1980, 3, 12), "L", 11),
        nik(date(1983, 7, 1), "P", 12),
        nik(date(2015, 1, 20), "L", 13),
    )
    refused: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"nik": son, "changes": {"pregnant": "1"}}, ValidationFailed, "Hamil"),
        ({"nik": son, "changes": {"sex": "P"}}, ValidationFailed, "nik_mismatch"),
        ({"nik": son, "changes": {"relationship": "kepala_keluarga"}}, ValidationFailed, "heads"),
        ({"nik": head, "changes": {"relationship": "anak"}}, ValidationFailed, "no_head"),
        ({"nik": son, "changes": {"nik": wife}}, ValidationFailed, "duplicate_nik"),
        ({"nik": son, "changes": {"nik": other_members[2]["nik"]}}, Conflict, "duplicate_nik"),
        ({"nik": son, "changes": {"nik": "3171011501159999"}}, ValidationFailed, "nik"),
        ({"nik": son, "changes": {"kk_number": kk(3)}}, ValidationFailed, "tidak dikenal"),
        ({"nik": son, "changes": {}}, ValidationFailed, "butuh 'changes'"),
        ({"nik": son, "changes": "pregnant"}, ValidationFailed, "butuh 'changes'"),
        ({"nik": other_members[0]["nik"], "changes": {"name": "X"}}, NotFound, "bukan anggota"),
        ({"changes": {"name": "X"}}, ValidationFailed, "butuh 'nik'"),
        ({"nik": son, "changes": {"school_level": "sd"}}, ValidationFailed, "tidak mengubah"),
        ({"members": [{"nik": son, "changes": {"name": "A"}}] * 2}, ValidationFailed, "sekali"),
        ({"members": []}, ValidationFailed, "members"),
        # The same values written otherwise are no change (compared as the checks type them).
        ({"nik": son, "changes": {"birth_date": "20/01/2015"}}, ValidationFailed, "tidak mengubah"),
        ({"nik": son, "changes": {"nik": f" {son} "}}, ValidationFailed, "tidak mengubah"),
        # Members are named by the NIK they have now: a second item cannot name the NIK a first
        # one brings in (which would slip past the registry's duplicate check).
        (
            {
                "members": [
                    {"nik": son, "changes": {"nik": other_members[2]["nik"]}},
                    {"nik": other_members[2]["nik"], "changes": {"name": "X"}},
                ]
            },
            NotFound,
            "bukan anggota",
        ),
    ]
    for payload, error, match in refused:
        with pytest.raises(error, match=match):
            propose(engine, "update_member", payload, kk_number=kk_number, base_version=version)
    assert count(engine, "SELECT count(*) FROM change_request") == 0
    assert household_row(engine, kk_number).version == version


def test_a_member_update_and_a_family_update_cannot_pass_each_other(
    engine: Engine, tmp_path: Path
) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    son = nik(date(2015, 1, 20), "L", 13)
    school = member_change(engine, kk_number, son, {"school_level": "smp"}, version)
    floor = propose(
        engine,
        "update",
        {"changes": {"floor_material": "keramik"}},
        kk_number=kk_number,
        base_version=version,
    )
    leaves = propose(
        engine,
        "remove_member",
        {"nik": son, "status": "moved"},
        kk_number=kk_number,
        base_version=version,
    )
    for request_id in (school, floor, leaves):
        verify(engine, request_id)
    determine(engine, leaves)  # the son moves out before his school level is decided
    for request_id in (school, floor):
        with pytest.raises(Conflict, match="berubah sejak usulan"):
            determine(engine, request_id)
        assert request_row(engine, request_id).state == "verified"
    with session_scope(engine) as session:
        moved = session.execute(select(Member).where(Member.nik == son)).scalar_one()
        assert (moved.status, moved.school_level) == ("moved", "sd")


def test_a_new_head_of_family_when_the_head_dies_or_hands_over(
    engine: Engine, tmp_path: Path
) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    head, wife = nik(date(1980, 3, 12), "L", 11), nik(date(1983, 7, 1), "P", 12)
    # One member at a time, the family would be left without a head, or with two.
    with pytest.raises(ValidationFailed, match=r"no_head.*new_head"):
        propose(
            engine,
            "remove_member",
            {"nik": head, "status": "deceased"},
            kk_number=kk_number,
            base_version=version,
        )
    handover = {
        "members": [
            {"nik": head, "changes": {"relationship": "istri_suami"}},
            {"nik": wife, "changes": {"relationship": "kepala_keluarga"}},
        ]
    }
    swap = propose(engine, "update_member", handover, kk_number=kk_number, base_version=version)
    shown = as_user(
        engine, "verifier", lambda s, u: request_views.show(s, actor=u, request_id=swap)
    )
    assert shown.current == {
        head: {"relationship": "kepala_keluarga"},
        wife: {"relationship": "istri_suami"},
    }
    verify(engine, swap)
    determine(engine, swap)
    assert relationships_of(engine, kk_number) == {
        head: "istri_suami",
        wife: "kepala_keluarga",
        **SON,
    }
    # And back: now the new head's row comes after the old one's (the unique index on the
    # active head is checked row by row).
    back = {
        "members": [
            {"nik": wife, "changes": {"relationship": "istri_suami"}},
            {"nik": head, "changes": {"relationship": "kepala_keluarga"}},
        ]
    }
    again = propose(
        engine,
        "update_member",
        back,
        kk_number=kk_number,
        base_version=household_row(engine, kk_number).version,
    )
    verify(engine, again)
    determine(engine, again)
    assert relationships_of(engine, kk_number) == {
        head: "kepala_keluarga",
        wife: "istri_suami",
        **SON,
    }
    # The head dies: the wife follows in the same request.
    died = propose(
        engine,
        "remove_member",
        {"nik": head, "status": "deceased", "new_head": wife},
        kk_number=kk_number,
        base_version=household_row(engine, kk_number).version,
    )
    verify(engine, died)
    determine(engine, died)
    assert relationships_of(engine, kk_number) == {wife: "kepala_keluarga", **SON}
    assert members_of(engine, kk_number)[head] == "deceased"
    assert chain_ok(engine)


SON = {nik(date(2015, 1, 20), "L", 13): "anak"}


def relationships_of(engine: Engine, kk_number: str) -> dict[str, str]:
    """NIK → relationship of the family's active members."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Member.nik, Member.relationship)
            .join(Household, Household.id == Member.household_id)
            .where(Household.kk_number == kk_number, Member.status == "active")
        ).all()
    return {str(n): str(r) for n, r in rows}


def test_a_request_on_a_family_changed_since_is_refused_at_verification(
    engine: Engine, tmp_path: Path
) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    first, second = (
        propose(
            engine,
            "update",
            {"changes": {"toilet": toilet}},
            kk_number=kk_number,
            base_version=version,
        )
        for toilet in ("umum", "bersama")
    )
    verify(engine, first)
    determine(engine, first)
    with pytest.raises(Conflict, match="berubah sejak usulan") as refused:
        verify(engine, second)
    # The way out: in words for every front end, and the command for the command line.
    assert "tolak usulan ini" in refused.value.message and "lumbung" not in refused.value.message
    assert f"lumbung request reject {second}" in refused.value.for_command_line()
    assert request_row(engine, second).state == "proposed"
    assert reject(engine, second, "data keluarga sudah berubah") == "rejected"


def test_a_member_with_an_allowed_duplicate_nik_can_be_updated_and_corrected(
    engine: Engine, tmp_path: Path
) -> None:
    approved_family(engine, tmp_path, 1)
    wife = nik(date(1983, 7, 1), "P", 12)
    household, members = family(3)
    members[1].update(nik=wife, birth_date="1983-07-01")  # the same NIK as family 1's wife
    run_import(
        engine,
        write_batch(tmp_path / "dup", [household], members),
        allow_duplicates=True,
        status="approved",
    )
    review_id = count(engine, "SELECT max(id) FROM duplicate_review")
    version = household_row(engine, kk(3)).version
    # Her own NIK is active elsewhere: that is under review, and no reason to refuse a change.
    renamed = member_change(engine, kk(3), wife, {"occupation": "petani"}, version)
    verify(engine, renamed)
    determine(engine, renamed)
    corrected = nik(date(1983, 7, 1), "P", 39)
    start = last_event_id(engine)
    fix = member_change(
        engine, kk(3), f" {wife} ", {"nik": corrected}, household_row(engine, kk(3)).version
    )  # stray spaces, as typed
    assert request_row(engine, fix).payload == {
        "members": [{"nik": wife, "changes": {"nik": corrected}}]
    }
    verify(engine, fix)
    determine(engine, fix)
    assert members_of(engine, kk(3))[corrected] == "active"
    assert members_of(engine, kk(1))[wife] == "active"
    with engine.connect() as conn:
        state, resolution = conn.execute(
            text("SELECT state, resolution FROM duplicate_review WHERE id = :id"),
            {"id": review_id},
        ).one()
    assert state == "resolved" and f"{wife} → {corrected}" in resolution
    assert events_after(engine, start)[-1][4]["duplicate_reviews_resolved"] == [review_id]
    found = as_user(
        engine, "verifier", lambda s, u: history.family_history(s, actor=u, kk_number=kk(3))
    )
    assert found.events[-1].changes["duplicate_reviews_resolved"] == [review_id]


def test_determination_checks_a_corrected_nik_against_the_registry_of_that_day(
    engine: Engine, tmp_path: Path
) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    son, corrected = nik(date(2015, 1, 20), "L", 13), nik(date(2015, 1, 20), "L", 19)
    fix = member_change(engine, kk_number, son, {"nik": corrected}, version)
    verify(engine, fix)
    household, members = family(2)
    members[2]["nik"] = corrected  # meanwhile another family brings that NIK in
    run_import(engine, write_batch(tmp_path / "other", [household], members), status="approved")
    with pytest.raises(Conflict, match="duplicate_nik"):
        determine(engine, fix)
    assert request_row(engine, fix).state == "verified"
    assert members_of(engine, kk_number)[son] == "active"
    assert corrected not in members_of(engine, kk_number)


def test_the_update_member_migration_keeps_its_requests(engine: Engine, tmp_path: Path) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    son = nik(date(2015, 1, 20), "L", 13)
    payload = {"nik": son, "changes": {"school_level": "smp"}}
    request_id = propose(
        engine, "update_member", payload, kk_number=kk_number, base_version=version
    )
    try:
        with pytest.raises(RuntimeError, match="1 usulan update_member"):
            migrate.downgrade(engine, "0004")
        assert migrate.current(engine) == HEAD and request_row(engine, request_id)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM change_request"))
        migrate.downgrade(engine, "0004")
        assert "ck_change_request_kind" in check_constraints(engine)
        # The old CHECK (in SQL: the models are the newest schema's).
        with pytest.raises(IntegrityError, match="ck_change_request_kind"), engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO change_request (kind, household_id, village_code, payload, "
                    "state, proposed_by, proposed_at) SELECT 'update_member', id, village_code, "
                    "'{}', 'proposed', 'operator', CURRENT_TIMESTAMP FROM household"
                )
            )
    finally:
        migrate.upgrade(engine)
    assert migrate.current(engine) == HEAD
    assert {"ck_change_request_kind", "ck_change_request_state"} <= check_constraints(engine)
    assert propose(engine, "update_member", payload, kk_number=kk_number, base_version=version)


IDENTIFIER_NAMES = ("nik", "kk_number", "district_code", "regency_code", "province_code")


def test_identifiers_are_compared_as_bytes_and_the_migration_keeps_the_registry(
    engine: Engine, tmp_path: Path
) -> None:
    """On PostgreSQL, NIKs, KK numbers and region codes have the "C" collation (their indexes
    build twice as fast); the migration down and up again keeps every row, and a NIK is still
    found through its index. SQLite has nothing to change."""
    kk_number, _ = approved_family(engine, tmp_path, 1)
    postgres = engine.dialect.name == "postgresql"

    def collations() -> set[tuple[str, str, str | None]]:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT table_name, column_name, collation_name "
                    "FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND column_name IN ('nik', 'kk_number', 'district_code', 'regency_code', "
                    "'province_code')"
                )
            )
            return {(str(t), str(c), n) for t, c, n in rows}

    try:
        migrate.downgrade(engine, "0005")
        if postgres:
            assert ("member", "nik", None) in collations()
        assert members_of(engine, kk_number)
    finally:
        migrate.upgrade(engine)
    assert migrate.current(engine) == HEAD
    assert len(members_of(engine, kk_number)) == 3
    if postgres:
        registry = {("household", c) for c in ("kk_number", "district_code", "regency_code")}
        registry |= {("household", "province_code"), ("member", "nik"), ("duplicate_review", "nik")}
        registry |= {("member", "regency_code")}  # since 0010: the copy a name search uses
        # The tables added since (delivery, in-kind aid, vouchers) declare theirs with
        # `db.identifier` too: every such column the models declare, and no other, is "C".
        registry |= {
            (table.name, column.name)
            for table in Base.metadata.sorted_tables
            for column in table.columns
            if table.name not in ("household", "member", "duplicate_review")
            and column.name
            in ("nik", "kk_number", "district_code", "regency_code", "province_code")
            and getattr(column.type.dialect_impl(engine.dialect), "collation", None) == "C"
        }
        assert {(t, c) for t, c, n in collations() if n == "C"} == registry
        with engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))
            plan = conn.execute(
                text("EXPLAIN SELECT id FROM member WHERE nik = :nik"), {"nik": "3171011203800011"}
            ).scalars()
            assert "ix_member_nik" in " ".join(plan)


def check_constraints(engine: Engine) -> set[str]:
    return {str(c["name"]) for c in inspect(engine).get_check_constraints("change_request")}


def test_a_proposal_tells_what_the_checks_noted_without_refusing(
    engine: Engine, tmp_path: Path
) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    # Issued in a regency that is no longer in the list (31.99): noted, as an import notes it.
    newborn = child(kk_number, 14, nik="3199994505190014")
    proposal = as_user(
        engine,
        "operator",
        lambda s, u: proposals.propose(
            s,
            actor=u,
            kind="add_member",
            payload={"member": newborn},
            kk_number=kk_number,
            base_version=version,
        ),
    )
    assert [(w["nik"], w["column"], w["code"]) for w in proposal.warnings] == [
        ("3199994505190014", "nik", "nik_region_unknown")
    ]
    assert request_row(engine, proposal.request.id).state == "proposed"


def test_a_familys_history_from_the_audit_chain(engine: Engine, tmp_path: Path) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    approved_family(engine, tmp_path, 2)  # another family's requests are not in this history
    other = propose(
        engine,
        "update",
        {"changes": {"toilet": "umum"}},
        kk_number=kk(2),
        base_version=household_row(engine, kk(2)).version,
    )
    wife = nik(date(1983, 7, 1), "P", 12)
    refused = propose(
        engine, "update", {"changes": {"toilet": "umum"}}, kk_number=kk_number, base_version=version
    )
    reject(engine, refused, "foto jamban tidak ada")
    pregnancy = member_change(engine, kk_number, wife, {"pregnant": "1"}, version)
    verify(engine, pregnancy)
    determine(engine, pregnancy)
    found = as_user(
        engine, "verifier", lambda s, u: history.family_history(s, actor=u, kk_number=kk_number)
    )
    assert (found.status, found.status_reason) == ("approved", None)
    assert found.version == household_row(engine, kk_number).version
    said = [(e.action, e.request, e.reason) for e in found.events]
    assert said == [
        ("registry.import", None, None),
        ("request.propose.update", refused, None),
        ("request.reject", refused, "foto jamban tidak ada"),
        ("request.propose.update_member", pregnancy, None),
        ("request.verify", pregnancy, None),
        ("request.determine.update_member", pregnancy, None),
    ]
    assert other not in {e.request for e in found.events}
    assert found.events[0].changes == {"import_batch": found.import_batch_id, "status": "approved"}
    assert found.events[3].changes == {
        "proposed": {"members": [{"nik": wife, "changes": {"pregnant": "1"}}]}
    }
    [member] = found.events[-1].changes["members"]
    # Typed as `registry show` gives them, not as the audit chain records them ("0", "1").
    assert (member["nik"], member["changes"]) == (wife, {"pregnant": [False, True]})
    recorded = {"has_car": "1", "motorbikes": "2", "floor_area_m2": "36,125", "toilet": "umum"}
    assert {c: typed(c, v) for c, v in recorded.items()} == {
        "has_car": True,
        "motorbikes": 2,
        "floor_area_m2": 36.125,
        "toilet": "umum",
    }
    assert typed("birth_date", "2015-01-20") == "2015-01-20"
    assert typed("mother_name", None) is None
    # Outside the reader's region, as for a KK that does not exist.
    with pytest.raises(NotFound):
        as_user(
            engine,
            "other_verifier",
            lambda s, u: history.family_history(s, actor=u, kk_number=kk_number),
        )


def test_exit_makes_the_family_inactive_and_closed_to_further_requests(
    engine: Engine, tmp_path: Path
) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    request_id = propose(
        engine,
        "exit",
        {"reason": "pindah ke luar negeri"},
        kk_number=kk_number,
        base_version=version,
    )
    verify(engine, request_id)
    start = last_event_id(engine)
    determine(engine, request_id)
    household = household_row(engine, kk_number)
    assert (household.status, household.status_reason) == ("inactive", "pindah ke luar negeri")
    # The chain records the move itself, and so does the family's history.
    [(_, action, _, _, diff)] = events_after(engine, start)
    assert action == "request.determine.exit"
    assert diff["changed"] == {
        "status": ["approved", "inactive"],
        "status_reason": [None, "pindah ke luar negeri"],
    }
    found = as_user(
        engine, "verifier", lambda s, u: history.family_history(s, actor=u, kk_number=kk_number)
    )
    assert found.events[-1].changes["household"] == diff["changed"]
    assert found.status_reason == "pindah ke luar negeri"
    with pytest.raises(Conflict, match="inactive"):
        propose(
            engine,
            "update",
            {"changes": {"toilet": "umum"}},
            kk_number=kk_number,
            base_version=household.version,
        )


def test_exit_without_a_reason_is_refused(engine: Engine, tmp_path: Path) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    with pytest.raises(ValidationFailed, match="alasan"):
        propose(engine, "exit", {"reason": "  "}, kk_number=kk_number, base_version=version)
    assert count(engine, "SELECT count(*) FROM change_request") == 0


# --- rejection -----------------------------------------------------------------------------


def test_reject_needs_a_reason_and_a_rejected_family_stays_out(engine: Engine) -> None:
    request_id = propose(engine, "new_family", new_family_payload(1))
    start = last_event_id(engine)
    with pytest.raises(ValidationFailed, match="alasan"):
        reject(engine, request_id, "   ")
    assert request_row(engine, request_id).state == "proposed"
    assert last_event_id(engine) == start

    assert reject(engine, request_id, "tidak hadir saat verifikasi lapangan") == "rejected"
    request = request_row(engine, request_id)
    assert (request.reason, request.decided_by) == (
        "tidak hadir saat verifikasi lapangan",
        "verifier",
    )
    household = household_row(engine, kk(1))
    assert (household.status, household.status_reason) == (
        "rejected",
        "tidak hadir saat verifikasi lapangan",
    )
    assert events_after(engine, start) == [
        (
            "verifier",
            "request.reject",
            "change_request",
            str(request_id),
            {"kind": "new_family", "reason": "tidak hadir saat verifikasi lapangan"},
        )
    ]
    with pytest.raises(Conflict):
        reject(engine, request_id, "lagi", username="determiner")
    with pytest.raises(Conflict):
        verify(engine, request_id)


def test_after_verification_only_the_ministry_may_reject(engine: Engine, tmp_path: Path) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    request_id = propose(
        engine, "update", {"changes": {"toilet": "umum"}}, kk_number=kk_number, base_version=version
    )
    verify(engine, request_id)
    with pytest.raises(PermissionDenied, match="sudah diverifikasi: kini hanya penetap"):
        reject(engine, request_id, "salah data", username="verifier")
    assert reject(engine, request_id, "salah data", username="determiner") == "rejected"
    with pytest.raises(Conflict):
        determine(engine, request_id)
    # A rejected update leaves the family as it was.
    household = household_row(engine, kk_number)
    assert (household.toilet, household.status, household.version) == (
        "sendiri",
        "approved",
        version,
    )


# --- roles, regions and states -------------------------------------------------------------


def test_each_role_does_only_its_own_step(engine: Engine) -> None:
    payload = new_family_payload(1)
    for username in ("auditor", "verifier", "determiner"):
        with pytest.raises(PermissionDenied, match="propose"):
            propose(engine, "new_family", payload, username=username)
    assert count(engine, "SELECT count(*) FROM household") == 0
    request_id = propose(engine, "new_family", payload)
    for username in ("operator", "determiner", "auditor", "admin"):
        with pytest.raises(PermissionDenied, match="verify"):
            verify(engine, request_id, username=username)
    verify(engine, request_id)
    for username in ("operator", "verifier", "auditor", "admin"):
        with pytest.raises(PermissionDenied, match="determine"):
            determine(engine, request_id, username=username)
    assert request_row(engine, request_id).state == "verified"
    determine(engine, request_id)
    assert request_row(engine, request_id).state == "approved"


def test_regions_outside_the_scope_are_refused(engine: Engine, tmp_path: Path) -> None:
    add_user(engine, "operator_cideng", Role.OPERATOR, "31.71.01.1002")
    add_user(engine, "verifier_jakut", Role.VERIFIER, "31.72")
    kk_number, version = approved_family(engine, tmp_path, 1)
    # An operator of another village can neither change this family nor create one here, and
    # is not told that it exists: the same answer as for a KK that is nowhere.
    for kk_asked in (kk_number, "3171011111119999"):
        with pytest.raises(NotFound, match=r"tidak ada di registry wilayah 31\.71\.01\.1002") as e:
            propose(
                engine,
                "update",
                {"changes": {"toilet": "umum"}},
                kk_number=kk_asked,
                base_version=version,
                username="operator_cideng",
            )
        assert "31.71.01.1001" not in str(e.value)
    with pytest.raises(ValidationFailed, match="out_of_scope"):
        propose(engine, "new_family", new_family_payload(2), username="operator_cideng")
    # ... nor move a family out of their own village.
    with pytest.raises(ValidationFailed, match="out_of_scope"):
        propose(
            engine,
            "update",
            {"changes": {"village_code": "31.71.01.1002"}},
            kk_number=kk_number,
            base_version=version,
        )
    request_id = propose(
        engine, "update", {"changes": {"toilet": "umum"}}, kk_number=kk_number, base_version=version
    )
    # Verifiers of other regions are told nothing of the request: not its village, not its state.
    for username in ("other_verifier", "verifier_jakut"):
        for step in (verify, lambda e, r, username: reject(e, r, "bukan wilayah saya", username)):
            with pytest.raises(NotFound, match=f"Usulan {request_id} tidak ada di wilayah") as e:
                step(engine, request_id, username=username)
            assert "31.71.01.1001" not in str(e.value)
        with pytest.raises(NotFound, match="tidak ada di wilayah"):
            verify(engine, request_id + 1000, username=username)
    assert request_row(engine, request_id).state == "proposed"
    assert verify(engine, request_id) == "verified"


def test_determine_before_verify_and_steps_twice_are_conflicts(engine: Engine) -> None:
    request_id = propose(engine, "new_family", new_family_payload(1))
    start = last_event_id(engine)
    with pytest.raises(Conflict, match="proposed"):
        determine(engine, request_id)
    assert household_row(engine, kk(1)).status == "proposed"
    verify(engine, request_id)
    with pytest.raises(Conflict, match="verified"):
        verify(engine, request_id)
    determine(engine, request_id)
    with pytest.raises(Conflict, match="approved"):
        determine(engine, request_id)
    with pytest.raises(Conflict):
        reject(engine, request_id, "terlambat", username="determiner")
    assert [e[1] for e in events_after(engine, start)] == [
        "request.verify",
        "request.determine.new_family",
    ]


def test_unknown_request_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound):
        verify(engine, 999)
    with pytest.raises(NotFound):
        determine(engine, 999)


def test_pending_lists_the_requests_of_the_readers_region(engine: Engine, tmp_path: Path) -> None:
    add_user(engine, "operator_bandung", Role.OPERATOR, OTHER_VILLAGE)
    jakarta = propose(engine, "new_family", new_family_payload(1))
    bandung = propose(
        engine,
        "new_family",
        new_family_payload(2, village_code=OTHER_VILLAGE),
        username="operator_bandung",
    )

    def pending(username: str, state: str = "proposed") -> list[int]:
        return as_user(
            engine,
            username,
            lambda s, u: [r.id for r in request_views.pending(s, actor=u, state=state)],
        )

    assert pending("verifier") == [jakarta]
    assert pending("other_verifier") == [bandung]
    assert pending("operator") == [jakarta]
    assert pending("determiner") == [jakarta, bandung]
    assert pending("auditor") == [jakarta, bandung]
    verify(engine, jakarta)
    assert pending("verifier") == []
    assert pending("determiner", "verified") == [jakarta]
    assert pending("other_verifier", "verified") == []


# --- optimistic locking ----------------------------------------------------------------------


def test_two_proposals_on_one_version_the_second_is_refused_at_determination(
    engine: Engine, tmp_path: Path
) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    first = propose(
        engine, "update", {"changes": {"toilet": "umum"}}, kk_number=kk_number, base_version=version
    )
    second = propose(
        engine,
        "update",
        {"changes": {"toilet": "bersama", "motorbikes": "3"}},
        kk_number=kk_number,
        base_version=version,
    )
    verify(engine, first)
    verify(engine, second)
    determine(engine, first)
    start = last_event_id(engine)
    with pytest.raises(Conflict, match="berubah sejak usulan dibuat"):
        determine(engine, second)
    household = household_row(engine, kk_number)
    assert (household.toilet, household.motorbikes) == ("umum", 1)
    assert request_row(engine, second).state == "verified"
    assert last_event_id(engine) == start
    # The same holds when the family changed through a member, not a household column.
    third = propose(
        engine,
        "update",
        {"changes": {"has_car": "1"}},
        kk_number=kk_number,
        base_version=household.version,
    )
    add = propose(
        engine,
        "add_member",
        {"member": child(kk_number, 14)},
        kk_number=kk_number,
        base_version=household.version,
    )
    for request_id in (third, add):
        verify(engine, request_id)
    determine(engine, add)
    with pytest.raises(Conflict):
        determine(engine, third)
    assert household_row(engine, kk_number).has_car is False


def test_a_proposal_on_a_stale_version_is_refused_at_once(engine: Engine, tmp_path: Path) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    request_id = propose(
        engine, "update", {"changes": {"toilet": "umum"}}, kk_number=kk_number, base_version=version
    )
    verify(engine, request_id)
    determine(engine, request_id)
    # An older version: the family changed since. A version it never had: said so.
    for given, error, match in (
        (version, Conflict, "sudah berubah"),
        (version + 100, ValidationFailed, f"Versi {version + 100} tidak ada"),
    ):
        with pytest.raises(error, match=match):
            propose(
                engine,
                "update",
                {"changes": {"toilet": "bersama"}},
                kk_number=kk_number,
                base_version=given,
            )
    assert count(engine, "SELECT count(*) FROM change_request") == 1


# --- invalid payloads ------------------------------------------------------------------------


def test_new_family_errors_are_listed_together_and_nothing_is_written(engine: Engine) -> None:
    payload = new_family_payload(1, toilet="kali")
    payload["members"][1]["nik"] = "31710147078300"
    with pytest.raises(ValidationFailed) as caught:
        propose(engine, "new_family", payload)
    message = caught.value.message
    # The member by the NIK and name the proposer typed, not by a row of a batch file.
    assert "anggota 31710147078300 (SITI AMINAH), nik:" in message
    assert "(invalid_nik)" in message
    assert "keluarga, toilet" in message
    assert "(invalid_value)" in message
    assert "baris" not in message and "household_rejected" not in message
    # The same problems, machine-readable, for an API or a form to point at.
    assert {(d["member"], d["nik"], d["column"], d["code"]) for d in caught.value.details} == {
        (None, None, "toilet", "invalid_value"),
        (2, "31710147078300", "nik", "invalid_nik"),
    }
    assert count(engine, "SELECT count(*) FROM household") == 0
    assert count(engine, "SELECT count(*) FROM change_request") == 0


NEW_FAMILY_MISTAKES: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("nik_mismatch", lambda p: p["members"][1].update(nik=nik(date(1983, 7, 1), "L", 12))),
    ("no_head", lambda p: p["members"][0].update(relationship="anak")),
    ("multiple_heads", lambda p: p["members"][1].update(relationship="kepala_keluarga")),
    ("unknown_village", lambda p: p["household"].update(village_code="31.71.01.9999")),
    ("invalid_kk", lambda p: p["household"].update(kk_number="123")),
    ("unknown_column", lambda p: p["members"][2].update(warna="merah")),
    ("inconsistent", lambda p: p["members"][0].update(pregnant="1")),
    ("required", lambda p: p["members"][2].update(name="")),
]


def test_new_family_validation_names_the_code(engine: Engine, subtests: pytest.Subtests) -> None:
    for code, mutate in NEW_FAMILY_MISTAKES:
        with subtests.test(code=code):
            payload = new_family_payload(1)
            mutate(payload)
            with pytest.raises(ValidationFailed, match=code):
                propose(engine, "new_family", payload)
    assert count(engine, "SELECT count(*) FROM household") == 0


def test_a_nik_active_in_another_family_is_a_conflict(engine: Engine, tmp_path: Path) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    other, other_version = approved_family(engine, tmp_path, 2)
    # Adding family 1's child to family 2.
    son = child(other, 0, nik=nik(date(2015, 1, 20), "L", 13), birth_date="2015-01-20", sex="L")
    with pytest.raises(Conflict, match="duplicate_nik"):
        propose(
            engine,
            "add_member",
            {"member": son},
            kk_number=other,
            base_version=other_version,
        )
    # A new family whose head is family 1's head.
    payload = new_family_payload(3)
    payload["members"][0]["nik"] = nik(date(1980, 3, 12), "L", 11)
    with pytest.raises(Conflict, match="duplicate_nik"):
        propose(engine, "new_family", payload)
    # A member who left family 1 may join another family.
    leave = propose(
        engine,
        "remove_member",
        {"nik": son["nik"], "status": "moved"},
        kk_number=kk_number,
        base_version=version,
    )
    verify(engine, leave)
    determine(engine, leave)
    join = propose(
        engine, "add_member", {"member": son}, kk_number=other, base_version=other_version
    )
    verify(engine, join)
    determine(engine, join)
    assert members_of(engine, other)[son["nik"]] == "active"
    assert members_of(engine, kk_number)[son["nik"]] == "moved"


def test_a_registered_kk_cannot_be_proposed_again(engine: Engine, tmp_path: Path) -> None:
    approved_family(engine, tmp_path, 1)
    payload = new_family_payload(1)
    for m in payload["members"]:
        m["nik"] = m["nik"][:12] + "9" + m["nik"][13:]
    with pytest.raises(Conflict, match="kk_exists"):
        propose(engine, "new_family", payload)


INVALID_CHANGES: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("update", {"changes": {}}, ValidationFailed, "butuh 'changes'"),
    ("update", {"changes": {"toilet": "sendiri"}}, ValidationFailed, "tidak mengubah"),
    ("update", {"changes": {"warna_rumah": "biru"}}, ValidationFailed, "warna_rumah"),
    ("update", {"changes": {"kk_number": "3171010101200099"}}, ValidationFailed, "kk_number"),
    ("update", {"changes": {"toilet": "kali"}}, ValidationFailed, "invalid_value"),
    ("update", {"changes": {"floor_area_m2": "-3"}}, ValidationFailed, "out_of_range"),
    ("update", {"changes": {"village_code": "31.71.01.9999"}}, ValidationFailed, "unknown_village"),
    ("add_member", {"member": {"nik": "123"}}, ValidationFailed, "required"),
    ("add_member", {"member": child("x", 14, sex="L")}, ValidationFailed, "nik_mismatch"),
    (
        "add_member",
        {"member": child("x", 14, relationship="kepala_keluarga")},
        ValidationFailed,
        "multiple_heads",
    ),
    ("remove_member", {"nik": "3171011203800011", "status": "lost"}, ValidationFailed, "'lost'"),
    ("remove_member", {"nik": "3171011203800099", "status": "deceased"}, NotFound, "3171"),
    # The head leaves a family without one.
    (
        "remove_member",
        {"nik": "3171011203800011", "status": "deceased"},
        ValidationFailed,
        "no_head",
    ),
    ("merge", {}, ValidationFailed, "merge"),
    ("new_family", {"household": "x", "members": []}, ValidationFailed, "Usulan new_family"),
    ("new_family", {"household": {}, "members": ["x"]}, ValidationFailed, "harus objek"),
    ("add_member", {"member": "PUTRI"}, ValidationFailed, "butuh 'member'"),
    ("update", {"changes": {"floor_area_m2": "36,0"}}, ValidationFailed, "tidak mengubah"),
    (
        "remove_member",
        {"nik": "3171012001150013", "status": "moved", "new_head": "3171014107830012"},
        ValidationFailed,
        "bukan kepala keluarga",
    ),
    (
        "remove_member",
        {"nik": "3171011203800011", "status": "deceased", "new_head": "3171011203800011"},
        ValidationFailed,
        "anggota lain",
    ),
]


def test_invalid_changes_are_refused(
    engine: Engine, tmp_path: Path, subtests: pytest.Subtests
) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    for kind, payload, error, match in INVALID_CHANGES:
        with subtests.test(kind=kind, payload=payload), pytest.raises(error, match=match):
            propose(engine, kind, payload, kk_number=kk_number, base_version=version)
    assert count(engine, "SELECT count(*) FROM change_request") == 0
    assert household_row(engine, kk_number).version == version


def test_a_change_needs_the_family_and_its_version(engine: Engine, tmp_path: Path) -> None:
    kk_number, version = approved_family(engine, tmp_path, 1)
    with pytest.raises(ValidationFailed, match=f"Versi {version + 5} tidak ada"):
        propose(
            engine,
            "update",
            {"changes": {"toilet": "umum"}},
            kk_number=kk_number,
            base_version=version + 5,
        )
    with pytest.raises(ValidationFailed, match="versi"):
        propose(engine, "update", {"changes": {"toilet": "umum"}}, kk_number=kk_number)
    with pytest.raises(ValidationFailed, match="versi"):
        propose(engine, "update", {"changes": {"toilet": "umum"}}, base_version=version)
    with pytest.raises(NotFound):
        propose(
            engine,
            "update",
            {"changes": {"toilet": "umum"}},
            kk_number=kk(99),
            base_version=version,
        )


# --- bulk decisions --------------------------------------------------------------------------

# serial → village; the NIKs keep their Gambir district of issue wherever the family lives.
PLACES = {
    1: "31.71.01.1001",  # Gambir, Gambir
    2: "31.71.01.1002",  # Cideng, Gambir
    3: "31.71.02.1001",  # Pasar Baru, Sawah Besar
    4: "31.72.01.1001",  # Penjaringan, Jakarta Utara
    5: OTHER_VILLAGE,  # Sukarasa, Kota Bandung
}


def import_places(
    engine: Engine, folder: Path, serials: list[int], status: str = "proposed"
) -> int:
    households, members = [], []
    for serial in serials:
        h, m = family(serial, village_code=PLACES[serial])
        households.append(h)
        members += m
    summary = run_import(engine, write_batch(folder, households, members), status=status)
    assert summary.households_accepted == len(serials), summary.errors
    assert summary.batch_id is not None
    return summary.batch_id


def statuses(engine: Engine) -> dict[int, str]:
    """Family serial → household status."""
    with session_scope(engine) as session:
        rows = session.execute(select(Household.kk_number, Household.status)).all()
    by_kk = dict(rows)
    return {s: by_kk[kk(s)] for s in PLACES if kk(s) in by_kk}


def household_ids(engine: Engine, serials: list[int]) -> list[int]:
    with session_scope(engine) as session:
        return sorted(
            session.execute(
                select(Household.id).where(Household.kk_number.in_([kk(s) for s in serials]))
            ).scalars()
        )


def test_bulk_verify_covers_the_verifiers_scope_and_names_the_families(
    engine: Engine, tmp_path: Path
) -> None:
    import_places(engine, tmp_path / "b", [1, 2, 3, 4, 5])
    start = last_event_id(engine)
    result = decide(engine, "verifier", "verify")
    assert result.as_dict() == {
        "decision": "verify",
        "households": 3,
        "region": "31.71",
        "from": "proposed",
        "to": "verified",
    }
    assert statuses(engine) == {
        1: "verified",
        2: "verified",
        3: "verified",
        4: "proposed",
        5: "proposed",
    }
    assert household_row(engine, kk(1)).version == 2
    assert household_row(engine, kk(4)).version == 1
    ids = household_ids(engine, [1, 2, 3])
    [(actor, action, entity, entity_id, diff)] = events_after(engine, start)
    assert (actor, action, entity, entity_id) == ("verifier", "household.verify", "household", "*")
    assert diff == {
        "from": "proposed",
        "to": "verified",
        "region": "31.71",
        "import_batch_id": None,
        "reason": None,
        "households": 3,
        "ids_sha256": hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest(),
    }
    # Deciding again finds nothing and records nothing.
    again = decide(engine, "verifier", "verify")
    assert again.households == 0
    assert len(events_after(engine, start)) == 1
    assert chain_ok(engine)


REGION_LEVELS: list[tuple[str | None, list[int]]] = [
    ("31", [1, 2, 3, 4]),
    ("31.71", [1, 2, 3]),
    ("31.71.01", [1, 2]),
    ("31.71.01.1002", [2]),
    ("32", [5]),
    (None, [1, 2, 3, 4, 5]),
]


def test_bulk_determine_by_region_at_every_level(
    engine: Engine, tmp_path: Path, subtests: pytest.Subtests
) -> None:
    import_places(engine, tmp_path / "b", [1, 2, 3, 4, 5], status="verified")
    for region, expected in REGION_LEVELS:
        with subtests.test(region=region):
            with engine.begin() as conn:
                conn.execute(text("UPDATE household SET status = 'verified'"))
            start = last_event_id(engine)
            result = decide(engine, "determiner", "determine", region_code=region)
            assert result.households == len(expected)
            after = statuses(engine)
            assert [s for s, status in after.items() if status == "approved"] == expected
            assert [s for s, status in after.items() if status == "verified"] == [
                s for s in PLACES if s not in expected
            ]
            [event] = events_after(engine, start)
            assert event[1] == "household.determine"
            assert event[4]["region"] == region
            digest = hashlib.sha256(",".join(map(str, household_ids(engine, expected))).encode())
            assert event[4]["ids_sha256"] == digest.hexdigest()


def test_bulk_decision_by_import_batch(engine: Engine, tmp_path: Path) -> None:
    first = import_places(engine, tmp_path / "first", [1, 2])
    second = import_places(engine, tmp_path / "second", [3, 5])
    start = last_event_id(engine)
    result = decide(engine, "verifier", "verify", import_batch_id=second)
    # Batch 2 holds a Bandung family too: the verifier's scope still applies.
    assert result.households == 1
    assert statuses(engine) == {1: "proposed", 2: "proposed", 3: "verified", 5: "proposed"}
    assert events_after(engine, start)[0][4]["import_batch_id"] == second
    result = decide(
        engine, "verifier", "verify", import_batch_id=first, region_code="31.71.01.1001"
    )
    assert result.households == 1
    assert statuses(engine) == {1: "verified", 2: "proposed", 3: "verified", 5: "proposed"}
    assert decide(engine, "determiner", "determine", import_batch_id=second).households == 1
    assert statuses(engine)[3] == "approved"


def test_bulk_reject_and_return_need_a_reason(engine: Engine, tmp_path: Path) -> None:
    import_places(engine, tmp_path / "b", [1, 2])
    start = last_event_id(engine)
    for reason in (None, "", "  "):
        with pytest.raises(ValidationFailed, match="alasan"):
            decide(engine, "verifier", "reject", region_code="31.71.01.1001", reason=reason)
    assert last_event_id(engine) == start
    rejected = decide(
        engine, "verifier", "reject", region_code="31.71.01.1001", reason="musdes tidak sah"
    )
    assert (rejected.households, rejected.status_to) == (1, "rejected")
    household = household_row(engine, kk(1))
    assert (household.status, household.status_reason) == ("rejected", "musdes tidak sah")
    decide(engine, "verifier", "verify")
    with pytest.raises(ValidationFailed, match="alasan"):
        decide(engine, "determiner", "return")
    returned = decide(engine, "determiner", "return", reason="data ganda")
    assert (returned.households, returned.status_from) == (1, "verified")
    household = household_row(engine, kk(2))
    assert (household.status, household.status_reason) == ("rejected", "data ganda")
    assert [e[1] for e in events_after(engine, start)] == [
        "household.reject",
        "household.verify",
        "household.return",
    ]
    assert events_after(engine, start)[-1][4]["reason"] == "data ganda"


REFUSED_DECISIONS: list[tuple[str, str, str | None, str]] = [
    ("other_verifier", "verify", "31.71", "di luar kewenangan"),
    ("other_verifier", "verify", "31.71.01.1001", "di luar kewenangan"),
    ("verifier", "verify", "31", "di luar kewenangan"),
    ("verifier", "verify", "32.73", "di luar kewenangan"),
    ("operator", "verify", None, "verify"),
    ("verifier", "determine", None, "determine"),
    ("verifier", "return", None, "determine"),
    ("auditor", "verify", None, "verify"),
    ("admin", "determine", None, "determine"),
    ("determiner", "verify", None, "verify"),
    ("determiner", "reject", None, "verify"),
]


def test_bulk_decisions_respect_role_and_scope(
    engine: Engine, tmp_path: Path, subtests: pytest.Subtests
) -> None:
    import_places(engine, tmp_path / "b", [1, 5])
    start = last_event_id(engine)
    for username, decision, region, match in REFUSED_DECISIONS:
        with (
            subtests.test(username=username, decision=decision, region=region),
            pytest.raises(PermissionDenied, match=match),
        ):
            decide(engine, username, decision, region_code=region, reason="alasan")
    assert statuses(engine) == {1: "proposed", 5: "proposed"}
    assert last_event_id(engine) == start


def test_bulk_decision_refuses_unknown_decisions_and_region_shapes(
    engine: Engine, subtests: pytest.Subtests
) -> None:
    for decision, region, match in [
        ("approve", None, "tidak dikenal"),
        ("determine", "3171", "tidak berbentuk"),
        ("determine", "31.7", "tidak berbentuk"),
        ("determine", "31.71.01.100", "tidak berbentuk"),
        ("determine", "99", "99 tidak dikenal"),  # well formed, but no such province
        ("verify", "31.71.99", "tidak dikenal"),
    ]:
        with (
            subtests.test(decision=decision, region=region),
            pytest.raises(ValidationFailed, match=match),
        ):
            decide(
                engine,
                "determiner" if decision != "verify" else "verifier",
                decision,
                region_code=region,
            )
    with pytest.raises(NotFound, match="Batch impor 424242 tidak ada"):
        decide(engine, "verifier", "verify", import_batch_id=424242)


def test_bulk_decisions_leave_families_under_a_change_request_to_it(
    engine: Engine, tmp_path: Path
) -> None:
    """A family proposed through a request moves with its request, never by a bulk decision,
    so that a request can never be rejected after its family was approved in bulk."""
    import_places(engine, tmp_path / "b", [2])
    request_id = propose(engine, "new_family", new_family_payload(1))
    assert decide(engine, "verifier", "verify").households == 1
    assert statuses(engine) == {1: "proposed", 2: "verified"}
    verify(engine, request_id)
    assert decide(engine, "determiner", "determine").households == 1
    assert statuses(engine) == {1: "verified", 2: "approved"}
    reject(engine, request_id, "tidak layak", username="determiner")
    assert statuses(engine) == {1: "rejected", 2: "approved"}
