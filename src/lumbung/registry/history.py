"""A family's history, from the audit chain: how it came in, every request on it and what each
determination changed (the grievance officer's and the auditor's view of one family).

Decisions taken in bulk (`registry verify|determine` over a region or a batch) are recorded as
one event for all their families, naming them by count and by the sha256 of their ids; they are
not repeated here per family (the family's status, its reason and its version say where it
stands now). Of the imports, the one that brought the family in: a later batch that added
members to it while it was still proposed is not linked to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, String, and_, bindparam, cast, or_, select
from sqlalchemy.orm import Session

from lumbung.audit.models import AuditEvent
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.registry.models import ChangeRequest, HouseholdDecision
from lumbung.registry.scope import FamilyRef, family_ref_in_scope
from lumbung.registry.validation import typed_changes


@dataclass(frozen=True, slots=True)
class Event:
    """One audit event about the family, with what it says of it."""

    id: int
    at: datetime
    actor: str
    action: str
    request: int | None  # the change request it belongs to, if any
    # what changed (a determination: the family's columns, each member's), or was proposed
    changes: dict[str, Any]
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "request": self.request,
            "changes": self.changes,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class FamilyHistory:
    kk_number: str
    village_code: str
    status: str
    status_reason: str | None  # why it was rejected or left (a bulk rejection's reason too)
    version: int
    import_batch_id: int | None  # the batch that brought the family in
    events: list[Event]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kk_number": self.kk_number,
            "village_code": self.village_code,
            "status": self.status,
            "status_reason": self.status_reason,
            "version": self.version,
            "import_batch_id": self.import_batch_id,
            "events": [e.as_dict() for e in self.events],
        }


# The events about one family, in one statement built once: its own (the import that
# brought it in, when there is one: a NULL batch matches nothing), its requests' (their ids as
# the audit chain writes them, text), and the bulk decisions that named it.
_ABOUT_FAMILY = (
    select(*AuditEvent.__table__.c)  # plain rows: the events are read, never changed
    .where(
        or_(
            and_(AuditEvent.entity == "household", AuditEvent.entity_id == bindparam("id_text")),
            and_(
                AuditEvent.entity == "change_request",
                AuditEvent.entity_id.in_(
                    select(cast(ChangeRequest.id, String)).where(
                        ChangeRequest.household_id == bindparam("id")
                    )
                ),
            ),
            AuditEvent.id.in_(
                select(HouseholdDecision.audit_event_id).where(
                    HouseholdDecision.household_id == bindparam("id")
                )
            ),
            and_(AuditEvent.entity == "import_batch", AuditEvent.entity_id == bindparam("batch")),
        )
    )
    .order_by(AuditEvent.id)
)


def family_history(session: Session, *, actor: User, kk_number: str) -> FamilyHistory:
    """Every audit event about the family with this KK, oldest first (a family outside the
    actor's region is, as everywhere, a KK that does not exist)."""
    authorize(actor, Action.READ)
    household = family_ref_in_scope(session, actor, kk_number)
    batch = household.import_batch_id
    found = session.execute(
        _ABOUT_FAMILY,
        {
            "id": household.id,
            "id_text": str(household.id),
            "batch": None if batch is None else str(batch),
        },
    )
    return FamilyHistory(
        household.kk_number,
        household.village_code,
        household.status,
        household.status_reason,
        household.version,
        household.import_batch_id,
        [_event(e, household) for e in found],
    )


def _event(event: Row[Any], household: FamilyRef) -> Event:
    diff = event.diff
    request = int(event.entity_id) if event.entity == "change_request" else diff.get("request")
    changes: dict[str, Any] = {}
    if diff.get("changed"):
        changes["household"] = typed_changes(diff["changed"])
    if diff.get("members_changed"):
        changes["members"] = [
            {**member, "changes": typed_changes(member["changes"])}
            for member in diff["members_changed"]
        ]
    if diff.get("duplicate_reviews_resolved"):
        changes["duplicate_reviews_resolved"] = diff["duplicate_reviews_resolved"]
    if event.action.startswith("request.propose."):
        changes["proposed"] = diff.get("payload")
    if event.entity == "import_batch":  # the batch's counts are of every family in it
        changes = {"import_batch": household.import_batch_id, "status": diff.get("status")}
    return Event(
        event.id,
        event.at,
        event.actor,
        event.action,
        request,
        changes,
        diff.get("reason"),
    )
