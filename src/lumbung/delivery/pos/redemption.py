"""Redeeming a voucher at a counter: paid exactly once.

A redemption is one transaction: the token's signature, key, expiry and NIK binding are
checked (no database), then the voucher row is read by its id (its full NIK, partner, region
and batch state checked), then

    UPDATE voucher SET state = 'redeemed', … WHERE id = :id AND state = 'issued'

whose row count decides: 0 means another counter redeemed it first (on PostgreSQL the second
UPDATE waits for the first's row lock and, once that commits, finds the row no longer
`issued`; on SQLite writers take turns), and the caller gets 409 with when and where it was
redeemed. The winner moves the attempt `pending → paid` (a conditional UPDATE too) and appends
its `paid` event (unique per attempt and kind: a third guard) in the same transaction.

Online redemptions are sealed into the audit chain in groups (`pos.sealing`): one audit event
per redemption would serialise every counter on the chain's lock. Until its seal, a paid event
carries the source `pos:awaiting-seal` and is vouched for by the voucher's `redemption_mac`.
An offline upload is one operation with its own source, sealed at its end like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import BigInteger, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lumbung.audit.keys import keyring
from lumbung.db import utcnow
from lumbung.delivery.ledger import attempt_id
from lumbung.delivery.models import PaymentBatch, PaymentEvent, PaymentItem
from lumbung.delivery.pos import keys
from lumbung.delivery.pos.counters import Counter
from lumbung.delivery.pos.models import Voucher
from lumbung.delivery.pos.token import TokenInvalid, VoucherClaim
from lumbung.driver_errors import is_unique_violation
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.identity.masking import mask_id

AWAITING = "pos:awaiting-seal"
WIB = timezone(timedelta(hours=7), "WIB")  # a voucher is valid through its day in Jakarta
NIK = re.compile(r"[0-9]{16}")
US = "\x1f"


@dataclass(frozen=True, slots=True)
class Redemption:
    voucher_id: int
    attempt: str  # the attempt's id, `<cycle>-<beneficiary>-<attempt>`
    amount_idr: int
    redeemed_at: datetime
    counter: str
    home_delivery: bool
    state: str  # paid

    def as_dict(self) -> dict[str, Any]:
        return {
            "voucher_id": self.voucher_id,
            "attempt": self.attempt,
            "amount_idr": self.amount_idr,
            "redeemed_at": self.redeemed_at.isoformat(),
            "counter": self.counter,
            "home_delivery": self.home_delivery,
            "state": self.state,
        }


class AlreadyRedeemed(Conflict):
    """The voucher was redeemed before (by this counter or another): when and where."""

    def __init__(self, voucher: Any) -> None:
        at = _aware(voucher.redeemed_at) if voucher.redeemed_at else None
        when = at.astimezone(WIB).strftime("%Y-%m-%d %H:%M:%S WIB") if at else "?"
        super().__init__(
            f"Voucher {voucher.id} sudah dibayarkan pada {when} di loket {voucher.counter}; "
            "tidak dibayar dua kali.",
            details=[
                {
                    "voucher_id": voucher.id,
                    "redeemed_at": at.isoformat() if at else None,
                    "counter": voucher.counter,
                    "recipient_nik": mask_id(voucher.nik),
                }
            ],
            cause="already_redeemed",
        )
        self.redeemed_at = at
        self.counter = voucher.counter


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def claim_of(raw_token: str) -> VoucherClaim:
    try:
        return keys.verify(raw_token)
    except TokenInvalid as invalid:
        raise ValidationFailed(
            f"Kode voucher tidak sah: {invalid}.", cause="token_invalid"
        ) from None


def redemption_mac(voucher: Any, redeemed_at: datetime, counter: str) -> str:
    """The keyed digest that vouches for a redemption until its seal: `KEYID:` + 128 bits."""
    key = keyring().current
    body = US.join(
        str(part)
        for part in (
            "voucher-redemption",
            voucher.id,
            voucher.cycle_id,
            voucher.beneficiary_id,
            voucher.attempt,
            voucher.batch_id,
            voucher.amount_idr,
            _aware(redeemed_at).astimezone(UTC).isoformat(),
            counter,
        )
    )
    return f"{key.id}:{key.mac(body.encode())[:32]}"


def mac_holds(voucher: Any) -> bool:
    if not (voucher.redemption_mac and voucher.redeemed_at and voucher.counter):
        return False
    key_id, _, digest = voucher.redemption_mac.partition(":")
    ring = keyring()
    if key_id not in ring.keys:
        return False
    body = US.join(
        str(part)
        for part in (
            "voucher-redemption",
            voucher.id,
            voucher.cycle_id,
            voucher.beneficiary_id,
            voucher.attempt,
            voucher.batch_id,
            voucher.amount_idr,
            _aware(voucher.redeemed_at).astimezone(UTC).isoformat(),
            voucher.counter,
        )
    )
    import hmac

    return hmac.compare_digest(ring.keys[key_id].mac(body.encode())[:32], digest)


# The statements of a redemption, built once (Core, on the tables): building them per call was
# most of a redemption's CPU (benchmarks/README.md, "PT Pos").
_V = cast(Table, Voucher.__table__)
_B = cast(Table, PaymentBatch.__table__)
_I = cast(Table, PaymentItem.__table__)
_E = cast(Table, PaymentEvent.__table__)
_READ = (
    select(*_V.c, _B.c.state.label("batch_state"))
    .join(_B, _B.c.id == _V.c.batch_id)
    .where(_V.c.id == bindparam("p_voucher"))
)
_WIN = (
    update(_V)
    .where(_V.c.id == bindparam("p_voucher"), _V.c.state == "issued")
    .values(
        state="redeemed",
        redeemed_at=bindparam("p_when"),
        recorded_at=bindparam("p_now"),
        counter=bindparam("p_counter"),
        partner_token_id=bindparam("p_token", type_=BigInteger()),
        redemption=bindparam("p_kind"),
        redemption_mac=bindparam("p_mac"),
    )
)
_PAY = (
    update(_I)
    .where(
        _I.c.batch_id == bindparam("p_batch"),
        _I.c.beneficiary_id == bindparam("p_beneficiary"),
        _I.c.attempt == bindparam("p_attempt"),
        _I.c.state == "pending",
    )
    .values(state="paid")
)
_EVENT = insert(_E).values(
    cycle_id=bindparam("p_cycle"),
    beneficiary_id=bindparam("p_beneficiary"),
    attempt=bindparam("p_attempt"),
    batch_id=bindparam("p_batch"),
    kind="paid",
    amount_idr=bindparam("p_amount"),
    reference=bindparam("p_counter"),
    value_date=bindparam("p_day"),
    recorded_at=bindparam("p_now"),
    source=bindparam("p_source"),
    actor=bindparam("p_actor"),
)


def _read(session: Session, voucher_id: int) -> Any:
    """The voucher's row (its columns as attributes) with its batch's state, as committed now
    (columns, not an ORM object: nothing to keep in the session, and a read after a lost race
    sees the winner's row)."""
    return session.connection().execute(_READ, {"p_voucher": voucher_id}).one_or_none()


def redeem(
    session: Session,
    *,
    counter: Counter,
    token: str,
    nik: str,
    redeemed_at: datetime | None = None,
    source: str | Callable[[int], str] = AWAITING,
    actor: str | None = None,
) -> Redemption:
    """Pay the voucher `token` shown with `nik`, exactly once (see the module's doc).

    `redeemed_at`: when the counter paid (an offline redemption uploaded later); now when
    None. `source`: the ledger source of the `paid` event (an upload's operation, or a function
    giving it per cycle id), by default awaiting its group seal."""
    now = utcnow()
    # stored as UTC (SQLite keeps no zone)
    when = _aware(redeemed_at).astimezone(UTC) if redeemed_at else now
    if when > now + timedelta(minutes=5):
        raise ValidationFailed(f"Waktu penukaran {when.isoformat()} ada di masa depan.")
    claim = claim_of(token)
    nik = nik.strip()
    if not NIK.fullmatch(nik):
        raise ValidationFailed("NIK harus 16 angka.", cause="nik_invalid")
    if not claim.matches(nik):
        raise ValidationFailed("NIK tidak cocok dengan voucher ini.", cause="nik_mismatch")
    local_day: date = when.astimezone(WIB).date()
    if claim.expired(local_day):
        raise ValidationFailed(
            f"Voucher {claim.voucher_id} kedaluwarsa sejak {claim.expires_on:%Y-%m-%d}.",
            cause="expired",
        )
    voucher = _read(session, claim.voucher_id)
    if voucher is None:
        raise NotFound(f"Voucher {claim.voucher_id} tidak ada.")
    batch_state = voucher.batch_state
    if (voucher.amount_idr, voucher.expires_on) != (claim.amount_idr, claim.expires_on) or (
        voucher.key_id != claim.key_id
    ):
        raise ValidationFailed(
            f"Voucher {voucher.id}: kode tidak sesuai dengan catatan voucher.",
            cause="token_invalid",
        )
    if voucher.nik != nik:
        raise ValidationFailed("NIK tidak cocok dengan voucher ini.", cause="nik_mismatch")
    if voucher.partner_code != counter.partner_code:
        raise PermissionDenied(f"Voucher {voucher.id} bukan untuk mitra {counter.partner_code}.")
    if counter.region_code and not (
        voucher.village_code == counter.region_code
        or voucher.village_code.startswith(counter.region_code + ".")
    ):
        raise PermissionDenied(
            f"Voucher {voucher.id} untuk keluarga di luar wilayah loket ({counter.region_code})."
        )
    if batch_state != "approved":
        raise Conflict(f"Batch voucher {voucher.id} tidak disetujui.")
    if voucher.state == "redeemed":
        raise AlreadyRedeemed(voucher)
    label = counter.label[:64]
    mac = redemption_mac(voucher, when, label)
    conn = session.connection()
    won = conn.execute(
        _WIN,
        {
            "p_voucher": voucher.id,
            "p_when": when,
            "p_now": now,
            "p_counter": label,
            "p_token": counter.token_id,
            "p_kind": "online" if redeemed_at is None else "offline",
            "p_mac": mac,
        },
    )
    if won.rowcount != 1:
        raise AlreadyRedeemed(_read(session, voucher.id))
    attempt = {
        "p_batch": voucher.batch_id,
        "p_beneficiary": voucher.beneficiary_id,
        "p_attempt": voucher.attempt,
    }
    if conn.execute(_PAY, attempt).rowcount != 1:
        raise Conflict(
            f"Pembayaran voucher {voucher.id} tidak lagi tertunda (dibatalkan atau sudah dijawab).",
            cause="not_pending",
        )
    try:
        conn.execute(
            _EVENT,
            {
                **attempt,
                "p_cycle": voucher.cycle_id,
                "p_amount": voucher.amount_idr,
                "p_counter": label,
                "p_day": local_day,
                "p_now": now,
                "p_source": source if isinstance(source, str) else source(voucher.cycle_id),
                "p_actor": (actor or f"counter:{label}")[:64],
            },
        )
    except IntegrityError as error:
        if is_unique_violation(error):
            raise Conflict(f"Voucher {voucher.id} sudah tercatat dibayar.") from error
        raise
    return Redemption(
        voucher.id,
        attempt_id(voucher.cycle_id, voucher.beneficiary_id, voucher.attempt),
        voucher.amount_idr,
        when,
        label,
        voucher.home_delivery,
        "paid",
    )
