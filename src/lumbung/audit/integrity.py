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

from lumbung import bulk
from lumbung.audit import keys, seal, tally
from lumbung.audit import service as audit
from lumbung.audit.keys import keyring
from lumbung.audit.models import AuditEvent
from lumbung.auth.models import User
from lumbung.auth.roles import Role
from lumbung.errors import Conflict, PermissionDenied
from lumbung.installation.datafolder import owned
from lumbung.numbers import grouped
from lumbung.releases.signing import signature_problems

MANIFEST = "manifest.json"


def ensure_key(session: Session, path: Path) -> keys.Key | None:
    """The key file of a new registry, made when there is none and the chain is still empty
    (for a registry with events, a missing key file is a loss to report, never to paper over)."""
    if path.exists() or audit.length(session):
        return None
    return keys.create(path)


def release_anchors(session: Session, data_dir: Path) -> tuple[list[audit.Anchor], list[str]]:
    """The chain's length and head recorded in each release manifest of the data folder; the
    manifests whose signature does not hold (not trusted as anchors), and releases the folder
    holds that the database no longer records (a `release` row deleted)."""
    from lumbung.releases.models import Release

    anchors: list[audit.Anchor] = []
    problems: list[str] = []
    releases = data_dir / "releases"
    if not releases.is_dir():
        return anchors, problems
    recorded = set(session.execute(select(Release.label)).scalars())
    for folder in sorted(releases.iterdir()):
        manifest = folder / MANIFEST
        if folder.name.startswith(".") or not manifest.is_file():
            continue
        body = manifest.read_bytes()
        if folder.name not in recorded:
            problems.append(
                f"rilis {folder.name}: ada di folder data tetapi tidak tercatat di database "
                "(sisa percobaan yang gagal, atau catatannya dihapus): periksa isinya, lalu "
                "pindahkan atau hapus folder itu"
            )
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
                    f"rilis {folder.name}",
                    events if isinstance(events, int) else None,
                    head,
                    followed=folder.name in recorded,
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


def _version_problems(session: Session, versions: dict[int, int]) -> list[str]:
    """Families whose version is older than the one their latest determination recorded: a
    row put back as it was before (its old seal still matches its old values)."""
    problems: list[str] = []
    table = seal.TABLES["household"]
    wanted = sorted(versions)
    for start in range(0, len(wanted), 10_000):
        part = wanted[start : start + 10_000]
        for family, version in session.execute(
            select(table.c.id, table.c.version).where(table.c.id.in_(part))
        ):
            if version < versions[family]:
                problems.append(
                    f"household id {family}: versi {version}, padahal rantai audit mencatat "
                    f"versi {versions[family]} (baris lama dipasang kembali di luar Lumbung)"
                )
    return problems


def verify(
    session: Session,
    *,
    data_dir: Path | None,
    expect_head: str | None = None,
    registry: bool = True,
    seals: bool = True,
) -> audit.ChainReport:
    """The chain (keyed hashes, links, anchors) and, unless `registry` is False, the registry
    against it: the families and members in each status and the families' versions, and
    (unless `seals` is False) every family and member row against its seal."""
    if registry:
        # The registry held still before the chain is read: the counts its events add up to
        # and the rows compared with them are of the same moment.
        bulk.lock_for_reading(session, tuple(seal.TABLES))
    anchors, problems = release_anchors(session, owned(session, data_dir)) if data_dir else ([], [])
    chain = audit.verify(session, expect_head=expect_head, anchors=anchors)
    problems = chain.problems + problems
    details: dict[str, Any] | None = None
    if registry:
        details = {}
        for name in seal.TABLES if seals else ():
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
        problems += _version_problems(session, chain.versions)
        problems += entitlement_problems(session)
    return audit.ChainReport(
        not problems, chain.events, chain.head, problems, chain.expected, details, chain.versions
    )


def entitlement_problems(session: Session, label: str | None = None) -> list[str]:
    """Each cycle's entitlement rows against what the keyed chain recorded when it ran (the
    number of beneficiaries and the total in rupiah): an amount changed, a row added or
    deleted in the database shows. (Two changes that cancel out in the total do not: the
    rows themselves are sealed with the delivery that pays them.)"""
    from lumbung.cycles.models import Cycle, Entitlement

    recorded: dict[str, tuple[Any, Any]] = {}
    query = select(AuditEvent.entity_id, AuditEvent.diff).where(AuditEvent.action == "cycle.run")
    if label is not None:
        query = query.where(AuditEvent.entity_id == label)
    for cycle_label, diff in session.execute(query.order_by(AuditEvent.id)):
        recorded[cycle_label] = (diff.get("beneficiaries"), diff.get("total_idr"))
    stored = (
        select(
            Cycle.label, func.count(Entitlement.beneficiary_id), func.sum(Entitlement.amount_idr)
        )
        .join(Entitlement, Entitlement.cycle_id == Cycle.id, isouter=True)
        .group_by(Cycle.label)
    )
    if label is not None:
        stored = stored.where(Cycle.label == label)
    problems = []
    for cycle_label, rows, total in session.execute(stored):
        if cycle_label in recorded and recorded[cycle_label] != (rows, int(total or 0)):
            want_rows, want_total = recorded[cycle_label]
            problems.append(
                f"siklus {cycle_label}: {rows} hak senilai Rp{grouped(int(total or 0))} di "
                f"database, menurut rantai audit {want_rows} senilai Rp{grouped(want_total)} "
                "(hak diubah, ditambah atau dihapus di luar Lumbung)"
            )
    return problems


def refuse_a_tampered_registry(session: Session, data_dir: Path) -> None:
    """Before a release freezes the registry: the chain, its anchors, the counts and versions
    as `audit verify` checks them (the rows' seals are checked as the release reads them)."""
    report = verify(session, data_dir=data_dir, seals=False)
    if not report.ok:
        raise Conflict(
            "Jejak audit atau registry tidak utuh; rilis tidak dibuat sebelum diperiksa: "
            + "; ".join(report.problems[:5]),
            details=[{"problem": p} for p in report.problems],
            command="lumbung audit verify",
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
