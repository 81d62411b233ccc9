"""Writing an approved batch's bank file: the use case the command line, the API and the pages
call (`write_payment_file`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.config import get_settings
from lumbung.cycles.models import Cycle
from lumbung.db import utcnow
from lumbung.delivery.bank import csvfile, pain001
from lumbung.delivery.bank.header import FileHeader, partner_bic, payer
from lumbung.delivery.bank.output import atomic
from lumbung.delivery.batches import get_batch
from lumbung.delivery.partners import get_partner
from lumbung.errors import Conflict, ValidationFailed
from lumbung.numbers import grouped

WRITERS = {"pain.001": pain001.write, "csv": csvfile.write}
SUFFIXES = {"pain.001": ".xml", "csv": ".csv"}
WIB = timezone(timedelta(hours=7), "WIB")  # "today" for a bank in Jakarta


@dataclass(frozen=True, slots=True)
class PaymentFile:
    batch_id: int
    cycle: str
    partner: str
    format: str  # pain.001 or csv
    path: str
    sha256: str
    bytes: int
    count: int
    total_idr: int
    message_id: str
    execution_date: date

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "cycle": self.cycle,
            "partner": self.partner,
            "format": self.format,
            "path": self.path,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "count": self.count,
            "total_idr": self.total_idr,
            "message_id": self.message_id,
            "execution_date": self.execution_date.isoformat(),
        }


def default_name(batch_id: int, sha256: str, file_format: str) -> str:
    """A file's name when only a folder is given: `LUMBUNG-<batch>-<sha8>.xml` (or `.csv`)."""
    return f"LUMBUNG-{batch_id}-{sha256[:8]}{SUFFIXES[file_format]}"


def write_payment_file(
    session: Session,
    *,
    actor: User,
    batch_id: int,
    out: Path,
    execution_date: date | None = None,
) -> PaymentFile:
    """Write an approved bank batch as its partner's file (pain.001 or CSV) at `out` (a file,
    or a folder to hold `default_name`). The items are checked against the batch's frozen
    count, total and sha256 as they are written: a batch edited in the database since its
    approval gives no file. `execution_date`: the date the bank is asked to pay (default:
    today in Jakarta, WIB)."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "menulis berkas pembayaran bank")
    batch = get_batch(session, batch_id)
    if batch.state != "approved":
        raise Conflict(
            f"Batch {batch_id} belum disetujui ({batch.state}); hanya batch yang disetujui "
            "dikirim ke bank."
        )
    partner = get_partner(session, batch.partner_code)
    if partner.channel != "bank" or partner.file_format not in WRITERS:
        raise ValidationFailed(
            f"Batch {batch_id} untuk mitra {partner.code} (saluran {partner.channel}, berkas "
            f"{partner.file_format}): berkas bank hanya untuk mitra bank."
        )
    name, account, bic = payer(get_settings())
    cycle = session.get_one(Cycle, batch.cycle_id)
    assert batch.approved_at is not None  # an approved batch has its time
    header = FileHeader(
        batch_id=batch.id,
        batch_number=batch.number,
        cycle_label=cycle.label,
        partner_code=partner.code,
        partner_bic=partner_bic(partner.code, partner.bic),
        count=batch.count,
        total_idr=batch.total_idr,
        sha256=batch.sha256,
        approved_at=batch.approved_at,
        execution_date=execution_date or utcnow().astimezone(WIB).date(),
        payer_name=name,
        payer_account=account,
        payer_bic=bic,
    )
    if out.is_dir():
        out = out / default_name(batch.id, batch.sha256, partner.file_format)
    with atomic(out) as written:
        found = WRITERS[partner.file_format](session, header, written)
        count, total, sha = found.result()
        if (count, total, sha) != (batch.count, batch.total_idr, batch.sha256):
            raise Conflict(
                f"Isi batch {batch_id} berubah sejak disetujui ({grouped(count)} pembayaran "
                f"senilai Rp{grouped(total)}, tercatat {grouped(batch.count)} senilai "
                f"Rp{grouped(batch.total_idr)}, sidik berbeda); berkas tidak ditulis. "
                "Periksa siklus dan batch ini."
            )
    result = PaymentFile(
        batch_id=batch.id,
        cycle=cycle.label,
        partner=partner.code,
        format=partner.file_format,
        path=str(out),
        sha256=written.hexdigest(),
        bytes=written.size,
        count=count,
        total_idr=total,
        message_id=header.message_id,
        execution_date=header.execution_date,
    )
    audit.record(
        session,
        actor=actor.username,
        action="delivery.file_written",
        entity="payment_batch",
        entity_id=batch.id,
        diff={
            "cycle": cycle.label,
            "batch": batch.number,
            "partner": partner.code,
            "format": partner.file_format,
            "file": out.name,
            "sha256": result.sha256,
            "bytes": result.bytes,
            "count": count,
            "total_idr": total,
            "message_id": header.message_id,
            "execution_date": header.execution_date.isoformat(),
        },
    )
    return result
