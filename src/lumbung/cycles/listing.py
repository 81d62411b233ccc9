"""Who is in a cycle: its beneficiaries, page by page, as far as the reader may see.

What a grievance officer or a district operator looks for before `lumbung explain`: the
families (or persons) of a cycle with their amounts. A reader with a region sees only the
families living there (by the registry's village of the family); NIKs are masked for
everyone (the KK number is the handle `explain` takes). Rows come in beneficiary order, which
the (cycle, beneficiary) key serves without a sort even for a national cycle.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action, entitled_to_identity, in_scope
from lumbung.auth.service import authorize
from lumbung.cycles.models import Cycle, Entitlement, component_labels, components
from lumbung.errors import NotFound, PermissionDenied, ValidationFailed
from lumbung.identity import mask_id
from lumbung.paging import MAX_PAGE
from lumbung.regions.models import Region
from lumbung.registry.models import Household, Member, household_in_area
from lumbung.registry.scope import FamilyRef, family_ref_in_scope


def list_beneficiaries(
    session: Session,
    *,
    actor: User,
    cycle_label: str,
    regency: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of the cycle's beneficiaries visible to `actor`, and how many there are."""
    authorize(actor, Action.READ)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"--limit harus antara 1 dan {MAX_PAGE}.")
    if offset < 0:
        raise ValidationFailed("--offset tidak boleh negatif.")
    cycle = session.execute(select(Cycle).where(Cycle.label == cycle_label)).scalar_one_or_none()
    if cycle is None:
        raise NotFound(f"Siklus {cycle_label} tidak ada.")
    scope = actor.region_code
    if regency is not None:
        if not re.fullmatch(r"\d{2}\.\d{2}", regency):
            raise ValidationFailed(f"--regency {regency!r}: kode kabupaten/kota seperti 31.71.")
        if not (in_scope(scope, regency) or in_scope(regency, scope or "")):
            # Said as such, not as an empty list; nothing about what the regency holds.
            raise PermissionDenied(
                f"Kabupaten/kota {regency} di luar wilayah Anda ({scope}); "
                "Anda hanya melihat penerima di wilayah sendiri."
            )
    query: Select[Any] = select(Entitlement).where(Entitlement.cycle_id == cycle.id)
    if scope is not None:
        query = query.join(Household, Household.id == Entitlement.household_id).where(
            or_(Household.village_code == scope, Household.village_code.startswith(scope + "."))
        )
    if regency is not None:
        query = query.where(Entitlement.regency_code == regency)
    if scope is None and regency is None:
        total = cycle.beneficiaries  # counted when the cycle ran
    else:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = session.execute(
        query.order_by(Entitlement.beneficiary_id).limit(limit).offset(offset)
    ).scalars()
    return {
        "cycle": cycle.label,
        "program": cycle.program_code,
        "state": cycle.state,
        # household: the family is the beneficiary (no NIK); person: each member, by NIK
        "unit": cycle.definition.get("unit", "household"),
        "labels": component_labels(cycle.definition),  # component → its label for people
        "region": scope,
        "regency": regency,
        "total": int(total),
        "offset": offset,
        "beneficiaries": [
            {
                "kk_number": e.kk_number,
                "nik": mask_id(e.nik, distinct=True) if e.nik else None,
                "regency_code": e.regency_code,
                "amount_idr": e.amount_idr,
                "components": components(e, cycle),
                "state": e.state,
            }
            for e in page
        ],
    }


@dataclass(frozen=True, slots=True)
class CycleRow:
    """A cycle as `cycle list` shows it: program, version and definition hash, PMT model,
    state and national totals (counts and money, no people)."""

    cycle: str
    program: str
    version: str | None
    definition_sha256: str
    model: str  # NAME@VERSION
    model_sha256: str
    state: str
    beneficiaries: int
    total_idr: int
    engine: str
    created_at: datetime
    created_by: str  # who ran it: a second person approves it (four eyes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "program": self.program,
            "version": self.version,
            "definition_sha256": self.definition_sha256,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "state": self.state,
            "beneficiaries": self.beneficiaries,
            "total_idr": self.total_idr,
            "engine": self.engine,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


@functools.cache
def _statements() -> Any:
    """The family's and the cycles' reads, built once (on first use: the targeting models
    import this package's), with bind parameters: a statement built per call costs more of
    the server's CPU than the database spends on it."""
    from lumbung.releases.models import Release
    from lumbung.targeting.models import PmtModelRecord, PmtScore, Scoring

    return SimpleNamespace(
        cycles=select(Cycle, PmtModelRecord)
        .join(Scoring, Scoring.id == Cycle.scoring_id)
        .join(PmtModelRecord, PmtModelRecord.id == Scoring.model_id)
        .order_by(Cycle.id),
        every_cycle=select(Cycle),
        scorings=select(Scoring, Release.label, PmtModelRecord)
        .join(Release, Release.id == Scoring.release_id)
        .join(PmtModelRecord, PmtModelRecord.id == Scoring.model_id),
        scores=select(PmtScore).where(
            PmtScore.scoring_id.in_(bindparam("scorings", expanding=True)),
            PmtScore.household_id == bindparam("household"),
        ),
        member_ids=select(Member.id).where(Member.household_id == bindparam("household")),
        entitlements=select(Entitlement).where(
            Entitlement.cycle_id.in_(bindparam("cycles", expanding=True)),
            Entitlement.beneficiary_id.in_(bindparam("beneficiaries", expanding=True)),
            # a member id equal to a family's
            Entitlement.household_id == bindparam("household"),
        ),
    )


def list_cycles(session: Session, actor: User) -> list[CycleRow]:
    """Every cycle, oldest first (any role: a cycle's totals name no one)."""
    authorize(actor, Action.READ)
    return [_cycle_row(c, m) for c, m in session.execute(_statements().cycles).all()]


def _cycle_row(c: Cycle, m: Any) -> CycleRow:
    return CycleRow(
        c.label,
        c.program_code,
        c.definition.get("version"),
        c.definition_sha256,
        f"{m.name}@{m.version}",
        m.sha256,
        c.state,
        c.beneficiaries,
        c.total_idr,
        c.engine,
        c.created_at,
        c.created_by,
    )


LEVELS = ("province", "regency", "district")


@dataclass(frozen=True, slots=True)
class AreaTotal:
    """A cycle's beneficiaries and money in one region."""

    code: str
    name: str | None
    beneficiaries: int
    total_idr: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "beneficiaries": self.beneficiaries,
            "total_idr": self.total_idr,
        }


@dataclass(frozen=True, slots=True)
class CycleTotals:
    """A cycle's totals per province, regency or district, within the reader's region."""

    cycle: str
    program: str
    state: str
    level: str
    region: str | None  # the reader's region; None = the nation
    areas: list[AreaTotal]

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "program": self.program,
            "state": self.state,
            "level": self.level,
            "region": self.region,
            "areas": [a.as_dict() for a in self.areas],
        }


def cycle_totals(session: Session, actor: User, *, label: str, level: str) -> CycleTotals:
    """Beneficiaries and amounts of the cycle per region at `level` (province, regency or
    district), by code; a reader with a region counts only the families living in it."""
    authorize(actor, Action.READ)
    if level not in LEVELS:
        raise ValidationFailed(f"--level {level!r}: pilihan {', '.join(LEVELS)}.")
    cycle = session.execute(select(Cycle).where(Cycle.label == label)).scalar_one_or_none()
    if cycle is None:
        raise NotFound(f"Siklus {label} tidak ada.")
    scope = actor.region_code
    joined = scope is not None or level == "district"
    code: Any
    if level == "district":
        code = Household.district_code
    elif level == "regency":
        code = Entitlement.regency_code
    else:
        code = func.substr(Entitlement.regency_code, 1, 2)
    query = select(code.label("code"), func.count(), func.sum(Entitlement.amount_idr)).where(
        Entitlement.cycle_id == cycle.id
    )
    if joined:
        query = query.join(Household, Household.id == Entitlement.household_id).where(
            household_in_area(scope)
        )
    rows = session.execute(query.group_by(code).order_by(code)).all()
    names = dict(
        session.execute(
            select(Region.code, Region.name).where(Region.code.in_([r[0] for r in rows]))
        ).all()
    )
    return CycleTotals(
        cycle.label,
        cycle.program_code,
        cycle.state,
        level,
        scope,
        [AreaTotal(c, names.get(c), int(n), int(total or 0)) for c, n, total in rows],
    )


@dataclass(frozen=True, slots=True)
class FamilyScore:
    """The family's PMT score and desil in one scoring (a release scored by a model)."""

    release: str
    model: str  # NAME@VERSION
    scored_at: datetime
    score: float
    decile: int
    rank_in_regency: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "model": self.model,
            "scored_at": self.scored_at.isoformat(),
            "score": self.score,
            "decile": self.decile,
            "rank_in_regency": self.rank_in_regency,
        }


@dataclass(frozen=True, slots=True)
class FamilyEntitlement:
    """What the family (or one of its members, for a program of persons) is owed in a cycle."""

    cycle: str
    program: str
    cycle_state: str  # draft or approved
    period_start: date  # the cycle's reference date
    period_months: int  # months one cycle pays for
    amount_idr: int
    # The member's NIK for a program of persons (masked for a reader not entitled to it, as
    # on the family's page); None: the family is the beneficiary.
    nik: str | None
    state: str  # the entitlement's own state

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "program": self.program,
            "cycle_state": self.cycle_state,
            "period_start": self.period_start.isoformat(),
            "period_months": self.period_months,
            "amount_idr": self.amount_idr,
            "nik": self.nik,
            "state": self.state,
        }


@dataclass(frozen=True, slots=True)
class FamilyBenefits:
    """A family's desil per scoring and its entitlements per cycle, latest first."""

    kk_number: str
    scores: list[FamilyScore]
    entitlements: list[FamilyEntitlement]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kk_number": self.kk_number,
            "scores": [s.as_dict() for s in self.scores],
            "entitlements": [e.as_dict() for e in self.entitlements],
        }


def family_entitlements(session: Session, actor: User, *, kk: str) -> FamilyBenefits:
    """The family's PMT score and desil in every scoring, and what it is owed in every cycle
    (a cycle it is not in is left out), latest first; for a family outside the actor's region,
    NotFound, as for a KK that does not exist.

    Through the partitioned parents by their keys, (scoring, household) and (cycle,
    beneficiary): the scorings and cycles (a few dozen rows) are listed first, so that each
    partition is pruned or searched by its primary key, never scanned."""
    authorize(actor, Action.READ)
    household = family_ref_in_scope(session, actor, kk)
    cycles = list(session.execute(_statements().every_cycle).scalars())
    return _benefits(session, actor, household, cycles)


def family_benefits_and_cycles(
    session: Session, actor: User, *, kk: str
) -> tuple[FamilyBenefits, list[CycleRow]]:
    """`family_entitlements` and `list_cycles` together, as the family's page shows them: the
    cycles read once for both."""
    authorize(actor, Action.READ)
    household = family_ref_in_scope(session, actor, kk)
    rows = session.execute(_statements().cycles).all()
    benefits = _benefits(session, actor, household, [c for c, _ in rows])
    return benefits, [_cycle_row(c, m) for c, m in rows]


def _benefits(
    session: Session, actor: User, household: FamilyRef, every_cycle: list[Cycle]
) -> FamilyBenefits:
    from lumbung.programs.definition import Schedule

    statements = _statements()
    scorings = {
        s.id: (s, release, f"{m.name}@{m.version}")
        for s, release, m in session.execute(statements.scorings).all()
    }
    scores = []
    if scorings:
        found = session.execute(
            statements.scores, {"scorings": list(scorings), "household": household.id}
        ).scalars()
        for row in found:
            scoring, release, model = scorings[row.scoring_id]
            scores.append(
                FamilyScore(
                    release,
                    model,
                    scoring.created_at,
                    row.score,
                    row.decile,
                    row.rank_area,
                )
            )
        scores.sort(key=lambda s: (s.scored_at, s.release, s.model), reverse=True)
    cycles = {c.id: c for c in every_cycle}
    entitlements = []
    # One family: its members' NIKs as the family's own page shows them (registry.views).
    shown: Callable[[str], str] = (
        str if entitled_to_identity(actor.role) else lambda nik: mask_id(nik, distinct=True)
    )
    if cycles:
        # A family's beneficiaries: itself (programs of households) or its members (of persons).
        members = session.execute(statements.member_ids, {"household": household.id}).scalars()
        beneficiaries = [household.id, *members]
        found_rows = session.execute(
            statements.entitlements,
            {"cycles": list(cycles), "beneficiaries": beneficiaries, "household": household.id},
        ).scalars()
        for e in found_rows:
            cycle = cycles[e.cycle_id]
            schedule = Schedule.model_validate(cycle.definition["schedule"])
            entitlements.append(
                FamilyEntitlement(
                    cycle.label,
                    cycle.program_code,
                    cycle.state,
                    cycle.reference_date,
                    schedule.months_per_cycle,
                    e.amount_idr,
                    None if e.member_id is None or not e.nik else shown(e.nik),
                    e.state,
                )
            )
        order = {c.label: (c.reference_date, c.id) for c in cycles.values()}
        entitlements.sort(key=lambda e: (order[e.cycle], e.nik or ""), reverse=True)
    return FamilyBenefits(household.kk_number, scores, entitlements)
