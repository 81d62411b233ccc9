"""One change request's way through: the regency verifies, the ministry determines (penetapan)
or either rejects. Every step checks the actor's role and region, writes an audit event, and
respects optimistic locking: a request carries the family's version it was made against, and
is refused once the family changed since."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lumbung.audit import service as audit
from lumbung.audit.models import AuditEvent
from lumbung.auth.models import User
from lumbung.auth.roles import Action, in_scope, may
from lumbung.auth.service import authorize
from lumbung.db import utcnow
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.registry.applying import (
    apply_request,
    differences,
    family_cells,
    members_cells,
    set_family_status,
)
from lumbung.registry.check_sql import plain_text
from lumbung.registry.models import ChangeRequest, Household

# A request still to be decided: proposed (the regency verifies it), verified (the ministry).
OPEN_STATES = ("proposed", "verified")


def request_in_scope(
    session: Session, actor: User, request_id: int, *, lock: bool = False
) -> ChangeRequest:
    """The request, if the actor's region covers its village (else, as for a request that does
    not exist, nothing is told of it: not its village, not its state). With `lock`, its row is
    held until commit (PostgreSQL `FOR UPDATE`; SQLite's writer lock is held anyway) and read
    as committed, so that two decisions on it at once come one after the other: the second
    then finds it decided."""
    request = session.get(ChangeRequest, request_id, with_for_update=lock, populate_existing=lock)
    if request is None or not in_scope(actor.region_code, request.village_code):
        raise NotFound(
            f"Usulan {request_id} tidak ada di wilayah {actor.region_code or 'nasional'}."
        )
    return request


def verify(session: Session, *, actor: User, request_id: int) -> ChangeRequest:
    """The regency's check of a proposal: proposed → verified."""
    request = request_in_scope(session, actor, request_id, lock=True)
    authorize(actor, Action.VERIFY, request.village_code)
    _expect(request, "proposed")
    household = session.get(Household, request.household_id)
    assert household is not None
    _require_current(request, household)
    _require_as_proposed(session, request)
    request.state, request.verified_by, request.verified_at = "verified", actor.username, utcnow()
    if request.kind == "new_family":
        set_family_status(session, request, "verified", None)
    audit.record(
        session,
        actor=actor.username,
        action="request.verify",
        entity="change_request",
        entity_id=request.id,
        diff={"kind": request.kind},
    )
    return request


def reject(session: Session, *, actor: User, request_id: int, reason: str) -> ChangeRequest:
    """Refuse a proposal with a reason: the regency before verification, the ministry after."""
    request = request_in_scope(session, actor, request_id, lock=True)
    if request.state not in ("proposed", "verified"):
        raise Conflict(
            f"Usulan {request.id} sudah {request.state}; tidak bisa ditolak lagi.",
            cause="request_decided",
        )
    action = Action.VERIFY if request.state == "proposed" else Action.DETERMINE
    if action is Action.DETERMINE and not may(actor.role, action):
        raise PermissionDenied(
            f"Usulan {request.id} sudah diverifikasi: kini hanya penetap (determiner) yang "
            "bisa menolaknya."
        )
    authorize(actor, action, request.village_code)
    if not reason.strip():
        raise ValidationFailed("Penolakan wajib disertai alasan.")
    reason = plain_text(reason, "Alasan penolakan")
    request.state, request.reason = "rejected", reason
    request.decided_by, request.decided_at = actor.username, utcnow()
    if request.kind == "new_family":
        set_family_status(session, request, "rejected", reason)
    audit.record(
        session,
        actor=actor.username,
        action="request.reject",
        entity="change_request",
        entity_id=request.id,
        diff={"kind": request.kind, "reason": reason},
    )
    return request


def determine(session: Session, *, actor: User, request_id: int) -> ChangeRequest:
    """The ministry's determination (penetapan): verified → approved, and the change applied."""
    request = request_in_scope(session, actor, request_id, lock=True)
    authorize(actor, Action.DETERMINE, request.village_code)
    _expect(request, "verified")
    # The family's row too: a determination of another of its requests meanwhile comes
    # before or after this one, never in the middle (its version then tells).
    household = session.get(
        Household, request.household_id, with_for_update=True, populate_existing=True
    )
    assert household is not None
    _require_current(request, household)
    _require_as_proposed(session, request)
    before, members_before = family_cells(household), members_cells(session, household)
    try:
        settled = apply_request(session, request, household)
        session.flush()
    except StaleDataError as exc:
        raise Conflict(
            f"Keluarga {household.kk_number} baru saja diubah pengguna lain.",
            cause="family_changed",
        ) from exc
    request.state, request.decided_by, request.decided_at = "approved", actor.username, utcnow()
    after, members_after = family_cells(household), members_cells(session, household)
    audit.record(
        session,
        actor=actor.username,
        action=f"request.determine.{request.kind}",
        entity="household",
        entity_id=household.id,
        diff={
            "request": request.id,
            "kk_number": household.kk_number,
            "changed": differences(before, after),
            "members_changed": [
                {"member_id": id_, "nik": cells["nik"], "changes": changes}
                for id_, cells in members_after.items()
                if (changes := differences(members_before.get(id_, {}), cells))
            ],
            "payload": request.payload,
            **({"duplicate_reviews_resolved": settled} if settled else {}),
            # The family's version after the change: an older row put back shows (audit verify).
            "version": household.version,
        },
    )
    return request


def event_diffs(session: Session, entity: str, entity_id: int, action: str) -> list[Any]:
    """The diffs of one entity's audit events of one action, oldest first."""
    return list(
        session.execute(
            select(AuditEvent.diff)
            .where(
                AuditEvent.entity == entity,
                AuditEvent.entity_id == str(entity_id),
                AuditEvent.action == action,
            )
            .order_by(AuditEvent.id)
        ).scalars()
    )


def _require_as_proposed(session: Session, request: ChangeRequest) -> None:
    """The request holds what was proposed: its payload as the keyed proposal event recorded
    it (a payload edited in the database after the proposal is never applied)."""
    recorded = next(
        iter(event_diffs(session, "change_request", request.id, f"request.propose.{request.kind}")),
        None,
    )
    if recorded is None or recorded.get("payload") != request.payload:
        raise Conflict(
            f"Usulan {request.id} tidak lagi sama dengan yang diajukan (jejak audit mencatat "
            "isi lain): diubah di luar Lumbung. Tolak usulan ini dan minta admin memeriksa "
            "jejak audit.",
            cause="request_altered",
            command="lumbung audit verify",
        )


def family_changed_since(request: ChangeRequest, family_version: int) -> bool:
    """Whether the family is no longer at the version the request was proposed on (another
    request was determined since): such a request can be neither verified nor determined, only
    rejected and proposed again on the new data. A new family's request never (the family came
    with it). Asked of an open request (proposed, verified): a determined one moved the version
    itself."""
    return request.kind != "new_family" and family_version != request.base_version


def family_changed(request: ChangeRequest, family_version: int) -> bool:
    """Whether `request` is open and waits on a family that changed since it was proposed (what
    `verify` and `determine` would refuse): the warning a reader of the request is shown."""
    return request.state in OPEN_STATES and family_changed_since(request, family_version)


def _require_current(request: ChangeRequest, household: Household) -> None:
    """A change is verified and determined against the family it was proposed on: once the
    family changed (another request determined), it must be proposed again on the new data."""
    if family_changed_since(request, household.version):
        raise Conflict(
            f"Keluarga {household.kk_number} berubah sejak usulan dibuat (versi "
            f"{request.base_version} → {household.version}); tolak usulan ini dengan alasan itu "
            "dan ajukan ulang atas data terbaru.",
            cause="family_changed",
            command=f"lumbung request reject {request.id} --reason …",
        )


def _expect(request: ChangeRequest, state: str) -> None:
    if request.state != state:
        raise Conflict(
            f"Usulan {request.id} berstatus {request.state}, bukan {state}.",
            cause="request_decided" if request.state in ("approved", "rejected") else None,
        )
