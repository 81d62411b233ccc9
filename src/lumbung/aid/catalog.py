"""The in-kind programs and the item catalogue: reading them, and an admin adding an item."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.aid.models import AidItem, AidItemProgram, AidProgram
from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.errors import Conflict, NotFound, ValidationFailed
from lumbung.registry.check_sql import plain_text

ITEM_CODE = re.compile(r"[a-z][a-z0-9_]{1,39}")
MAX_UNIT_VALUE_IDR = 10_000_000_000  # Rp10 billion a unit: beyond it, a typo


@dataclass(frozen=True, slots=True)
class ProgramView:
    code: str
    name: str
    kind: str
    items: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "kind": self.kind, "items": self.items}


@dataclass(frozen=True, slots=True)
class ItemView:
    code: str
    label: str
    unit: str
    unit_value_idr: int
    programs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "unit": self.unit,
            "unit_value_idr": self.unit_value_idr,
            "programs": self.programs,
        }


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What an import checks rows against: programs, items and which program gives which."""

    programs: dict[str, str]
    items: dict[str, ItemView]
    links: frozenset[tuple[str, str]]  # (program, item)


def catalogue(session: Session) -> Catalogue:
    """The whole catalogue, in three small queries (reference data: no right needed to read it
    inside a service that checked its own)."""
    programs = dict(session.execute(select(AidProgram.code, AidProgram.name)).all())
    links = frozenset(
        (p, i)
        for i, p in session.execute(select(AidItemProgram.item_code, AidItemProgram.program_code))
    )
    items = {
        item.code: ItemView(
            item.code,
            item.label,
            item.unit,
            item.unit_value_idr,
            sorted(p for p, i in links if i == item.code),
        )
        for item in session.execute(select(AidItem).order_by(AidItem.code)).scalars()
    }
    return Catalogue(programs, items, links)


def list_programs(session: Session, actor: User) -> list[ProgramView]:
    """Every in-kind program with the items it gives; any reader."""
    authorize(actor, Action.READ)
    found = catalogue(session)
    kinds = dict(session.execute(select(AidProgram.code, AidProgram.kind)).all())
    return [
        ProgramView(code, name, kinds[code], sorted(i for p, i in found.links if p == code))
        for code, name in sorted(found.programs.items())
    ]


def list_items(session: Session, actor: User, *, program: str | None = None) -> list[ItemView]:
    """The catalogue's items (of one program, when named), by code; any reader."""
    authorize(actor, Action.READ)
    found = catalogue(session)
    if program is not None and program not in found.programs:
        raise NotFound(f"Program bantuan barang '{program}' tidak ada.")
    return [i for i in found.items.values() if program is None or program in i.programs]


def add_item(
    session: Session,
    *,
    actor: User,
    code: str,
    label: str,
    unit: str,
    unit_value_idr: int,
    programs: Iterable[str],
) -> ItemView:
    """Add an item to the catalogue: a national admin's act, recorded in the audit chain."""
    authorize(actor, Action.MANAGE_AID_ITEMS)
    require_national(actor, "mengubah katalog barang bantuan")
    if not ITEM_CODE.fullmatch(code):
        raise ValidationFailed(
            f"Kode barang {code!r}: huruf kecil, angka dan garis bawah, 2-40 karakter, diawali "
            "huruf (mis. kursi_roda_anak)."
        )
    label = plain_text(label, "Nama barang", limit=200)
    unit = plain_text(unit, "Satuan", limit=40)
    if isinstance(unit_value_idr, bool) or not 0 <= unit_value_idr <= MAX_UNIT_VALUE_IDR:
        raise ValidationFailed(
            "Nilai satuan harus bilangan bulat rupiah antara 0 dan 10.000.000.000."
        )
    chosen = sorted(set(programs))
    if not chosen:
        raise ValidationFailed("Sebutkan paling sedikit satu program yang memberikan barang ini.")
    found = catalogue(session)
    unknown = [p for p in chosen if p not in found.programs]
    if unknown:
        raise NotFound(
            f"Program tidak dikenal: {', '.join(unknown)}; pilihan: "
            f"{', '.join(sorted(found.programs))}."
        )
    if code in found.items:
        raise Conflict(f"Barang '{code}' sudah ada di katalog.")
    session.add(
        AidItem(
            code=code,
            label=label,
            unit=unit,
            unit_value_idr=unit_value_idr,
            created_by=actor.username,
        )
    )
    session.flush()
    session.add_all(AidItemProgram(item_code=code, program_code=p) for p in chosen)
    view = ItemView(code, label, unit, unit_value_idr, chosen)
    audit.record(
        session,
        actor=actor.username,
        action="aid.item_add",
        entity="aid_item",
        entity_id=code,
        diff=view.as_dict(),
    )
    return view
