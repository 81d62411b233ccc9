"""Proposing a change request: a village operator proposes, and the proposal is checked whole.

Kinds: new_family, update (household fields), update_member (a member's own values: a new
school level, a pregnancy, a corrected name, birth date or NIK), add_member, remove_member
(deceased, moved, removed), exit (the family leaves the registry). A proposal is checked with
the family as it would be after it (the import's checks, `validation.py`), within the actor's
region, and carries the family's version it was made against (optimistic locking: see
`workflow.py`, which verifies, rejects and determines it, and `applying.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action, in_scope
from lumbung.auth.service import authorize
from lumbung.errors import Conflict, NotFound, ValidationFailed
from lumbung.identity.names import normalise_name
from lumbung.identity.nik import require_kk
from lumbung.registry import account_changes, vocab
from lumbung.registry.check_sql import (
    HOUSEHOLD_VALUE_COLUMNS,
    MEMBER_VALUE_COLUMNS,
    plain_text,
    printable,
)
from lumbung.registry.errors import RowError
from lumbung.registry.models import ChangeRequest, Household, Member
from lumbung.registry.scope import not_found
from lumbung.registry.validation import (
    MEMBERS_FILE,
    FamilyCheck,
    cell,
    household_cells,
    member_cells,
    validate_family,
)

REQUEST_STATES = vocab.REQUEST_STATES
KINDS = vocab.REQUEST_KINDS
HEAD = vocab.HEAD
MEMBER_EXIT_STATUS = ("deceased", "moved", "removed")
UPDATABLE = frozenset(HOUSEHOLD_VALUE_COLUMNS) - {"kk_number"}
MEMBER_UPDATABLE = frozenset(MEMBER_VALUE_COLUMNS) - {"kk_number"}


KNOWN_FAMILIES = "household_by_kk"


@event.listens_for(Session, "after_soft_rollback")
def _forget_families(session: Session, _previous: Any) -> None:
    """A rollback expires what the unit of work read (or removes what it added): look again."""
    session.info.pop(KNOWN_FAMILIES, None)


def family_in_scope(session: Session, actor: User, kk_number: str) -> Household:
    """The family with this KK, if the actor's region covers it. A family outside it gets the
    answer of a KK that does not exist: "outside your region" would tell that it exists, and
    where."""
    require_kk(kk_number)
    # Looked up once per unit of work: a page that shows a family, its history and its
    # benefits asks three times. (A query again would give the same object from the identity
    # map, its loaded values not refreshed: nothing read here is older than it would be.)
    known: dict[str, Household] = session.info.setdefault(KNOWN_FAMILIES, {})
    household = known.get(kk_number)
    if household is None:
        household = session.execute(
            select(Household).where(Household.kk_number == kk_number)
        ).scalar_one_or_none()
        if household is not None:
            known[kk_number] = household
    if household is None or not in_scope(actor.region_code, household.village_code):
        raise not_found(actor, kk_number)
    return household


def _active_members(session: Session, household: Household) -> list[Member]:
    return list(
        session.execute(
            select(Member)
            .where(Member.household_id == household.id, Member.status == "active")
            .order_by(Member.id)
        ).scalars()
    )


def check_family(
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


def new_member(values: dict[str, Any], household: Household) -> Member:
    """A new active member of `household` from values typed by validate_family."""
    fields = {k: v for k, v in values.items() if k != "kk_number"}
    return Member(
        household_id=household.id,
        regency_code=household.regency_code,
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
    right: Action = Action.PROPOSE,
) -> Proposal:
    """Record a proposal (and, for a new family, the family itself in status `proposed`).

    `right`: what entitles the actor to propose: an operator's own proposal (PROPOSE), the
    proposals a civil registry import makes for the members it found deceased, not found or
    under another NIK (MATCH_CIVIL, civil/updates.py), the records another registry's export
    adds or corrects (MERGE_REGISTRY, linkage/merge_proposals.py), or a verifier's (VERIFY) when it
    follows from a decision that two records are the same person (linkage/review.py). The same
    checks either way, and the request goes through the same workflow (verified in region,
    determined by the ministry)."""
    authorize(actor, right)
    if kind not in KINDS:
        raise ValidationFailed(f"Jenis usulan tidak dikenal: {kind}; pilihan: {', '.join(KINDS)}")
    if kind == "new_family":
        household, warnings = _propose_new_family(session, actor, payload, right)
    else:
        if kk_number is None or base_version is None:
            raise ValidationFailed("Usulan perubahan butuh nomor KK dan versi data keluarga.")
        household = family_in_scope(session, actor, kk_number)
        authorize(actor, right, household.village_code)
        if household.status not in ("approved", "verified", "proposed"):
            raise Conflict(f"Keluarga berstatus {household.status}; tidak bisa diubah.")
        if base_version > household.version:
            raise ValidationFailed(
                f"Versi {base_version} tidak ada: data keluarga ini versi {household.version}; "
                "usulkan atas data keluarga yang sekarang.",
                command=f"lumbung registry show {household.kk_number}",
            )
        if household.version != base_version:
            raise Conflict(
                f"Data keluarga sudah berubah (versi {household.version}, usulan dibuat "
                f"atas versi {base_version}); muat ulang lalu ajukan lagi."
            )
        # Stored as compared: NIKs trimmed, a member update always as a list of members.
        if kind == "update_member":
            payload = {"members": _member_changes(payload)}
        elif kind == "update_account":
            payload = account_changes.normalised(payload)
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
    session: Session, actor: User, payload: dict[str, Any], right: Action
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
    checked = check_family(session, actor.region_code, cells, members)
    if session.execute(select(Household.id).where(Household.kk_number == kk)).first():
        raise Conflict(f"KK {kk} sudah terdaftar (kk_exists).")
    for m in checked.members:
        _duplicate_nik(session, m["nik"], None)
    values = dict(checked.household or {})
    village = values["village_code"]
    authorize(actor, right, village)
    household = Household(
        district_code=village[:8],
        regency_code=village[:5],
        province_code=village[:2],
        status="proposed",
        **values,
    )
    session.add(household)
    session.flush()
    session.add_all(new_member(m, household) for m in checked.members)
    session.flush()
    return household, _problems(checked.warnings, members)[1]


@dataclass(slots=True)
class Change:
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


def family_after(
    session: Session, household: Household, kind: str, payload: dict[str, Any]
) -> Change:
    """The family after an `update`, `update_member`, `add_member` or `remove_member`; a NIK that
    the change brings in (a new member, a corrected NIK) must be free in the family and in the
    registry. Members are found by the NIKs they have now, each at most once."""
    active = _active_members(session, household)
    change = Change(
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


def _remove(change: Change, niks_now: list[str], payload: dict[str, Any]) -> None:
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


def _require_free_nik(session: Session, household: Household, change: Change, at: int) -> None:
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


def _refuse_no_change(household: Household, change: Change, checked: FamilyCheck) -> None:
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
    if kind == "update_account":
        account_changes.check(session, household, payload)
        return []
    if kind == "exit":
        if not str(payload.get("reason") or "").strip():
            raise ValidationFailed("Keluar dari registry wajib disertai alasan.")
        plain_text(str(payload["reason"]), "Alasan keluar")
        return []
    change = family_after(session, household, kind, payload)
    checked = check_family(session, actor.region_code, change.household, change.members)
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
