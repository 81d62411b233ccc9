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

import functools
import itertools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action, entitled_to_identity, in_scope
from lumbung.auth.service import authorize, reading_area, within
from lumbung.db import page_rows
from lumbung.errors import NotFound, ValidationFailed
from lumbung.identity.masking import (
    distinct_id_masker,
    mask_accounts,
    mask_id,
    mask_identity,
    mask_name,
)
from lumbung.identity.names import normalise_name
from lumbung.identity.nik import require_kk
from lumbung.paging import Page, check_window
from lumbung.registry import vocab
from lumbung.registry.check_sql import HOUSEHOLD_VALUE_COLUMNS, MEMBER_VALUE_COLUMNS
from lumbung.registry.history import FamilyHistory, family_history
from lumbung.registry.models import (
    ChangeRequest,
    Household,
    Member,
    area_column,
    household_in_area,
)
from lumbung.registry.request_views import RequestView, show
from lumbung.registry.scope import REF_COLUMNS, FamilyRef, remember
from lumbung.registry.scope import not_found as scope_not_found
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


# A family and its members in one statement of plain rows (SQLAlchemy Core, built once): the
# family's columns repeated on each member's row (a family has a handful), no ORM objects. Two
# ORM statements cost 3.3 times the CPU (measured on PostgreSQL: 739 against 227 µs).
_H, _M = Household.__table__, Member.__table__
_HOUSEHOLD_COLUMNS = REF_COLUMNS + tuple(c for c in HOUSEHOLD_VALUE_COLUMNS if c not in REF_COLUMNS)
_MEMBER_COLUMNS = ("id", *(c for c in MEMBER_VALUE_COLUMNS if c != "kk_number"), "status")
_REF_END = len(REF_COLUMNS)
_H_VILLAGE = _HOUSEHOLD_COLUMNS.index("village_code")
_MEMBERS_AT = len(_HOUSEHOLD_COLUMNS)
_SHOWN_AT = {c: _HOUSEHOLD_COLUMNS.index(c) for c in HOUSEHOLD_VALUE_COLUMNS}
# What a member shows, in this order (`birth_date` as ISO text), and where each is in a row.
_MEMBER_SHOWN = tuple(
    (c, _MEMBERS_AT + _MEMBER_COLUMNS.index(c))
    for c in (*(c for c in MEMBER_VALUE_COLUMNS if c != "kk_number"), "status")
)
_BIRTH_DATE = "birth_date"
_FAMILY = (
    select(
        *(_H.c[c] for c in _HOUSEHOLD_COLUMNS),
        *(_M.c[c].label(f"member_{c}") for c in _MEMBER_COLUMNS),
    )
    .select_from(_H.outerjoin(_M, _M.c.household_id == _H.c.id))
    .order_by(_M.c.id)
)
_FAMILY_BY_KK = _FAMILY.where(_H.c.kk_number == bindparam("kk"))
# The family where the NIK is active, else the latest one it was in.
_FAMILY_BY_NIK = _FAMILY.where(
    _H.c.id
    == select(_M.c.household_id)
    .where(_M.c.nik == bindparam("nik"))
    .order_by((_M.c.status == "active").desc(), _M.c.id.desc())
    .limit(1)
    .scalar_subquery()
)


def _family_view(session: Session, actor: User, rows: Sequence[Row[Any]]) -> FamilyView:
    """The family of `rows` (one per member) as `actor` may see it: members' NIKs and names
    masked unless its role is entitled to them (the one place the family's reads decide it)."""
    masked = not entitled_to_identity(actor.role)
    first = rows[0]
    ref = FamilyRef(*first[:_REF_END])
    remember(session, ref)
    members = []
    for row in rows:
        if row[_MEMBERS_AT] is None:  # a family without members: one row, the members' NULL
            continue
        member = {c: row[i] for c, i in _MEMBER_SHOWN}
        member[_BIRTH_DATE] = member[_BIRTH_DATE].isoformat()
        members.append(_shown(member, masked))
    return FamilyView(
        kk_number=ref.kk_number,
        village_code=ref.village_code,
        district_code=ref.district_code,
        regency_code=ref.regency_code,
        province_code=ref.province_code,
        status=ref.status,
        status_reason=ref.status_reason,
        version=ref.version,
        household={c: first[i] for c, i in _SHOWN_AT.items()},
        members=members,
        identity_masked=masked,
    )


def _shown(member: dict[str, Any], masked: bool) -> dict[str, Any]:
    shown: dict[str, Any] = mask_identity(member) if masked else member
    return shown


def family(session: Session, actor: User, *, kk: str) -> FamilyView:
    """The family with this KK, if the actor's region covers it (else NotFound, as for a KK
    that does not exist)."""
    authorize(actor, Action.READ)
    require_kk(kk)
    rows = session.execute(_FAMILY_BY_KK, {"kk": kk}).all()
    if not rows or not in_scope(actor.region_code, rows[0][_H_VILLAGE]):
        raise scope_not_found(actor, kk)
    return _family_view(session, actor, rows)


def family_by_nik(session: Session, actor: User, *, nik: str) -> FamilyView:
    """The family a person with this NIK belongs to (the family where the NIK is active; else
    the latest one it was in), if the actor's region covers it (else NotFound)."""
    authorize(actor, Action.READ)
    nik = nik.strip()
    if not (len(nik) == 16 and nik.isdigit()):
        raise ValidationFailed(f"NIK {nik!r}: harus 16 angka.")
    rows = session.execute(_FAMILY_BY_NIK, {"nik": nik}).all()
    if not rows or not in_scope(actor.region_code, rows[0][_H_VILLAGE]):
        raise NotFound(
            f"NIK {mask_id(nik)} tidak ada di registry wilayah {actor.region_code or 'nasional'}."
        )
    return _family_view(session, actor, rows)


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


# A name search, built once per kind of area (`_search_statements`): the page of families
# with the count of every match (a window over the matches) and the members of the page's
# families, in one statement of plain rows, ordered by KK and member id. Each row: the family's
# columns, the count, then one member's.
_SEARCH_HOUSEHOLD = ("id", "kk_number", "village_code", "status", "version")
_SEARCH_MEMBER = ("name", "nik", "name_normalised", "relationship", "status")
_S_KK, _S_VILLAGE, _S_STATUS, _S_VERSION, _S_TOTAL = 1, 2, 3, 4, 5
_S_NAME, _S_NIK, _S_NORMALISED, _S_RELATIONSHIP, _S_MEMBER_STATUS = 6, 7, 8, 9, 10


@functools.cache
def _search_statements(column: str | None, narrowed: bool) -> tuple[Select[Any], Select[Any]]:
    """The search (page and members) and its count apart, for families whose `column` (a
    region level's; None: the nation) equals the bound `area`, and for members in the bound
    `regency` too when `narrowed`."""
    # A prefix as a range of byte-wise ordered names: an index range on both databases, with a
    # plan that does not depend on the value (a LIKE pattern may not be planned as one).
    matching = select(_M.c.household_id).where(
        _M.c.name_normalised >= bindparam("wanted"), _M.c.name_normalised < bindparam("beyond")
    )
    if narrowed:
        # Within a regency: one range of `ix_member_regency_name`, not the nation's namesakes.
        matching = matching.where(_M.c.regency_code == bindparam("regency"))
    found = select(*(_H.c[c] for c in _SEARCH_HOUSEHOLD)).where(_H.c.id.in_(matching))
    if column is not None:
        found = found.where(_H.c[column] == bindparam("area"))
    page = (
        found.add_columns(func.count().over().label("total"))
        .order_by(_H.c.kk_number)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .cte("page")
    )
    search = (
        select(*page.c, *(_M.c[c].label(f"member_{c}") for c in _SEARCH_MEMBER))
        .select_from(page.outerjoin(_M, _M.c.household_id == page.c.id))
        .order_by(page.c.kk_number, _M.c.id)
    )
    return search, select(func.count()).select_from(found.subquery())


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
    narrowed = area is not None and len(area) >= len("32.01")
    search, count = _search_statements(None if area is None else area_column(area), narrowed)
    params = {
        "wanted": wanted,
        "beyond": wanted + LAST_CHARACTER,
        "regency": area[:5] if narrowed and area is not None else None,
        "area": area,
        "limit": limit,
        "offset": offset,
    }
    rows = session.execute(search, params).all()
    if not rows:  # past the last page (or nothing found): counted apart
        return Page([], int(session.execute(count, params).scalar_one()), limit, offset)
    name_shown: Callable[[str], str] = str if entitled_to_identity(actor.role) else mask_name
    nik_shown = distinct_id_masker()  # the key read once for the page
    items = []
    for _, family_rows in itertools.groupby(rows, operator.itemgetter(0)):
        members = list(family_rows)
        first = members[0]
        head = next(
            (
                m[_S_NAME]
                for m in members
                if m[_S_RELATIONSHIP] == vocab.HEAD and m[_S_MEMBER_STATUS] == "active"
            ),
            None,
        )
        matches = [
            NameMatch(
                name_shown(m[_S_NAME]),
                nik_shown(m[_S_NIK]),
                m[_S_RELATIONSHIP],
                m[_S_MEMBER_STATUS],
            )
            for m in members
            if m[_S_NORMALISED] is not None and m[_S_NORMALISED].startswith(wanted)
        ]
        items.append(
            FamilySummary(
                first[_S_KK],
                first[_S_VILLAGE],
                first[_S_STATUS],
                first[_S_VERSION],
                None if head is None else name_shown(head),
                matches,
            )
        )
    return Page(items, int(rows[0][_S_TOTAL]), limit, offset)


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


_FAMILY_REQUESTS = (
    select(ChangeRequest, Household.kk_number, Household.version)
    .join(Household, Household.id == ChangeRequest.household_id)
    .where(ChangeRequest.state == bindparam("state"), Household.kk_number == bindparam("kk"))
    .order_by(ChangeRequest.id)
)


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
    if kk is not None:
        # One family's (a handful): all of them by a statement built once, the region checked
        # here as `within` checks it in SQL, the page cut from them.
        every = [
            row
            for row in session.execute(_FAMILY_REQUESTS, {"state": status, "kk": kk}).all()
            if area is None or in_scope(area, row[0].village_code)
        ]
        found, total = every[offset : offset + limit], len(every)
    else:
        query = select(ChangeRequest, Household.kk_number, Household.version).join(
            Household, Household.id == ChangeRequest.household_id
        )
        query = query.where(ChangeRequest.state == status, within(ChangeRequest.village_code, area))
        found, total = page_rows(
            session, query.order_by(ChangeRequest.id), limit=limit, offset=offset
        )
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
