"""The in-kind realisation report: per program and region, distinct persons, distributions,
quantity and value, each count labelled with what it counts.

A person who received two devices counts once among persons and twice among distributions:
`persons` is the number of distinct NIKs wherever it is given (a row, a program, the whole),
so persons of the rows do not add up to a program's, nor programs' to the whole. A person's
region is their family's village when the NIK is in the registry, else the village of the
handover (`AidDistribution.home_village_code`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, cast, distinct, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from lumbung.aid.catalog import catalogue
from lumbung.aid.models import AidDistribution
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, reading_area
from lumbung.errors import NotFound, ValidationFailed
from lumbung.regions.service import region_names

LEVELS = ("province", "regency", "district", "village")
_LEVEL_OF_LENGTH = {2: "province", 5: "regency", 8: "district", 13: "village"}
_COLUMNS: dict[str, InstrumentedAttribute[str]] = {
    "province": AidDistribution.province_code,
    "regency": AidDistribution.regency_code,
    "district": AidDistribution.district_code,
    "village": AidDistribution.home_village_code,
}

LABELS = {
    "persons": "Orang berbeda (menurut NIK): seseorang yang menerima dua barang dihitung "
    "sekali. Jumlah orang per baris tidak dijumlahkan menjadi total.",
    "distributions": "Penyerahan: setiap penyerahan dihitung; seseorang yang menerima dua "
    "barang dihitung dua kali.",
    "quantity": "Jumlah unit barang yang diserahkan (satuannya menurut barang).",
    "value_idr": "Nilai dalam rupiah bulat: jumlah unit × nilai satuan.",
    "region": "Wilayah penerima: desa keluarganya bila NIK terdaftar di registry, selain itu "
    "desa tempat penyerahan.",
}


@dataclass(frozen=True, slots=True)
class Counts:
    persons: int
    distributions: int
    quantity: int
    value_idr: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ReportRow:
    program: str
    region_code: str
    region_name: str
    persons: int
    distributions: int
    quantity: int
    value_idr: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ItemRow:
    program: str
    item: str
    label: str
    unit: str
    persons: int
    distributions: int
    quantity: int
    value_idr: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class InkindReport:
    """The report within `region` (None: the nation), rows at `level`."""

    level: str
    region: str | None
    program: str | None
    persons: int
    distributions: int
    quantity: int
    value_idr: int
    programs: dict[str, Counts]
    rows: list[ReportRow]
    items: list[ItemRow]
    labels: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "persons": self.persons,
            "distributions": self.distributions,
            "quantity": self.quantity,
            "value_idr": self.value_idr,
            "programs": {code: c.as_dict() for code, c in self.programs.items()},
            "level": self.level,
            "region": self.region,
            "program": self.program,
            "rows": [r.as_dict() for r in self.rows],
            "items": [i.as_dict() for i in self.items],
            "labels": self.labels,
        }


def in_area(area: str | None) -> ColumnElement[bool]:
    """An equality on the column of the area's level (None: everywhere)."""
    if area is None:
        return true()
    level = _LEVEL_OF_LENGTH.get(len(area))
    if level is None:
        return AidDistribution.home_village_code == area  # no such region: nothing
    return _COLUMNS[level] == area


def _level(asked: str | None, area: str | None) -> str:
    """The level of the rows: as asked, never above the area read; by default one below it."""
    if asked is not None and asked not in LEVELS:
        raise ValidationFailed(f"Tingkat {asked!r} tidak dikenal; pilihan: {', '.join(LEVELS)}.")
    depth = 0 if area is None else LEVELS.index(_LEVEL_OF_LENGTH.get(len(area), "village")) + 1
    floor = min(depth, len(LEVELS) - 1)  # the area's own level, or the first for the nation
    if asked is None:
        return LEVELS[floor]
    return LEVELS[max(LEVELS.index(asked), max(depth - 1, 0))]


def _measures() -> tuple[Any, ...]:
    d = AidDistribution
    return (
        func.count(distinct(d.nik)),
        func.count(),
        cast(func.coalesce(func.sum(d.quantity), 0), BigInteger),
        cast(func.coalesce(func.sum(d.value_idr), 0), BigInteger),
    )


def realisation(
    session: Session,
    actor: User,
    *,
    program: str | None = None,
    region: str | None = None,
    level: str | None = None,
) -> InkindReport:
    """The realisation report within the reader's region (any role reads it: counts and
    values, no person named)."""
    authorize(actor, Action.READ)
    area = reading_area(actor, region)
    rows_level = _level(level, area)
    found = catalogue(session)
    if program is not None and program not in found.programs:
        raise NotFound(f"Program bantuan barang '{program}' tidak ada.")
    d = AidDistribution
    where = [in_area(area)]
    if program is not None:
        where.append(d.program_code == program)
    column = _COLUMNS[rows_level]
    grouped = session.execute(
        select(d.program_code, column, *_measures())
        .where(*where)
        .group_by(d.program_code, column)
        .order_by(d.program_code, column)
    ).all()
    names = region_names(session, actor, codes={str(r[1]) for r in grouped})
    rows = [
        ReportRow(str(p), str(code), names.get(str(code), ""), int(a), int(b), int(c), int(v))
        for p, code, a, b, c, v in grouped
    ]
    per_program = {
        str(p): Counts(int(a), int(b), int(c), int(v))
        for p, a, b, c, v in session.execute(
            select(d.program_code, *_measures()).where(*where).group_by(d.program_code)
        ).all()
    }
    persons, distributions, quantity, value = session.execute(
        select(*_measures()).where(*where)
    ).one()
    items = [
        ItemRow(
            str(p),
            str(i),
            found.items[str(i)].label,
            found.items[str(i)].unit,
            int(a),
            int(b),
            int(c),
            int(v),
        )
        for p, i, a, b, c, v in session.execute(
            select(d.program_code, d.item_code, *_measures())
            .where(*where)
            .group_by(d.program_code, d.item_code)
            .order_by(d.program_code, d.item_code)
        ).all()
    ]
    return InkindReport(
        level=rows_level,
        region=area,
        program=program,
        persons=int(persons),
        distributions=int(distributions),
        quantity=int(quantity),
        value_idr=int(value),
        programs=per_program,
        rows=rows,
        items=items,
        labels=dict(LABELS),
    )
