"""What every bank file of a batch says besides its items: who pays, from where, to which
bank, when, and the figures the items must add up to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from lumbung.config import Settings
from lumbung.errors import Conflict, ValidationFailed

BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
ACCOUNT = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,33}")  # never a leading hyphen (a formula)


@dataclass(frozen=True, slots=True)
class FileHeader:
    batch_id: int
    batch_number: int
    cycle_label: str
    partner_code: str
    partner_bic: str
    count: int  # the batch's frozen figures, written before the items and checked after them
    total_idr: int
    sha256: str
    approved_at: datetime  # the file's creation time: the same batch always gives the same file
    execution_date: date
    payer_name: str
    payer_account: str
    payer_bic: str

    @property
    def message_id(self) -> str:
        return f"LUMBUNG-{self.batch_id}-{self.sha256[:8]}"

    @property
    def reference(self) -> str:
        """What the family's statement shows: the program's cycle and the batch."""
        return f"BANSOS {self.cycle_label} B{self.batch_number}"

    @property
    def created(self) -> str:
        moment = self.approved_at
        if moment.tzinfo is None:  # SQLite gives back UTC without its zone
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="seconds")


def payer(settings: Settings) -> tuple[str, str, str]:
    """The ministry's name, account and bank's BIC from the settings, checked."""
    if not BIC.fullmatch(settings.payer_bic):
        raise ValidationFailed(
            f"LUMBUNG_PAYER_BIC {settings.payer_bic!r} bukan BIC (8 atau 11 huruf/angka)."
        )
    if not ACCOUNT.fullmatch(settings.payer_account):
        raise ValidationFailed(
            f"LUMBUNG_PAYER_ACCOUNT {settings.payer_account!r} bukan nomor rekening "
            "(huruf, angka, tanda hubung; paling panjang 34)."
        )
    if not settings.payer_name.strip():
        raise ValidationFailed("LUMBUNG_PAYER_NAME kosong.")
    return settings.payer_name, settings.payer_account, settings.payer_bic


def partner_bic(code: str, bic: str | None) -> str:
    if bic is None or not BIC.fullmatch(bic):
        raise Conflict(f"Mitra {code} tidak punya BIC yang sah ({bic!r}); berkas tidak ditulis.")
    return bic
