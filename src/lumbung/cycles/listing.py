"""Who is in a cycle: its beneficiaries, page by page, as far as the reader may see.

What a grievance officer or a district operator looks for before `lumbung explain`: the
families (or persons) of a cycle with their amounts. A reader with a region sees only the
families living there (by the registry's village of the family); NIKs are masked for
everyone (the KK number is the handle `explain` takes). Rows come in beneficiary order, which
the (cycle, beneficiary) key serves without a sort even for a national cycle.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action, in_scope
from lumbung.auth.service import authorize
from lumbung.cycles.models import Cycle, Entitlement, component_labels, components
from lumbung.errors import NotFound, PermissionDenied, ValidationFailed
from lumbung.identity import mask_id
from lumbung.registry.models import Household

MAX_PAGE = 1000


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
