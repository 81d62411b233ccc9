"""Delivery over the HTTP API: accounts, batches, four eyes, the cycle's check."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as DbEngine

from api_helpers import make_api, problem_of
from delivery_helpers import approved_cycle

pytestmark = pytest.mark.usefixtures("users")


def test_accounts_batches_and_the_check_over_the_api(engine: DbEngine, tmp_path: Path) -> None:
    approved_cycle(engine, tmp_path, "SBK-1", "SEMBAKO")
    api = make_api(engine, tmp_path, ["determiner", "approver", "operator", "auditor"])
    problem_of(
        api.post("operator", "/delivery/openings", json={"cycle": "SBK-1"}),
        403,
        "permission_denied",
    )
    made = api.post("determiner", "/delivery/openings", json={"cycle": "SBK-1"})
    assert made.status_code == 201, made.text
    (opening,) = made.json()
    assert (opening["partner"], opening["requested"]) == ("BRI", 6)
    asked = api.get("determiner", f"/delivery/openings/{opening['id']}/file")
    assert asked.status_code == 200 and asked.headers["content-type"].startswith("text/csv")
    families = [line.split(",")[:2] for line in asked.text.splitlines()[1:]]
    answer = "kk,nik,account_number,card_number,status,reason\n" + "".join(
        f"{k},{n},{9876543210 + i},,opened,\n" for i, (k, n) in enumerate(families)
    )
    recorded = api.post(
        "determiner",
        f"/delivery/openings/{opening['id']}/answers",
        files={"file": ("jawaban.csv", answer.encode(), "text/csv")},
    )
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["opened"], recorded.json()["rejected"]) == (6, 0)
    shown = api.get("auditor", f"/families/{families[0][0]}/accounts").json()
    assert shown[0]["account_number"].endswith("3210") and "*" in shown[0]["account_number"]
    plan = api.post("determiner", "/delivery/batches", json={"cycle": "SBK-1"})
    assert plan.status_code == 201, plan.text
    (batch,) = plan.json()["batches"]
    assert (batch["partner"], batch["count"], batch["total_idr"]) == ("BRI", 6, 6 * 200_000)
    problem_of(
        api.post("determiner", f"/delivery/batches/{batch['id']}/approve"), 403, "permission_denied"
    )
    approved = api.post("approver", f"/delivery/batches/{batch['id']}/approve")
    assert approved.json()["state"] == "approved"
    problem_of(
        api.post("approver", f"/delivery/batches/{batch['id']}/cancel", json={"reason": "x"}),
        409,
        "conflict",
    )
    checked = api.get("auditor", "/cycles/SBK-1/check").json()
    assert checked["ok"] and checked["in_flight"]["entitlements"] == 6
    assert checked["states"]["pending"]["amount_idr"] == checked["entitled"]["amount_idr"]
    listed = api.get("auditor", "/delivery/batches", params={"cycle": "SBK-1"}).json()
    assert [b["state"] for b in listed] == ["approved"]
    assert api.get("auditor", "/delivery/partners").json()[0]["channel"] == "bank"


def test_a_bank_file_and_its_answer_over_the_api(engine: DbEngine, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bank_helpers import approved_bank_batches
    from lumbung.delivery.bank import simulate

    (batch,) = approved_bank_batches(engine, tmp_path, "SBK-1", "SEMBAKO")
    api = make_api(engine, tmp_path, ["determiner", "auditor"])
    problem_of(api.post("auditor", f"/delivery/batches/{batch.id}/file"), 403, "permission_denied")
    written = api.post("determiner", f"/delivery/batches/{batch.id}/file")
    assert written.status_code == 200 and b"pain.001.001.09" in written.content
    payment = tmp_path / "pain001.xml"
    payment.write_bytes(written.content)
    report = tmp_path / "pain002.xml"
    simulate.write_status_report(
        report,
        simulate.answers(payment, fail_every=2),
        original_message_id=simulate.message_id(payment),
        created=datetime.now(UTC),
    )
    sent = api.post(
        "determiner",
        "/delivery/statuses",
        files={"file": ("pain002.xml", report.read_bytes(), "application/xml")},
        data={"partner": "BRI"},
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["recorded"]["paid"] + body["recorded"]["failed"] == batch.count
    again = api.post(
        "determiner",
        "/delivery/statuses",
        files={"file": ("pain002.xml", report.read_bytes(), "application/xml")},
    ).json()
    assert again["unchanged"] == batch.count
    problem_of(
        api.post(
            "determiner",
            "/delivery/statuses",
            files={"file": ("x.exe", b"MZ", "application/octet-stream")},
        ),
        422,
        "validation_failed",
    )
    assert api.get("auditor", "/cycles/SBK-1/check").json()["ok"]
