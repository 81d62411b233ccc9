"""The HTTP API (lumbung.app, lumbung.api) on SQLite and PostgreSQL: each endpoint's answer,
problem+json errors with the CLI's codes, paging, security headers, tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api_helpers import Api, make_api, problem_of
from conftest import user
from factories import family, kk, write_batch
from helpers import run_import
from lumbung.auth import throttle, tokens
from lumbung.db import session_scope

pytestmark = pytest.mark.usefixtures("users")

USERS = ["admin", "operator", "verifier", "determiner", "auditor", "other_verifier"]


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Api:
    return make_api(engine, tmp_path / "data", USERS)


def registry(engine: Engine, folder: Path, serials: range = range(1, 4)) -> None:
    households, members = [], []
    for serial in serials:
        h, ms = family(serial)
        households.append(h)
        members.extend(ms)
    summary = run_import(engine, write_batch(folder, households, members), status="approved")
    assert summary.households_rejected == 0, summary.errors[:3]


def test_security_headers_on_every_answer(api: Api) -> None:
    for response in (api.get("operator", "/me"), api.get(None, "/me"), api.get(None, "/nope")):
        headers = response.headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers  # plain http: no promise of https
    secure = api.client.get("https://testserver/api/v1/me", headers=api.auth("operator")).headers
    assert secure["strict-transport-security"].startswith("max-age=")


def test_me_says_who_the_token_acts_for(api: Api) -> None:
    response = api.get("operator", "/me")
    assert response.status_code == 200
    assert response.json() == {
        "username": "operator",
        "full_name": "operator",
        "role": "operator",
        "region_code": "31.71.01.1001",
    }


def test_without_a_valid_token_401_with_a_bearer_challenge(api: Api) -> None:
    missing = problem_of(api.get(None, "/families/" + kk(1)), 401, "unauthenticated")
    assert "Bearer" in missing["detail"]
    wrong = api.client.get(
        "/api/v1/me", headers={"Authorization": "Bearer lmb_nope_0000000000000000"}
    )
    problem_of(wrong, 401, "unauthenticated")
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    basic = api.client.get("/api/v1/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    problem_of(basic, 401, "unauthenticated")


def test_an_expired_or_revoked_token_is_refused(api: Api, engine: Engine) -> None:
    assert api.get("operator", "/me").status_code == 200
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE api_token SET expires_at = :past WHERE id = :id"),
            {"past": "2000-01-01 00:00:00", "id": api.token_ids["operator"]},
        )
    problem_of(api.get("operator", "/me"), 401, "unauthenticated")

    assert api.get("verifier", "/me").status_code == 200
    with session_scope(engine) as session:
        tokens.revoke(
            session,
            actor=user(session, "admin"),
            token_id=api.token_ids["verifier"],
            reason="test: dicabut",
        )
    problem_of(api.get("verifier", "/me"), 401, "unauthenticated")
    assert api.get("auditor", "/me").status_code == 200  # the others' tokens still work


def test_failed_tokens_from_one_address_are_held_back(api: Api) -> None:
    bad = {"Authorization": "Bearer lmb_bad_" + "x" * 40}
    for _ in range(throttle.MOST_FAILURES):
        problem_of(api.client.get("/api/v1/me", headers=bad), 401, "unauthenticated")
    held = api.client.get("/api/v1/me", headers=bad)
    problem_of(held, 429, "rate_limited")
    assert 1 <= int(held.headers["retry-after"]) <= throttle.WINDOW.total_seconds()
    # A valid token from the same address waits too: guessing is not told apart from using.
    problem_of(api.get("operator", "/me"), 429, "rate_limited")


def test_families_by_kk_nik_name_and_their_history(api: Api, engine: Engine) -> None:
    registry(engine, api.data_dir / "batch")
    one = api.get("operator", f"/families/{kk(1)}")
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["kk_number"] == kk(1)
    assert body["status"] == "approved"
    assert [m["name"] for m in body["members"]] == ["BUDI SANTOSO", "SITI AMINAH", "ANDI"]
    nik = body["members"][1]["nik"]
    by_nik = api.get("operator", f"/families/by-nik/{nik}")
    assert by_nik.status_code == 200
    assert by_nik.json()["kk_number"] == kk(1)

    found = api.get("operator", "/families", params={"name": "siti", "limit": 2})
    assert found.status_code == 200
    page = found.json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    assert [f["kk_number"] for f in page["items"]] == [kk(1), kk(2)]
    assert "*" in page["items"][0]["matches"][0]["nik"]  # a list of people: NIKs masked
    rest = api.get("operator", "/families", params={"name": "siti", "limit": 2, "offset": 2})
    assert [f["kk_number"] for f in rest.json()["items"]] == [kk(3)]

    history = api.get("operator", f"/families/{kk(1)}/history")
    assert history.status_code == 200
    assert history.json()["kk_number"] == kk(1)
    assert history.json()["events"]

    stats = api.get("verifier", "/stats").json()
    assert stats["households"] == {"approved": 3}
    problem_of(api.get("operator", f"/families/{kk(99)}"), 404, "not_found")
    problem_of(api.get("operator", "/families/123"), 422, "validation_failed")
    short = problem_of(
        api.get("operator", "/families", params={"name": "si"}), 422, "validation_failed"
    )
    assert "3" in short["detail"]


def test_a_change_request_from_proposal_to_determination(api: Api, engine: Engine) -> None:
    registry(engine, api.data_dir / "batch", range(1, 2))
    version = api.get("operator", f"/families/{kk(1)}").json()["version"]
    proposed = api.post(
        "operator",
        "/requests",
        json={
            "kind": "update",
            "kk_number": kk(1),
            "base_version": version,
            "payload": {"changes": {"address": "Jl. Baru 2"}},
        },
    )
    assert proposed.status_code == 201, proposed.text
    request_id = proposed.json()["request"]["id"]
    assert proposed.json()["request"]["state"] == "proposed"

    listed = api.get("verifier", "/requests").json()
    assert [r["id"] for r in listed["items"]] == [request_id]
    assert listed["total"] == 1
    detail = api.get("verifier", f"/requests/{request_id}").json()
    assert detail["payload"] == {"changes": {"address": "Jl. Baru 2"}}

    # The operator may not verify: 403 with the CLI's code, the request untouched.
    problem_of(api.post("operator", f"/requests/{request_id}/verify"), 403, "permission_denied")
    verified = api.post("verifier", f"/requests/{request_id}/verify")
    assert verified.status_code == 200, verified.text
    assert verified.json()["state"] == "verified"
    again = problem_of(api.post("verifier", f"/requests/{request_id}/verify"), 409, "conflict")
    assert str(request_id) in again["detail"] or again["detail"]
    determined = api.post("determiner", f"/requests/{request_id}/determine")
    assert determined.status_code == 200, determined.text
    assert determined.json()["state"] == "approved"
    family_now = api.get("operator", f"/families/{kk(1)}").json()
    assert family_now["household"]["address"] == "Jl. Baru 2"
    assert family_now["version"] == version + 1

    second = api.post(
        "operator",
        "/requests",
        json={
            "kind": "update",
            "kk_number": kk(1),
            "base_version": version + 1,
            "payload": {"changes": {"rt": "7"}},
        },
    ).json()["request"]["id"]
    problem_of(
        api.post("verifier", f"/requests/{second}/reject", json={}), 422, "validation_failed"
    )
    rejected = api.post("verifier", f"/requests/{second}/reject", json={"reason": "RT salah"})
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["reason"] == "RT salah"
    problem_of(api.get("verifier", "/requests/999999"), 404, "not_found")


def test_a_row_error_comes_back_as_a_list(api: Api, engine: Engine) -> None:
    h, members = family(5)
    members[0]["nik"] = "1234"
    response = api.post(
        "operator",
        "/requests",
        json={"kind": "new_family", "payload": {"household": h, "members": members}},
    )
    body = problem_of(response, 422, "validation_failed")
    assert body["errors"], body
    assert any("nik" in str(e) for e in body["errors"])


def test_paging_and_its_limits(api: Api) -> None:
    provinces = api.get("auditor", "/regions", params={"limit": 5}).json()
    assert provinces["limit"] == 5 and provinces["offset"] == 0
    assert provinces["total"] == 38
    assert [p["code"] for p in provinces["items"]] == ["11", "12", "13", "14", "15"]
    later = api.get("auditor", "/regions", params={"limit": 5, "offset": 35}).json()
    assert [p["code"] for p in later["items"]] == ["94", "95", "96"]
    children = api.get("auditor", "/regions", params={"parent": "31.71", "limit": 500}).json()
    assert children["items"] and all(c["parent_code"] == "31.71" for c in children["items"])
    too_many = problem_of(
        api.get("auditor", "/regions", params={"limit": 501}), 422, "validation_failed"
    )
    assert too_many["errors"][0]["field"] == "query.limit"
    problem_of(api.get("auditor", "/regions", params={"offset": -1}), 422, "validation_failed")
    problem_of(api.get("auditor", "/regions", params={"parent": "99.99"}), 404, "not_found")


def test_users_listed_and_created_by_an_admin_only(api: Api) -> None:
    everyone = api.get("admin", "/users").json()
    assert "operator" in [u["username"] for u in everyone["items"]]
    mine = api.get("verifier", "/users").json()  # a regional reader: users of the region
    assert {u["region_code"][:5] for u in mine["items"]} == {"31.71"}
    body = {
        "username": "op2",
        "full_name": "Operator Dua",
        "role": "operator",
        "region_code": "31.71.01.1002",
    }
    problem_of(api.post("operator", "/users", json=body), 403, "permission_denied")
    created = api.post("admin", "/users", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "op2"
    problem_of(api.post("admin", "/users", json=body), 422, "validation_failed")  # taken


def test_reference_lists_and_the_audit_log(api: Api, engine: Engine) -> None:
    registry(engine, api.data_dir / "batch", range(1, 2))
    programs = api.get("operator", "/programs").json()
    assert {"PKH", "SEMBAKO", "PBI-JKN"} <= {p["code"] for p in programs["items"]}
    assert api.get("operator", "/releases").json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }
    assert api.get("operator", "/cycles").json()["total"] == 0
    events = api.get("auditor", "/audit/events", params={"limit": 3}).json()
    assert events["limit"] == 3 and len(events["items"]) == 3
    assert events["total"] > 3
    # Events name families of every region: national readers only.
    problem_of(api.get("operator", "/audit/events"), 403, "permission_denied")


def test_writes_through_the_api_are_audited_with_the_api_channel(api: Api, engine: Engine) -> None:
    made = {"username": "op3", "full_name": "Op Tiga", "role": "operator"}
    # A village operator for the whole nation: refused, naming the field.
    national = problem_of(
        api.post("admin", "/users", json={**made, "region_code": None}), 422, "validation_failed"
    )
    assert "Wilayah (region) wajib diisi" in national["detail"]
    api.post("admin", "/users", json={**made, "region_code": "31.71.01.1001"})
    with engine.connect() as conn:
        channel = conn.execute(
            text(
                "SELECT channel FROM audit_event WHERE action = 'user.create' "
                "ORDER BY id DESC LIMIT 1"
            )
        ).scalar_one()
    assert channel == "api"


def test_errors_without_a_service_behind_them(api: Api) -> None:
    problem_of(api.get("operator", "/nowhere"), 404, "not_found")
    problem_of(
        api.client.delete("/api/v1/me", headers=api.auth("operator")), 405, "method_not_allowed"
    )
    broken = api.client.post(
        "/api/v1/requests",
        content=b"{not json",
        headers={**api.auth("operator"), "content-type": "application/json"},
    )
    problem_of(broken, 422, "validation_failed")


def test_the_openapi_document_describes_every_endpoint(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/api/v1/families/{kk}",
        "/api/v1/families/by-nik/{nik}",
        "/api/v1/families/{kk}/benefits",
        "/api/v1/requests",
        "/api/v1/cycles/{label}/beneficiaries",
        "/api/v1/explain",
        "/api/v1/me",
    ):
        assert path in paths, path
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    family_schema = document["components"]["schemas"]["FamilyView"]
    assert "members" in family_schema["properties"]
    assert "identity_masked" in family_schema["properties"]
    benefits = document["components"]["schemas"]["FamilyBenefits"]["properties"]
    assert {"kk_number", "scores", "entitlements"} <= set(benefits)


def test_jobs_are_submitted_and_read_by_their_owner_only(api: Api) -> None:
    h, members = family(1)
    folder = write_batch(api.data_dir / "upload", [h], members)
    uploaded = api.post(
        "operator",
        "/imports",
        files=[("files", (p.name, p.read_bytes(), "text/csv")) for p in folder],
        data={"status": "proposed"},
    )
    assert uploaded.status_code == 202, uploaded.text
    job = uploaded.json()
    assert (job["kind"], job["state"], job["username"]) == ("import", "queued", "operator")
    assert api.get("operator", f"/jobs/{job['id']}").json()["id"] == job["id"]
    assert [j["id"] for j in api.get("operator", "/jobs").json()["items"]] == [job["id"]]
    # Another's job is not found, its reject file neither; a national auditor sees it.
    problem_of(api.get("other_verifier", f"/jobs/{job['id']}"), 404, "not_found")
    problem_of(api.get("other_verifier", f"/jobs/{job['id']}/rejects"), 404, "not_found")
    assert api.get("auditor", f"/jobs/{job['id']}").status_code == 200
    # Not yet run: no reject file to download, for its owner either.
    problem_of(api.get("operator", f"/jobs/{job['id']}/rejects"), 404, "not_found")

    release = api.post("determiner", "/releases", json={"label": "R1"})
    assert release.status_code == 202, release.text
    assert release.json()["kind"] == "release"
    problem_of(api.post("operator", "/releases", json={"label": "R2"}), 403, "permission_denied")
    problem_of(
        api.post("determiner", "/cycles", json={"program": "PKH", "release": "R1"}),
        422,
        "validation_failed",
    )
    bad = api.post(
        "operator",
        "/imports",
        files=[("files", ("x.exe", b"MZ", "application/octet-stream"))],
    )
    problem_of(bad, 422, "validation_failed")


def test_the_api_package_never_imports_sqlalchemy() -> None:
    import ast

    import lumbung.api

    folder = Path(lumbung.api.__file__).parent
    modules = [*folder.glob("*.py"), folder.parent / "app.py"]
    assert len(modules) > 5
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "sqlalchemy" for n in names), module
