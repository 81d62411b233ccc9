"""Bulk decisions on imported families: verification by the regency, determination by the ministry.

One set-based UPDATE per decision (a regency verifies tens of thousands of families from one
musyawarah at once), one audit event naming exactly which families: their count and the
sha256 of their sorted ids.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, insert, select
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.audit import tally
from lumbung.audit.seal import update_sealed
from lumbung.auth.models import User
from lumbung.auth.roles import Action, in_scope
from lumbung.auth.service import authorize
from lumbung.db import utcnow
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.regions.models import Region
from lumbung.registry.check_sql import plain_text
from lumbung.registry.models import ChangeRequest, Household, HouseholdDecision, ImportBatch

# decision → (action needed, status before, status after)
TRANSITIONS: dict[str, tuple[Action, str, str]] = {
    "verify": (Action.VERIFY, "proposed", "verified"),
    "reject": (Action.VERIFY, "proposed", "rejected"),
    "determine": (Action.DETERMINE, "verified", "approved"),
    "return": (Action.DETERMINE, "verified", "rejected"),
}
LEVEL_COLUMN = {2: "province_code", 5: "regency_code", 8: "district_code", 13: "village_code"}


@dataclass(frozen=True, slots=True)
class DecisionResult:
    decision: str
    households: int
    region: str | None
    status_from: str
    status_to: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "households": self.households,
            "region": self.region,
            "from": self.status_from,
            "to": self.status_to,
        }


def region_filter(region_code: str) -> ColumnElement[bool]:
    """Households inside a region of any level, by the code column of that level."""
    column = LEVEL_COLUMN.get(len(region_code))
    if column is None:
        raise ValidationFailed(
            f"Kode wilayah {region_code} tidak berbentuk PP, PP.KK, PP.KK.CC atau PP.KK.CC.DDDD."
        )
    return Household.__table__.c[column] == region_code


def decide(
    session: Session,
    *,
    actor: User,
    decision: str,
    region_code: str | None = None,
    import_batch_id: int | None = None,
    reason: str | None = None,
    kk_numbers: Sequence[str] | None = None,
) -> DecisionResult:
    """Move every family in `region_code` (default: the actor's whole scope) one step on;
    with `kk_numbers`, only those of them (families ticked on a page): a KK outside the scope
    or not in the status before is left as it is, and the result's count says how many moved."""
    if decision not in TRANSITIONS:
        raise ValidationFailed(f"Keputusan tidak dikenal: {decision}")
    action, before, after = TRANSITIONS[decision]
    authorize(actor, action)
    if after == "rejected" and not (reason and reason.strip()):
        raise ValidationFailed("Penolakan wajib disertai alasan.")
    if reason is not None:
        reason = plain_text(reason, "Alasan")
    if region_code is not None:
        region_filter(region_code)  # its shape first: PP, PP.KK, PP.KK.CC or PP.KK.CC.DDDD
    region = region_code or actor.region_code
    if region is not None and not in_scope(actor.region_code, region):
        raise PermissionDenied(f"Wilayah {region} di luar kewenangan {actor.username}.")
    # A mistyped region or batch would otherwise decide nothing and say "0 keluarga".
    if region_code is not None and session.get(Region, region_code) is None:
        raise ValidationFailed(
            f"Kode wilayah {region_code} tidak dikenal di daftar wilayah Kemendagri.",
            command="lumbung regions load (bila daftar wilayah belum dimuat)",
        )
    if import_batch_id is not None and session.get(ImportBatch, import_batch_id) is None:
        raise NotFound(f"Batch impor {import_batch_id} tidak ada.")
    # A family proposed through a change request moves with its request (registry/workflow.py);
    # deciding it here would leave the request open on a family already decided.
    under_request = exists().where(
        ChangeRequest.household_id == Household.id,
        ChangeRequest.kind == "new_family",
        ChangeRequest.state.in_(("proposed", "verified")),
    )
    conditions = [Household.status == before, ~under_request]
    if region is not None:
        conditions.append(region_filter(region))
    if import_batch_id is not None:
        conditions.append(Household.import_batch_id == import_batch_id)
    if kk_numbers is not None:
        conditions.append(Household.kk_number.in_(list(kk_numbers)))
    where = and_(*conditions)
    ids = session.execute(select(Household.id).where(where).order_by(Household.id)).scalars().all()
    if ids:
        # One UPDATE moves the families and writes each one's new seal (audit/seal.py).
        with tempfile.TemporaryDirectory(prefix="lumbung-decide-") as scratch:
            moved = update_sealed(
                session,
                "household",
                ids,
                {"status": after, "status_reason": reason, "updated_at": utcnow()},
                where=Household.status == before,
                scratch=Path(scratch),
            )
        if moved != len(ids):
            raise Conflict("Keluarga berubah selama diputuskan; ulangi keputusan.")
        tally.add(session, "household", before, -len(ids))
        tally.add(session, "household", after, len(ids))
        digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()
        event = audit.record(
            session,
            actor=actor.username,
            action=f"household.{decision}",
            entity="household",
            entity_id="*",
            diff={
                "from": before,
                "to": after,
                "region": region,
                "import_batch_id": import_batch_id,
                "reason": reason,
                "households": len(ids),
                "ids_sha256": digest,
            },
        )
        # Which families the event decided, for each one's history.
        session.execute(
            insert(HouseholdDecision),
            [{"household_id": i, "audit_event_id": event.id} for i in ids],
        )
    return DecisionResult(decision, len(ids), region, before, after)
