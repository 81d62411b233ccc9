"""Realisation of cash programs: per program × cycle × region, what was entitled and what
became of it (paid, failed, returned, pending, cancelled), from the payment ledger.

One statement per cycle, grouped in the database: a national cycle's 10-20 M entitlements
never come to Python. An entitlement's state is its latest attempt's (`payment_item`, as
`delivery.ledger.state_totals` counts it); one that no batch holds yet is pending. So each
row adds up: entitled = paid + failed + returned + pending + cancelled, and a cycle's rows
add up to `ledger.check_cycle`'s totals for the reader's region.

A region is where the family lives (the household's province, regency, district and village
codes, as every read within a reader's region filters): the entitlement keeps the regency it
was computed in, but no district or village, so one source serves every level and the
reader's scope. A family that moved since is counted where it lives now.

Totals name nobody: every role may read them, within its region (`auth.service.reading_area`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, reading_area
from lumbung.cycles.models import Cycle, Entitlement
from lumbung.delivery.models import PaymentItem
from lumbung.errors import NotFound, ValidationFailed
from lumbung.regions.models import Region
from lumbung.registry.models import Household, household_in_area

LEVELS = ("province", "regency", "district", "village")
# The money columns of a row, in the order entitled = the sum of the other five.
STATES = ("paid", "failed", "returned", "pending", "cancelled")
MAX_CYCLES = 60  # five years of monthly cycles: a trend, not a dump


def percent(part: int, whole: int) -> Decimal | None:
    """`part` of `whole` in percent, rounded half up to two decimals (for display only; the
    amounts stay integer rupiah); None when there is no whole."""
    if whole <= 0:
        return None
    return (Decimal(part * 100) / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Realisation:
    """One region's figures in one cycle (or a cycle's total: `code` the reader's area)."""

    code: str  # "" for the nation
    name: str | None
    beneficiaries: int  # distinct: households or persons, by the program's unit
    transactions: int  # payment attempts
    paid_beneficiaries: int
    entitled_idr: int
    paid_idr: int
    failed_idr: int
    returned_idr: int
    pending_idr: int
    cancelled_idr: int
    # paid / entitled in percent, rounded to two decimals, for display only: always computed
    # from the amounts (a value given is replaced)
    realisation_pct: float | None = None

    def __post_init__(self) -> None:
        share = self.share()
        object.__setattr__(self, "realisation_pct", None if share is None else float(share))

    def share(self) -> Decimal | None:
        """paid / entitled in percent, rounded half up to two decimals."""
        return percent(self.paid_idr, self.entitled_idr)

    @property
    def adds_up(self) -> bool:
        return self.entitled_idr == sum(self.amount(s) for s in STATES)

    def amount(self, state: str) -> int:
        return int(getattr(self, f"{state}_idr"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "beneficiaries": self.beneficiaries,
            "transactions": self.transactions,
            "paid_beneficiaries": self.paid_beneficiaries,
            "entitled_idr": self.entitled_idr,
            **{f"{s}_idr": self.amount(s) for s in STATES},
            "realisation_pct": self.realisation_pct,
        }


@dataclass(frozen=True, slots=True)
class CycleRealisation:
    """A cycle's rows by region, and its total within the reader's area."""

    cycle: str
    reference_date: date
    state: str
    rows: list[Realisation]
    total: Realisation

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "reference_date": self.reference_date.isoformat(),
            "state": self.state,
            "rows": [r.as_dict() for r in self.rows],
            "total": self.total.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class RealisationReport:
    """A program's realisation per cycle and region at one level, within one area."""

    program: str
    program_name: str
    unit: str  # household | person: what a beneficiary is
    level: str
    area: str | None  # the region read (None = the nation)
    area_name: str | None
    cycles: list[CycleRealisation]

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "program_name": self.program_name,
            "unit": self.unit,
            "level": self.level,
            "area": self.area,
            "area_name": self.area_name,
            "cycles": [c.as_dict() for c in self.cycles],
        }


def default_level(area: str | None) -> str:
    """The level just below the area read: provinces of the nation, regencies of a
    province, and so on; a village is read as itself."""
    depth = {None: 0, 2: 1, 5: 2, 8: 3}.get(None if area is None else len(area), 3)
    return LEVELS[depth]


def realisation(
    session: Session,
    *,
    actor: User,
    program: str,
    cycles: list[str] | None = None,
    region: str | None = None,
    level: str | None = None,
) -> RealisationReport:
    """The realisation of `program`'s cycles (the given labels, else every approved cycle of
    the program, oldest first) per region at `level` within `region` (narrowed to the
    actor's own region; default: the actor's region, at the level below it)."""
    authorize(actor, Action.READ)
    area = reading_area(actor, region)
    level = level or default_level(area)
    if level not in LEVELS:
        raise ValidationFailed(
            f"Tingkat wilayah {level!r} tidak dikenal; pilihan: {', '.join(LEVELS)}."
        )
    level = _not_above(level, area)
    chosen = _cycles(session, program, cycles or [])
    names = _names(session, [area] if area else [])
    found = [_one_cycle(session, cycle, area, level, names.get(area or "")) for cycle in chosen]
    unit = str(chosen[-1].definition.get("unit", "household"))
    program_name = str(chosen[-1].definition.get("name", program))
    return RealisationReport(program, program_name, unit, level, area, names.get(area or ""), found)


def _not_above(level: str, area: str | None) -> str:
    """`level`, or the area's own when it is coarser: a regency's reader asking for
    provinces would get a row named after the province holding the regency's figures."""
    own = {2: 0, 5: 1, 8: 2, 13: 3}.get(len(area), 3) if area else 0
    return LEVELS[max(LEVELS.index(level), own)]


def _cycles(session: Session, program: str, labels: list[str]) -> list[Cycle]:
    if len(labels) > MAX_CYCLES:
        raise ValidationFailed(f"Paling banyak {MAX_CYCLES} siklus dalam satu laporan.")
    query = select(Cycle).where(Cycle.program_code == program)
    if labels:
        query = query.where(Cycle.label.in_(labels))
    else:
        query = query.where(Cycle.state == "approved")
    chosen = list(session.execute(query.order_by(Cycle.reference_date, Cycle.id)).scalars())
    if labels:
        missing = sorted(set(labels) - {c.label for c in chosen})
        if missing:
            raise NotFound(f"Siklus {', '.join(missing)} tidak ada pada program {program}.")
    elif not chosen:
        raise NotFound(f"Program {program} belum punya siklus yang disetujui.")
    return chosen[-MAX_CYCLES:]


def _code(level: str) -> Any:
    return getattr(Household, f"{level}_code")


def statement(cycle_id: int, area: str | None, level: str) -> Select[Any]:
    """The cycle's figures per region at `level` within `area`, as one grouped statement:
    (code, beneficiaries, transactions, paid beneficiaries, entitled, *STATES rupiah).

    The area's entitlements, each with its family and every attempt at paying it (none: one
    row without), numbered by a window over the entitlement (its latest attempt, how many);
    each entitlement's latest row kept and grouped by the region code of the level. Read in
    the order of the entitlement key, the window needs no sort on SQLite, which looks each
    entitlement's attempts up by the (cycle, beneficiary, attempt) key; PostgreSQL joins by
    hash and sorts. A first form grouped the cycle's attempts apart and joined the latest
    back (benchmarks/README.md, "Realisation report")."""
    per_entitlement = Entitlement.beneficiary_id
    rows = (
        select(
            _code(level).label("code"),
            Entitlement.amount_idr.label("amount"),
            PaymentItem.state.label("state"),
            PaymentItem.attempt.label("attempt"),
            func.max(PaymentItem.attempt).over(partition_by=per_entitlement).label("last"),
            func.count(PaymentItem.attempt).over(partition_by=per_entitlement).label("attempts"),
        )
        .select_from(Entitlement)
        .join(Household, Household.id == Entitlement.household_id)
        .outerjoin(
            PaymentItem,
            and_(
                PaymentItem.cycle_id == cycle_id,
                PaymentItem.beneficiary_id == Entitlement.beneficiary_id,
            ),
        )
        .where(Entitlement.cycle_id == cycle_id, household_in_area(area))
        .subquery()
    )
    state = func.coalesce(rows.c.state, "pending")  # no attempt yet: pending

    def summed(value: Any) -> Any:
        return func.coalesce(func.sum(value), 0)

    return (
        select(
            rows.c.code,
            func.count(),
            summed(rows.c.attempts),
            summed(case((state == "paid", 1), else_=0)),
            summed(rows.c.amount),
            *(summed(case((state == name, rows.c.amount), else_=0)) for name in STATES),
        )
        .where(or_(rows.c.attempt.is_(None), rows.c.attempt == rows.c.last))
        .group_by(rows.c.code)
        .order_by(rows.c.code)
    )


def _one_cycle(
    session: Session, cycle: Cycle, area: str | None, level: str, area_name: str | None
) -> CycleRealisation:
    rows = session.execute(statement(cycle.id, area, level)).all()
    names = _names(session, [str(r[0]) for r in rows])
    found = [Realisation(str(r[0]), names.get(str(r[0])), *(int(v) for v in r[1:])) for r in rows]
    return CycleRealisation(
        cycle.label, cycle.reference_date, cycle.state, found, _summed(area or "", area_name, found)
    )


def _summed(code: str, name: str | None, rows: list[Realisation]) -> Realisation:
    """The rows added up: each beneficiary of a cycle lives in one region, so the distinct
    counts add up too."""
    fields = (
        "beneficiaries",
        "transactions",
        "paid_beneficiaries",
        "entitled_idr",
        *(f"{s}_idr" for s in STATES),
    )
    sums = [sum(int(getattr(r, f)) for r in rows) for f in fields]
    return Realisation(code, name, *sums)


def _names(session: Session, codes: list[str]) -> dict[str, str]:
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    found = session.execute(select(Region.code, Region.name).where(Region.code.in_(wanted)))
    return {str(c): str(n) for c, n in found.all()}


def programs_with_cycles(session: Session, *, actor: User) -> dict[str, list[str]]:
    """Each program with cycles, and its cycles' labels oldest first (a report's choices)."""
    authorize(actor, Action.READ)
    found: dict[str, list[str]] = {}
    for program, label in session.execute(
        select(Cycle.program_code, Cycle.label).order_by(
            Cycle.program_code, Cycle.reference_date, Cycle.id
        )
    ).all():
        found.setdefault(str(program), []).append(str(label))
    return found
