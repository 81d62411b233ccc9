"""The accepted rows of an in-kind import loaded: one import row, the distributions, and one
audit event with their count, value, programs and the sha256 of their canonical lines."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import insert
from sqlalchemy.orm import Session

from lumbung.aid.matching import Registered
from lumbung.aid.models import AidDistribution, AidImport
from lumbung.aid.rows import DistributionRow
from lumbung.audit import service as audit
from lumbung.auth.models import User


def rows_digest(rows: Iterable[DistributionRow]) -> str:
    """The sha256 of the rows' canonical lines, sorted: what the audit event vouches for."""
    lines = sorted(
        "|".join(
            (
                r.program,
                r.nik,
                r.item,
                r.distributed_on.isoformat(),
                str(r.quantity),
                str(r.unit_value_idr),
                r.village_code,
            )
        )
        for r in rows
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def load(
    session: Session,
    actor: User,
    fresh: list[DistributionRow],
    registered: dict[str, Registered],
    file: str,
    sha256: str,
) -> int:
    digest = rows_digest(fresh)
    value = sum(r.value_idr for r in fresh)
    record = AidImport(
        file_name=file[:255],
        sha256=sha256,
        actor=actor.username,
        distributions=len(fresh),
        value_idr=value,
        rows_sha256=digest,
    )
    session.add(record)
    session.flush()
    values = []
    for r in fresh:
        person = registered.get(r.nik)
        home = person.village_code if person else r.village_code
        values.append(
            {
                "program_code": r.program,
                "item_code": r.item,
                "nik": r.nik,
                "name": r.name,
                "member_id": person.member_id if person else None,
                "quantity": r.quantity,
                "unit_value_idr": r.unit_value_idr,
                "value_idr": r.value_idr,
                "distributed_on": r.distributed_on,
                "village_code": r.village_code,
                "home_village_code": home,
                "district_code": home[:8],
                "regency_code": home[:5],
                "province_code": home[:2],
                "import_id": record.id,
            }
        )
    session.execute(insert(AidDistribution), values)
    programs: dict[str, int] = {}
    for r in fresh:
        programs[r.program] = programs.get(r.program, 0) + 1
    audit.record(
        session,
        actor=actor.username,
        action="aid.import",
        entity="aid_import",
        entity_id=record.id,
        diff={
            "file": file,
            "file_sha256": sha256,
            "distributions": len(fresh),
            "rows_sha256": digest,
            "value_idr": value,
            "in_registry": sum(1 for r in fresh if r.nik in registered),
            "programs": programs,
        },
    )
    return record.id
