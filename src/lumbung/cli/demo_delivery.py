"""`lumbung demo`'s delivery: the approved cycles paid, start to finish, through every channel.

SEMBAKO by bank: accounts asked for and answered, batches made and approved by another
determiner, pain.001 files written, the banks' pain.002 answers recorded. BLT BBM by PT Pos:
vouchers issued, invitation letters printed per village. PBI-JKN to BPJS Kesehatan: the
month's list and the transfer. Each cycle is checked at the end. No bank, post office or BPJS
is reachable from the demo: their answers are simulated (`delivery.bank.simulate`), and
written to files a reader can open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from lumbung.cli.common import console, unit_of_work
from lumbung.config import Settings
from lumbung.numbers import grouped

MAKER, CHECKER = "pusdatin", "penyetuju"  # four eyes: one prepares, another approves
FAIL_EVERY = 25  # the banks fail one payment in 25 (AC04, a closed account)
ACCOUNT_FAILS_EVERY = 40  # and one family in 40 gets no account (gagal burekol)


@dataclass(slots=True)
class Delivered:
    """What the demo's delivery did, for its summary table and --json."""

    rows: list[list[str]] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)


def deliver(s: Settings, *, release: str, sembako: str) -> Delivered:
    """Pay the demo's cycles (SEMBAKO is run already; BLT BBM and PBI-JKN are run here)."""
    from lumbung.auth.service import get_user
    from lumbung.cycles.service import approve_cycle, run_cycle

    done = Delivered()
    out = s.data_dir / "delivery"
    out.mkdir(parents=True, exist_ok=True)
    with unit_of_work() as session, console.status(f"persetujuan {sembako}"):
        approve_cycle(
            session, actor=get_user(session, username=CHECKER), label=sembako, data_dir=s.data_dir
        )
    _bank(s, sembako, out, done)
    for program, channel in (("BLT-BBM-2022", "pos"), ("PBI-JKN", "bpjs")):
        label = f"{program}-{release}"
        with unit_of_work() as session, console.status(f"siklus {program}"):
            run_cycle(
                session,
                actor=get_user(session, username=MAKER),
                program=program,
                release_label=release,
                label=label,
                data_dir=s.data_dir,
            )
        with unit_of_work() as session:
            approve_cycle(
                session, actor=get_user(session, username=CHECKER), label=label, data_dir=s.data_dir
            )
        batches = _batches(label)
        if channel == "pos":
            _pos(s, label, batches, out, done)
        else:
            _bpjs(label, batches, out, done)
    _checks([sembako, f"BLT-BBM-2022-{release}", f"PBI-JKN-{release}"], done)
    _realisation("SEMBAKO", sembako, out, done)
    return done


def _realisation(program: str, label: str, out: Path, done: Delivered) -> None:
    """The cycle's realisation per province, as a workbook the ministry would publish."""
    from lumbung.auth.service import get_user
    from lumbung.reports.exports import to_xlsx
    from lumbung.reports.realisation import realisation

    with unit_of_work() as session, console.status("laporan realisasi"):
        report = realisation(
            session,
            actor=get_user(session, username=MAKER),
            program=program,
            cycles=[label],
            level="province",
        )
    total = report.cycles[-1].total
    path = out / f"realisasi-{program}.xlsx"
    path.write_bytes(to_xlsx(report))
    done.rows.append(
        [
            f"realisasi {program}",
            f"Rp{grouped(total.paid_idr)} dari Rp{grouped(total.entitled_idr)} dibayar "
            f"({f'{total.realisation_pct or 0:.1f}'.replace('.', ',')} %) di "
            f"{len(report.cycles[-1].rows)} provinsi; "
            f"{path.name}",
        ]
    )
    done.payload["realisation"] = {
        "program": program,
        "entitled_idr": total.entitled_idr,
        "paid_idr": total.paid_idr,
        "provinces": len(report.cycles[-1].rows),
    }


def _batches(label: str) -> list[int]:
    """Batches made by one determiner, approved by the other."""
    from lumbung.auth.service import get_user
    from lumbung.delivery.batches import approve_batch, create_batches

    with unit_of_work() as session:
        plan = create_batches(session, actor=get_user(session, username=MAKER), label=label)
    made = [b.id for b in plan.batches]
    for batch_id in made:
        with unit_of_work() as session:
            approve_batch(session, actor=get_user(session, username=CHECKER), batch_id=batch_id)
    return made


def _bank(s: Settings, label: str, out: Path, done: Delivered) -> None:
    from lumbung.auth.service import get_user
    from lumbung.delivery import account_answers, accounts
    from lumbung.delivery.bank import simulate
    from lumbung.delivery.bank.service import write_payment_file
    from lumbung.delivery.statuses import import_status_file

    with unit_of_work() as session, console.status("pembukaan rekening kolektif"):
        maker = get_user(session, username=MAKER)
        openings = accounts.open_accounts(session, actor=maker, label=label)
        answers = []
        for opening in openings:
            lines = list(accounts.opening_file(session, actor=maker, opening_id=opening.id))
            answers.append((opening.id, _bank_answer(out / f"rekening-{opening.id}.csv", lines)))
    opened = failed = 0
    for opening_id, path in answers:
        with unit_of_work() as session:
            summary = account_answers.record_answers(
                session, actor=get_user(session, username=MAKER), opening_id=opening_id, path=path
            )
        opened, failed = opened + summary.opened, failed + summary.failed
    done.rows.append(
        [f"rekening {label}", f"{grouped(opened)} dibuka, {grouped(failed)} gagal burekol"]
    )
    batches = _batches(label)
    recorded: dict[str, int] = {"paid": 0, "failed": 0, "returned": 0}
    for batch_id in batches:
        with unit_of_work() as session, console.status(f"berkas bank batch {batch_id}"):
            written = write_payment_file(
                session, actor=get_user(session, username=MAKER), batch_id=batch_id, out=out
            )
        payment = Path(written.path)
        report = out / f"{payment.stem}-pain002.xml"
        simulate.write_status_report(
            report,
            simulate.answers(payment, fail_every=FAIL_EVERY),
            original_message_id=simulate.message_id(payment),
            created=datetime.now(UTC),
        )
        with unit_of_work() as session:
            status = import_status_file(
                session, actor=get_user(session, username=MAKER), path=report
            )
        for kind, n in status.recorded.items():
            recorded[kind] += n
    done.rows.append(
        [
            f"bank {label}",
            f"{len(batches)} batch disetujui, pain.001 di {out}; jawaban bank: "
            f"{grouped(recorded['paid'])} dibayar, {grouped(recorded['failed'])} gagal",
        ]
    )
    done.payload["bank"] = {"cycle": label, "batches": batches, "recorded": recorded}


def _bank_answer(path: Path, lines: list[str]) -> Path:
    """A bank's answer to an opening: an account for each family, but one in 40."""
    rows = ["kk,nik,account_number,card_number,status,reason\n"]
    for n, line in enumerate(lines[1:], start=1):
        kk, nik = line.split(",")[:2]
        if n % ACCOUNT_FAILS_EVERY == 0:
            rows.append(f"{kk},{nik},,,gagal,Data tidak cocok dengan Dukcapil\n")
        else:
            account = f"{n:015d}"
            rows.append(f"{kk},{nik},{account},6013{n:012d},berhasil,\n")
    path.write_text("".join(rows), encoding="utf-8")
    return path


def _pos(s: Settings, label: str, batches: list[int], out: Path, done: Delivered) -> None:
    from lumbung.auth.service import get_user
    from lumbung.delivery.pos.letters import LetterOptions, write_letters
    from lumbung.delivery.pos.vouchers import issue_vouchers

    issued = letters = home = 0
    for batch_id in batches:
        with unit_of_work() as session, console.status(f"voucher dan surat batch {batch_id}"):
            maker = get_user(session, username=MAKER)
            issued += issue_vouchers(session, actor=maker, batch_id=batch_id).issued
            written = write_letters(
                session,
                actor=maker,
                batch_id=batch_id,
                out_dir=out / "surat",
                options=LetterOptions(
                    place="Kantor Pos terdekat", collect_on=date.today() + timedelta(days=7)
                ),
            )
        letters, home = letters + written.letters, home + written.home_delivery
    done.rows.append(
        [
            f"PT Pos {label}",
            f"{grouped(issued)} voucher, {grouped(letters)} surat undangan PDF "
            f"({grouped(home)} diantar ke rumah) di {out / 'surat'}",
        ]
    )
    done.payload["pos"] = {"cycle": label, "vouchers": issued, "letters": letters}


def _bpjs(label: str, batches: list[int], out: Path, done: Delivered) -> None:
    from lumbung.auth.service import get_user
    from lumbung.delivery import bpjs

    for batch_id in batches:
        with unit_of_work() as session, console.status("daftar PBI-JKN"):
            maker = get_user(session, username=MAKER)
            summary = bpjs.bpjs_summary(session, actor=maker, batch_id=batch_id)
            path = out / f"pbi-jkn-{batch_id}.csv"
            path.write_text("".join(bpjs.bpjs_list(session, actor=maker, batch_id=batch_id)))
            bpjs.settle(
                session,
                actor=maker,
                batch_id=batch_id,
                reference=f"TRF-BPJS-{batch_id}",
                value_date=date.today(),
            )
        done.rows.append(
            [
                f"BPJS {label}",
                f"{grouped(summary.persons)} orang × Rp{grouped(summary.monthly_idr)} = "
                f"Rp{grouped(summary.total_idr)}; daftar {path.name}, transfer dicatat",
            ]
        )
        done.payload["bpjs"] = summary.as_dict()


def _checks(labels: list[str], done: Delivered) -> None:
    from lumbung.auth.service import get_user
    from lumbung.delivery.ledger import check_cycle

    checks = []
    for label in labels:
        with unit_of_work() as session:
            result = check_cycle(session, actor=get_user(session, username=MAKER), label=label)
        states = result.states
        done.rows.append(
            [
                f"cek {label}",
                f"{'OK' if result.ok else 'RUSAK'}: hak Rp{grouped(result.entitled.amount_idr)} = "
                f"dibayar Rp{grouped(states['paid'].amount_idr)} + gagal "
                f"Rp{grouped(states['failed'].amount_idr)} + tertunda "
                f"Rp{grouped(states['pending'].amount_idr)}",
            ]
        )
        checks.append(result.as_dict())
    done.payload["checks"] = checks
