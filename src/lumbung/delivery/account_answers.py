"""A bank's answer to a collective account opening, recorded row by row.

The answer is a CSV (`ANSWER_HEADER`), one row per family: opened, with the account and card
numbers, or failed, with the reason (gagal burekol: mostly data that does not match
Dukcapil). Each row is checked like a batch's (file, row, column, code, reason); accepted rows
become the family's active account; a row already recorded is unchanged, so the same answer
twice changes nothing; a failed family is asked for again by the next opening.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.db import utcnow
from lumbung.delivery.models import AccountOpening, AccountOpeningRow
from lumbung.delivery.outcomes import problem
from lumbung.errors import NotFound, ValidationFailed
from lumbung.payees.models import PayeeAccount
from lumbung.payees.numbers import ACCOUNT_NUMBER, CARD_NUMBER

ANSWER_HEADER = ("kk", "nik", "account_number", "card_number", "status", "reason")
OPENED = {"opened": "opened", "berhasil": "opened", "failed": "failed", "gagal": "failed"}


@dataclass(slots=True)
class AnswerSummary:
    opening: int
    file: str
    rows: int = 0
    opened: int = 0
    failed: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "opening": self.opening,
            "file": self.file,
            "rows": self.rows,
            "opened": self.opened,
            "failed": self.failed,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "problems": self.problems,
        }


def record_answers(
    session: Session, *, actor: User, opening_id: int, path: Path, name: str | None = None
) -> AnswerSummary:
    """The bank's answer to an opening (CSV, `ANSWER_HEADER`), row by row."""
    authorize(actor, Action.RECONCILE)
    require_national(actor, "mencatat jawaban pembukaan rekening")
    opening = session.get(AccountOpening, opening_id, with_for_update=True)
    if opening is None:
        raise NotFound(f"Pembukaan rekening {opening_id} tidak ada.")
    file = name or path.name
    summary = AnswerSummary(opening_id, file)
    wanted = {
        r.kk_number: r
        for r in session.execute(
            select(AccountOpeningRow).where(AccountOpeningRow.opening_id == opening_id)
        ).scalars()
    }
    seen: dict[str, int] = {}
    for number, cells in _answer_rows(path, file):
        summary.rows += 1
        refused = _refused(file, number, cells, wanted, seen)
        if refused is not None:
            summary.problems.append(refused)
            continue
        row = wanted[cells["kk"]]
        status = OPENED[cells["status"].strip().lower()]
        if row.state != "requested":
            if _same_answer(session, row, status, cells):
                summary.unchanged += 1
            else:
                summary.problems.append(
                    problem(
                        file,
                        number,
                        "status",
                        "already_answered",
                        f"KK ini sudah dijawab ({row.state}) dengan isi lain; jawaban "
                        "kedua tidak dicatat.",
                    )
                )
            continue
        if status == "failed":
            row.state, row.reason = "failed", cells["reason"].strip()[:200]
            row.answered_at = utcnow()
            summary.failed += 1
            continue
        taken = session.execute(
            select(PayeeAccount.id).where(
                PayeeAccount.household_id == row.household_id, PayeeAccount.state == "active"
            )
        ).first()
        if taken is not None:
            summary.problems.append(
                problem(
                    file,
                    number,
                    "kk",
                    "has_account",
                    "Keluarga ini sudah punya rekening aktif (diubah lewat usulan); "
                    "rekening baru tidak dicatat.",
                )
            )
            continue
        session.add(
            PayeeAccount(
                household_id=row.household_id,
                partner_code=opening.partner_code,
                account_number=cells["account_number"].strip(),
                card_number=cells["card_number"].strip() or None,
                holder_nik=row.nik,
                state="active",
                opened_at=utcnow(),
                source=f"opening:{opening_id}",
            )
        )
        row.state, row.answered_at = "opened", utcnow()
        summary.opened += 1
    summary.rejected = len(summary.problems)
    session.flush()
    opening.opened, opening.failed = _answered(session, opening_id)
    audit.record(
        session,
        actor=actor.username,
        action="delivery.account_answer",
        entity="account_opening",
        entity_id=opening_id,
        diff={
            "file": file,
            "opened": summary.opened,
            "failed": summary.failed,
            "unchanged": summary.unchanged,
            "rejected": summary.rejected,
        },
    )
    return summary


def _answered(session: Session, opening_id: int) -> tuple[int, int]:
    counts = dict(
        session.execute(
            select(AccountOpeningRow.state, func.count())
            .where(AccountOpeningRow.opening_id == opening_id)
            .group_by(AccountOpeningRow.state)
        ).all()
    )
    return int(counts.get("opened", 0)), int(counts.get("failed", 0))


def _same_answer(
    session: Session, row: AccountOpeningRow, status: str, cells: dict[str, str]
) -> bool:
    if status != row.state:
        return False
    if status == "failed":
        return True
    account = session.execute(
        select(PayeeAccount.account_number).where(
            PayeeAccount.household_id == row.household_id,
            PayeeAccount.source == f"opening:{row.opening_id}",
        )
    ).scalar_one_or_none()
    return account == cells["account_number"].strip()


def _answer_rows(path: Path, file: str) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ValidationFailed(f"{file}: berkas tidak bisa dibuka ({error.strerror}).") from error
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader, [])]
            if tuple(header) != ANSWER_HEADER:
                raise ValidationFailed(
                    f"{file}: baris judul harus {','.join(ANSWER_HEADER)}, bukan "
                    f"{','.join(header)[:120]!r}."
                )
            for number, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue
                padded = (cells + [""] * len(ANSWER_HEADER))[: len(ANSWER_HEADER)]
                values = dict(zip(ANSWER_HEADER, padded, strict=True))
                if len(cells) != len(ANSWER_HEADER):
                    values["_width"] = str(len(cells))
                yield number, values
        except UnicodeDecodeError as error:
            raise ValidationFailed(f"{file}: bukan teks UTF-8 (byte {error.start}).") from error
        except csv.Error as error:
            raise ValidationFailed(f"{file}: CSV rusak di baris {reader.line_num}.") from error


def _refused(
    file: str,
    number: int,
    cells: dict[str, str],
    wanted: dict[str, AccountOpeningRow],
    seen: dict[str, int],
) -> dict[str, Any] | None:
    if "_width" in cells:
        return problem(
            file,
            number,
            "kk",
            "wrong_width",
            f"Baris ini punya {cells['_width']} kolom, seharusnya {len(ANSWER_HEADER)}.",
        )
    kk = cells["kk"].strip()
    if kk not in wanted:
        return problem(
            file,
            number,
            "kk",
            "unknown_kk",
            "KK ini tidak ada dalam permintaan pembukaan rekening ini.",
        )
    if kk in seen:
        return problem(
            file, number, "kk", "duplicate_row", f"KK ini sudah ada di baris {seen[kk]}."
        )
    seen[kk] = number
    if cells["nik"].strip() != wanted[kk].nik:
        return problem(
            file,
            number,
            "nik",
            "nik_mismatch",
            "NIK tidak sama dengan NIK kepala keluarga yang diminta.",
        )
    status = cells["status"].strip().lower()
    if status not in OPENED:
        return problem(
            file,
            number,
            "status",
            "unknown_status",
            "Status harus opened/berhasil atau failed/gagal.",
        )
    if OPENED[status] == "failed":
        if not cells["reason"].strip():
            return problem(file, number, "reason", "reason_missing", "Alasan gagal wajib diisi.")
        return None
    if not ACCOUNT_NUMBER.fullmatch(cells["account_number"].strip()):
        return problem(
            file, number, "account_number", "bad_account", "Nomor rekening harus 8-20 angka."
        )
    card = cells["card_number"].strip()
    if card and not CARD_NUMBER.fullmatch(card):
        return problem(file, number, "card_number", "bad_card", "Nomor kartu KKS harus 16 angka.")
    return None
