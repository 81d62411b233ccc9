"""Bank files out (issue 16, item 3): pain.001.001.09 valid against the ISO XSD, adding up to
the batch, one transaction per item with the right ids; the CSV layout; a batch edited in the
database gives no file; names with markup and other scripts; where a file may be written."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine

from bank_helpers import approved_bank_batches, schema, write_file
from delivery_helpers import approve_batch, approved_cycle, create
from lumbung.db import session_scope
from lumbung.delivery.bank import csvfile, items, output, pain001
from lumbung.delivery.bank.header import ACCOUNT
from lumbung.delivery.bank.text import PLAIN, latin, xml_text
from lumbung.delivery.batches import batch_digest
from lumbung.errors import Conflict, PermissionDenied, ValidationFailed
from lumbung.spreadsheets import safe_cell

pytestmark = pytest.mark.usefixtures("users")
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


def entitlements(engine: DbEngine, label: str) -> dict[str, int]:
    """entitlement id → amount of every entitlement of cycle `label`."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.cycle_id, e.beneficiary_id, e.amount_idr FROM entitlement e"
                " JOIN cycle c ON c.id = e.cycle_id WHERE c.label = :l"
            ),
            {"l": label},
        ).all()
    return {f"{c}-{b}": int(a) for c, b, a in rows}


def rename_heads(engine: DbEngine, names: dict[int, str]) -> None:
    """The n-th family's head (by family) renamed to names[n]."""
    with engine.begin() as conn:
        heads = conn.execute(
            text(
                "SELECT id FROM member WHERE relationship = 'kepala_keluarga' ORDER BY household_id"
            )
        ).scalars()
        for n, member_id in enumerate(heads, start=1):
            if n in names:
                conn.execute(
                    text("UPDATE member SET name = :n WHERE id = :i"),
                    {"n": names[n], "i": member_id},
                )


def transactions(path: Path) -> list[dict[str, str]]:
    tree = ET.parse(path)
    found = []
    for tx in tree.iterfind(".//p:CdtTrfTxInf", NS):
        found.append(
            {
                "instr": tx.findtext("p:PmtId/p:InstrId", namespaces=NS) or "",
                "e2e": tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS) or "",
                "amount": tx.findtext("p:Amt/p:InstdAmt", namespaces=NS) or "",
                "ccy": tx.find("p:Amt/p:InstdAmt", NS).get("Ccy", ""),  # type: ignore[union-attr]
                "bic": tx.findtext("p:CdtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) or "",
                "name": tx.findtext("p:Cdtr/p:Nm", namespaces=NS) or "",
                "account": tx.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) or "",
            }
        )
    return found


def test_a_pkh_batch_as_pain001_is_valid_adds_up_and_carries_the_ids(
    engine: DbEngine, tmp_path: Path
) -> None:
    (batch,) = approved_bank_batches(engine, tmp_path)
    written = write_file(engine, batch.id, tmp_path / "bri.xml")
    path = Path(written.path)
    schema("pain.001.001.09").validate(str(path))
    assert written.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (written.format, written.partner, written.count) == ("pain.001", "BRI", batch.count)
    tree = ET.parse(path)
    header = tree.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header is not None
    assert header.findtext("p:MsgId", namespaces=NS) == f"LUMBUNG-{batch.id}-{batch.sha256[:8]}"
    assert header.findtext("p:NbOfTxs", namespaces=NS) == str(batch.count)
    assert header.findtext("p:CtrlSum", namespaces=NS) == str(batch.total_idr)
    info = tree.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info is not None
    assert info.findtext("p:CtrlSum", namespaces=NS) == str(batch.total_idr)
    assert info.findtext("p:ReqdExctnDt/p:Dt", namespaces=NS) == "2027-01-04"
    assert info.findtext("p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == "BRINIDJA"
    txs = transactions(path)
    entitled = entitlements(engine, "PKH-1")
    assert len(txs) == batch.count == len(entitled)
    assert {t["e2e"]: int(t["amount"]) for t in txs} == entitled
    assert sum(int(t["amount"]) for t in txs) == batch.total_idr
    assert all(t["instr"] == t["e2e"] + "-1" and t["ccy"] == "IDR" for t in txs)
    assert {t["bic"] for t in txs} == {"BRINIDJA"}
    assert all(t["account"].startswith("9") and t["name"] for t in txs)
    with engine.connect() as conn:
        action, diff = conn.execute(
            text("SELECT action, diff FROM audit_event ORDER BY id DESC LIMIT 1")
        ).one()
    assert action == "delivery.file_written"
    recorded = json.loads(diff) if isinstance(diff, str) else diff
    assert recorded["sha256"] == written.sha256 and recorded["format"] == "pain.001"
    assert (recorded["count"], recorded["total_idr"]) == (batch.count, batch.total_idr)
    # the same batch written again is the same file, byte for byte
    again = write_file(engine, batch.id, tmp_path / "again.xml")
    assert again.sha256 == written.sha256


def test_the_streamed_digest_is_the_batch_digest(engine: DbEngine, tmp_path: Path) -> None:
    (batch,) = approved_bank_batches(engine, tmp_path, "SBK-1", "SEMBAKO")
    with session_scope(engine) as session:
        digest = items.Digest()
        for chunk in items.stream(session, batch.id):
            digest.add(chunk)
        assert digest.result() == batch_digest(session, batch.id)
        assert digest.result() == (batch.count, batch.total_idr, batch.sha256)


def test_names_with_markup_and_other_scripts_stay_valid(engine: DbEngine, tmp_path: Path) -> None:
    names = {
        1: 'Siti <b>&"Nur\'aini"</b>',
        2: "Dédé Müller-Łukasz Straße",
        3: "محمد",
        4: "王小明",
        5: "]]><Cdtr><Nm>X</Nm></Cdtr><![CDATA[",
    }

    (batch,) = approved_bank_batches(
        engine, tmp_path, "SBK-1", "SEMBAKO", before_batches=lambda: rename_heads(engine, names)
    )
    written = write_file(engine, batch.id, tmp_path / "names.xml")
    schema("pain.001.001.09").validate(written.path)
    shown = {t["name"] for t in transactions(Path(written.path))}
    raw = Path(written.path).read_text(encoding="utf-8")
    assert "<b>" not in raw and "<![CDATA[" not in raw and raw.count("<CdtTrfTxInf>") == batch.count
    assert "Siti (b)+'Nur'aini'(/b)" in shown
    assert "Dede Muller-Lukasz Strasse" in shown
    assert "NOTPROVIDED" in shown  # a name in another script: nothing Latin left of it
    assert all(latin(n, 140) == n for n in shown)


def test_the_bank_character_set() -> None:
    assert latin("Siti Nurhaliza", 140) == "Siti Nurhaliza"
    assert latin("  Ahmad\t\n  Dahlan  ", 140) == "Ahmad Dahlan"
    assert latin("Ñoño Ærø", 140) == "Nono AEro"
    assert latin("abcdef", 3) == "abc"
    assert latin("", 10) == latin(None, 10) == latin("中文", 10) == "NOTPROVIDED"
    assert xml_text("A & B <c>", 140) == "A + B (c)"
    assert (
        safe_cell("=1+1") == "'=1+1" and safe_cell("+62") == "'+62" and safe_cell("Budi") == "Budi"
    )


def test_a_batch_edited_in_the_database_gives_no_file(engine: DbEngine, tmp_path: Path) -> None:
    (batch,) = approved_bank_batches(engine, tmp_path, "SBK-1", "SEMBAKO")
    out = tmp_path / "files"
    out.mkdir()
    first = "(SELECT min(account_id) FROM payment_item)"
    with engine.begin() as conn:  # an account number changed under an approved batch
        number = conn.execute(
            text(f"SELECT account_number FROM payee_account WHERE id = {first}")
        ).scalar_one()
        conn.execute(text(f"UPDATE payee_account SET account_number = '123' WHERE id = {first}"))
    with pytest.raises(Conflict, match="berubah sejak disetujui"):
        write_file(engine, batch.id, out / "x.xml")
    with engine.begin() as conn:  # put back: the file can be written again
        conn.execute(
            text(f"UPDATE payee_account SET account_number = :n WHERE id = {first}"), {"n": number}
        )
    write_file(engine, batch.id, out / "x.xml")
    (out / "x.xml").unlink()
    with engine.begin() as conn:  # an amount raised
        conn.execute(
            text(
                "UPDATE payment_item SET amount_idr = amount_idr + 1 WHERE beneficiary_id ="
                " (SELECT max(beneficiary_id) FROM payment_item)"
            )
        )
    with pytest.raises(Conflict, match="berubah sejak disetujui"):
        write_file(engine, batch.id, out / "x.xml")
    assert os.listdir(out) == []  # neither the file nor its temporary


def test_the_csv_layout_for_a_bank_that_takes_csv(engine: DbEngine, tmp_path: Path) -> None:
    def rename() -> None:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE member SET name = '+62 =HYPERLINK(\"x\")' WHERE id ="
                    " (SELECT min(id) FROM member WHERE relationship = 'kepala_keluarga')"
                )
            )

    (batch,) = approved_bank_batches(
        engine, tmp_path, "SBK-1", "SEMBAKO", partner=lambda _: "BTN", before_batches=rename
    )
    written = write_file(engine, batch.id, tmp_path)  # a folder: the file gets its own name
    path = Path(written.path)
    assert path.name == f"LUMBUNG-{batch.id}-{batch.sha256[:8]}.csv"
    assert written.format == "csv" and written.partner == "BTN"
    raw = path.read_bytes()
    assert written.sha256 == hashlib.sha256(raw).hexdigest()
    rows = list(csv.DictReader(raw.decode("utf-8").splitlines()))
    assert list(rows[0]) == [
        "end_to_end_id",
        "instruction_id",
        "account_number",
        "account_name",
        "amount_idr",
        "bank_bic",
        "reference",
    ]
    entitled = entitlements(engine, "SBK-1")
    assert {r["end_to_end_id"]: int(r["amount_idr"]) for r in rows} == entitled
    assert all(r["instruction_id"] == r["end_to_end_id"] + "-1" for r in rows)
    assert {r["bank_bic"] for r in rows} == {"BTANIDJA"}
    assert {r["reference"] for r in rows} == {f"BANSOS SBK-1 B{batch.number}"}
    assert "'+62 HYPERLINK('x')" in {r["account_name"] for r in rows}
    assert not any(r["account_name"].startswith(("=", "+", "-", "@")) for r in rows)
    with engine.connect() as conn:  # no KK and no NIK of the family in the file
        kks = conn.execute(text("SELECT kk_number FROM household")).scalars().all()
        niks = conn.execute(text("SELECT nik FROM member")).scalars().all()
    assert not any(v.encode() in raw for v in [*kks, *niks])


def test_only_an_approved_bank_batch_by_a_national_preparer(
    engine: DbEngine, tmp_path: Path
) -> None:
    approved_cycle(engine, tmp_path, "BBM-1", "BLT-BBM-2022")
    (pos,) = create(engine, "BBM-1").batches
    with pytest.raises(Conflict, match="belum disetujui"):
        write_file(engine, pos.id, tmp_path / "x.xml")
    approve_batch(engine, pos.id)
    with pytest.raises(ValidationFailed, match="hanya untuk mitra bank"):
        write_file(engine, pos.id, tmp_path / "x.xml")
    with pytest.raises(PermissionDenied):
        write_file(engine, pos.id, tmp_path / "x.xml", actor="auditor")


def test_where_a_file_may_be_written(engine: DbEngine, tmp_path: Path) -> None:
    (batch,) = approved_bank_batches(engine, tmp_path)
    with pytest.raises(ValidationFailed, match="tidak sah"):
        write_file(engine, batch.id, tmp_path / "bri\n.xml")
    with pytest.raises(ValidationFailed, match="tidak ada"):
        write_file(engine, batch.id, tmp_path / "missing" / "bri.xml")
    # a symbolic link planted at the target is replaced, never written through
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "bri.xml"
    link.symlink_to(victim)
    write_file(engine, batch.id, link)
    assert victim.read_text() == "keep me"
    assert not link.is_symlink() and link.read_bytes().startswith(b"<?xml")


def test_a_writer_killed_outright_leaves_nothing_after_the_next_run(
    engine: DbEngine, tmp_path: Path
) -> None:
    (batch,) = approved_bank_batches(engine, tmp_path)
    out = tmp_path / "files"
    out.mkdir()
    gone = subprocess.Popen(["true"])  # its process id belongs to no process once it ended
    gone.wait()
    host = output._host()
    stale = out / f".bri.xml.{host}.{gone.pid}.abc123.part"
    stale.write_bytes(b"<?xml half a file")
    alive = out / f".bri.xml.{host}.{os.getpid()}.def456.part"  # a writer still running: kept
    alive.write_bytes(b"")
    written = write_file(engine, batch.id, out / "bri.xml")
    assert sorted(os.listdir(out)) == sorted(["bri.xml", alive.name])
    assert hashlib.sha256((out / "bri.xml").read_bytes()).hexdigest() == written.sha256


TRICKY_NAMES = [
    "Siti Nurhaliza",
    "A & B",
    "Dédé Müller",
    "  Ahmad",
    "Ahmad  Dahlan",
    "Ahmad ",
    "Siti\nNur",
    "+62 Budi",
    "-Budi",
    "=1+1",
    "O'Neil, Mary",
    'Say "hi"',
    "x" * 140,
    "x" * 141,
    "",
    None,
    "中文",
    "a(b)c/d?e:f.g'h+i-j",
]


@pytest.mark.parametrize("name", TRICKY_NAMES)
def test_a_piece_of_names_is_written_as_each_name_alone(name: str | None) -> None:
    """The writers judge a piece's names with one regular expression over all of them; each
    name must come out as the per-name rules make it (`xml_text`, `safe_cell(latin(…))`)."""
    for piece in ([name], ["Budi", name, "Siti"], ["Budi"] * 3 + [name]):
        written = pain001.names_as_written(piece)
        assert list(written) == [n if n and PLAIN.fullmatch(n) else xml_text(n, 140) for n in piece]
        if csvfile._all_plain(piece):  # the template writes the name as it is, unquoted
            for n in piece:
                assert n is not None and safe_cell(latin(n, 140)) == n
                line = io.StringIO()
                csv.writer(line, lineterminator="\r\n").writerow([n])
                assert line.getvalue() == n + "\r\n"
    assert not csvfile._all_plain(["Budi", "Siti\nNur"])  # two plain names in one: refused
    assert list(pain001.names_as_written(["Siti\nNur"])) == ["Siti Nur"]


@pytest.mark.parametrize(
    "account", ["9001234567", "AB-12", "-12", "12\n34", "", None, "9" * 34, "9" * 35, "12 34"]
)
def test_a_piece_of_accounts_is_checked_as_each_account_alone(account: str | None) -> None:
    for piece in ([account], ["9001", account], ["9001", account, "9002"]):
        alone = all(a is not None and ACCOUNT.fullmatch(a) for a in piece)
        assert items._all_accounts(piece) == alone


def test_the_csv_file_is_the_csv_writers_also_for_names_it_quotes(
    engine: DbEngine, tmp_path: Path
) -> None:
    """A piece with a name the CSV writer quotes goes through the writer; its lines are the
    same as a plain piece's template would make for the others (read back cell by cell)."""
    names = {1: "O'Neil, Mary", 2: 'Say "hi"', 3: "-Budi", 4: "Dédé Müller"}

    (batch,) = approved_bank_batches(
        engine,
        tmp_path,
        "SBK-1",
        "SEMBAKO",
        partner=lambda _: "BTN",
        before_batches=lambda: rename_heads(engine, names),
    )
    written = write_file(engine, batch.id, tmp_path / "btn.csv")
    raw = Path(written.path).read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    shown = {r[3] for r in rows[1:]}
    assert {"O'Neil, Mary", "Say 'hi'", "'-Budi", "Dede Muller"} <= shown
    assert (
        len(rows) == batch.count + 1
        and raw.endswith("\r\n")
        and "\n" not in raw.replace("\r\n", "")
    )
    with session_scope(engine) as session:  # the same lines, each as the CSV writer makes it
        expected = io.StringIO()
        writer = csv.writer(expected, lineterminator="\r\n")
        writer.writerow(csvfile.COLUMNS)
        for chunk in items.stream(session, batch.id):
            for c, b, a, amount, account, name in chunk:
                writer.writerow(
                    (
                        f"{c}-{b}",
                        f"{c}-{b}-{a}",
                        account,
                        safe_cell(latin(name, 140)),
                        amount,
                        "BTANIDJA",
                        f"BANSOS SBK-1 B{batch.number}",
                    )
                )
    assert raw == expected.getvalue()
