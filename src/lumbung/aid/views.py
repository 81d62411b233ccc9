"""Distributions, listed within the reader's region: a list of people, so every NIK is masked
for every reader (as a cycle's beneficiaries), and names for readers not entitled to
identities (auditors). A reader who has a person's NIK finds their distributions by it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.aid.models import AidDistribution
from lumbung.aid.report import in_area
from lumbung.auth.models import User
from lumbung.auth.roles import Action, entitled_to_identity
from lumbung.auth.service import authorize, reading_area
from lumbung.db import page_rows
from lumbung.errors import ValidationFailed
from lumbung.identity.masking import mask_id, mask_name
from lumbung.paging import Page, check_window


@dataclass(frozen=True, slots=True)
class DistributionView:
    id: int
    program: str
    item: str
    nik: str
    name: str
    in_registry: bool
    quantity: int
    unit_value_idr: int
    value_idr: int
    distributed_on: date
    village_code: str
    home_village_code: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_distributions(
    session: Session,
    actor: User,
    *,
    program: str | None = None,
    region: str | None = None,
    nik: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[DistributionView]:
    """Distributions within the reader's region, newest first."""
    authorize(actor, Action.READ)
    check_window(limit, offset)
    area = reading_area(actor, region)
    d = AidDistribution
    query = select(d).where(in_area(area))
    if program is not None:
        query = query.where(d.program_code == program)
    if nik is not None:
        if len(nik) != 16 or not nik.isdigit():
            raise ValidationFailed("NIK harus tepat 16 digit angka.")
        query = query.where(d.nik == nik)
    rows, total = page_rows(
        session,
        query.order_by(d.distributed_on.desc(), d.id.desc()),
        limit=limit,
        offset=offset,
    )
    named = entitled_to_identity(actor.role)
    items = [
        DistributionView(
            x.id,
            x.program_code,
            x.item_code,
            mask_id(x.nik, distinct=True),
            x.name if named else mask_name(x.name),
            x.member_id is not None,
            x.quantity,
            x.unit_value_idr,
            x.value_idr,
            x.distributed_on,
            x.village_code,
            x.home_village_code,
        )
        for (x,) in rows
    ]
    return Page(items, total, limit, offset)
