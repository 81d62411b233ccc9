"""The read services: every read checks role and region itself, whoever calls it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import add_user, user
from factories import OTHER_VILLAGE, VILLAGE, family, kk, nik, write_batch
from helpers import run_import
from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Role
from lumbung.auth.service import list_users
from lumbung.db import session_scope
from lumbung.errors import NotFound, PermissionDenied, ValidationFailed
from lumbung.identity.masking import mask_name
from lumbung.regions.service import list_regions
from lumbung.registry import decisions, proposals, views, workflow
from lumbung.releases.service import list_releases

pytestmark = pytest.mark.usefixtures("users")

T = TypeVar("T")
NEIGHBOUR = "31.71.01.1002"  # Cideng: the same regency as VILLAGE, another village
HEADS = {1: "H. SUPARMAN, S.H.", 2: "SUPARMAN ADI", 3: "SUPARMIN"}


def as_user(engine: Engine, username: str, work: Callable[[Session, User], T]) -> T:
    with session_scope(engine) as session:
        return work(session, user(session, username))


def head_nik(serial: int) -> str:
    return nik(date(1980, 3, 12), "L", serial * 10 + 1)


@pytest.fixture
def registry(engine: Engine, tmp_path: Path) -> Engine:
    """Three approved families: KK 1 in the operator's village, KK 2 in a neighbouring village
    of the same regency (with a request on it), KK 3 in Kota Bandung."""
    households, members = [], []
    for serial, village in ((1, VILLAGE), (2, NEIGHBOUR), (3, OTHER_VILLAGE)):
        h, ms = family(serial, village_code=village)
        ms[0]["name"] = HEADS[serial]
        households.append(h)
        members.extend(ms)
    summary = run_import(
        engine, write_batch(tmp_path / "batch", households, members), status="approved"
    )
    assert summary.households_accepted == 3, summary.errors[:3]
    add_user(engine, "neighbour", Role.OPERATOR, NEIGHBOUR)
    as_user(
        engine,
        "neighbour",
        lambda s, u: proposals.propose(
            s,
            actor=u,
            kind="update",
            payload={"changes": {"floor_material": "keramik"}},
            kk_number=kk(2),
            base_version=1,
        ),
    )
    return engine


def kks(engine: Engine, username: str, **options: object) -> list[str]:
    page = as_user(
        engine,
        username,
        lambda s, u: views.search_families(s, u, name="suparm", **options),  # type: ignore[arg-type]
    )
    return [f.kk_number for f in page.items]


def test_an_operator_reads_only_its_own_village(registry: Engine) -> None:
    engine = registry
    own = as_user(engine, "operator", lambda s, u: views.family(s, u, kk=kk(1)))
    assert (own.kk_number, own.village_code, own.status) == (kk(1), VILLAGE, "approved")
    assert own.as_dict()["members"][0]["nik"] == head_nik(1)  # one family: NIKs in full
    assert (
        as_user(engine, "operator", lambda s, u: views.family_by_nik(s, u, nik=head_nik(1))) == own
    )
    for read in (
        lambda s, u: views.family(s, u, kk=kk(2)),
        lambda s, u: views.family_by_nik(s, u, nik=head_nik(2)),
        lambda s, u: views.history(s, u, kk=kk(2)),
        lambda s, u: views.family(s, u, kk=kk(3)),
    ):
        with pytest.raises(NotFound):
            as_user(engine, "operator", read)
    # Refused exactly as a KK that does not exist: nothing tells it exists elsewhere.
    with pytest.raises(NotFound) as absent:
        as_user(engine, "operator", lambda s, u: views.family(s, u, kk=kk(9)))
    with pytest.raises(NotFound) as elsewhere:
        as_user(engine, "operator", lambda s, u: views.family(s, u, kk=kk(2)))
    assert str(elsewhere.value) == str(absent.value).replace(kk(9), kk(2))
    assert kks(engine, "operator") == [kk(1)]
    assert kks(engine, "operator", region="31") == [kk(1)]  # a wider region: its own scope
    with pytest.raises(PermissionDenied):
        kks(engine, "operator", region=NEIGHBOUR)
    # The request on the neighbouring family: not listed, not shown.
    listed = as_user(engine, "operator", lambda s, u: views.requests(s, u, status="proposed"))
    assert (listed.items, listed.total) == ([], 0)
    [request] = as_user(engine, "neighbour", lambda s, u: views.requests(s, u)).items
    with pytest.raises(NotFound):
        as_user(engine, "operator", lambda s, u: views.request_detail(s, u, request_id=request.id))
    stats = as_user(engine, "operator", views.stats)
    assert (stats.region, stats.households, stats.members) == (
        VILLAGE,
        {"approved": 1},
        {"active": 3},
    )


def test_a_regency_verifier_reads_its_regency_only(registry: Engine) -> None:
    engine = registry
    assert kks(engine, "verifier") == [kk(1), kk(2)]
    assert kks(engine, "verifier", region=NEIGHBOUR) == [kk(2)]
    with pytest.raises(PermissionDenied):
        kks(engine, "verifier", region="32.73")
    assert kks(engine, "other_verifier") == [kk(3)]
    seen = as_user(engine, "verifier", lambda s, u: views.family_by_nik(s, u, nik=head_nik(2)))
    assert (seen.kk_number, seen.village_code) == (kk(2), NEIGHBOUR)
    with pytest.raises(NotFound):
        as_user(engine, "verifier", lambda s, u: views.family(s, u, kk=kk(3)))
    with pytest.raises(NotFound):
        as_user(engine, "other_verifier", lambda s, u: views.history(s, u, kk=kk(2)))
    page = as_user(engine, "verifier", lambda s, u: views.requests(s, u, status="proposed"))
    assert [(r.kk_number, r.village_code) for r in page.items] == [(kk(2), NEIGHBOUR)]
    detail = as_user(
        engine, "verifier", lambda s, u: views.request_detail(s, u, request_id=page.items[0].id)
    )
    assert detail.current == {"floor_material": "semen"}
    assert detail.as_dict()["payload"] == {"changes": {"floor_material": "keramik"}}
    with pytest.raises(NotFound):
        as_user(
            engine,
            "other_verifier",
            lambda s, u: views.request_detail(s, u, request_id=page.items[0].id),
        )
    assert as_user(engine, "other_verifier", lambda s, u: views.requests(s, u)).total == 0
    assert as_user(engine, "verifier", views.stats).households == {"approved": 2}
    assert as_user(engine, "other_verifier", views.stats).members == {"active": 3}
    # Users: a regional reader sees those within its region.
    assert [u.username for u in as_user(engine, "verifier", list_users)] == [
        "neighbour",
        "operator",
        "verifier",
    ]
    # The audit log names families of every region: national users only.
    with pytest.raises(PermissionDenied):
        as_user(engine, "verifier", lambda s, u: audit.log(s, u, limit=5))


def test_the_auditor_reads_everything(registry: Engine) -> None:
    engine = registry
    assert kks(engine, "auditor") == [kk(1), kk(2), kk(3)]
    page = as_user(
        engine,
        "auditor",
        lambda s, u: views.search_families(s, u, name="Suparman", limit=1, offset=1),
    )
    assert ([f.kk_number for f in page.items], page.total, page.limit, page.offset) == (
        [kk(2)],
        2,
        1,
        1,
    )
    beyond = as_user(
        engine,
        "auditor",
        lambda s, u: views.search_families(s, u, name="Suparman", limit=1, offset=5),
    )
    assert (beyond.items, beyond.total) == ([], 2)  # past the last page: still counted
    [found] = page.items
    assert found.head_name == mask_name(HEADS[2])  # an auditor reads names masked
    assert [m.nik[:16] for m in found.matches] == ["3171" + "*" * 12]
    assert page.as_dict()["items"][0]["matches"][0]["name"] == mask_name(HEADS[2])
    for serial in (1, 2, 3):
        number = kk(serial)

        def read(session: Session, reader: User, kk_number: str = number) -> views.FamilyView:
            return views.family(session, reader, kk=kk_number)

        def past(session: Session, reader: User, kk_number: str = number) -> list[object]:
            return list(views.history(session, reader, kk=kk_number).events)

        assert as_user(engine, "auditor", read).kk_number == number
        assert as_user(engine, "auditor", past)
    assert as_user(engine, "auditor", views.stats).households == {"approved": 3}
    assert as_user(engine, "auditor", lambda s, u: views.requests(s, u)).total == 1
    assert len(as_user(engine, "auditor", list_users)) == 8
    assert as_user(engine, "auditor", list_releases) == []
    newest = as_user(engine, "auditor", lambda s, u: audit.log(s, u, limit=2))
    assert len(newest.items) == 2 and newest.total > 2
    assert newest.items[0].action.startswith("request.propose")
    one = as_user(
        engine,
        "auditor",
        lambda s, u: audit.log(
            s, u, limit=10, entity="change_request", entity_id=newest.items[0].entity_id
        ),
    )
    assert [e.id for e in one.items] == [newest.items[0].id]
    # Short names and bad windows are refused plainly.
    for bad in (
        lambda s, u: views.search_families(s, u, name="Hj. Su"),
        lambda s, u: views.search_families(s, u, name="suparman", limit=0),
        lambda s, u: views.requests(s, u, status="nonsense"),
        lambda s, u: views.family_by_nik(s, u, nik="123"),
    ):
        with pytest.raises(ValidationFailed):
            as_user(engine, "auditor", bad)


def test_a_cycle_is_totalled_within_the_readers_region(engine: Engine, tmp_path: Path) -> None:
    from lumbung.cycles.listing import cycle_totals, list_cycles
    from test_cycle_listing import stored, two_regions
    from test_cycles import cycle

    two_regions(engine, tmp_path)
    cycle(engine, tmp_path, "PBI-1", program="PBI-JKN")
    rows = stored(engine, "PBI-1")
    [listed] = as_user(engine, "operator", list_cycles)
    assert (listed.cycle, listed.program, listed.beneficiaries) == ("PBI-1", "PBI-JKN", len(rows))
    national = as_user(
        engine, "auditor", lambda s, u: cycle_totals(s, u, label="PBI-1", level="regency")
    )
    expected: dict[str, list[int]] = {}
    for _village, _kk, regency, amount in rows:
        expected.setdefault(regency, [0, 0])
        expected[regency][0] += 1
        expected[regency][1] += amount
    assert {a.code: [a.beneficiaries, a.total_idr] for a in national.areas} == expected
    assert {a.code: a.name for a in national.areas}["31.71"] == "Kota Administrasi Jakarta Pusat"
    provinces = as_user(
        engine, "auditor", lambda s, u: cycle_totals(s, u, label="PBI-1", level="province")
    )
    assert {a.code for a in provinces.areas} == {"31", "32"}
    regional = as_user(
        engine, "verifier", lambda s, u: cycle_totals(s, u, label="PBI-1", level="district")
    )
    assert regional.region == "31.71"
    assert {a.code for a in regional.areas} == {"31.71.01"}
    assert sum(a.beneficiaries for a in regional.areas) == sum(
        1 for village, *_ in rows if village.startswith("31.71.")
    )
    with pytest.raises(ValidationFailed):
        as_user(engine, "auditor", lambda s, u: cycle_totals(s, u, label="PBI-1", level="desa"))
    with pytest.raises(NotFound):
        as_user(engine, "auditor", lambda s, u: cycle_totals(s, u, label="X", level="regency"))


def test_an_auditor_reads_identities_masked_a_verifier_in_full(registry: Engine) -> None:
    """One rule (auth.roles.entitled_to_identity), applied by the services: a family, its
    history, its requests and a search show an auditor NIKs and names masked, and a verifier
    of the region (or the village's operator) in full."""
    engine = registry
    head = head_nik(1)
    proposed = as_user(
        engine,
        "operator",
        lambda s, u: proposals.propose(
            s,
            actor=u,
            kind="update_member",
            payload={"nik": head, "changes": {"name": "SUPARMAN BARU"}},
            kk_number=kk(1),
            base_version=1,
        ),
    )
    request_id = proposed.request.id
    for reader, masked in (("auditor", True), ("verifier", False), ("operator", False)):
        view = as_user(engine, reader, lambda s, u: views.family(s, u, kk=kk(1)))
        by_nik = as_user(engine, reader, lambda s, u: views.family_by_nik(s, u, nik=head))
        past = as_user(engine, reader, lambda s, u: views.history(s, u, kk=kk(1)))
        detail = as_user(
            engine, reader, lambda s, u: views.request_detail(s, u, request_id=request_id)
        )
        found = as_user(engine, reader, lambda s, u: views.search_families(s, u, name="Suparman"))
        assert view.identity_masked is masked and by_nik.identity_masked is masked, reader
        assert view.kk_number == by_nik.kk_number == kk(1)  # the family's handle stays whole
        head_row = view.members[0]
        everything = repr((view, by_nik, past.as_dict(), detail.as_dict(), found.as_dict()))
        if masked:
            assert head_row["nik"].startswith(head[:4] + "*" * 12 + "·")
            assert head_row["name"] == mask_name(HEADS[1]) != HEADS[1]
            for m in view.members:
                assert m["nik"][4:16] == "*" * 12 and "*" in m["name"]
            # Neither a NIK nor a name in full anywhere: the family, the proposal in its
            # history and in the request, the search.
            assert head not in everything and "SUPARMAN" not in everything, everything
            assert list(detail.current) == [head_row["nik"]]
            assert found.items[0].head_name == mask_name(HEADS[1])
        else:
            assert head_row["nik"] == head and head_row["name"] == HEADS[1]
            assert detail.payload["members"][0]["nik"] == head
            assert detail.payload["members"][0]["changes"]["name"] == "SUPARMAN BARU"
            assert detail.current == {head: {"name": HEADS[1]}}
            assert "SUPARMAN BARU" in repr(past.as_dict())
            if reader == "verifier":
                assert found.items[0].head_name == HEADS[1]


def test_a_familys_desil_and_entitlements(engine: Engine, tmp_path: Path) -> None:
    """family_entitlements: the family's desil per scoring and what it is owed per cycle (a
    household program's row for the family, a program of persons' one per member), within the
    reader's region only."""
    from lumbung.cycles.listing import family_entitlements
    from test_cycle_listing import stored
    from test_cycles import cycle, setup_registry

    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-1")
    cycle(engine, tmp_path, "PBI-1", program="PBI-JKN")
    pkh = [amount for _v, number, _r, amount in stored(engine, "PKH-1") if number == kk(1)]
    pbi = [amount for _v, number, _r, amount in stored(engine, "PBI-1") if number == kk(1)]
    assert pkh and pbi  # the family is in both cycles

    got = as_user(engine, "verifier", lambda s, u: family_entitlements(s, u, kk=kk(1)))
    assert got.kk_number == kk(1)
    [scored] = got.scores
    assert (scored.release, scored.decile) == ("R1", 1)  # the floor model: family s in desil s
    assert scored.rank_in_regency >= 1 and "@" in scored.model
    assert {e.cycle for e in got.entitlements} == {"PKH-1", "PBI-1"}
    assert [e.amount_idr for e in got.entitlements if e.cycle == "PKH-1"] == pkh
    assert sorted(e.amount_idr for e in got.entitlements if e.cycle == "PBI-1") == sorted(pbi)
    for e in got.entitlements:
        assert isinstance(e.amount_idr, int) and e.cycle_state == "draft"
        assert e.period_months >= 1
        if e.cycle == "PKH-1":
            assert (e.program, e.nik) == ("PKH", None)  # the family is the beneficiary
        else:
            assert e.program == "PBI-JKN" and e.nik is not None and "*" not in e.nik
    assert got.entitlements[0].cycle == "PBI-1"  # latest first: the later cycle
    # An auditor reads members' NIKs masked; another regency's verifier, nothing at all.
    audited = as_user(engine, "auditor", lambda s, u: family_entitlements(s, u, kk=kk(1)))
    assert [e.amount_idr for e in audited.entitlements] == [e.amount_idr for e in got.entitlements]
    assert all("*" * 12 in e.nik for e in audited.entitlements if e.nik is not None)
    with pytest.raises(NotFound):
        as_user(engine, "other_verifier", lambda s, u: family_entitlements(s, u, kk=kk(1)))
    # A family outside every cycle (desil 10): scored, owed nothing.
    rich = as_user(engine, "operator", lambda s, u: family_entitlements(s, u, kk=kk(10)))
    assert [s.decile for s in rich.scores] == [10] and rich.entitlements == []
    assert rich.as_dict()["scores"][0]["decile"] == 10


def regency_copies(engine: Engine) -> list[tuple[str, str | None, str]]:
    """(member NIK, its copy of the regency, its family's regency) for every member."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.nik, m.regency_code, h.regency_code FROM member m "
                "JOIN household h ON h.id = m.household_id ORDER BY m.id"
            )
        )
        return [(r[0], r[1], r[2]) for r in rows]


def test_a_name_search_within_a_regency_follows_the_family(registry: Engine) -> None:
    """Every writer of members fills their copy of the regency (the index of a search within
    a regency): the import, a new family, a new member; a family that moves takes its members'
    copies along, and a search in its new regency finds it, in the old one no longer."""
    engine = registry
    copies = regency_copies(engine)
    assert len(copies) == 9 and all(mine == family for _, mine, family in copies)

    def decided(username: str, kind: str, payload: dict[str, object], serial: int) -> None:
        version = as_user(engine, username, lambda s, u: views.family(s, u, kk=kk(serial))).version
        proposal = as_user(
            engine,
            username,
            lambda s, u: proposals.propose(
                s, actor=u, kind=kind, payload=payload, kk_number=kk(serial), base_version=version
            ),
        )
        request_id = proposal.request.id
        as_user(engine, "verifier", lambda s, u: workflow.verify(s, actor=u, request_id=request_id))
        as_user(
            engine, "determiner", lambda s, u: workflow.determine(s, actor=u, request_id=request_id)
        )

    newborn = {
        **family(1)[1][2],
        "nik": nik(date(2023, 1, 9), "P", 19),
        "name": "SUPARMI PUTRI",
        "sex": "P",
        "birth_date": "2023-01-09",
        "school_level": "tidak",
        "education": "tidak_sekolah",
    }
    decided("operator", "add_member", {"member": newborn}, 1)
    assert kks(engine, "verifier", region="31.71") == [kk(1), kk(2)]
    # KK 2 moves from Jakarta Pusat to Kota Bandung (another regency, another province).
    as_user(  # the neighbour's open request on it, first
        engine,
        "verifier",
        lambda s, u: workflow.reject(
            s,
            actor=u,
            request_id=views.requests(s, u).items[0].id,
            reason="digantikan oleh pindah alamat",
        ),
    )
    # A move across provinces: proposed by an operator of no region, a row made before
    # `create_user` refused such operators (only one whose region holds both villages may
    # propose it, and no region but the nation's holds both).
    with session_scope(engine) as session:
        session.add(
            User(
                username="national_operator",
                full_name="national_operator",
                role=Role.OPERATOR,
                region_code=None,
            )
        )
    decided("national_operator", "update", {"changes": {"village_code": OTHER_VILLAGE}}, 2)
    copies = regency_copies(engine)
    assert len(copies) == 10 and all(mine == family for _, mine, family in copies)
    assert kks(engine, "verifier") == [kk(1)]
    assert kks(engine, "other_verifier") == [kk(2), kk(3)]
    # The family itself decides: a copy edited in the database hides nobody from its region's
    # reader and shows nobody to another region's.
    with engine.begin() as conn:
        conn.execute(text("UPDATE member SET regency_code = '31.71'"))
    assert kks(engine, "other_verifier") == []
    assert kks(engine, "verifier") == [kk(1)]


def test_a_page_says_the_total_whether_or_not_it_is_counted(engine: Engine) -> None:
    """`db.page_rows`: a page that ends early says the total itself, a full page or one past
    the end is counted; every window of the provinces gives the same total and the same rows
    as the whole list."""
    with session_scope(engine) as session:
        whole = list_regions(session, level=1, limit=1000, offset=0)
        assert whole.total == len(whole.items) > 30
        codes = [r.code for r in whole.items]
        for limit in (1, 7, whole.total, whole.total + 5):
            for offset in (0, 5, whole.total - 1, whole.total, whole.total + 3):
                page = list_regions(session, level=1, limit=limit, offset=offset)
                assert page.total == whole.total, (limit, offset)
                assert [r.code for r in page.items] == codes[offset : offset + limit]


def test_a_familys_history_shows_the_bulk_decisions_that_moved_it(
    engine: Engine, tmp_path: Path
) -> None:
    """Verified and determined from the family queue (in bulk, one audit event each naming
    its families by count and hash): each family's history shows both decisions, and only
    the families they moved; the link agrees with the event's hash of ids."""
    households, members = [], []
    for serial in (1, 2):
        h, ms = family(serial)
        households.append(h)
        members.extend(ms)
    summary = run_import(engine, write_batch(tmp_path / "batch", households, members))
    assert summary.households_accepted == 2
    with session_scope(engine) as session:
        decisions.decide(session, actor=user(session, "verifier"), decision="verify")
        decisions.decide(
            session, actor=user(session, "determiner"), decision="determine", kk_numbers=[kk(1)]
        )

    def actions(serial: int) -> list[str]:
        found = as_user(engine, "verifier", lambda s, u: views.history(s, u, kk=kk(serial)))
        return [e.action for e in found.events]

    first, second = actions(1), actions(2)
    assert first[-2:] == ["household.verify", "household.determine"]
    assert second[-1] == "household.verify" and "household.determine" not in second
    with engine.connect() as conn:
        events = conn.execute(
            text("SELECT e.id, e.diff FROM audit_event e WHERE e.action = 'household.verify'")
        ).all()
        [(event_id, diff)] = events
        linked = (
            conn.execute(
                text(
                    "SELECT household_id FROM household_decision WHERE audit_event_id = :e "
                    "ORDER BY household_id"
                ),
                {"e": event_id},
            )
            .scalars()
            .all()
        )
    diff = diff if isinstance(diff, dict) else json.loads(diff)
    digest = hashlib.sha256(",".join(map(str, linked)).encode()).hexdigest()
    assert len(linked) == 2 and digest == diff["ids_sha256"]
