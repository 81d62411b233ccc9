"""The review list of duplicate NIKs loaded with --allow-duplicates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize
from lumbung.registry.models import DuplicateReview, Household, Member


def open_reviews(session: Session, *, actor: User) -> list[dict[str, Any]]:
    """Open reviews where either family lies in the actor's region, oldest first."""
    authorize(actor, Action.READ)
    member, other = aliased(Member), aliased(Member)
    family, other_family = aliased(Household), aliased(Household)
    query = (
        select(
            DuplicateReview,
            family.kk_number,
            family.village_code,
            other_family.kk_number,
            other_family.village_code,
        )
        .join(member, member.id == DuplicateReview.member_id)
        .join(family, family.id == member.household_id)
        .outerjoin(other, other.id == DuplicateReview.other_member_id)
        .outerjoin(other_family, other_family.id == other.household_id)
        .where(DuplicateReview.state == "open")
        .order_by(DuplicateReview.id)
    )
    if actor.region_code is not None:
        scope = actor.region_code
        query = query.where(
            or_(
                family.village_code == scope,
                family.village_code.startswith(scope + "."),
                other_family.village_code == scope,
                other_family.village_code.startswith(scope + "."),
            )
        )
    return [
        {
            "id": review.id,
            "nik": review.nik,
            "member_id": review.member_id,
            "kk_number": kk,
            "village_code": village,
            "other_member_id": review.other_member_id,
            "other_kk_number": other_kk,
            "other_village_code": other_village,
            "import_batch_id": review.import_batch_id,
        }
        for review, kk, village, other_kk, other_village in session.execute(query)
    ]
