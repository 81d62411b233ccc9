"""The civil registry match rate per region: members marked, matched, mismatched (and by which
field), deceased and not found, counts and percentages, with a drill-down from province to
regency to district.

Each member counts once, as their latest import found them (a regency's extract this month
after the nation's last year: the regency's). `import_id` narrows the report to one import.
A member's region is their family's when the import marked them. Percentages are of the
members marked, to one decimal; a mismatched member counts under every field that differs, so
the fields do not add up to the mismatched."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, reading_area
from lumbung.civil.models import OUTCOMES, CivilMatch
from lumbung.errors import ValidationFailed
from lumbung.regions.service import region_names

LEVELS = ("province", "regency", "district")
_LEVEL_OF_LENGTH = {2: "province", 5: "regency", 8: "district", 13: "village"}
_COLUMNS: dict[str, InstrumentedAttribute[str]] = {
    "province": CivilMatch.province_code,
    "regency": CivilMatch.regency_code,
    "district": CivilMatch.district_code,
    "village": CivilMatch.village_code,
}
FIELDS = {
    "nik": CivilMatch.nik_differs,
    "name": CivilMatch.name_differs,
    "birth_date": CivilMatch.birth_date_differs,
    "birth_date_swapped": CivilMatch.birth_date_swapped,
    "sex": CivilMatch.sex_differs,
    "kk_number": CivilMatch.kk_differs,
}
LABELS = {
    "members": "Anggota yang ditandai (status terakhir tiap anggota; satu anggota dihitung "
    "sekali).",
    "matched": "Padan: NIK, nama, tanggal lahir, jenis kelamin dan KK sama dengan Dukcapil.",
    "mismatched": "Tidak padan: orangnya ditemukan, tetapi ada kolom yang berbeda.",
    "deceased": "Meninggal menurut Dukcapil (usulan keluar anggota dibuat).",
    "not_found": "Tidak ditemukan di ekstrak Dukcapil (usulan hapus anggota dibuat).",
    "fields": "Kolom yang berbeda di antara yang tidak padan; satu anggota bisa dihitung di "
    "beberapa kolom. birth_date_swapped: hari dan bulan tertukar.",
    "percent": "Persen dari anggota yang ditandai, satu desimal.",
}


@dataclass(frozen=True, slots=True)
class Rates:
    members: int
    matched: int
    mismatched: int
    deceased: int
    not_found: int
    fields: dict[str, int]
    percent: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RegionRates:
    region_code: str
    region_name: str
    rates: Rates

    def as_dict(self) -> dict[str, Any]:
        return {
            "region_code": self.region_code,
            "region_name": self.region_name,
            **self.rates.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class CivilReport:
    level: str
    region: str | None
    import_id: int | None
    total: Rates
    rows: list[RegionRates]
    labels: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "region": self.region,
            "import_id": self.import_id,
            "total": self.total.as_dict(),
            "rows": [r.as_dict() for r in self.rows],
            "labels": self.labels,
        }


def _in_area(area: str | None) -> ColumnElement[bool]:
    if area is None:
        return true()
    level = _LEVEL_OF_LENGTH.get(len(area))
    if level is None:
        return CivilMatch.village_code == area  # no such region: nothing
    return _COLUMNS[level] == area


def _level(asked: str | None, area: str | None) -> str:
    """The rows' level: as asked (never above the area read), by default one below it."""
    if asked is not None and asked not in LEVELS:
        raise ValidationFailed(f"Tingkat {asked!r} tidak dikenal; pilihan: {', '.join(LEVELS)}.")
    depth = 0 if area is None else {2: 1, 5: 2}.get(len(area), 3)
    if asked is None:
        return LEVELS[min(depth, len(LEVELS) - 1)]
    return LEVELS[max(LEVELS.index(asked), min(max(depth - 1, 0), len(LEVELS) - 1))]


def _measures() -> tuple[Any, ...]:
    outcome = tuple(
        func.coalesce(func.sum(case((CivilMatch.outcome == o, 1), else_=0)), 0) for o in OUTCOMES
    )
    fields = tuple(
        func.coalesce(
            func.sum(case(((CivilMatch.outcome == "mismatched") & column, 1), else_=0)),
            0,
        )
        for column in FIELDS.values()
    )
    return (func.count(), *outcome, *fields)


def _rates(values: Any) -> Rates:
    numbers = [int(v) for v in values]
    members = numbers[0]
    by_outcome = dict(zip(OUTCOMES, numbers[1 : 1 + len(OUTCOMES)], strict=True))
    fields = dict(zip(FIELDS, numbers[1 + len(OUTCOMES) :], strict=True))

    def pct(n: int) -> float:
        return round(100 * n / members, 1) if members else 0.0

    return Rates(
        members=members,
        fields=fields,
        percent={k: pct(v) for k, v in {**by_outcome, **fields}.items()},
        **by_outcome,
    )


def match_rate(
    session: Session,
    actor: User,
    *,
    region: str | None = None,
    level: str | None = None,
    import_id: int | None = None,
) -> CivilReport:
    """The match rate within the reader's region (any role reads it: counts, nobody named)."""
    authorize(actor, Action.READ)
    area = reading_area(actor, region)
    rows_level = _level(level, area)
    c = CivilMatch
    where: list[ColumnElement[bool]] = [_in_area(area)]
    if import_id is not None:
        where.append(c.import_id == import_id)
    else:
        latest = select(func.max(c.id)).group_by(c.member_id).scalar_subquery()
        where.append(c.id.in_(latest))
    column = _COLUMNS[rows_level]
    grouped = session.execute(
        select(column, *_measures()).where(*where).group_by(column).order_by(column)
    ).all()
    names = region_names(session, actor, codes={str(r[0]) for r in grouped})
    rows = [RegionRates(str(r[0]), names.get(str(r[0]), ""), _rates(r[1:])) for r in grouped]
    total = _rates(session.execute(select(*_measures()).where(*where)).one())
    return CivilReport(rows_level, area, import_id, total, rows, dict(LABELS))
