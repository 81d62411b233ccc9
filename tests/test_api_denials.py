"""Role × endpoint × region: every read or change of something outside the reader's region
is denied, and the same within it works.

The rule, the same everywhere: a thing that lives in a region (a family, a person, a change
request, a family's entitlement) and lies outside the reader's region answers 404
`not_found`, exactly as one that does not exist — so that a denial does not tell that it
exists, or where. A filter naming a region outside the reader's (`?region=`, `?regency=`)
answers 403 `permission_denied`: the reader named the region, nothing is learnt. An action
the reader's role may not do answers 403 `permission_denied`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api_helpers import Api, make_api, problem_of
from conftest import add_user
from factories import kk, nik
from lumbung.auth.roles import Role
from test_cycle_listing import two_regions
from test_cycles import cycle

pytestmark = pytest.mark.usefixtures("users")

# Families 1-6 live in Gambir (31.71.01.1001), 7-10 in Kota Bandung (32.73.01.1001).
HOME, AWAY = 1, 7
# (username, families it may read): by region.
READERS = {
    "operator": "31.71.01.1001",  # its village only
    "other_operator": "32.73.01.1001",
    "verifier": "31.71",
    "other_verifier": "32.73",
    "determiner": None,
    "auditor": None,
}


def lives_in(serial: int) -> str:
    return "31.71.01.1001" if serial <= 6 else "32.73.01.1001"


def sees(reader: str, serial: int) -> bool:
    scope = READERS[reader]
    return scope is None or lives_in(serial).startswith(scope)


def member_nik(serial: int) -> str:
    from datetime import date

    return nik(date(1980, 3, 12), "L", serial * 10 + 1)


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Api:
    add_user(engine, "other_operator", Role.OPERATOR, "32.73.01.1001")
    two_regions(engine, tmp_path)
    cycle(engine, tmp_path, "PBI-1", program="PBI-JKN")
    api = make_api(engine, tmp_path, ["admin", *READERS])
    # One proposal in each village, by its own operator.
    for who, serial in (("operator", HOME), ("other_operator", AWAY)):
        version = api.get(who, f"/families/{kk(serial)}").json()["version"]
        proposed = api.post(
            who,
            "/requests",
            json={
                "kind": "update",
                "kk_number": kk(serial),
                "base_version": version,
                "payload": {"changes": {"rt": "9"}},
            },
        )
        assert proposed.status_code == 201, proposed.text
    return api


def request_of(engine: Engine, serial: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT r.id FROM change_request r JOIN household h ON h.id = r.household_id"
                    " WHERE h.kk_number = :kk"
                ),
                {"kk": kk(serial)},
            ).scalar_one()
        )


READS: dict[str, Callable[[int], str]] = {
    "family by KK": lambda s: f"/families/{kk(s)}",
    "family by NIK": lambda s: f"/families/by-nik/{member_nik(s)}",
    "history": lambda s: f"/families/{kk(s)}/history",
    "desil and entitlements": lambda s: f"/families/{kk(s)}/benefits",
    "explain": lambda s: f"/explain?cycle=PBI-1&kk={kk(s)}",
}


@pytest.mark.parametrize("reader", list(READERS))
def test_reads_of_one_family_inside_work_and_outside_are_not_found(
    api: Api, engine: Engine, reader: str
) -> None:
    for serial in (HOME, AWAY):
        for what, path in READS.items():
            response = api.get(reader, path(serial))
            if sees(reader, serial):
                assert response.status_code == 200, (reader, what, response.text)
            else:
                body = problem_of(response, 404, "not_found")
                # Nothing of where the family lives is told.
                assert lives_in(serial) not in body["detail"], (reader, what)
        request_path = f"/requests/{request_of(engine, serial)}"
        response = api.get(reader, request_path)
        if sees(reader, serial):
            assert response.status_code == 200, (reader, response.text)
        else:
            problem_of(response, 404, "not_found")


@pytest.mark.parametrize("reader", list(READERS))
def test_lists_hold_only_the_readers_region(api: Api, engine: Engine, reader: str) -> None:
    visible = {kk(s) for s in range(1, 11) if sees(reader, s)}
    found = api.get(reader, "/families", params={"name": "ANGGOTA", "limit": 500}).json()
    assert {f["kk_number"] for f in found["items"]} == visible
    assert found["total"] == len(visible)
    requests = api.get(reader, "/requests").json()
    assert {r["kk_number"] for r in requests["items"]} == visible & {kk(HOME), kk(AWAY)}
    beneficiaries = api.get(reader, "/cycles/PBI-1/beneficiaries", params={"limit": 500}).json()
    assert {b["kk_number"] for b in beneficiaries["items"]} <= visible
    assert beneficiaries["items"]
    totals = api.get(reader, "/cycles/PBI-1/totals", params={"level": "regency"}).json()
    shown = {a["code"] for a in totals["areas"]}
    expected = {lives_in(s)[:5] for s in range(1, 11) if sees(reader, s)}
    assert shown == expected, (reader, totals)


def test_filters_naming_another_region_are_refused(api: Api) -> None:
    problem_of(
        api.get("operator", "/families", params={"name": "ANGGOTA", "region": "32.73"}),
        403,
        "permission_denied",
    )
    problem_of(
        api.get("verifier", "/requests", params={"region": "32.73"}), 403, "permission_denied"
    )
    problem_of(
        api.get("verifier", "/cycles/PBI-1/beneficiaries", params={"regency": "32.73"}),
        403,
        "permission_denied",
    )


def test_changes_outside_the_region_are_not_found(api: Api, engine: Engine) -> None:
    away = request_of(engine, AWAY)
    home = request_of(engine, HOME)
    # A verifier of Jakarta Pusat cannot verify or reject Bandung's request, nor learn of it.
    problem_of(api.post("verifier", f"/requests/{away}/verify"), 404, "not_found")
    problem_of(
        api.post("verifier", f"/requests/{away}/reject", json={"reason": "bukan wilayah"}),
        404,
        "not_found",
    )
    # An operator cannot propose a change to another village's family.
    response = api.post(
        "operator",
        "/requests",
        json={
            "kind": "update",
            "kk_number": kk(AWAY),
            "base_version": 1,
            "payload": {"changes": {"rt": "3"}},
        },
    )
    problem_of(response, 404, "not_found")
    # Nor propose a new family in another village.
    from factories import family

    h, members = family(30, village_code="32.73.01.1001")
    new = api.post(
        "operator",
        "/requests",
        json={"kind": "new_family", "payload": {"household": h, "members": members}},
    )
    assert new.status_code in (403, 404, 422), new.text
    assert new.status_code != 201
    # Within the region, the same work is done.
    assert api.post("verifier", f"/requests/{home}/verify").status_code == 200
    assert api.post("other_verifier", f"/requests/{away}/verify").status_code == 200
    # The Bandung request stays as its own verifier left it.
    assert api.get("other_verifier", f"/requests/{away}").json()["request"]["state"] == ("verified")


@pytest.mark.parametrize(
    ("reader", "method", "path"),
    [
        ("operator", "get", "/audit/events"),
        ("verifier", "get", "/audit/events"),
        ("operator", "post", "/cycles/PBI-1/approve"),
        ("verifier", "post", "/cycles/PBI-1/approve"),
        ("auditor", "post", "/cycles/PBI-1/approve"),
        ("operator", "post", "/users"),
        ("auditor", "post", "/users"),
    ],
)
def test_what_a_role_may_not_do_is_forbidden(api: Api, reader: str, method: str, path: str) -> None:
    body = {"username": "x1", "full_name": "X", "role": "operator"} if path == "/users" else None
    response = getattr(api, method)(reader, path, **({"json": body} if body else {}))
    problem_of(response, 403, "permission_denied")


def test_an_auditor_reads_a_family_masked_a_verifier_in_full(api: Api, engine: Engine) -> None:
    """The service masks (auth.roles.entitled_to_identity); the API returns what it gives."""
    from lumbung.identity.masking import mask_name
    from test_cycle_listing import stored

    head = member_nik(HOME)
    full = api.get("verifier", f"/families/{kk(HOME)}").json()
    audited = api.get("auditor", f"/families/{kk(HOME)}").json()
    by_nik = api.get("auditor", f"/families/by-nik/{head}").json()
    assert full["identity_masked"] is False
    assert head in [m["nik"] for m in full["members"]]
    assert audited["identity_masked"] is True and by_nik["members"] == audited["members"]
    assert [m["name"] for m in audited["members"]] == [
        mask_name(m["name"]) for m in full["members"]
    ]
    assert all(m["nik"][4:16] == "*" * 12 for m in audited["members"])
    assert head not in str(audited) and audited["kk_number"] == kk(HOME)
    history = api.get("auditor", f"/families/{kk(HOME)}/history").json()
    assert head not in str(history)
    # The family's desil and what it is owed, within the region.
    benefits = api.get("verifier", f"/families/{kk(HOME)}/benefits")
    assert benefits.status_code == 200, benefits.text
    body = benefits.json()
    assert [s["release"] for s in body["scores"]] == ["R1"]
    assert 1 <= body["scores"][0]["decile"] <= 10
    owed = sorted(a for _v, number, _r, a in stored(engine, "PBI-1") if number == kk(HOME))
    assert sorted(e["amount_idr"] for e in body["entitlements"]) == owed
    assert {(e["cycle"], e["program"], e["cycle_state"]) for e in body["entitlements"]} <= {
        ("PBI-1", "PBI-JKN", "draft")
    }
    assert all(e["nik"] and "*" not in e["nik"] for e in body["entitlements"])
    masked = api.get("auditor", f"/families/{kk(HOME)}/benefits").json()
    assert all("*" * 12 in e["nik"] for e in masked["entitlements"])


def test_a_cycle_label_in_use_is_refused_unless_its_draft_is_replaced_deliberately(
    api: Api,
) -> None:
    asked = {"program": "PBI-JKN", "release": "R1", "label": "PBI-1"}
    body = problem_of(api.post("determiner", "/cycles", json=asked), 409, "conflict")
    assert "PBI-1 sudah dipakai oleh draf siklus program PBI-JKN" in body["detail"]
    assert "ganti draf (replace)" in body["detail"]
    assert "lumbung cycle" not in body["detail"]  # no command to type over the API
    replaced = api.post("determiner", "/cycles", json={**asked, "replace": True})
    assert replaced.status_code == 202, replaced.text
    assert replaced.json()["kind"] == "cycle_run"
