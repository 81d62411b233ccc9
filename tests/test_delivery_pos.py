"""PT Pos: voucher tokens, issuing, counters' tokens, redemption exactly once, offline uploads."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine

from conftest import user
from delivery_helpers import approve_batch, approved_cycle, create
from lumbung.db import session_scope
from lumbung.delivery import ledger
from lumbung.delivery.pos import counters, keys, offline, sealing, token, vouchers
from lumbung.delivery.pos.counters import Counter
from lumbung.delivery.pos.models import Voucher
from lumbung.delivery.pos.redemption import AlreadyRedeemed, Redemption, redeem
from lumbung.errors import (
    Conflict,
    LumbungError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)

pytestmark = pytest.mark.usefixtures("users")

TODAY = date(2026, 12, 7)


# ---- tokens, no database ----------------------------------------------------------------


def _claim(**changes: object) -> token.VoucherClaim:
    values: dict[str, object] = {
        "key_id": "k1",
        "voucher_id": 123456,
        "amount_idr": 600_000,
        "expires_on": date(2027, 2, 1),
        "nik": "3171015708450001",
    }
    values.update(changes)
    return token.claim_for(**values)  # type: ignore[arg-type]


def test_a_token_signs_verifies_and_reads_back() -> None:
    key = token.signing_key(b"\x01" * 32)
    raw = token.sign(_claim(), key)
    assert len(raw) == token.TOKEN_LENGTH == 132
    assert set(raw) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")  # QR alphanumeric mode
    claim = token.verify(raw, {1: token.public_bytes(key)})
    assert (claim.voucher_id, claim.amount_idr, claim.expires_on) == (
        123456,
        600_000,
        date(2027, 2, 1),
    )
    assert claim.matches("3171015708450001") and not claim.matches("3171015708450002")
    assert not claim.expired(date(2027, 2, 1)) and claim.expired(date(2027, 2, 2))
    # deterministic: a letter printed again carries the same code
    assert token.sign(_claim(), key) == raw
    # lower case and spaces (typed by hand) read the same
    assert token.verify(raw.lower()[:60] + " " + raw.lower()[60:], {1: token.public_bytes(key)})


def test_a_tampered_token_a_wrong_key_and_an_unknown_key_are_refused() -> None:
    key = token.signing_key(b"\x01" * 32)
    other = token.signing_key(b"\x02" * 32)
    raw = token.sign(_claim(), key)
    public = {1: token.public_bytes(key)}
    # the amount raised in the payload: the signature no longer holds
    claim, _payload, signature = token.decode(raw)
    forged_payload = _claim(amount_idr=6_000_000).payload()
    import base64

    forged = base64.b32encode(forged_payload + signature).decode().rstrip("=")
    with pytest.raises(token.TokenInvalid, match="tanda tangan"):
        token.verify(forged, public)
    flipped = raw[:-5] + ("A" if raw[-5] != "A" else "B") + raw[-4:]
    with pytest.raises(token.TokenInvalid):
        token.verify(flipped, public)
    with pytest.raises(token.TokenInvalid, match="tanda tangan"):
        token.verify(token.sign(_claim(), other), public)
    with pytest.raises(token.TokenInvalid, match="k2"):
        token.verify(token.sign(_claim(key_id="k2"), key), public)
    with pytest.raises(token.TokenInvalid, match="panjang"):
        token.verify(raw[:-1], public)
    with pytest.raises(token.TokenInvalid, match="base32"):
        token.verify(raw[:-1] + "1", public)
    assert claim.voucher_id == 123456


# ---- the database -------------------------------------------------------------------------


def pos_batch(
    engine: DbEngine, tmp: Path, *, expires_on: date = date(2027, 2, 1), today: date = TODAY
) -> int:
    """BBM-1's pos batch, approved, with its vouchers issued."""
    approved_cycle(engine, tmp, "BBM-1", "BLT-BBM-2022")
    (batch,) = create(engine, "BBM-1").batches
    approve_batch(engine, batch.id)
    with session_scope(engine) as session:
        issued = vouchers.issue_vouchers(
            session,
            actor=user(session, "determiner"),
            batch_id=batch.id,
            expires_on=expires_on,
            today=today,
        )
    assert issued.issued == 7 and issued.without_recipient == 0
    return batch.id


def all_vouchers(engine: DbEngine) -> list[tuple[int, str, str]]:
    """(voucher id, token, NIK) of every voucher."""
    with session_scope(engine) as session:
        rows = session.query(Voucher).order_by(Voucher.id).all()
        return [(v.id, vouchers.token_of(v), v.nik) for v in rows]


def counter_token(
    engine: DbEngine, counter: str = "GAMBIR-01", region: str | None = None, partner: str = "POS"
) -> str:
    with session_scope(engine) as session:
        raw, _ = counters.issue(
            session,
            actor=user(session, "admin"),
            partner_code=partner,
            counter=counter,
            name=f"loket {counter}",
            region_code=region,
        )
    return raw


def redeem_with(engine: DbEngine, raw_counter: str, voucher_token: str, nik: str) -> Redemption:
    with session_scope(engine) as session:
        counter = counters.check(session, raw_counter)
        return redeem(session, counter=counter, token=voucher_token, nik=nik)


def check(engine: DbEngine) -> ledger.CycleCheck:
    with session_scope(engine) as session:
        return ledger.check_cycle(session, actor=user(session, "auditor"), label="BBM-1")


def test_vouchers_are_issued_once_for_an_approved_pos_batch(
    engine: DbEngine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    (batch,) = create(engine, "BBM-1").batches
    with session_scope(engine) as session, pytest.raises(Conflict, match="belum disetujui"):
        vouchers.issue_vouchers(session, actor=user(session, "determiner"), batch_id=batch.id)
    approve_batch(engine, batch.id)
    with session_scope(engine) as session, pytest.raises(PermissionDenied):
        vouchers.issue_vouchers(session, actor=user(session, "verifier"), batch_id=batch.id)
    with session_scope(engine) as session:
        first = vouchers.issue_vouchers(
            session, actor=user(session, "determiner"), batch_id=batch.id, today=TODAY
        )
    assert (first.issued, first.total_idr, first.already) == (7, 7 * 300_000, 0)
    assert first.expires_on == TODAY + timedelta(days=60)
    with session_scope(engine) as session:
        again = vouchers.issue_vouchers(
            session, actor=user(session, "determiner"), batch_id=batch.id, today=TODAY
        )
    assert (again.issued, again.already) == (0, 7)
    for voucher_id, raw, nik in all_vouchers(engine):
        claim = keys.verify(raw)
        assert claim.voucher_id == voucher_id and claim.matches(nik)
        assert claim.amount_idr == 300_000
    assert check(engine).ok


def test_a_voucher_is_paid_once_and_the_ledger_adds_up(engine: DbEngine, tmp_path: Path) -> None:
    pos_batch(engine, tmp_path)
    raw_counter = counter_token(engine)
    (voucher_id, raw, nik), *_ = all_vouchers(engine)
    done = redeem_with(engine, raw_counter, raw, nik)
    assert (done.voucher_id, done.amount_idr, done.state, done.counter) == (
        voucher_id,
        300_000,
        "paid",
        "POS/GAMBIR-01",
    )
    other = counter_token(engine, "GAMBIR-02")
    with pytest.raises(AlreadyRedeemed) as second:
        redeem_with(engine, other, raw, nik)
    assert second.value.status_code == 409 and "POS/GAMBIR-01" in second.value.message
    assert second.value.details[0]["recipient_nik"].endswith("*" * 12)
    found = check(engine)
    assert found.ok, found.problems
    assert found.awaiting_seal == 1
    assert found.states["paid"].entitlements == 1
    with session_scope(engine) as session:
        sealed = sealing.seal_awaiting(session)
    assert (sealed.sealed, sealed.refused) == (1, 0)
    after = check(engine)
    assert after.ok and after.awaiting_seal == 0, after.problems
    assert after.states["paid"].amount_idr == 300_000


def test_a_wrong_nik_an_expired_voucher_and_a_forged_event_are_refused(
    engine: DbEngine, tmp_path: Path
) -> None:
    pos_batch(engine, tmp_path, expires_on=date(2026, 12, 1), today=date(2026, 11, 1))
    raw_counter = counter_token(engine)
    (_, raw, nik), (_, raw2, nik2), *_ = all_vouchers(engine)
    with pytest.raises(ValidationFailed, match="NIK tidak cocok"):
        redeem_with(engine, raw_counter, raw, nik2)
    with pytest.raises(ValidationFailed, match="16 angka"):
        redeem_with(engine, raw_counter, raw, "12345")
    with session_scope(engine) as session:
        counter = counters.check(session, raw_counter)
        with pytest.raises(ValidationFailed, match="kedaluwarsa"):
            redeem(
                session,
                counter=counter,
                token=raw,
                nik=nik,
                redeemed_at=datetime(2026, 12, 1, 17, 30, tzinfo=UTC),  # 2 December in WIB
            )
        # the last day, in WIB, still counts
        assert (
            redeem(
                session,
                counter=counter,
                token=raw2,
                nik=nik2,
                redeemed_at=datetime(2026, 12, 1, 16, 30, tzinfo=UTC),
            ).state
            == "paid"
        )
    assert check(engine).states["paid"].entitlements == 1
    # a paid event inserted in the database, "awaiting its seal": no voucher vouches for it
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payment_event (cycle_id, beneficiary_id, attempt, batch_id, kind, "
                "amount_idr, reference, recorded_at, source, actor) SELECT cycle_id, "
                "beneficiary_id, attempt, batch_id, 'paid', amount_idr, 'POS/X', :now, "
                "'pos:awaiting-seal', 'x' FROM payment_item WHERE beneficiary_id = "
                "(SELECT max(beneficiary_id) FROM payment_item)"
            ),
            {"now": datetime.now(UTC)},
        )
    found = check(engine)
    assert any("menunggu segel" in p for p in found.problems), found.problems
    with session_scope(engine) as session:
        assert sealing.seal_awaiting(session).refused == 1
    assert nik2 != nik and raw2 != raw


def test_a_counter_token_is_scoped_to_its_partner_and_region(
    engine: DbEngine, tmp_path: Path
) -> None:
    pos_batch(engine, tmp_path)
    (_, raw, nik), *_ = all_vouchers(engine)
    elsewhere = counter_token(engine, "BANDUNG-01", region="32.73")
    with pytest.raises(PermissionDenied, match="wilayah"):
        redeem_with(engine, elsewhere, raw, nik)
    with session_scope(engine) as session, pytest.raises(PermissionDenied):
        counters.check(session, "lmb_abcd1234_" + "x" * 43)  # a user's token is not a counter's
    with session_scope(engine) as session, pytest.raises(PermissionDenied):
        counters.issue(
            session,
            actor=user(session, "determiner"),
            partner_code="POS",
            counter="X",
            name="x",
        )
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match="bukan mitra"):
        counters.issue(
            session, actor=user(session, "admin"), partner_code="BRI", counter="X", name="x"
        )
    here = counter_token(engine, "GAMBIR-01", region="31.71")
    assert redeem_with(engine, here, raw, nik).state == "paid"
    with session_scope(engine) as session:
        (view, *_) = counters.list_tokens(session, actor=user(session, "admin"))
        counters.revoke(session, actor=user(session, "admin"), token_id=view.id, reason="hilang")
    with session_scope(engine) as session, pytest.raises(PermissionDenied, match="dicabut"):
        counters.check(session, here)


def test_a_refused_redemption_leaves_the_voucher_to_be_paid_once_later(
    engine: DbEngine, tmp_path: Path
) -> None:
    """Each check is made by the claim itself (one statement): what it refuses is told apart
    by reading the voucher, and the voucher stays issued until a redemption that passes."""
    pos_batch(engine, tmp_path)
    raw_counter = counter_token(engine)
    (voucher_id, raw, nik), (other_id, raw2, nik2), *_ = all_vouchers(engine)

    def state_of(which: int) -> str:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    text("SELECT state FROM voucher WHERE id = :id"), {"id": which}
                ).scalar_one()
            )

    def alter(sql: str) -> None:
        with engine.begin() as conn:
            conn.execute(text(sql), {"id": voucher_id})

    alter("UPDATE voucher SET partner_code = 'BRI' WHERE id = :id")
    with pytest.raises(PermissionDenied, match="bukan untuk mitra POS"):
        redeem_with(engine, raw_counter, raw, nik)
    alter("UPDATE voucher SET partner_code = 'POS', amount_idr = 1 WHERE id = :id")
    with pytest.raises(ValidationFailed, match="tidak sesuai dengan catatan"):
        redeem_with(engine, raw_counter, raw, nik)
    alter("UPDATE voucher SET amount_idr = 300000 WHERE id = :id")
    alter(
        "UPDATE payment_batch SET state = 'draft' WHERE id = (SELECT batch_id FROM voucher "
        "WHERE id = :id)"
    )
    with pytest.raises(Conflict, match="tidak disetujui"):
        redeem_with(engine, raw_counter, raw, nik)
    alter(
        "UPDATE payment_batch SET state = 'approved' WHERE id = (SELECT batch_id FROM voucher "
        "WHERE id = :id)"
    )
    # the attempt answered meanwhile (cancelled, no longer live): the claim is rolled back
    # with the rest
    alter(
        "UPDATE payment_item SET state = 'cancelled', live = FALSE"
        " WHERE (batch_id, beneficiary_id, attempt) "
        "= (SELECT batch_id, beneficiary_id, attempt FROM voucher WHERE id = :id)"
    )
    with pytest.raises(Conflict, match="tidak lagi tertunda") as not_pending:
        redeem_with(engine, raw_counter, raw, nik)
    assert not_pending.value.cause == "not_pending"
    assert state_of(voucher_id) == "issued"
    alter(
        "UPDATE payment_item SET state = 'pending', live = TRUE"
        " WHERE (batch_id, beneficiary_id, attempt) "
        "= (SELECT batch_id, beneficiary_id, attempt FROM voucher WHERE id = :id)"
    )
    # a voucher that does not exist (a code signed with this installation's key)
    unknown = token.sign(
        token.claim_for(
            key_id=keys.current_key_id(),
            voucher_id=999_999,
            amount_idr=300_000,
            expires_on=TODAY + timedelta(days=60),
            nik=nik,
        ),
        keys.signing_key(keys.current_key_id()),
    )
    with pytest.raises(NotFound, match="999999 tidak ada"):
        redeem_with(engine, raw_counter, unknown, nik)
    # a counter of the family's district pays it (the region's code a prefix of the village's)
    with engine.connect() as conn:
        village = str(
            conn.execute(
                text("SELECT village_code FROM voucher WHERE id = :id"), {"id": voucher_id}
            ).scalar_one()
        )
    district = village.rsplit(".", 1)[0]
    assert state_of(voucher_id) == state_of(other_id) == "issued"
    done = redeem_with(engine, counter_token(engine, "KEC-01", region=district), raw, nik)
    assert (done.voucher_id, done.state) == (voucher_id, "paid")
    with pytest.raises(AlreadyRedeemed):
        redeem_with(engine, raw_counter, raw, nik)
    assert redeem_with(engine, raw_counter, raw2, nik2).voucher_id == other_id
    with engine.connect() as conn:
        paid_events = conn.execute(
            text("SELECT count(*) FROM payment_event WHERE kind = 'paid'")
        ).scalar_one()
    assert paid_events == 2
    with session_scope(engine) as session:
        assert sealing.seal_awaiting(session).sealed == 2
    assert check(engine).ok


def test_concurrent_redemptions_pay_each_voucher_once(engine: DbEngine, tmp_path: Path) -> None:
    """Seven vouchers, each scanned by five counters at once: seven paid, 28 conflicts."""
    pos_batch(engine, tmp_path)
    raws = [counter_token(engine, f"LOKET-{n}") for n in range(5)]
    issued = all_vouchers(engine)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(raws))

    def counter_run(raw_counter: str) -> None:
        start.wait()
        for _, raw, nik in issued:
            try:
                redeem_with(engine, raw_counter, raw, nik)
                result = "paid"
            except AlreadyRedeemed:
                result = "conflict"
            except LumbungError as error:  # SQLite busy beyond its timeout would show here
                result = f"error {error.message}"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=counter_run, args=(raw,)) for raw in raws]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(outcomes)) == ["conflict", "paid"], outcomes
    assert outcomes.count("paid") == 7 and outcomes.count("conflict") == 28
    with engine.connect() as conn:
        paid_events = conn.execute(
            text("SELECT count(*) FROM payment_event WHERE kind = 'paid'")
        ).scalar_one()
    assert paid_events == 7
    with session_scope(engine) as session:
        sealing.seal_awaiting(session)
    found = check(engine)
    assert found.ok and found.states["paid"].entitlements == 7, found.problems


def test_offline_uploads_pay_once_and_report_conflicts(engine: DbEngine, tmp_path: Path) -> None:
    pos_batch(engine, tmp_path)
    issued = all_vouchers(engine)
    raw_counter = counter_token(engine, "GAMBIR-01")
    # online first: voucher 0 at GAMBIR-01
    redeem_with(engine, raw_counter, issued[0][1], issued[0][2])
    when = "2026-12-07T09:15:00+07:00"
    rows = [
        {"token": raw, "nik": nik, "redeemed_at": when, "counter": "DESA-07"}
        for _, raw, nik in issued[:4]
    ]
    rows.append({"token": issued[4][1], "nik": issued[5][2], "redeemed_at": when, "counter": "D"})
    data = json.dumps(rows).encode()
    with session_scope(engine) as session:
        result = offline.reconcile_as_user(
            session, actor=user(session, "determiner"), partner_code="POS", rows=offline.parse(data)
        )
    assert (result.rows, result.paid, result.conflicts, result.refused) == (5, 3, 1, 1)
    assert result.amount_idr == 3 * 300_000
    (conflict,) = [o for o in result.outcomes if o.outcome == "conflict"]
    assert "POS/GAMBIR-01" in conflict.message and conflict.voucher_id == issued[0][0]
    # the same file again: nothing paid twice; its own rows are duplicates
    with session_scope(engine) as session:
        again = offline.reconcile_as_user(
            session, actor=user(session, "determiner"), partner_code="POS", rows=offline.parse(data)
        )
    assert (again.paid, again.duplicates, again.conflicts, again.refused) == (0, 3, 1, 1)
    # a CSV from a counter with its own token
    csv_data = (
        "token,nik,redeemed_at,counter\n"
        f"{issued[6][1]},{issued[6][2]},2026-12-07 10:00:00,GAMBIR-01\n"
        f"{issued[1][1]},{issued[1][2]},2026-12-07 10:01:00,GAMBIR-01\n"
    ).encode()
    with session_scope(engine) as session:
        counter = counters.check(session, raw_counter)
        mine = offline.reconcile_as_counter(session, counter=counter, rows=offline.parse(csv_data))
    assert (mine.paid, mine.conflicts) == (1, 1)
    found = check(engine)
    assert found.ok, found.problems
    assert found.states["paid"].entitlements == 5 and found.awaiting_seal == 1
    with engine.connect() as conn:
        paid_events = conn.execute(
            text("SELECT count(*) FROM payment_event WHERE kind = 'paid'")
        ).scalar_one()
    assert paid_events == 5


def test_the_counter_of_a_redemption_is_what_its_token_says(engine: DbEngine) -> None:
    assert Counter(1, "POS", "A-1", None).label == "POS/A-1"


# ---- letters ------------------------------------------------------------------------------


def test_letters_open_their_qr_decodes_and_verifies(engine: DbEngine, tmp_path: Path) -> None:
    import pypdfium2
    import zxingcpp
    from pypdf import PdfReader

    from lumbung.delivery.pos import letters

    batch_id = pos_batch(engine, tmp_path)
    with engine.begin() as conn:  # a name that would be markup, were it parsed as such
        conn.execute(
            text("UPDATE member SET name = :name WHERE nik = (SELECT min(nik) FROM voucher)"),
            {"name": "SITI <b>NUR</b> & ANAK"},
        )
    options = letters.LetterOptions(
        place="Kantor Pos Gambir, Jl. Pos No. 2", collect_on=date(2026, 12, 14), stage="Tahap I"
    )
    # what a run killed mid-way (kill -9) leaves: its staging folder, swept by the next run
    stale = tmp_path / "letters" / ".staging-BBM-1-B1-4194999"
    stale.mkdir(parents=True)
    (stale / "31.71.01.1001.pdf").write_bytes(b"%PDF half")
    with session_scope(engine) as session:
        result = letters.write_letters(
            session,
            actor=user(session, "determiner"),
            batch_id=batch_id,
            out_dir=tmp_path / "letters",
            options=options,
            workers=1,
        )
    assert result.letters == 7 and not stale.exists()
    manifest = json.loads((Path(result.folder) / "manifest.json").read_text())
    assert sum(f["letters"] for f in manifest["files"]) == 7
    issued = {voucher_id: nik for voucher_id, _, nik in all_vouchers(engine)}
    decoded = 0
    seen_markup = False
    for entry in result.files:
        path = Path(result.folder) / entry.file
        reader = PdfReader(path)
        assert len(reader.pages) == entry.letters
        body = "\n".join(page.extract_text() for page in reader.pages)
        assert "SURAT UNDANGAN" in body and "Rp300.000" in body and "KTP-el" in body
        seen_markup |= "SITI <b>NUR</b> & ANAK" in body
        document = pypdfium2.PdfDocument(str(path))
        for index in range(len(document)):
            image = document[index].render(scale=150 / 72).to_pil()
            (barcode,) = zxingcpp.read_barcodes(image)
            claim = keys.verify(barcode.text)
            assert claim.matches(issued[claim.voucher_id])
            decoded += 1
        document.close()
    assert decoded == 7 and seen_markup
    with session_scope(engine) as session, pytest.raises(Conflict, match="sudah ada"):
        letters.write_letters(
            session,
            actor=user(session, "determiner"),
            batch_id=batch_id,
            out_dir=tmp_path / "letters",
            options=options,
        )


def test_letters_in_two_processes_match_one(tmp_path: Path) -> None:
    from lumbung.delivery.pos import letters
    from lumbung.delivery.pos.pdf import Letter, Village

    villages = [
        Village(
            f"31.71.01.100{n}",
            f"Desa {n}",
            "Gambir",
            "Kota Jakarta Pusat",
            "DKI Jakarta",
            "BLT BBM",
            "Tahap I",
            "Kantor Pos",
            date(2026, 12, 14),
            "08.00",
            TODAY,
            "BBM-1/B1",
        )
        for n in range(3)
    ]
    jobs_one, jobs_two = [], []
    for n, village in enumerate(villages):
        batch = [
            Letter(
                n * 100 + i + 1,
                "k1",
                "3171015708450001",
                300_000,
                date(2027, 1, 1),
                f"NAMA {i}",
                "Jl. Mawar",
                "001",
                "002",
                i % 2 == 0,
            )
            for i in range(150)
        ]
        jobs_one.append((str(tmp_path / f"a{n}.pdf"), village, batch))
        jobs_two.append((str(tmp_path / f"b{n}.pdf"), village, batch))
    seeds = {"k1": b"\x07" * 32}
    one = letters.render_all(jobs_one, seeds, 1)
    two = letters.render_all(jobs_two, seeds, 2)
    assert one.files == two.files and len(one.files) == 3


# ---- the counters' API --------------------------------------------------------------------


def test_the_redemption_api_pays_once_and_answers_409_to_the_second_counter(
    engine: DbEngine, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from api_helpers import API, make_api

    pos_batch(engine, tmp_path)
    api = make_api(engine, tmp_path / "data", ["admin"])
    issued = all_vouchers(engine)
    raws = [counter_token(engine, f"LOKET-{n}") for n in range(4)]

    def post(
        raw_counter: str, body: object, path: str = "/vouchers/redeem"
    ) -> tuple[int, dict[str, Any]]:
        response = api.client.post(
            API + path, json=body, headers={"Authorization": f"Bearer {raw_counter}"}
        )
        return response.status_code, response.json()

    # no token, a user's token, a wrong NIK
    assert api.client.post(API + "/vouchers/redeem", json={}).status_code == 401
    assert post(api.tokens["admin"], {"token": issued[0][1], "nik": issued[0][2]})[0] == 401
    status, wrong = post(raws[0], {"token": issued[0][1], "nik": issued[1][2]})
    assert status == 422 and "NIK" in wrong["detail"]
    # every voucher scanned by four counters at once
    work = [(raw, voucher) for voucher in issued for raw in raws]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda job: post(job[0], {"token": job[1][1], "nik": job[1][2]}), work)
        )
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(200) == 7 and statuses.count(409) == 21, statuses
    conflict = next(body for status, body in answers if status == 409)
    assert conflict["code"] == "conflict" and "loket POS/LOKET-" in conflict["detail"]
    assert conflict["errors"][0]["recipient_nik"].endswith("*" * 12)
    # offline uploads of vouchers already paid are conflicts, never paid twice
    status, uploaded = post(
        raws[0],
        {
            "redemptions": [
                {"token": t, "nik": n, "redeemed_at": "2026-12-07T08:00:00", "counter": "LOKET-0"}
                for _, t, n in issued
            ]
        },
        "/vouchers/redemptions",
    )
    assert status == 200 and uploaded["paid"] == 0
    assert uploaded["conflicts"] + uploaded["duplicates"] == 7
    published = api.client.get(
        API + "/vouchers/public-keys", headers={"Authorization": f"Bearer {raws[0]}"}
    ).json()
    assert [(k["key_id"], k["current"]) for k in published] == [("k1", True)]
    claim = token.verify(issued[0][1], {1: bytes.fromhex(published[0]["public_key"])})
    assert claim.voucher_id == issued[0][0]
    with session_scope(engine) as session:
        sealing.seal_awaiting(session)
    found = check(engine)
    assert found.ok and found.states["paid"].entitlements == 7, found.problems
    assert found.awaiting_seal == 0


# ---- the command line ---------------------------------------------------------------------


def test_the_voucher_commands(
    engine: DbEngine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_cli import Cli, _reset

    batch_id = pos_batch(engine, tmp_path)
    issued = all_vouchers(engine)
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LUMBUNG_ACTOR", raising=False)
    monkeypatch.chdir(tmp_path)
    _reset()
    try:
        cli = Cli(tmp_path / "data")
        again = cli.json("delivery", "voucher", "issue", str(batch_id), "--as", "determiner")
        assert (again["issued"], again["already"]) == (0, 7)
        (key,) = cli.json("delivery", "voucher", "public-key")
        public = f"{key['key_id']}={key['public_key']}"
        voucher_id, code, nik = issued[0]
        checked = cli.json(
            "delivery", "voucher", "verify", code, "--nik", nik, "--public-key", public
        )
        assert checked["voucher_id"] == voucher_id and checked["nik_matches"] is True
        wrong = cli.run(
            "delivery", "voucher", "verify", code, "--nik", issued[1][2], "--public-key", public
        )
        assert wrong.exit_code == 1 and "TIDAK cocok" in wrong.output
        created = cli.json(
            "delivery",
            "voucher",
            "counter-token",
            "create",
            "--counter",
            "DESA-1",
            "--name",
            "x",
            "--as",
            "admin",
        )
        assert created["token"].startswith("lmc_")
        listed = cli.json("delivery", "voucher", "counter-token", "list", "--as", "admin")
        assert [row["counter"] for row in listed] == ["DESA-1"] and "token" not in listed[0]
        upload = tmp_path / "offline.csv"
        upload.write_text(
            "token,nik,redeemed_at,counter\n"
            f"{code},{nik},2026-12-07T09:00:00,DESA-1\n{code},{nik},2026-12-07T10:00:00,DESA-2\n"
        )
        done = cli.json("delivery", "voucher", "reconcile", str(upload), "--as", "determiner")
        assert (done["paid"], done["conflicts"]) == (1, 1)
        assert cli.json("delivery", "voucher", "seal")["sealed"] == 0  # an upload seals its own
        written = cli.json(
            "delivery",
            "voucher",
            "letters",
            str(batch_id),
            "--out",
            str(tmp_path / "out"),
            "--place",
            "Kantor Pos",
            "--date",
            "2026-12-14",
            "--workers",
            "1",
            "--as",
            "determiner",
        )
        assert written["letters"] == 6  # the redeemed one gets none
        cli.ok(
            "delivery",
            "voucher",
            "counter-token",
            "revoke",
            str(created["id"]),
            "--reason",
            "x",
            "--as",
            "admin",
        )
    finally:
        _reset()


def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(engine: DbEngine) -> None:
    """No `SELECT 1` before each unit of work (a round trip of a redemption's few): a connection
    PostgreSQL closed while it waited in the pool is found at checkout and replaced."""
    import psycopg

    from lumbung.db import connection_alive, create_engine

    own = create_engine(engine.url.render_as_string(hide_password=False), connections=1)
    try:
        with own.connect() as conn:
            first = conn.connection.driver_connection
            if engine.dialect.name == "postgresql":
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        if engine.dialect.name == "postgresql":
            assert connection_alive(first)
            with psycopg.connect(
                engine.url.set(drivername="postgresql").render_as_string(hide_password=False),
                autocommit=True,
            ) as other:
                other.execute("SELECT pg_terminate_backend(%s)", (pid,))
            deadline = datetime.now(UTC) + timedelta(seconds=10)
            while connection_alive(first) and datetime.now(UTC) < deadline:
                threading.Event().wait(0.05)
            assert not connection_alive(first)
            with own.connect() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        with own.connect() as conn:  # a live connection is handed out again, as it was
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            assert (conn.connection.driver_connection is first) == (
                engine.dialect.name != "postgresql"
            )
    finally:
        own.dispose()
