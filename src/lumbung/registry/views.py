"""Reading the registry: one family (by KK or NIK), a name search, a family's history, counts
by status, change requests. What `registry show|history|search|stats` and `request list|show`
print, and what an API or a page answers, as plain typed results.

Every read checks the reader's role and region here. A family or request outside the reader's
region is answered as one that does not exist (nothing is told of where it lives). Within its
region a reader entitled to identities (`auth.roles.entitled_to_identity`: operators,
verifiers, determiners, admins) sees one family's members, its history and its requests with
NIKs and names in full; an auditor sees them masked (`identity.masking`), here, so that the
command, the API and the pages show the same. Lists of people (a search) show NIKs masked for
every reader (`mask_id`, tagged so that members masked alike are told apart), and names masked
too for a reader not entitled to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action, entitled_to_identity, in_scope
from lumbung.auth.service import authorize, reading_area, within
from lumbung.db import count_of, page_rows
from lumbung.errors import NotFound, ValidationFailed
from lumbung.identity.masking import mask_accounts, mask_id, mask_identity, mask_name
from lumbung.identity.names import normalise_name
from lumbung.paging import Page, check_window
from lumbung.registry import vocab
from lumbung.registry.check_sql import HOUSEHOLD_VALUE_COLUMNS, MEMBER_VALUE_COLUMNS
from lumbung.registry.history import FamilyHistory, family_history
from lumbung.registry.models import ChangeRequest, Household, Member, household_in_area
from lumbung.registry.proposals import family_in_scope
from lumbung.registry.request_views import RequestView, show
from lumbung.registry.workflow import family_changed

# Above every character: `name < prefix + LAST_CHARACTER` holds for every name that starts with
# the prefix.
LAST_CHARACTER = "\U0010ffff"
SHORTEST_NAME = 3  # characters of a normalised name a search needs (fewer would match half a
# village)


@dataclass(frozen=True, slots=True)
class FamilyView:
    """One family as its reader may see it: its values (typed: numbers, flags, dates), its
    status, version and region, and its members (every one, active or not, in id order)."""

    kk_number: str
    village_code: str
    district_code: str
    regency_code: str
    province_code: str
    status: str
    status_reason: str | None
    version: int
    household: dict[str, Any]  # every value column of the exchange format (kk_number too)
    members: list[dict[str, Any]]  # the member value columns (but kk_number), and status
    # True: the reader's role is not entitled to identities; members' NIKs and names (mother's
    # too) are masked. The KK stays whole: it is the family's handle, the one the reader used.
    identity_masked: bool = False

    def as_dict(self) -> dict[str, Any]:
        """What `registry show --json` prints: the family's columns at the top level."""
        return {
            **self.household,
            "status": self.status,
            "status_reason": self.status_reason,
            "version": self.version,
            "members": self.members,
            "identity_masked": self.identity_masked,
        }


def _family_view(session: Session, actor: User, household: Household) -> FamilyView:
    """The family as `actor` may see it: members' NIKs and names masked unless its role is
    entitled to them (the one place the family's reads decide it)."""
    masked = not entitled_to_identity(actor.role)
    members = session.execute(
        select(Member).where(Member.household_id == household.id).order_by(Member.id)
    ).scalars()
    return FamilyView(
        kk_number=household.kk_number,
        village_code=household.village_code,
        district_code=household.district_code,
        regency_code=household.regency_code,
        province_code=household.province_code,
        status=household.status,
        status_reason=household.status_reason,
        version=household.version,
        household={c: getattr(household, c) for c in HOUSEHOLD_VALUE_COLUMNS},
        members=[
            _shown(
                {
                    **{c: getattr(m, c) for c in MEMBER_VALUE_COLUMNS if c != "kk_number"},
                    "birth_date": m.birth_date.isoformat(),
                    "status": m.status,
                },
                masked,
            )
            for m in members
        ],
        identity_masked=masked,
    )


def _shown(member: dict[str, Any], masked: bool) -> dict[str, Any]:
    shown: dict[str, Any] = mask_identity(member) if masked else member
    return shown


def family(session: Session, actor: User, *, kk: str) -> FamilyView:
    """The family with this KK, if the actor's region covers it (else NotFound, as for a KK
    that does not exist)."""
    authorize(actor, Action.READ)
    return _family_view(session, actor, family_in_scope(session, actor, kk))


def family_by_nik(session: Session, actor: User, *, nik: str) -> FamilyView:
    """The family a person with this NIK belongs to (the family where the NIK is active; else
    the latest one it was in), if the actor's region covers it (else NotFound)."""
    authorize(actor, Action.READ)
    nik = nik.strip()
    if not (len(nik) == 16 and nik.isdigit()):
        raise ValidationFailed(f"NIK {nik!r}: harus 16 angka.")
    found = session.execute(
        select(Household)
        .join(Member, Member.household_id == Household.id)
        .where(Member.nik == nik)
        .order_by((Member.status == "active").desc(), Member.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if found is None or not in_scope(actor.region_code, found.village_code):
        raise NotFound(
            f"NIK {mask_id(nik)} tidak ada di registry wilayah {actor.region_code or 'nasional'}."
        )
    return _family_view(session, actor, found)


@dataclass(frozen=True, slots=True)
class NameMatch:
    """A member whose name matched a search (NIK masked: a search is a list of people)."""

    name: str
    nik: str
    relationship: str
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nik": self.nik,
            "relationship": self.relationship,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class FamilySummary:
    """A family found by a search: its KK (what `registry show` takes), village, status, its
    head's name, and the members whose names matched."""

    kk_number: str
    village_code: str
    status: str
    version: int
    head_name: str | None  # the active head's name; None for a family without one
    matches: list[NameMatch]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kk_number": self.kk_number,
            "village_code": self.village_code,
            "status": self.status,
            "version": self.version,
            "head_name": self.head_name,
            "matches": [m.as_dict() for m in self.matches],
        }


def search_families(
    session: Session,
    actor: User,
    *,
    name: str,
    region: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[FamilySummary]:
    """Families with a member whose normalised name starts with `name` normalised (titles,
    degrees, punctuation and case dropped: `identity.names`), within the actor's region (and
    `region`, narrowed to it), by KK number.

    A prefix of the whole name, so that the index on `member.name_normalised` serves it."""
    authorize(actor, Action.READ)
    check_window(limit, offset)
    wanted = normalise_name(name)
    if len(wanted) < SHORTEST_NAME:
        raise ValidationFailed(
            f"Nama {name!r}: beri sedikitnya {SHORTEST_NAME} huruf (tanpa gelar dan tanda baca)."
        )
    area = reading_area(actor, region)
    # A prefix as a range of byte-wise ordered names: an index range on both databases, with a
    # plan that does not depend on the value (a LIKE pattern may not be planned as one).
    matching = select(Member.household_id).where(
        Member.name_normalised >= wanted, Member.name_normalised < wanted + LAST_CHARACTER
    )
    if area is not None and len(area) >= len("32.01"):
        # Within a regency: one range of `ix_member_regency_name`, not the nation's namesakes.
        matching = matching.where(Member.regency_code == area[:5])
    query = select(Household).where(Household.id.in_(matching), household_in_area(area))
    # The page and the count of every match in one statement (a window over the matches).
    rows = session.execute(
        query.add_columns(func.count().over())
        .order_by(Household.kk_number)
        .limit(limit)
        .offset(offset)
    ).all()
    households = [h for h, _ in rows]
    # Past the last page (or nothing found), counted apart.
    total = rows[0][1] if rows else count_of(session, query)
    members: dict[int, list[Row[int, str, str, str, str, str]]] = {h.id: [] for h in households}
    for m in session.execute(
        select(
            Member.household_id,
            Member.name,
            Member.nik,
            Member.name_normalised,
            Member.relationship,
            Member.status,
        )
        .where(Member.household_id.in_(members))
        .order_by(Member.id)
    ):
        members[m.household_id].append(m)
    items = []
    name_shown: Callable[[str], str] = str if entitled_to_identity(actor.role) else mask_name
    for h in households:
        head = next(
            (
                m.name
                for m in members[h.id]
                if m.relationship == vocab.HEAD and m.status == "active"
            ),
            None,
        )
        matches = [
            NameMatch(name_shown(m.name), mask_id(m.nik, distinct=True), m.relationship, m.status)
            for m in members[h.id]
            if m.name_normalised.startswith(wanted)
        ]
        items.append(
            FamilySummary(
                h.kk_number,
                h.village_code,
                h.status,
                h.version,
                None if head is None else name_shown(head),
                matches,
            )
        )
    return Page(items, int(total), limit, offset)


def families_by_status(
    session: Session,
    actor: User,
    *,
    status: str,
    region: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[FamilySummary]:
    """Families in `status` within the actor's region (and `region`, narrowed to it), by KK
    number, each with its head's name: the queue of imported families to verify or determine."""
    authorize(actor, Action.READ)
    check_window(limit, offset)
    if status not in vocab.HOUSEHOLD_STATUS:
        raise ValidationFailed(
            f"Status keluarga tidak dikenal: {status}; pilihan: {', '.join(vocab.HOUSEHOLD_STATUS)}"
        )
    area = reading_area(actor, region)
    query = select(Household).where(Household.status == status, household_in_area(area))
    rows, total = page_rows(
        session, query.order_by(Household.kk_number), limit=limit, offset=offset
    )
    households = [h for (h,) in rows]
    heads = dict(
        session.execute(
            select(Member.household_id, Member.name).where(
                Member.household_id.in_([h.id for h in households]),
                Member.relationship == vocab.HEAD,
                Member.status == "active",
            )
        ).all()
    )
    items = [
        FamilySummary(h.kk_number, h.village_code, h.status, h.version, heads.get(h.id), [])
        for h in households
    ]
    return Page(items, int(total), limit, offset)


def history(session: Session, actor: User, *, kk: str) -> FamilyHistory:
    """The family's history from the audit chain, oldest first (`registry.history`); the NIKs
    and names in what was proposed and changed are masked for a reader not entitled to them."""
    found = family_history(session, actor=actor, kk_number=kk)
    mask = mask_accounts if entitled_to_identity(actor.role) else mask_identity
    return replace(found, events=[replace(e, changes=mask(e.changes)) for e in found.events])


@dataclass(frozen=True, slots=True)
class RegistryStats:
    """Families and members by status, within `region` (None: the nation)."""

    region: str | None
    households: dict[str, int]
    members: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"region": self.region, "households": self.households, "members": self.members}


def stats(session: Session, actor: User) -> RegistryStats:
    """Families and members by status within the actor's region."""
    authorize(actor, Action.READ)
    area = actor.region_code
    households = select(Household.status, func.count()).group_by(Household.status)
    members = select(Member.status, func.count()).group_by(Member.status)
    if area is not None:
        households = households.where(household_in_area(area))
        members = members.join(Household, Household.id == Member.household_id).where(
            household_in_area(area)
        )
    return RegistryStats(
        area,
        {status: int(n) for status, n in session.execute(households).all()},
        {status: int(n) for status, n in session.execute(members).all()},
    )


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A change request as a list shows it, with its family's KK."""

    id: int
    kind: str
    state: str
    kk_number: str
    village_code: str
    household_id: int
    base_version: int | None
    proposed_by: str
    verified_by: str | None
    decided_by: str | None
    reason: str | None
    # An open request whose family changed since it was proposed (`workflow.family_changed_since`):
    # it can no longer be verified or determined, only rejected and proposed again (verifying it
    # says so too). False for a decided request.
    family_changed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "kk_number": self.kk_number,
            "village_code": self.village_code,
            "household_id": self.household_id,
            "base_version": self.base_version,
            "proposed_by": self.proposed_by,
            "verified_by": self.verified_by,
            "decided_by": self.decided_by,
            "reason": self.reason,
            "family_changed": self.family_changed,
        }


def _row(request: ChangeRequest, kk_number: str, family_changed: bool) -> RequestRow:
    return RequestRow(
        request.id,
        request.kind,
        request.state,
        kk_number,
        request.village_code,
        request.household_id,
        request.base_version,
        request.proposed_by,
        request.verified_by,
        request.decided_by,
        request.reason,
        family_changed,
    )


def request_row(session: Session, request: ChangeRequest) -> RequestRow:
    """A request a service just returned to its actor (proposed, verified, decided), as a row."""
    household = session.get(Household, request.household_id)
    assert household is not None  # a request's family is never deleted (foreign key)
    return _row(request, household.kk_number, family_changed(request, household.version))


def requests(
    session: Session,
    actor: User,
    *,
    status: str = "proposed",
    region: str | None = None,
    limit: int = 50,
    offset: int = 0,
    kk: str | None = None,
) -> Page[RequestRow]:
    """Requests in state `status` whose village lies in the actor's region (and `region`,
    narrowed to it; and of the family with KK `kk` only, when given), oldest first."""
    authorize(actor, Action.READ)
    check_window(limit, offset)
    if status not in vocab.REQUEST_STATES:
        raise ValidationFailed(
            f"Status usulan tidak dikenal: {status}; pilihan: {', '.join(vocab.REQUEST_STATES)}"
        )
    area = reading_area(actor, region)
    query = select(ChangeRequest, Household.kk_number, Household.version).join(
        Household, Household.id == ChangeRequest.household_id
    )
    query = query.where(ChangeRequest.state == status, within(ChangeRequest.village_code, area))
    if kk is not None:
        query = query.where(Household.kk_number == kk)
    found, total = page_rows(session, query.order_by(ChangeRequest.id), limit=limit, offset=offset)
    return Page(
        [_row(r, kk, family_changed(r, version)) for r, kk, version in found],
        int(total),
        limit,
        offset,
    )


@dataclass(frozen=True, slots=True)
class RequestDetail:
    """One request in full, as the one deciding it must see it (`request show`)."""

    request: RequestRow
    household_status: str | None  # None (with `current` empty): the family lives outside the
    household_version: int | None  # reader's region now
    proposed_at: datetime
    verified_at: datetime | None
    decided_at: datetime | None
    payload: dict[str, Any]  # what was proposed
    current: dict[str, Any]  # the values now of the columns an update names
    before: dict[str, Any] = field(default_factory=dict)  # a determined update: values before
    # True: the reader's role is not entitled to identities; NIKs and names are masked.
    identity_masked: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.request.as_dict(),
            "household_status": self.household_status,
            "household_version": self.household_version,
            "proposed_at": self.proposed_at.isoformat(),
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "payload": self.payload,
            "current": self.current,
            "before": self.before,
            "identity_masked": self.identity_masked,
        }


def request_detail(session: Session, actor: User, *, request_id: int) -> RequestDetail:
    """One request in full, if the actor's region covers its village (else NotFound)."""
    view: RequestView = show(session, actor=actor, request_id=request_id)
    r = view.request
    payload, current, before = mask_accounts(r.payload), view.current, view.before
    masked = not entitled_to_identity(actor.role)
    if masked:
        payload = mask_identity(payload)
        # An update of members keys its values by the NIK the request names.
        by_nik = r.kind == "update_member"
        current, before = (
            {(mask_id(k, distinct=True) if by_nik else k): mask_identity(v) for k, v in d.items()}
            for d in (current, before)
        )
    return RequestDetail(
        _row(r, view.kk_number, view.family_changed),
        view.household_status,
        view.household_version,
        r.proposed_at,
        r.verified_at,
        r.decided_at,
        payload,
        current,
        before,
        masked,
    )


__all__ = [
    "FamilySummary",
    "FamilyView",
    "NameMatch",
    "RegistryStats",
    "RequestDetail",
    "RequestRow",
    "family",
    "family_by_nik",
    "history",
    "request_detail",
    "request_row",
    "requests",
    "search_families",
    "stats",
]
