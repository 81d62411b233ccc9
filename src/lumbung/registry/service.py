"""Change requests: a village operator proposes, the regency verifies, the ministry determines.

Kinds: new_family, update (household fields), update_member (a member's own values: a new
school level, a pregnancy, a corrected name, birth date or NIK), add_member, remove_member
(deceased, moved, removed), exit (the family leaves the registry). Every step checks the
actor's role and region, writes an audit event, and respects optimistic locking: a request
carries the family's version it was made against, and determination refuses it if the family
changed since.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lumbung.audit import service as audit
from lumbung.audit.models import AuditEvent
from lumbung.auth.models import User
from lumbung.auth.roles import Action, in_scope, may
from lumbung.auth.service import authorize
from lumbung.db import utcnow
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.identity.names import normalise_name
from lumbung.identity.nik import require_kk
from lumbung.registry import vocab
from lumbung.registry.check_sql import plain_text, printable
from lumbung.registry.checks import HOUSEHOLD_VALUE_COLUMNS, MEMBER_VALUE_COLUMNS
from lumbung.registry.errors import RowError
from lumbung.registry.models import ChangeRequest, DuplicateReview, Household, Member
from lumbung.registry.validation import (
    MEMBERS_FILE,
    FamilyCheck,
    cell,
    household_cells,
    member_cells,
    typed_changes,
    validate_family,
)

REQUEST_STATES = vocab.REQUEST_STATES
KINDS = vocab.REQUEST_KINDS
HEAD = vocab.HEAD
MEMBER_EXIT_STATUS = ("deceased", "moved", "removed")
UPDATABLE = frozenset(HOUSEHOLD_VALUE_COLUMNS) - {"kk_number"}
MEMBER_UPDATABLE = frozenset(MEMBER_VALUE_COLUMNS) - {"kk_number"}


def family_in_scope(session: Session, actor: User, kk_number: str) -> Household:
    """The family with this KK, if the actor's region covers it. A family outside it gets the
    answer of a KK that does not exist: "outside your region" would tell that it exists, and
    where."""
    require_kk(kk_number)
    household = session.execute(
        select(Household).where(Household.kk_number == kk_number)
    ).scalar_one_or_none()
    if household is None or not in_scope(actor.region_code, household.village_code):
        raise NotFound(
            f"Keluarga dengan KK {kk_number} tidak ada di registry wilayah "
            f"{actor.region_code or 'nasional'}."
        )
    return household


def _active_members(session: Session, household: Household) -> list[Member]:
    return list(
        session.execute(
            select(Member)
            .where(Member.household_id == household.id, Member.status == "active")
            .order_by(Member.id)
        ).scalars()
    )


def _check(
    session: Session,
    scope: str | None,
    household: dict[str, Any],
    members: list[dict[str, Any]],
) -> FamilyCheck:
    """validate_family, raising one ValidationFailed that lists every problem."""
    result = validate_family(session, household=household, members=members, scope=scope)
    if result.errors:
        message, problems = _problems(result.errors, members)
        raise ValidationFailed(message, details=problems)
    if result.household is None:  # no error listed, yet nothing acceptable: an empty family
        raise ValidationFailed("Data keluarga kosong atau tidak lengkap.")
    return result


HEAD_HINT = (
    ' Kepala keluarga baru: remove_member dengan "new_head", atau update_member untuk kedua '
    'anggota sekaligus ("members": [...]).'
)


def _problems(
    errors: list[RowError], members: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """Each problem once, in the words of a proposal: the family, or the member by NIK and name
    (not the row of a batch file that the proposer never saw). A family "without a head" because
    the head's own row has an error is that error, said once."""
    member_rows = {e.row for e in errors if e.file == MEMBERS_FILE}
    heads = {
        n
        for n, m in enumerate(members, start=2)
        if str(m.get("relationship") or "").strip().lower() == HEAD
    }
    knock_on = set()  # the family's errors that only repeat a member's
    if heads & member_rows:
        knock_on.add("no_head")
    if member_rows >= set(range(2, len(members) + 2)):
        knock_on.add("no_valid_members")
    problems, said = [], []
    for e in errors:
        if e.code == "household_rejected" or (e.code in knock_on and e.file != MEMBERS_FILE):
            continue
        member = members[e.row - 2] if e.file == MEMBERS_FILE else None
        nik = str(member.get("nik") or "") if member else None
        problems.append(
            {
                "member": e.row - 1 if member else None,
                "nik": nik,
                "column": e.column,
                "code": e.code,
                "message": e.message,
            }
        )
        if e.code == "unknown_column":
            who = "kolom"
        elif member:
            name = member.get("name") or "tanpa nama"
            who = f"anggota {printable(nik or '(tanpa NIK)')} ({printable(name)}),"
        else:
            who = "keluarga,"
        hint = HEAD_HINT if e.code in ("no_head", "multiple_heads") else ""
        said.append(f"{who} {e.column}: {e.message} ({e.code}).{hint}")
    return " ".join(said), problems


def _duplicate_nik(session: Session, nik: str, household_id: int | None) -> None:
    other = session.execute(
        select(Household.kk_number)
        .join(Member, Member.household_id == Household.id)
        .where(Member.nik == nik, Member.status == "active", Household.id != (household_id or 0))
    ).first()
    if other:
        raise Conflict(f"NIK {nik} sudah aktif pada keluarga lain (duplicate_nik).")


def _member(values: dict[str, Any], household_id: int) -> Member:
    """A new active member from values typed by validate_family."""
    fields = {k: v for k, v in values.items() if k != "kk_number"}
    return Member(
        household_id=household_id,
        name_normalised=normalise_name(fields["name"]),
        status="active",
        **fields,
    )


@dataclass(frozen=True, slots=True)
class Proposal:
    """A recorded proposal, and what the checks noted in it without refusing it (a NIK whose
    district code is an old one, say): `{member, nik, column, code, message}` each."""

    request: ChangeRequest
    warnings: list[dict[str, Any]]


def propose(
    session: Session,
    *,
    actor: User,
    kind: str,
    payload: dict[str, Any],
    kk_number: str | None = None,
    base_version: int | None = None,
) -> Proposal:
    """Record a proposal (and, for a new family, the family itself in status `proposed`)."""
    authorize(actor, Action.PROPOSE)
    if kind not in KINDS:
        raise ValidationFailed(f"Jenis usulan tidak dikenal: {kind}; pilihan: {', '.join(KINDS)}")
    if kind == "new_family":
        household, warnings = _propose_new_family(session, actor, payload)
    else:
        if kk_number is None or base_version is None:
            raise ValidationFailed("Usulan perubahan butuh nomor KK dan versi data keluarga.")
        household = family_in_scope(session, actor, kk_number)
        authorize(actor, Action.PROPOSE, household.village_code)
        if household.status not in ("approved", "verified", "proposed"):
            raise Conflict(f"Keluarga berstatus {household.status}; tidak bisa diubah.")
        if base_version > household.version:
            raise ValidationFailed(
                f"Versi {base_version} tidak ada: data keluarga ini versi {household.version} "
                f"(lumbung registry show {household.kk_number})."
            )
        if household.version != base_version:
            raise Conflict(
                f"Data keluarga sudah berubah (versi {household.version}, usulan dibuat "
                f"atas versi {base_version}); muat ulang lalu ajukan lagi."
            )
        # Stored as compared: NIKs trimmed, a member update always as a list of members.
        if kind == "update_member":
            payload = {"members": _member_changes(payload)}
        elif kind == "remove_member":
            payload = {**payload, "nik": _member_nik(payload)}
            if payload.get("new_head") is not None:
                payload["new_head"] = str(payload["new_head"]).strip()
        warnings = _check_change(session, actor, household, kind, payload)
    request = ChangeRequest(
        kind=kind,
        household_id=household.id,
        village_code=household.village_code,
        payload=payload,
        base_version=household.version,
        state="proposed",
        proposed_by=actor.username,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        action=f"request.propose.{kind}",
        entity="change_request",
        entity_id=request.id,
        diff={"kk_number": household.kk_number, "payload": payload},
    )
    return Proposal(request, warnings)


def _propose_new_family(
    session: Session, actor: User, payload: dict[str, Any]
) -> tuple[Household, list[dict[str, Any]]]:
    household_in, members_in = payload.get("household"), payload.get("members")
    if not isinstance(household_in, dict) or not isinstance(members_in, list):
        raise ValidationFailed(
            'Usulan new_family: {"household": {kolom: nilai, …}, "members": [{…}, …]} '
            "(kolom seperti di berkas batch, docs/FORMATS.md)."
        )
    if not all(isinstance(m, dict) for m in members_in):
        raise ValidationFailed("Setiap anggota di 'members' harus objek {kolom: nilai, …}.")
    cells = dict(household_in)
    members = [dict(m) for m in members_in]
    kk = str(cells.get("kk_number", "")).strip()
    for m in members:
        m.setdefault("kk_number", kk)
    checked = _check(session, actor.region_code, cells, members)
    if session.execute(select(Household.id).where(Household.kk_number == kk)).first():
        raise Conflict(f"KK {kk} sudah terdaftar (kk_exists).")
    for m in checked.members:
        _duplicate_nik(session, m["nik"], None)
    values = dict(checked.household or {})
    village = values["village_code"]
    authorize(actor, Action.PROPOSE, village)
    household = Household(
        district_code=village[:8],
        regency_code=village[:5],
        province_code=village[:2],
        status="proposed",
        **values,
    )
    session.add(household)
    session.flush()
    session.add_all(_member(m, household.id) for m in checked.members)
    session.flush()
    return household, _problems(checked.warnings, members)[1]


@dataclass(slots=True)
class _Change:
    """A family as a proposed change would leave it: cells as the import reads them."""

    household: dict[str, str | None]
    members: list[dict[str, str | None]]  # its active members after the change, in id order
    active: list[Member]  # its active members now, in id order
    # members changed or added: position in `members` → their NIK before (None: a new member)
    changed: dict[int, str | None] = field(default_factory=dict)
    leaving: int | None = None  # the member leaving, in `active`
    # the columns a change names, to tell whether it changes anything: the family's (key None)
    # and each member's (its position in `members`)
    named: dict[int | None, set[str]] = field(default_factory=dict)


def _after(session: Session, household: Household, kind: str, payload: dict[str, Any]) -> _Change:
    """The family after an `update`, `update_member`, `add_member` or `remove_member`; a NIK that
    the change brings in (a new member, a corrected NIK) must be free in the family and in the
    registry. Members are found by the NIKs they have now, each at most once."""
    active = _active_members(session, household)
    change = _Change(
        household_cells(household), [member_cells(m, household.kk_number) for m in active], active
    )
    niks_now = [m.nik for m in active]
    if kind == "update":
        changes = _changes(payload, UPDATABLE)
        change.household.update({k: cell(v) for k, v in changes.items()})
        change.named[None] = set(changes)
    elif kind == "update_member":
        for item in _member_changes(payload):
            at = _position(niks_now, item["nik"])
            change.members[at].update({k: cell(v) for k, v in item["changes"].items()})
            change.changed[at] = item["nik"]
            change.named[at] = set(item["changes"])
    elif kind == "add_member":
        member = payload.get("member")
        if not isinstance(member, dict):
            raise ValidationFailed("Usulan add_member butuh 'member': {kolom: nilai, …}.")
        member = {**member, "kk_number": household.kk_number}
        member["nik"] = str(member.get("nik") or "").strip()
        change.members.append(member)
        change.changed[len(change.members) - 1] = None
    elif kind == "remove_member":
        _remove(change, niks_now, payload)
    for at, before in change.changed.items():
        if change.members[at]["nik"] != before:  # a NIK the change brings in
            _require_free_nik(session, household, change, at)
    return change


def _remove(change: _Change, niks_now: list[str], payload: dict[str, Any]) -> None:
    """A member leaves; when the head leaves, `new_head` names the member who follows."""
    status = payload.get("status")
    if status not in MEMBER_EXIT_STATUS:
        raise ValidationFailed(
            f"Status anggota keluar '{status}' tidak dikenal; pilihan: deceased (meninggal), "
            "moved (pindah), removed (dihapus karena salah data)."
        )
    change.leaving = _position(niks_now, payload["nik"])
    leaving = change.members.pop(change.leaving)
    heir_nik = payload.get("new_head")
    if heir_nik is None:
        return
    heir_nik = str(heir_nik).strip()
    if str(leaving["relationship"] or "").strip().lower() != HEAD:
        raise ValidationFailed(
            "'new_head' hanya untuk kepala keluarga yang keluar; anggota ini bukan kepala keluarga."
        )
    if heir_nik == leaving["nik"]:
        raise ValidationFailed("'new_head' harus anggota lain, bukan kepala keluarga yang keluar.")
    staying = [n for n in niks_now if n != leaving["nik"]]
    heir = _position(staying, heir_nik)
    change.members[heir]["relationship"] = HEAD
    change.changed[heir] = heir_nik


def _require_free_nik(session: Session, household: Household, change: _Change, at: int) -> None:
    """The NIK the change brings in for member `at` is not already another active member's."""
    nik = str(change.members[at]["nik"])
    # Said plainly: checked with the family as one batch, the two rows with this NIK would both
    # be refused, the head among them, and the family said to have no head.
    if any(m["nik"] == nik for n, m in enumerate(change.members) if n != at):
        raise ValidationFailed(
            f"NIK {nik} sudah dipakai anggota aktif keluarga ini: anggota butuh NIK orang itu "
            "sendiri (duplicate_nik).",
            details=[
                {
                    "member": at + 1,
                    "nik": nik,
                    "column": "nik",
                    "code": "duplicate_nik",
                    "message": "NIK sudah dipakai anggota aktif keluarga ini",
                }
            ],
        )
    _duplicate_nik(session, nik, household.id)


def _refuse_no_change(household: Household, change: _Change, checked: FamilyCheck) -> None:
    """A change must change something: an update to the values as they are would only raise
    the family's version, and leave every other open request on it undeterminable. Compared as
    the checks typed them (`1.500` is 1500, `01-01-1980` is 1980-01-01)."""
    staying = [m for n, m in enumerate(change.active) if n != change.leaving]
    for at, columns in change.named.items():
        now: Household | Member = household if at is None else staying[at]
        after = checked.household if at is None else checked.members[at]
        if after is not None and any(after.get(c) != getattr(now, c) for c in columns):
            return
    if change.named:
        raise ValidationFailed(
            "Usulan tidak mengubah apa pun: nilai yang diusulkan sama dengan data sekarang."
        )


def _check_change(
    session: Session, actor: User, household: Household, kind: str, payload: dict[str, Any]
) -> list[dict[str, Any]]:
    """Refuse a change that the family, as it would be left, fails; its warnings."""
    if kind == "exit":
        if not str(payload.get("reason") or "").strip():
            raise ValidationFailed("Keluar dari registry wajib disertai alasan.")
        plain_text(str(payload["reason"]), "Alasan keluar")
        return []
    change = _after(session, household, kind, payload)
    checked = _check(session, actor.region_code, change.household, change.members)
    _refuse_no_change(household, change, checked)
    return _problems(checked.warnings, change.members)[1]


def _changes(payload: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The proposal's `changes`: at least one, each a column that may be changed."""
    changes = payload.get("changes")
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed(
            "Usulan perubahan butuh 'changes': {kolom: nilai baru, …}; kolom yang bisa diubah: "
            + ", ".join(sorted(allowed))
        )
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationFailed(
            f"Kolom tidak dikenal atau tidak bisa diubah: {', '.join(unknown)}; kolom yang bisa "
            f"diubah: {', '.join(sorted(allowed))}",
            details=[
                {
                    "member": None,
                    "nik": None,
                    "column": c,
                    "code": "unknown_column",
                    "message": "tidak dikenal",
                }
                for c in unknown
            ],
        )
    return dict(changes)


def _member_changes(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """An update_member's members and their changes: `{"nik": …, "changes": {…}}` for one,
    `{"members": [{"nik": …, "changes": {…}}, …]}` for several at once (a new head of family
    and the former one, say), each member once."""
    items = payload.get("members") if "members" in payload else [payload]
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ValidationFailed(
            'Usulan update_member: {"nik": …, "changes": {…}} atau '
            '{"members": [{"nik": …, "changes": {…}}, …]}.'
        )
    checked: list[dict[str, Any]] = []
    for item in items:
        changes = _changes(item, MEMBER_UPDATABLE)
        if "nik" in changes:  # a corrected NIK, stored as it will be compared
            changes["nik"] = str(changes["nik"] or "").strip()
        checked.append({"nik": _member_nik(item), "changes": changes})
    niks = [i["nik"] for i in checked]
    if len(set(niks)) < len(niks):
        raise ValidationFailed("Setiap anggota cukup disebut sekali dalam satu usulan.")
    return checked


def _member_nik(payload: dict[str, Any]) -> str:
    """The NIK naming the member a request concerns (digits, without stray spaces)."""
    nik = str(payload.get("nik") or "").strip()
    if not nik:
        raise ValidationFailed("Usulan ini butuh 'nik' anggota yang dimaksud.")
    return nik


def _position(niks: list[str], nik: Any) -> int:
    """Where the active member with this NIK is among the family's active members."""
    try:
        return niks.index(str(nik))
    except ValueError:
        raise NotFound(f"NIK {nik} bukan anggota aktif keluarga ini.") from None


def _request(
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
    request = _request(session, actor, request_id, lock=True)
    authorize(actor, Action.VERIFY, request.village_code)
    _expect(request, "proposed")
    household = session.get(Household, request.household_id)
    assert household is not None
    _require_current(request, household)
    _require_as_proposed(session, request)
    request.state, request.verified_by, request.verified_at = "verified", actor.username, utcnow()
    if request.kind == "new_family":
        _set_status(session, request, "verified", None)
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
    request = _request(session, actor, request_id, lock=True)
    if request.state not in ("proposed", "verified"):
        raise Conflict(f"Usulan {request.id} sudah {request.state}; tidak bisa ditolak lagi.")
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
        _set_status(session, request, "rejected", reason)
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
    request = _request(session, actor, request_id, lock=True)
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
    before, members_before = _family_cells(household), _members_cells(session, household)
    try:
        settled = _apply(session, request, household)
        session.flush()
    except StaleDataError as exc:
        raise Conflict(f"Keluarga {household.kk_number} baru saja diubah pengguna lain.") from exc
    request.state, request.decided_by, request.decided_at = "approved", actor.username, utcnow()
    after, members_after = _family_cells(household), _members_cells(session, household)
    audit.record(
        session,
        actor=actor.username,
        action=f"request.determine.{request.kind}",
        entity="household",
        entity_id=household.id,
        diff={
            "request": request.id,
            "kk_number": household.kk_number,
            "changed": _differences(before, after),
            "members_changed": [
                {"member_id": id_, "nik": cells["nik"], "changes": changes}
                for id_, cells in members_after.items()
                if (changes := _differences(members_before.get(id_, {}), cells))
            ],
            "payload": request.payload,
            **({"duplicate_reviews_resolved": settled} if settled else {}),
            # The family's version after the change: an older row put back shows (audit verify).
            "version": household.version,
        },
    )
    return request


def _family_cells(household: Household) -> dict[str, str | None]:
    """The family's values, and where it stands (an exit changes only its status and reason)."""
    return {
        **household_cells(household),
        "status": household.status,
        "status_reason": household.status_reason,
    }


def _members_cells(session: Session, household: Household) -> dict[int, dict[str, str | None]]:
    """Every member of the family ever (any status), by member id: values and status."""
    members = session.execute(select(Member).where(Member.household_id == household.id))
    return {
        m.id: {**member_cells(m, household.kk_number), "status": m.status}
        for m in members.scalars()
    }


def _differences(
    before: dict[str, str | None], after: dict[str, str | None]
) -> dict[str, list[str | None]]:
    """column → [before, after] for each value that changed (before None: a new row)."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def _apply(session: Session, request: ChangeRequest, household: Household) -> list[int]:
    """Apply a determined request; the duplicate reviews it settles (their ids)."""
    payload = request.payload
    if request.kind == "new_family":
        household.status = "approved"
        return []
    if request.kind == "exit":
        household.status, household.status_reason = "inactive", str(payload["reason"])
        return []
    # Checked again, with the family as it is now: the checks run as of today.
    change = _after(session, household, request.kind, payload)
    checked = _check(session, None, change.household, change.members)
    if request.kind == "update":
        for column, value in (checked.household or {}).items():
            if column in UPDATABLE:
                setattr(household, column, value)
        household.district_code = household.village_code[:8]
        household.regency_code = household.village_code[:5]
        household.province_code = household.village_code[:2]
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
            session.add(_member(values, household.id))
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


def _set_status(session: Session, request: ChangeRequest, status: str, reason: str | None) -> None:
    household = session.get(Household, request.household_id)
    assert household is not None
    household.status, household.status_reason = status, reason


def _event_diffs(session: Session, entity: str, entity_id: int, action: str) -> list[Any]:
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
        iter(
            _event_diffs(session, "change_request", request.id, f"request.propose.{request.kind}")
        ),
        None,
    )
    if recorded is None or recorded.get("payload") != request.payload:
        raise Conflict(
            f"Usulan {request.id} tidak lagi sama dengan yang diajukan (jejak audit mencatat "
            "isi lain): diubah di luar Lumbung. Tolak usulan ini dan periksa dengan "
            "`lumbung audit verify`."
        )


def _require_current(request: ChangeRequest, household: Household) -> None:
    """A change is verified and determined against the family it was proposed on: once the
    family changed (another request determined), it must be proposed again on the new data."""
    if request.kind != "new_family" and household.version != request.base_version:
        raise Conflict(
            f"Keluarga {household.kk_number} berubah sejak usulan dibuat (versi "
            f"{request.base_version} → {household.version}); tolak usulan ini dengan alasan itu "
            "(lumbung request reject) dan ajukan ulang atas data terbaru."
        )


def _expect(request: ChangeRequest, state: str) -> None:
    if request.state != state:
        raise Conflict(f"Usulan {request.id} berstatus {request.state}, bukan {state}.")


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


def show(session: Session, *, actor: User, request_id: int) -> RequestView:
    """One request in full, for a user whose region covers its village."""
    authorize(actor, Action.READ)
    request = _request(session, actor, request_id)
    household = session.get(Household, request.household_id)
    assert household is not None
    if not in_scope(actor.region_code, household.village_code):
        # The family has moved out of the reader's region since: the request stays theirs to
        # read, the family as it is now does not (where it lives, its values, its state).
        return RequestView(request, household.kk_number, None, None, {})
    return RequestView(
        request,
        household.kk_number,
        household.status,
        household.version,
        _current(session, request, household),
        _before(session, request, household),
    )


def _before(session: Session, request: ChangeRequest, household: Household) -> dict[str, Any]:
    """What a determined update changed from, by its audit event: the family's columns (column
    → value), or each member's (the NIK the request names → column → value)."""
    if request.state != "approved" or request.kind not in ("update", "update_member"):
        return {}
    events = _event_diffs(session, "household", household.id, f"request.determine.{request.kind}")
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
