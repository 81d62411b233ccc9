"""`audit verify` as a whole: the chain, its anchors outside the database, and the registry's
rows against the chain (seals and counts).

An intruder who can write to the database can change rows and events; without the key file
they cannot make the seals and hashes that go with them. What they can still do — delete the
newest events, delete or copy back whole rows — shows as a chain shorter than an anchor kept in
the data folder (each signed release manifest records the chain's length and head), or as
counts of families and members by status that differ from what the chain's events add up to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lumbung.audit import keys, seal, tally
from lumbung.audit import service as audit
from lumbung.audit.keys import keyring
from lumbung.audit.models import AuditEvent
from lumbung.auth.models import User
from lumbung.auth.roles import Role
from lumbung.errors import PermissionDenied
from lumbung.installation.datafolder import owned
from lumbung.releases.signing import signature_problems

MANIFEST = "manifest.json"


def ensure_key(session: Session, path: Path) -> keys.Key | None:
    """The key file of a new registry, made when there is none and the chain is still empty
    (for a registry with events, a missing key file is a loss to report, never to paper over)."""
    if path.exists() or audit.length(session):
        return None
    return keys.create(path)


def release_anchors(data_dir: Path) -> tuple[list[audit.Anchor], list[str]]:
    """The chain's length and head recorded in each release manifest of the data folder, and
    the manifests whose signature does not hold (not trusted as anchors)."""
    anchors: list[audit.Anchor] = []
    problems: list[str] = []
    releases = data_dir / "releases"
    if not releases.is_dir():
        return anchors, problems
    for folder in sorted(releases.iterdir()):
        manifest = folder / MANIFEST
        if folder.name.startswith(".") or not manifest.is_file():
            continue
        body = manifest.read_bytes()
        unsigned = signature_problems(folder, body)
        if unsigned:
            problems += [f"rilis {folder.name}: {p}" for p in unsigned]
            continue
        content: Any = json.loads(body)
        head = content.get("audit_head")
        events = content.get("audit_events")
        if isinstance(head, str):
            anchors.append(
                audit.Anchor(
                    f"rilis {folder.name}", events if isinstance(events, int) else None, head
                )
            )
    return anchors, problems


def counts(session: Session) -> dict[str, dict[str, int]]:
    """The registry's rows by table and status, as they are."""
    found: dict[str, dict[str, int]] = {}
    for name, table in seal.TABLES.items():
        rows = session.execute(select(table.c.status, func.count()).group_by(table.c.status))
        found[name] = {str(status): int(n) for status, n in rows if n}
    return found


def _count_problems(
    expected: dict[str, dict[str, int]], actual: dict[str, dict[str, int]]
) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(actual)):
        want, have = expected.get(table, {}), actual.get(table, {})
        for status in sorted(set(want) | set(have)):
            if want.get(status, 0) != have.get(status, 0):
                problems.append(
                    f"{table} berstatus {status}: {have.get(status, 0)} baris, menurut rantai "
                    f"audit {want.get(status, 0)} (baris ditambah, dihapus atau diubah statusnya "
                    "di luar Lumbung)"
                )
    return problems


def verify(
    session: Session,
    *,
    data_dir: Path | None,
    expect_head: str | None = None,
    registry: bool = True,
) -> audit.ChainReport:
    """The chain (keyed hashes, links, anchors) and, unless `registry` is False, every family
    and member row against its seal and the counts the chain adds up to."""
    anchors, problems = release_anchors(owned(session, data_dir)) if data_dir else ([], [])
    chain = audit.verify(session, expect_head=expect_head, anchors=anchors)
    problems = chain.problems + problems
    details: dict[str, Any] | None = None
    if registry:
        details = {}
        for name in seal.TABLES:
            report = seal.check_table(session, name)
            details[name] = {
                "rows": report.rows,
                "unsealed": report.unsealed,
                "altered": report.broken,
            }
            problems += report.examples
            more = report.unsealed + report.broken - len(report.examples)
            if more > 0:
                problems.append(f"{name}: {more} baris lain juga bermasalah")
        actual = counts(session)
        details["by_status"] = actual
        problems += _count_problems(chain.expected, actual)
    return audit.ChainReport(
        not problems, chain.events, chain.head, problems, chain.expected, details
    )


def seal_registry(session: Session, *, actor: User) -> dict[str, Any]:
    """Seal the rows that have no seal (a registry from before rows were sealed, migration
    0007) and take today's counts as the chain's opening balance. Refused while any sealed
    row does not match its seal: that would launder a direct edit."""
    if actor.role is not Role.ADMIN:
        raise PermissionDenied("Menyegel registry hanya oleh admin.")
    keyring()  # the key first: nothing is written without it
    for name in seal.TABLES:
        report = seal.check_table(session, name, limit=5)
        if report.broken:
            raise PermissionDenied(
                f"{report.broken} baris {name} tidak cocok dengan segelnya ("
                + "; ".join(report.examples)
                + "): periksa dulu, segel tidak menimpa perubahan di luar Lumbung."
            )
    connection = session.connection()
    sealed = {
        name: seal.reseal(connection, name, table.c.seal.is_(None))
        for name, table in seal.TABLES.items()
    }
    tally.take(session)  # the rows were counted, as they are, into the opening balance below
    opening = counts(session)
    # The events from before events were keyed: their number and head, vouched for by this
    # keyed event (a chain rewritten without the key cannot vouch for itself).
    legacy = (
        session.execute(
            select(func.max(AuditEvent.id)).where(AuditEvent.key_id.is_(None))
        ).scalar_one_or_none()
        or 0
    )
    legacy_head = (
        session.execute(select(AuditEvent.hash).where(AuditEvent.id == legacy)).scalar_one()
        if legacy
        else audit.GENESIS
    )
    audit.record(
        session,
        actor=actor.username,
        action=audit.LEGACY_VOUCHED,
        entity="registry",
        entity_id="*",
        diff={
            "sealed": sealed,
            "tally_reset": opening,
            "legacy_events": legacy,
            "legacy_head": legacy_head,
        },
    )
    return {"sealed": sealed, "by_status": opening}
