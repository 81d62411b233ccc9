"""A change request as the one deciding it reads it, and the requests waiting in a region."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action, in_scope
from lumbung.auth.service import authorize
from lumbung.errors import ValidationFailed
from lumbung.registry.models import ChangeRequest, Household, Member
from lumbung.registry.proposals import MEMBER_UPDATABLE, REQUEST_STATES, UPDATABLE
from lumbung.registry.validation import typed_changes
from lumbung.registry.workflow import event_diffs, family_changed, request_in_scope


@dataclass(frozen=True, slots=True)
class RequestView:
    """A change request as the one deciding it must see it: the family it concerns, what is
    proposed, and, for an update, each proposed value beside the family's value now."""

    request: ChangeRequest
    kk_number: str
    household_status: str | None  # None (with `current` empty): the family lives outside the
    household_version: int | None  # reader's region now
    current: dict[str, Any]  # the values now (typed) of the columns an update names (`_current`)
    # For an update that was determined: the values just before it, as its audit event recorded
    # them (same shape as `current`; a column it did not change is absent). Else empty.
    before: dict[str, Any] = field(default_factory=dict)
    # Open, on a family that changed since it was proposed (`workflow.family_changed`).
    family_changed: bool = False


def show(session: Session, *, actor: User, request_id: int) -> RequestView:
    """One request in full, for a user whose region covers its village."""
    authorize(actor, Action.READ)
    request = request_in_scope(session, actor, request_id)
    household = session.get(Household, request.household_id)
    assert household is not None
    if not in_scope(actor.region_code, household.village_code):
        # The family has moved out of the reader's region since: the request stays theirs to
        # read, the family as it is now does not (where it lives, its values, its state).
        return RequestView(
            request,
            household.kk_number,
            None,
            None,
            {},
            family_changed=family_changed(request, household.version),
        )
    return RequestView(
        request,
        household.kk_number,
        household.status,
        household.version,
        _current(session, request, household),
        _before(session, request, household),
        family_changed(request, household.version),
    )


def _before(session: Session, request: ChangeRequest, household: Household) -> dict[str, Any]:
    """What a determined update changed from, by its audit event: the family's columns (column
    → value), or each member's (the NIK the request names → column → value)."""
    if request.state != "approved" or request.kind not in ("update", "update_member"):
        return {}
    events = event_diffs(session, "household", household.id, f"request.determine.{request.kind}")
    diff = next((d for d in events if d.get("request") == request.id), None)
    if diff is None:
        return {}
    if request.kind == "update":
        return {c: was for c, (was, _) in typed_changes(diff.get("changed", {})).items()}
    before: dict[str, Any] = {}
    for member in diff.get("members_changed", []):
        changes = typed_changes(member["changes"])
        named = changes["nik"][0] if "nik" in changes else member["nik"]  # as proposed
        before[named] = {c: was for c, (was, _) in changes.items()}
    return before


def _current(session: Session, request: ChangeRequest, household: Household) -> dict[str, Any]:
    """The values now of the columns an update names: the family's (column → value), or each
    member's (NIK → column → value; nothing for a member no longer active in the family)."""
    if request.kind == "update":
        changes = request.payload.get("changes") or {}
        return {c: getattr(household, c) for c in changes if c in UPDATABLE}
    if request.kind != "update_member":
        return {}
    current: dict[str, Any] = {}
    for item in request.payload["members"]:
        # By the NIK the request names, or, once a NIK correction is applied, the corrected one.
        niks = {item["nik"], item["changes"].get("nik")} - {None}
        member = session.execute(
            select(Member)
            .where(
                Member.household_id == household.id,
                Member.nik.in_(niks),
                Member.status == "active",
            )
            .limit(1)
        ).scalar_one_or_none()
        if member is not None:
            current[item["nik"]] = {
                c: getattr(member, c) for c in item["changes"] if c in MEMBER_UPDATABLE
            }
    return current


def pending(session: Session, *, actor: User, state: str = "proposed") -> list[ChangeRequest]:
    """Requests in `state` within the actor's region."""
    authorize(actor, Action.READ)
    if state not in REQUEST_STATES:
        raise ValidationFailed(
            f"Status usulan tidak dikenal: {state}; pilihan: {', '.join(REQUEST_STATES)}"
        )
    query = select(ChangeRequest).where(ChangeRequest.state == state).order_by(ChangeRequest.id)
    if actor.region_code:
        query = query.where(
            (ChangeRequest.village_code == actor.region_code)
            | ChangeRequest.village_code.startswith(actor.region_code + ".")
        )
    return list(session.execute(query).scalars())
