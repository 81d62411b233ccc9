"""Redemptions made offline (no network at the counter) and uploaded later: reconciled row by
row exactly as online ones, in one operation sealed at its end.

A file is CSV with the header `token,nik,redeemed_at,counter` or a JSON list of objects with
those keys (`redeemed_at` ISO 8601; without a zone it is read as WIB). Each row is redeemed in
a savepoint: `paid`; `duplicate` (the same redemption, same counter and time, recorded before:
an upload sent twice changes nothing); `conflict` (the voucher was redeemed elsewhere or at
another time: reported with when and where, never paid twice); `refused` (the token, NIK,
expiry, partner or region does not hold).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.cycles.models import Cycle
from lumbung.delivery import ledger
from lumbung.delivery.partners import get_partner
from lumbung.delivery.pos.counters import COUNTER_ID, Counter
from lumbung.delivery.pos.redemption import WIB, AlreadyRedeemed, redeem
from lumbung.errors import LumbungError, ValidationFailed

HEADER = ("token", "nik", "redeemed_at", "counter")
MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class OfflineRow:
    line: int
    token: str
    nik: str
    redeemed_at: datetime
    counter: str


@dataclass(frozen=True, slots=True)
class RowOutcome:
    line: int
    voucher_id: int | None
    outcome: str  # paid, duplicate, conflict, refused
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "voucher_id": self.voucher_id,
            "outcome": self.outcome,
            "message": self.message,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    rows: int
    paid: int
    amount_idr: int
    duplicates: int
    conflicts: int
    refused: int
    outcomes: list[RowOutcome]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "paid": self.paid,
            "amount_idr": self.amount_idr,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "refused": self.refused,
            "outcomes": [o.as_dict() for o in self.outcomes],
        }


def _when(value: str, line: int) -> datetime:
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            f"Baris {line}: redeemed_at {value!r} bukan waktu ISO 8601."
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=WIB)


def parse(data: bytes) -> list[OfflineRow]:
    """The rows of an upload (CSV with the header `token,nik,redeemed_at,counter`, or JSON)."""
    text = data.decode("utf-8-sig")
    items: list[tuple[int, dict[str, Any]]]
    if text.lstrip().startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError as error:
            raise ValidationFailed(f"Berkas JSON rusak: {error}.") from None
        if not isinstance(loaded, list) or not all(isinstance(i, dict) for i in loaded):
            raise ValidationFailed("Berkas JSON harus berupa daftar objek.")
        items = list(enumerate(loaded, start=1))
    else:
        reader = csv.DictReader(io.StringIO(text))
        if tuple(reader.fieldnames or ()) != HEADER:
            raise ValidationFailed(f"Kepala CSV harus {','.join(HEADER)}.")
        items = [(number, dict(row)) for number, row in enumerate(reader, start=2)]
    if len(items) > MAX_ROWS:
        raise ValidationFailed(f"Paling banyak {MAX_ROWS:,} baris per unggahan.")
    rows = []
    for line, item in items:
        missing = [key for key in HEADER if not isinstance(item.get(key), str) or not item[key]]
        if missing:
            raise ValidationFailed(f"Baris {line}: {', '.join(missing)} kosong atau bukan teks.")
        rows.append(
            OfflineRow(
                line,
                item["token"],
                item["nik"],
                _when(item["redeemed_at"], line),
                item["counter"].strip(),
            )
        )
    return rows


def reconcile_as_user(
    session: Session, *, actor: User, partner_code: str, rows: list[OfflineRow]
) -> ReconcileResult:
    """An upload recorded by a ministry user on behalf of partner `partner_code` (each row names
    its counter)."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "mencatat penukaran voucher luring")
    partner = get_partner(session, partner_code)
    if partner.channel != "pos":
        raise ValidationFailed(f"Mitra {partner_code} bukan mitra saluran pos.")
    return _reconcile(
        session,
        rows,
        lambda row: Counter(None, partner.code, row.counter, None),
        actor_name=actor.username,
    )


def reconcile_as_counter(
    session: Session, *, counter: Counter, rows: list[OfflineRow]
) -> ReconcileResult:
    """An upload by a counter itself: its own redemptions (a row naming another counter is
    refused)."""

    def own(row: OfflineRow) -> Counter:
        if row.counter != counter.counter:
            raise ValidationFailed(
                f"Baris {row.line}: loket {row.counter}, bukan loket token ini ({counter.counter})."
            )
        return counter

    return _reconcile(session, rows, own, actor_name=f"counter:{counter.label}")


def _reconcile(
    session: Session,
    rows: list[OfflineRow],
    counter_of: Any,
    *,
    actor_name: str,
) -> ReconcileResult:
    sources: dict[int, str] = {}

    def source_for(cycle_id: int) -> str:
        return sources.setdefault(cycle_id, ledger.new_operation())

    outcomes: list[RowOutcome] = []
    conflicts_by_cycle: dict[int, list[dict[str, Any]]] = {}
    amount = 0
    for row in rows:
        savepoint = session.begin_nested()
        try:
            if not COUNTER_ID.fullmatch(row.counter):
                raise ValidationFailed(f"Kode loket {row.counter!r} tidak sah.")
            counter = counter_of(row)
            done = redeem(
                session,
                counter=counter,
                token=row.token,
                nik=row.nik,
                redeemed_at=row.redeemed_at,
                source=source_for,
                actor=actor_name,
            )
        except AlreadyRedeemed as already:
            savepoint.rollback()
            (detail,) = already.details
            same = (already.counter, already.redeemed_at) == (
                counter_of(row).label,
                row.redeemed_at,
            )
            outcomes.append(
                RowOutcome(
                    row.line,
                    int(detail["voucher_id"]),
                    "duplicate" if same else "conflict",
                    "sudah tercatat (unggahan ulang)" if same else already.message,
                    [] if same else already.details,
                )
            )
            if not same:
                conflicts_by_cycle.setdefault(-1, []).append(
                    {"line": row.line, **detail, "uploaded_counter": row.counter}
                )
            continue
        except LumbungError as refused:
            savepoint.rollback()
            outcomes.append(RowOutcome(row.line, None, "refused", refused.message))
            continue
        savepoint.commit()
        amount += done.amount_idr
        outcomes.append(RowOutcome(row.line, done.voucher_id, "paid", done.attempt))
    tally = Tally(o.outcome for o in outcomes)
    conflicts = conflicts_by_cycle.get(-1, [])
    for cycle_id, source in sorted(sources.items()):
        count, sha = ledger.events_digest(session, source)
        cycle = session.get_one(Cycle, cycle_id)
        audit.record(
            session,
            actor=actor_name,
            action="delivery.voucher_offline",
            entity="cycle",
            entity_id=cycle.label,
            diff={
                "rows": len(rows),
                "paid": count,
                "conflicts": conflicts[:100],
                "ledger": {"source": source, "events": count, "sha256": sha},
            },
        )
    if conflicts and not sources:  # nothing paid, conflicts still recorded
        audit.record(
            session,
            actor=actor_name,
            action="delivery.voucher_offline_conflicts",
            entity="voucher",
            entity_id=str(conflicts[0]["voucher_id"]),
            diff={"rows": len(rows), "conflicts": conflicts[:100]},
        )
    return ReconcileResult(
        len(rows),
        tally["paid"],
        amount,
        tally["duplicate"],
        tally["conflict"],
        tally["refused"],
        outcomes,
    )
