"""The review queue: pairs a linkage run found, decided by a verifier of their region.

A pair belongs to the smallest region holding both members: the longest common prefix of
their village codes, level by level (`pair_region`), so that a verifier of a regency sees the
pairs inside it, and a pair across two provinces is a national reader's. Lists of pairs show
names and NIKs masked for every reader (a list of people, docs/ARCHITECTURE.md "Masking"); one
pair shows both records in full to a reader entitled to identities, masked to the others.

A decision (same person, not the same, needs a field visit) is remembered for the two members
(`LinkDecision`): the pending pairs of the same two members in other runs take it too, and no
later run asks again. "Same person" opens a change request through the usual workflow
(registry/proposals.py, then verification and determination): the duplicate member leaves
(`remove_member` with status `removed`), or the duplicate's family leaves (`exit`) when the
duplicate is its only active member; the reason names the pair and the member kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action, entitled_to_identity, in_scope
from lumbung.auth.service import authorize, reading_area, within
from lumbung.db import page_rows, utcnow
from lumbung.errors import Conflict, NotFound, ValidationFailed
from lumbung.identity.masking import mask_id, mask_name
from lumbung.linkage.models import DECISIONS, PAIR_STATES, LinkDecision, LinkPair
from lumbung.paging import Page, check_window
from lumbung.registry import proposals
from lumbung.registry.models import Household, Member

KEEP = ("left", "right")
# The record's values a reviewer compares, in the order shown.
COMPARED = (
    "nik",
    "name",
    "sex",
    "birth_date",
    "mother_name",
    "kk_number",
    "village_code",
    "rt",
    "rw",
    "address",
)


def pair_region(village_l: str, village_r: str) -> str | None:
    """The smallest region holding both villages: their codes' common levels ("31.71.01.1001"
    and "31.71.02.1003" → "31.71"); None when the provinces differ."""
    common: list[str] = []
    for a, b in zip(village_l.split("."), village_r.split("."), strict=False):
        if a != b:
            break
        common.append(a)
    return ".".join(common) or None


def _visible(actor: User, region_code: str | None) -> bool:
    if actor.region_code is None:
        return True
    return region_code is not None and in_scope(actor.region_code, region_code)


@dataclass(frozen=True, slots=True)
class Person:
    """One record of a pair, masked or not as the reader is entitled."""

    member_id: int
    nik: str
    name: str
    sex: str
    birth_date: date
    mother_name: str | None
    kk_number: str
    village_code: str
    rt: str | None
    rw: str | None
    address: str | None
    relationship: str
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "nik": self.nik,
            "name": self.name,
            "sex": self.sex,
            "birth_date": self.birth_date.isoformat(),
            "mother_name": self.mother_name,
            "kk_number": self.kk_number,
            "village_code": self.village_code,
            "rt": self.rt,
            "rw": self.rw,
            "address": self.address,
            "relationship": self.relationship,
            "status": self.status,
        }

    def value(self, column: str) -> str:
        found = getattr(self, column)
        return "" if found is None else str(found)


@dataclass(frozen=True, slots=True)
class PairRow:
    """A pair as the queue lists it (names and NIKs masked)."""

    id: int
    run_id: int
    state: str
    region_code: str | None
    match_weight: float
    match_probability: float
    left: Person
    right: Person
    decided_by: str | None
    decided_at: datetime | None
    change_request_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "state": self.state,
            "region_code": self.region_code,
            "match_weight": self.match_weight,
            "match_probability": self.match_probability,
            "left": self.left.as_dict(),
            "right": self.right.as_dict(),
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "change_request_id": self.change_request_id,
        }


@dataclass(frozen=True, slots=True)
class Contribution:
    """One comparison's part of a pair's match weight."""

    name: str
    level: str
    weight: float

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level, "weight": self.weight}


@dataclass(frozen=True, slots=True)
class PairView:
    """One pair: both records side by side, the waterfall, what differs, the decision."""

    pair: PairRow
    masked: bool
    prior_weight: float
    waterfall: list[Contribution]
    differs: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.pair.as_dict(),
            "masked": self.masked,
            "prior_weight": self.prior_weight,
            "waterfall": [c.as_dict() for c in self.waterfall],
            "differs": self.differs,
        }


@dataclass(frozen=True, slots=True)
class Decided:
    """A decision as recorded: the pairs it settled, and the change request it opened."""

    pair_id: int
    decision: str
    pairs_settled: int
    change_request_id: int | None
    request_kind: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pair_id": self.pair_id,
            "decision": self.decision,
            "pairs_settled": self.pairs_settled,
            "change_request_id": self.change_request_id,
            "request_kind": self.request_kind,
        }


def _people(session: Session, ids: set[int], *, masked: bool) -> dict[int, Person]:
    found = session.execute(
        select(
            Member,
            Household.kk_number,
            Household.village_code,
            Household.rt,
            Household.rw,
            Household.address,
        )
        .join(Household, Household.id == Member.household_id)
        .where(Member.id.in_(sorted(ids)))
    )
    people = {}
    for m, kk, village, rt, rw, address in found:
        people[m.id] = Person(
            member_id=m.id,
            nik=mask_id(m.nik, distinct=True) if masked else m.nik,
            name=mask_name(m.name) if masked else m.name,
            sex=m.sex,
            birth_date=m.birth_date,
            mother_name=(mask_name(m.mother_name) if masked and m.mother_name else m.mother_name),
            kk_number=mask_id(kk, distinct=True) if masked else kk,
            village_code=village,
            rt=rt,
            rw=rw,
            address=None if masked else address,
            relationship=m.relationship,
            status=m.status,
        )
    return people


def _row(pair: LinkPair, people: dict[int, Person]) -> PairRow:
    return PairRow(
        pair.id,
        pair.run_id,
        pair.state,
        pair.region_code,
        pair.match_weight,
        pair.match_probability,
        people[pair.member_id_l],
        people[pair.member_id_r],
        pair.decided_by,
        pair.decided_at,
        pair.change_request_id,
    )


def review_queue(
    session: Session,
    actor: User,
    *,
    state: str = "pending",
    run_id: int | None = None,
    region: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[PairRow]:
    """The pairs in the reader's region (or `region` inside it) in `state`, the strongest
    first; names and NIKs masked (a list of people)."""
    authorize(actor, Action.READ)
    check_window(limit, offset)
    if state not in PAIR_STATES:
        raise ValidationFailed(
            f"Status pasangan '{state}' tidak dikenal; pilihan: {', '.join(PAIR_STATES)}."
        )
    area = reading_area(actor, region)
    query = select(LinkPair).where(LinkPair.state == state, within(LinkPair.region_code, area))
    if run_id is not None:
        query = query.where(LinkPair.run_id == run_id)
    rows, total = page_rows(
        session,
        query.order_by(LinkPair.match_weight.desc(), LinkPair.id),
        limit=limit,
        offset=offset,
    )
    pairs = [r[0] for r in rows]
    ids = {p.member_id_l for p in pairs} | {p.member_id_r for p in pairs}
    people = _people(session, ids, masked=True) if ids else {}
    return Page([_row(p, people) for p in pairs], total, limit, offset)


def pending_count(session: Session, actor: User) -> int:
    """The pairs waiting for a decision in the reader's region (the home page's card)."""
    authorize(actor, Action.READ)
    query = (
        select(func.count())
        .select_from(LinkPair)
        .where(LinkPair.state == "pending", within(LinkPair.region_code, actor.region_code))
    )
    return int(session.execute(query).scalar_one())


def _pair_in_scope(session: Session, actor: User, pair_id: int, *, lock: bool = False) -> LinkPair:
    pair = session.get(LinkPair, pair_id, with_for_update=lock, populate_existing=lock)
    if pair is None or not _visible(actor, pair.region_code):
        raise NotFound(
            f"Pasangan {pair_id} tidak ada di wilayah {actor.region_code or 'nasional'}."
        )
    return pair


def get_pair(session: Session, actor: User, *, pair_id: int) -> PairView:
    """One pair in the reader's region: both records (in full for a reader entitled to
    identities), each comparison's weight, and the values that differ."""
    authorize(actor, Action.READ)
    pair = _pair_in_scope(session, actor, pair_id)
    masked = not entitled_to_identity(actor.role)
    people = _people(session, {pair.member_id_l, pair.member_id_r}, masked=False)
    left, right = people[pair.member_id_l], people[pair.member_id_r]
    differs = [c for c in COMPARED if left.value(c) != right.value(c)]
    if masked:
        people = _people(session, {pair.member_id_l, pair.member_id_r}, masked=True)
    waterfall = pair.waterfall or {}
    return PairView(
        _row(pair, people),
        masked,
        float(waterfall.get("prior", 0.0)),
        [
            Contribution(str(c["name"]), str(c["level"]), float(c["weight"]))
            for c in waterfall.get("comparisons", [])
        ],
        differs,
    )


def decide(
    session: Session,
    *,
    actor: User,
    pair_id: int,
    decision: str,
    keep: str = "left",
    new_head: str | None = None,
) -> Decided:
    """A verifier's decision on a pair of their region, remembered for the two members and
    audited; "same person" proposes the duplicate's removal (`keep`: which record stays; a
    head who leaves needs `new_head`, the NIK of the member who follows)."""
    if decision not in DECISIONS:
        raise ValidationFailed(
            f"Keputusan '{decision}' tidak dikenal; pilihan: {', '.join(DECISIONS)}."
        )
    if keep not in KEEP:
        raise ValidationFailed(f"'keep' harus left atau right, bukan '{keep}'.")
    authorize(actor, Action.VERIFY)
    pair = _pair_in_scope(session, actor, pair_id, lock=True)
    if pair.region_code is not None:
        authorize(actor, Action.VERIFY, pair.region_code)
    if pair.state not in ("pending", "field_visit"):
        raise Conflict(
            f"Pasangan {pair.id} sudah diputuskan ({pair.state}) oleh {pair.decided_by}.",
            cause="pair_decided",
        )
    now = utcnow()
    request_id = kind = None
    if decision == "same_person":
        request_id, kind = _propose_removal(session, actor, pair, keep, new_head)
    pair.state, pair.decided_by, pair.decided_at = decision, actor.username, now
    pair.change_request_id = request_id
    remembered = session.get(LinkDecision, (pair.member_id_l, pair.member_id_r))
    if remembered is None:
        session.add(
            LinkDecision(
                member_id_l=pair.member_id_l,
                member_id_r=pair.member_id_r,
                decision=decision,
                pair_id=pair.id,
                decided_by=actor.username,
                decided_at=now,
            )
        )
    else:
        remembered.decision, remembered.pair_id = decision, pair.id
        remembered.decided_by, remembered.decided_at = actor.username, now
    # The same two members waiting in other runs: decided with this one, never asked again.
    others = session.execute(
        update(LinkPair)
        .where(
            LinkPair.member_id_l == pair.member_id_l,
            LinkPair.member_id_r == pair.member_id_r,
            LinkPair.id != pair.id,
            LinkPair.state.in_(("pending", "field_visit")),
        )
        .values(state=decision, decided_by=actor.username, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    settled = 1 + int(getattr(others, "rowcount", 0) or 0)
    audit.record(
        session,
        actor=actor.username,
        action=f"link.decide.{decision}",
        entity="link_pair",
        entity_id=pair.id,
        diff={
            "run": pair.run_id,
            "member_ids": [pair.member_id_l, pair.member_id_r],
            "match_weight": pair.match_weight,
            "keep": keep if decision == "same_person" else None,
            "change_request": request_id,
            "pairs_settled": settled,
        },
    )
    return Decided(pair.id, decision, settled, request_id, kind)


def _propose_removal(
    session: Session, actor: User, pair: LinkPair, keep: str, new_head: str | None
) -> tuple[int, str]:
    """The change request "same person" opens: the duplicate leaves its family (or, alone in
    it, the family leaves the registry)."""
    kept_id, duplicate_id = (
        (pair.member_id_l, pair.member_id_r)
        if keep == "left"
        else (pair.member_id_r, pair.member_id_l)
    )
    duplicate = session.get(Member, duplicate_id)
    assert duplicate is not None
    if duplicate.status != "active":
        raise Conflict(
            f"Anggota {duplicate_id} sudah tidak aktif ({duplicate.status}): tidak ada yang "
            "perlu dihapus; putuskan 'not_same' atau pilih anggota lain yang dihapus.",
            cause="member_inactive",
        )
    household = session.get(Household, duplicate.household_id)
    assert household is not None
    reason = (
        f"Duplikat: orang yang sama dengan anggota {kept_id} (pasangan kemiripan {pair.id}, "
        f"run linkage {pair.run_id})."
    )
    active = session.execute(
        select(func.count())
        .select_from(Member)
        .where(Member.household_id == household.id, Member.status == "active")
    ).scalar_one()
    if active == 1:
        kind, payload = "exit", {"reason": reason, "link_pair": pair.id}
    else:
        kind = "remove_member"
        payload = {
            "nik": duplicate.nik,
            "status": "removed",
            "reason": reason,
            "link_pair": pair.id,
        }
        if new_head:
            payload["new_head"] = new_head
    proposal = proposals.propose(
        session,
        actor=actor,
        kind=kind,
        payload=payload,
        kk_number=household.kk_number,
        base_version=household.version,
        right=Action.VERIFY,
    )
    return proposal.request.id, kind
