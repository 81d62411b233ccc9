"""Redeeming a voucher at a counter: paid exactly once.

A redemption is one transaction: the token's signature, key, expiry and NIK binding are
checked (no database), then the voucher is claimed by one statement that makes every other
check too:

    UPDATE voucher SET state = 'redeemed', … WHERE id = :id AND state = 'issued'
      AND (amount, expiry, key) = the code's AND nik = :nik AND partner = the counter's
      AND the village in the counter's region AND its batch approved  RETURNING …

whose row decides: none means the voucher is unknown, refused by a check, or was redeemed
first by another counter (on PostgreSQL the second UPDATE waits for the first's row lock and,
once that commits, finds the row no longer `issued`; on SQLite writers take turns). Only then
is the voucher read, to say which (`_check`, in the order of the checks), and the caller gets
404, 422, 403 or 409 with when and where it was redeemed. The winner's second statement (on
PostgreSQL one, a data-modifying CTE; three on SQLite) stores the redemption's digest, moves
the attempt `pending → paid` (a conditional UPDATE too: no row, and the transaction is rolled
back with the claim) and appends its `paid` event (unique per attempt and kind: a third
guard). BEGIN, two statements, COMMIT: four round trips (seven before, 2026-12-07), both
statements run on psycopg's connection (`db.OnDriver`).

Online redemptions are sealed into the audit chain in groups (`pos.sealing`): one audit event
per redemption would serialise every counter on the chain's lock. Until its seal, a paid event
carries the source `pos:awaiting-seal` and is vouched for by the voucher's `redemption_mac`.
An offline upload is one operation with its own source, sealed at its end like any other.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    bindparam,
    exists,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lumbung.audit.keys import keyring
from lumbung.db import OnDriver, utcnow
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


def _mac_body(
    voucher_id: int,
    cycle_id: int,
    beneficiary_id: int,
    attempt: int,
    batch_id: int,
    amount_idr: int,
    redeemed_at: datetime,
    counter: str,
) -> bytes:
    return US.join(
        str(part)
        for part in (
            "voucher-redemption",
            voucher_id,
            cycle_id,
            beneficiary_id,
            attempt,
            batch_id,
            amount_idr,
            _aware(redeemed_at).astimezone(UTC).isoformat(),
            counter,
        )
    ).encode()


def redemption_mac(
    voucher_id: int,
    cycle_id: int,
    beneficiary_id: int,
    attempt: int,
    batch_id: int,
    amount_idr: int,
    redeemed_at: datetime,
    counter: str,
) -> str:
    """The keyed digest that vouches for a redemption until its seal: `KEYID:` + 128 bits over
    the voucher, its attempt, batch and amount, when and where it was redeemed."""
    key = keyring().current
    body = _mac_body(
        voucher_id, cycle_id, beneficiary_id, attempt, batch_id, amount_idr, redeemed_at, counter
    )
    return f"{key.id}:{key.mac(body)[:32]}"


def mac_holds(voucher: Any) -> bool:
    """Whether a redeemed voucher's row (its columns as attributes) carries the digest of its
    redemption under a key of the key file."""
    if not (voucher.redemption_mac and voucher.redeemed_at and voucher.counter):
        return False
    key_id, _, digest = voucher.redemption_mac.partition(":")
    ring = keyring()
    if key_id not in ring.keys:
        return False
    body = _mac_body(
        voucher.id,
        voucher.cycle_id,
        voucher.beneficiary_id,
        voucher.attempt,
        voucher.batch_id,
        voucher.amount_idr,
        voucher.redeemed_at,
        voucher.counter,
    )
    return hmac.compare_digest(ring.keys[key_id].mac(body)[:32], digest)


# The statements of a redemption, built once (Core, on the tables): building them per call was
# most of a redemption's CPU (benchmarks/README.md, "PT Pos").
_V = cast(Table, Voucher.__table__)
_B = cast(Table, PaymentBatch.__table__)
_I = cast(Table, PaymentItem.__table__)
_E = cast(Table, PaymentEvent.__table__)
_BATCH_STATE = select(_B.c.state).where(_B.c.id == _V.c.batch_id).correlate(_V).scalar_subquery()
# What the checks need of a voucher and its batch, read when the claim fails (to say why).
_READ = select(
    _V.c.id,
    _V.c.village_code,
    _V.c.partner_code,
    _V.c.nik,
    _V.c.amount_idr,
    _V.c.key_id,
    _V.c.expires_on,
    _V.c.state,
    _V.c.redeemed_at,
    _V.c.counter,
    _BATCH_STATE.label("batch_state"),
).where(_V.c.id == bindparam("p_voucher"))
# The claim: the voucher, still issued and passing every check of `_check` (the same, in SQL),
# becomes redeemed, and what the payment needs comes back (one round trip). No row: `_read`
# and `_check` say why.
_CLAIM = OnDriver(
    update(_V)
    .where(
        _V.c.id == bindparam("p_voucher"),
        _V.c.state == "issued",
        _V.c.amount_idr == bindparam("p_amount"),
        _V.c.expires_on == bindparam("p_expires"),
        _V.c.key_id == bindparam("p_key"),
        _V.c.nik == bindparam("p_nik"),
        _V.c.partner_code == bindparam("p_partner"),
        or_(
            bindparam("p_region", type_=String()).is_(None),
            _V.c.village_code == bindparam("p_region", type_=String()),
            _V.c.village_code.startswith(
                bindparam("p_region_prefix", type_=String()), autoescape=False
            ),
        ),
        exists().where(_B.c.id == _V.c.batch_id, _B.c.state == "approved"),
    )
    .values(
        state="redeemed",
        redeemed_at=bindparam("p_when"),
        recorded_at=bindparam("p_now"),
        counter=bindparam("p_counter"),
        partner_token_id=bindparam("p_token", type_=BigInteger()),
        redemption=bindparam("p_kind"),
    )
    .returning(
        _V.c.id,
        _V.c.batch_id,
        _V.c.cycle_id,
        _V.c.beneficiary_id,
        _V.c.attempt,
        _V.c.amount_idr,
        _V.c.home_delivery,
    )
)
_MAC = update(_V).where(_V.c.id == bindparam("p_voucher")).values(redemption_mac=bindparam("p_mac"))
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
_EVENT_VALUES = {
    "cycle_id": bindparam("p_cycle", type_=_E.c.cycle_id.type),
    "beneficiary_id": bindparam("p_beneficiary", type_=_E.c.beneficiary_id.type),
    "attempt": bindparam("p_attempt", type_=_E.c.attempt.type),
    "batch_id": bindparam("p_batch", type_=_E.c.batch_id.type),
    "kind": literal("paid", _E.c.kind.type),
    "amount_idr": bindparam("p_amount", type_=_E.c.amount_idr.type),
    "reference": bindparam("p_counter", type_=_E.c.reference.type),
    "value_date": bindparam("p_day", type_=_E.c.value_date.type),
    "recorded_at": bindparam("p_now", type_=_E.c.recorded_at.type),
    "source": bindparam("p_source", type_=_E.c.source.type),
    "actor": bindparam("p_actor", type_=_E.c.actor.type),
}
_EVENT = insert(_E).values(_EVENT_VALUES)
# PostgreSQL: the digest, the attempt paid and its event in one statement (one round trip):
# the event is inserted only if the attempt was still pending (no row back: not pending).
_PAID = _PAY.returning(_I.c.batch_id).cte("paid")
_PAY_AND_RECORD = OnDriver(
    insert(_E)
    .from_select(
        list(_EVENT_VALUES),
        select(*(v.label(k) for k, v in _EVENT_VALUES.items())).select_from(_PAID),
    )
    .add_cte(_MAC.cte("sealed_by_mac"))
    .returning(_E.c.id)
)


def _read(session: Session, voucher_id: int) -> Any:
    """The voucher's row (what the checks need, with its batch's state) as committed now
    (columns, not an ORM object: a read after a lost race sees the winner's row)."""
    return session.connection().execute(_READ, {"p_voucher": voucher_id}).one_or_none()


def _check(voucher: Any, claim: VoucherClaim, nik: str, counter: Counter) -> None:
    """The voucher's record against the code, the NIK, the counter and the batch (in this
    order: the first that fails is the answer)."""
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
    if voucher.batch_state != "approved":
        raise Conflict(f"Batch voucher {voucher.id} tidak disetujui.")


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
    giving it per cycle id), by default awaiting its group seal. On any error the caller rolls
    back its unit of work (or savepoint), as after any service's error: a voucher claimed whose
    attempt is no longer pending is released by that rollback."""
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
    label = counter.label[:64]
    region = counter.region_code
    conn = session.connection()
    claimed = _CLAIM.rows(
        session,
        {
            "p_voucher": claim.voucher_id,
            "p_amount": claim.amount_idr,
            "p_expires": claim.expires_on,
            "p_key": claim.key_id,
            "p_nik": nik,
            "p_partner": counter.partner_code,
            "p_region": region,
            "p_region_prefix": f"{region}." if region else None,
            "p_when": when,
            "p_now": now,
            "p_counter": label,
            "p_token": counter.token_id,
            "p_kind": "online" if redeemed_at is None else "offline",
        },
    )
    if not claimed:  # unknown, refused by a check, or redeemed before (perhaps just now)
        found = _read(session, claim.voucher_id)
        if found is None:
            raise NotFound(f"Voucher {claim.voucher_id} tidak ada.")
        _check(found, claim, nik, counter)
        if found.state != "redeemed":  # a claim rolled back meanwhile: the counter asks again
            raise Conflict(f"Voucher {found.id} sedang diproses di loket lain; coba lagi.")
        raise AlreadyRedeemed(found)
    ((voucher_id, batch_id, cycle_id, beneficiary_id, attempt, amount, home_delivery),) = claimed
    params = {
        "p_voucher": voucher_id,
        "p_mac": redemption_mac(
            voucher_id, cycle_id, beneficiary_id, attempt, batch_id, amount, when, label
        ),
        "p_batch": batch_id,
        "p_beneficiary": beneficiary_id,
        "p_attempt": attempt,
        "p_cycle": cycle_id,
        "p_amount": amount,
        "p_counter": label,
        "p_day": local_day,
        "p_now": now,
        "p_source": source if isinstance(source, str) else source(cycle_id),
        "p_actor": (actor or f"counter:{label}")[:64],
    }
    try:
        if conn.dialect.name == "postgresql":
            paid = bool(_PAY_AND_RECORD.rows(session, params))
        else:
            conn.execute(_MAC, params)
            paid = conn.execute(_PAY, params).rowcount == 1
            if paid:
                conn.execute(_EVENT, params)
    except IntegrityError as error:
        if is_unique_violation(error):
            raise Conflict(f"Voucher {voucher_id} sudah tercatat dibayar.") from error
        raise
    if not paid:
        raise Conflict(
            f"Pembayaran voucher {voucher_id} tidak lagi tertunda (dibatalkan atau sudah dijawab).",
            cause="not_pending",
        )
    return Redemption(
        voucher_id,
        attempt_id(cycle_id, beneficiary_id, attempt),
        amount,
        when,
        label,
        bool(home_delivery),
        "paid",
    )
