"""A family as the read services find it: its key facts (`FamilyRef`), checked against the
reader's region, read once per unit of work.

The writers (`proposals`, `workflow`) load a family as an ORM object (`proposals.family_in_scope`),
which they change. The readers (a family's page, its history, its benefits) need only its id,
KK, region, status and version: they read those as plain values (SQLAlchemy Core rows, no
ORM object), and remember them for the rest of the unit of work, so that a page showing a
family, its history and its benefits finds the family once. What is remembered is forgotten
at any flush or rollback of the session: a unit of work that writes reads the family again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import in_scope
from lumbung.errors import NotFound
from lumbung.identity.nik import require_kk
from lumbung.registry.models import Household

# session.info's key for the families read so far (KK → FamilyRef).
KNOWN_REFS = "family_ref_by_kk"


@dataclass(frozen=True, slots=True)
class FamilyRef:
    """A family's key facts, as read."""

    id: int
    kk_number: str
    village_code: str
    district_code: str
    regency_code: str
    province_code: str
    status: str
    status_reason: str | None
    version: int
    import_batch_id: int | None


REF_COLUMNS = tuple(FamilyRef.__dataclass_fields__)
_H = Household.__table__
# Built once: a statement made per call costs more CPU than PostgreSQL spends answering it.
_BY_KK = select(*(_H.c[c] for c in REF_COLUMNS)).where(_H.c.kk_number == bindparam("kk"))


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(KNOWN_REFS, None)


@event.listens_for(Session, "after_flush")
def _forget_after_flush(session: Session, _context: Any) -> None:
    session.info.pop(KNOWN_REFS, None)


def remember(session: Session, ref: FamilyRef) -> None:
    """Keep `ref` for the rest of the unit of work (until a flush or a rollback)."""
    session.info.setdefault(KNOWN_REFS, {})[ref.kk_number] = ref


def not_found(actor: User, kk_number: str) -> NotFound:
    """The answer for a KK that does not exist, or whose family lies outside the reader's region
    ("outside your region" would tell that it exists, and where)."""
    return NotFound(
        f"Keluarga dengan KK {kk_number} tidak ada di registry wilayah "
        f"{actor.region_code or 'nasional'}."
    )


def family_ref_in_scope(session: Session, actor: User, kk_number: str) -> FamilyRef:
    """The family with this KK, if the actor's region covers it (else NotFound, as for a KK
    that does not exist): read once per unit of work."""
    require_kk(kk_number)
    ref: FamilyRef | None = session.info.get(KNOWN_REFS, {}).get(kk_number)
    if ref is None:
        row = session.execute(_BY_KK, {"kk": kk_number}).one_or_none()
        if row is not None:
            ref = FamilyRef(*row)
            remember(session, ref)
    if ref is None or not in_scope(actor.region_code, ref.village_code):
        raise not_found(actor, kk_number)
    return ref
