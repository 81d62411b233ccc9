"""Applying a determined change request to the registry: the family's and its members' rows,
the duplicate reviews the change settles, and the values before and after (for the audit)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lumbung.db import utcnow
from lumbung.identity.names import normalise_name
from lumbung.registry import account_changes
from lumbung.registry.models import ChangeRequest, DuplicateReview, Household, Member
from lumbung.registry.proposals import (
    HEAD,
    MEMBER_UPDATABLE,
    UPDATABLE,
    check_family,
    family_after,
    new_member,
)
from lumbung.registry.validation import household_cells, member_cells


def family_cells(household: Household) -> dict[str, str | None]:
    """The family's values, and where it stands (an exit changes only its status and reason)."""
    return {
        **household_cells(household),
        "status": household.status,
        "status_reason": household.status_reason,
    }


def members_cells(session: Session, household: Household) -> dict[int, dict[str, str | None]]:
    """Every member of the family ever (any status), by member id: values and status."""
    members = session.execute(select(Member).where(Member.household_id == household.id))
    return {
        m.id: {**member_cells(m, household.kk_number), "status": m.status}
        for m in members.scalars()
    }


def differences(
    before: dict[str, str | None], after: dict[str, str | None]
) -> dict[str, list[str | None]]:
    """column → [before, after] for each value that changed (before None: a new row)."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def apply_request(session: Session, request: ChangeRequest, household: Household) -> list[int]:
    """Apply a determined request; the duplicate reviews it settles (their ids)."""
    payload = request.payload
    if request.kind == "new_family":
        household.status = "approved"
        return []
    if request.kind == "update_account":
        account_changes.apply(session, request, household)
        return []
    if request.kind == "exit":
        household.status, household.status_reason = "inactive", str(payload["reason"])
        return []
    # Checked again, with the family as it is now: the checks run as of today.
    change = family_after(session, household, request.kind, payload)
    checked = check_family(session, None, change.household, change.members)
    if request.kind == "update":
        for column, value in (checked.household or {}).items():
            if column in UPDATABLE:
                setattr(household, column, value)
        household.district_code = household.village_code[:8]
        household.regency_code = household.village_code[:5]
        household.province_code = household.village_code[:2]
        # The members' copy of the regency (the name search's index, models.Member) moves too.
        session.execute(
            update(Member)
            .where(Member.household_id == household.id)
            .values(regency_code=household.regency_code)
            .execution_options(synchronize_session="fetch")
        )
        # The family's open requests go with it: decided by the region it now lives in, no
        # longer seen by the one it left.
        session.execute(
            update(ChangeRequest)
            .where(
                ChangeRequest.household_id == household.id,
                ChangeRequest.state.in_(("proposed", "verified")),
                ChangeRequest.id != request.id,
            )
            .values(village_code=household.village_code)
        )
        return []
    household.updated_at = utcnow()  # bumps the family's version: its members changed
    settled: list[int] = []
    staying = [m for n, m in enumerate(change.active) if n != change.leaving]  # as in `members`
    if change.leaving is not None:
        leaving = change.active[change.leaving]
        leaving.status = payload["status"]
        settled += _settle_reviews(session, leaving, f"anggota keluar ({leaving.status})", request)
    # One active head per family is a unique index, checked row by row: the former head's row
    # is written before the new head's.
    head_last = sorted(
        change.changed.items(),
        key=lambda item: checked.members[item[0]]["relationship"] == HEAD,
    )
    for at, before in head_last:
        values = checked.members[at]
        if values["relationship"] == HEAD:
            session.flush()  # every other change written first
        if before is None:
            session.add(new_member(values, household))
            continue
        member = staying[at]
        for column, value in values.items():
            if column in MEMBER_UPDATABLE:
                setattr(member, column, value)
        member.name_normalised = normalise_name(member.name)
        if member.nik != before:
            why = f"NIK dikoreksi: {before} → {member.nik}"
            settled += _settle_reviews(session, member, why, request)
    return settled


def _settle_reviews(
    session: Session, member: Member, why: str, request: ChangeRequest
) -> list[int]:
    """Resolve the open duplicate reviews of a member whose NIK no longer collides (it left its
    family, or its NIK was corrected)."""
    reviews = session.execute(
        select(DuplicateReview).where(
            DuplicateReview.state == "open",
            (DuplicateReview.member_id == member.id)
            | (DuplicateReview.other_member_id == member.id),
        )
    ).scalars()
    settled = []
    for review in reviews:
        review.state, review.resolution = "resolved", f"{why}; usulan {request.id}"
        settled.append(review.id)
    return settled


def set_family_status(
    session: Session, request: ChangeRequest, status: str, reason: str | None
) -> None:
    household = session.get(Household, request.household_id)
    assert household is not None
    household.status, household.status_reason = status, reason
