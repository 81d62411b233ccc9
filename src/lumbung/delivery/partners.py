"""Payment partners and which one serves a region (longest matching region code wins)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.errors import NotFound, ValidationFailed
from lumbung.payees.models import CHANNELS, Partner, PartnerRegion
from lumbung.regions.models import Region


@dataclass(frozen=True, slots=True)
class PartnerRow:
    code: str
    name: str
    channel: str
    file_format: str
    bic: str | None
    regions: list[str]  # region codes it serves for its channel ("" = national default)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "channel": self.channel,
            "file_format": self.file_format,
            "bic": self.bic,
            "regions": self.regions,
        }


def list_partners(session: Session, actor: User) -> list[PartnerRow]:
    """Every partner and the regions it serves."""
    authorize(actor, Action.READ)
    served: dict[str, list[str]] = {}
    for region in session.execute(select(PartnerRegion).order_by(PartnerRegion.region_code)):
        served.setdefault(region[0].partner_code, []).append(region[0].region_code)
    return [
        PartnerRow(p.code, p.name, p.channel, p.file_format, p.bic, served.get(p.code, []))
        for p in session.execute(select(Partner).order_by(Partner.channel, Partner.code)).scalars()
    ]


def get_partner(session: Session, code: str) -> Partner:
    partner = session.get(Partner, code)
    if partner is None:
        known = ", ".join(session.execute(select(Partner.code).order_by(Partner.code)).scalars())
        raise NotFound(f"Mitra pembayaran {code} tidak dikenal; yang ada: {known}.")
    return partner


def assign_region(
    session: Session, *, actor: User, channel: str, region_code: str, partner_code: str
) -> None:
    """Let `partner_code` serve `region_code` (and everything under it) for `channel`."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "menentukan mitra pembayaran per wilayah")
    if channel not in CHANNELS:
        raise ValidationFailed(f"Saluran {channel} tidak dikenal; pilihan: {', '.join(CHANNELS)}.")
    partner = get_partner(session, partner_code)
    if partner.channel != channel:
        raise ValidationFailed(
            f"Mitra {partner_code} melayani saluran {partner.channel}, bukan {channel}."
        )
    if region_code and session.get(Region, region_code) is None:
        raise NotFound(f"Wilayah {region_code} tidak ada.")
    row = session.get(PartnerRegion, (channel, region_code))
    before = row.partner_code if row else None
    if row is None:
        session.add(
            PartnerRegion(channel=channel, region_code=region_code, partner_code=partner_code)
        )
    else:
        row.partner_code = partner_code
    audit.record(
        session,
        actor=actor.username,
        action="delivery.partner_region",
        entity="partner_region",
        entity_id=f"{channel}:{region_code or '*'}",
        diff={"from": before, "to": partner_code},
    )


def partners_for(session: Session, channel: str, region_codes: Iterable[str]) -> dict[str, str]:
    """The partner serving each region for `channel`: the assignment of the longest code
    that contains it. Raises ValidationFailed for a region no assignment covers."""
    assigned = dict(
        session.execute(
            select(PartnerRegion.region_code, PartnerRegion.partner_code).where(
                PartnerRegion.channel == channel
            )
        ).all()
    )
    found: dict[str, str] = {}
    uncovered: list[str] = []
    for code in region_codes:
        parts = code.split(".")
        for n in range(len(parts), -1, -1):
            prefix = ".".join(parts[:n])
            if prefix in assigned:
                found[code] = assigned[prefix]
                break
        else:
            uncovered.append(code)
    if uncovered:
        raise ValidationFailed(
            f"Tidak ada mitra saluran {channel} untuk wilayah {', '.join(sorted(uncovered)[:10])}; "
            "tentukan mitra untuk wilayah itu atau mitra nasional.",
            command=f"lumbung delivery partner assign --channel {channel} --region KODE MITRA",
        )
    return found
