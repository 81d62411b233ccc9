"""A cycle's delivery on the pages: accounts asked for and answered, batches made and
approved by another, the check of where every rupiah stands."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from delivery_helpers import approved_cycle
from web_helpers import client, csrf_of, enrolled, followed, give_passwords, make_app, sign_in

pytestmark = pytest.mark.usefixtures("users")
PAGE = "/siklus/SBK-1/penyaluran"


def test_a_bank_cycle_is_prepared_and_approved_on_the_pages(engine: Engine, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    approved_cycle(engine, data_dir, "SBK-1", "SEMBAKO")
    give_passwords(engine, "determiner", "approver", "auditor")
    app = make_app(engine, data_dir)
    maker, checker = enrolled(app, "determiner"), enrolled(app, "approver")

    cycle_page = maker.get("/siklus/SBK-1").text
    assert 'id="cycle-check"' in cycle_page and PAGE in cycle_page
    _no_doubled_punctuation(cycle_page)
    maker.get("/bahasa/en?kembali=/")
    _no_doubled_punctuation(maker.get("/siklus/SBK-1").text)
    maker.get("/bahasa/id?kembali=/")
    page = maker.get(PAGE)
    assert page.status_code == 200 and 'id="check-ok"' in page.text
    opened = maker.post(PAGE, data={"csrf": csrf_of(page.text), "action": "open"})
    assert opened.status_code == 303 and "selesai=opened" in opened.headers["location"]
    page = maker.get(PAGE)
    assert 'id="openings"' in page.text
    download = maker.get("/penyaluran/rekening/1/berkas")
    assert download.status_code == 200
    families = [line.split(",")[:2] for line in download.text.splitlines()[1:]]
    assert len(families) == 6
    answer = "kk,nik,account_number,card_number,status,reason\n" + "".join(
        f"{k},{n},{1111111111 + i},,berhasil,\n" for i, (k, n) in enumerate(families)
    )
    answer += f"{families[0][0]},{families[0][1]},1,,berhasil,\n"
    theirs = checker.get(PAGE)
    answered = followed(
        checker,
        checker.post(
            PAGE,
            data={"csrf": csrf_of(theirs.text), "action": "answer", "opening": "1"},
            files={"file": ("jawaban.csv", answer.encode(), "text/csv")},
        ),
    )
    assert answered.status_code == 200 and 'id="answer"' in answered.text
    assert "6 rekening dibuka" in answered.text and "1 ditolak" in answered.text
    page = maker.get(PAGE)
    made = maker.post(PAGE, data={"csrf": csrf_of(page.text), "action": "create"})
    assert "selesai=created" in made.headers["location"]
    own = maker.get(PAGE).text
    assert "Batch ini Anda buat" in own and 'value="approve"' not in own
    theirs = checker.get(PAGE)
    assert 'value="approve"' in theirs.text
    approved = checker.post(
        PAGE, data={"csrf": csrf_of(theirs.text), "action": "approve", "batch": "1"}
    )
    assert "selesai=approved" in approved.headers["location"]
    final = checker.get(PAGE).text
    assert 'id="check-ok"' in final and "disetujui" in final
    bank_file = checker.post("/penyaluran/batch/1/berkas", data={"csrf": csrf_of(final)})
    assert bank_file.status_code == 200, bank_file.text[:500]
    assert bank_file.headers["content-type"].startswith("application/xml")
    assert b"<CdtTrfTxInf>" in bank_file.content
    written = tmp_path / "LUMBUNG-1.xml"
    written.write_bytes(bank_file.content)
    from datetime import date

    from lumbung.delivery.bank import simulate

    statement = tmp_path / "status.csv"
    simulate.write_statement(
        statement, simulate.answers(written, fail_every=2), value_date=date(2027, 1, 5)
    )
    theirs = checker.get(PAGE)
    recorded = followed(
        checker,
        checker.post(
            PAGE,
            data={"csrf": csrf_of(theirs.text), "action": "status"},
            files={"file": ("status.csv", statement.read_bytes(), "text/csv")},
        ),
    )
    assert recorded.status_code == 200 and 'id="recorded"' in recorded.text, recorded.text[:800]
    assert "dibayar 3, gagal 3" in recorded.text
    assert 'id="check-ok"' in recorded.text
    assert 'id="recorded"' not in checker.get(PAGE).text  # shown once: a reload sends nothing
    family = checker.get(f"/keluarga/{families[0][0]}").text
    assert f'hx-get="/keluarga/{families[0][0]}/pembayaran"' in family
    paid = checker.get(f"/keluarga/{families[0][0]}/pembayaran", headers={"HX-Request": "true"})
    assert paid.text.startswith('<section id="family-delivery">')  # the fragment, no layout
    assert 'id="payments"' in paid.text and "/siklus/SBK-1/penyaluran" in paid.text
    assert 'id="accounts"' in paid.text and "******1111" in paid.text
    whole = checker.get(f"/keluarga/{families[0][0]}/pembayaran").text
    assert "<html" in whole and 'id="payments"' in whole

    reader = client(app)
    sign_in(reader, "auditor")
    seen = reader.get(PAGE)
    assert seen.status_code == 200 and 'id="batches"' in seen.text
    assert 'value="create"' not in seen.text and 'value="approve"' not in seen.text
    assert reader.get("/penyaluran/rekening/1/berkas").status_code == 403
    refused = reader.post(PAGE, data={"csrf": csrf_of(seen.text), "action": "create"})
    assert refused.status_code == 403


def test_an_operator_proposes_a_new_account_on_the_pages(engine: Engine, tmp_path: Path) -> None:
    from test_delivery_accounts import HEADER, answer, file_of, open_for, requested

    data_dir = tmp_path / "data"
    approved_cycle(engine, data_dir, "SBK-1", "SEMBAKO")
    (opening,) = open_for(engine, "SBK-1")
    families = requested(file_of(engine, opening.id))
    (tmp_path / "a.csv").write_text(
        HEADER
        + "".join(f"{k},{n},{7770000000 + i},,opened,\n" for i, (k, n) in enumerate(families))
    )
    answer(engine, opening.id, tmp_path / "a.csv")
    give_passwords(engine, "operator")
    app = make_app(engine, data_dir)
    browser = client(app)
    sign_in(browser, "operator")
    kk_number = families[0][0]
    family = browser.get(f"/keluarga/{kk_number}").text
    assert f"/usulan/baru/update_account?kk={kk_number}" in family
    accounts = browser.get(f"/keluarga/{kk_number}/pembayaran").text
    assert 'id="accounts"' in accounts and "******0000" in accounts
    assert "7770000000" not in accounts
    form = browser.get(f"/usulan/baru/update_account?kk={kk_number}")
    assert form.status_code == 200 and '<option value="BSI"' in form.text
    version = form.text.split('name="version" value="')[1].split('"')[0]
    wrong = browser.post(
        f"/usulan/baru/update_account?kk={kk_number}",
        data={
            "csrf": csrf_of(form.text),
            "kk": kk_number,
            "version": version,
            "bank": "BNI",
            "account_number": "12ab",
        },
    )
    assert wrong.status_code == 422 and 'id="f-account_number" class="field-error"' in wrong.text
    done = browser.post(
        f"/usulan/baru/update_account?kk={kk_number}",
        data={
            "csrf": csrf_of(form.text),
            "kk": kk_number,
            "version": version,
            "bank": "BNI",
            "account_number": "0987654321",
            "card_number": "",
        },
    )
    assert done.status_code == 303, done.text[:500]
    shown = browser.get(done.headers["location"]).text
    assert "******4321" in shown and "0987654321" not in shown


def _no_doubled_punctuation(html: str) -> None:
    """The check's sentence then its amounts, each with its own punctuation once."""
    check = html[html.index('id="cycle-check"') :]
    check = check[: check.index("</p>")]
    assert "adds up" in check.lower() or "cocok" in check.lower()
    assert ".:" not in check and ":." not in check and ". ." not in check
