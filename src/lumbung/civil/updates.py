"""The change requests a civil registry import proposes, through the usual workflow.

A member the extract says died: `remove_member` with status `deceased`; a member not found in
it: `remove_member` with status `removed` (the verifier checks in the field before anything
changes); a member found under another NIK: `update_member` correcting the NIK. Each is
proposed by the importing user (`registry.proposals.propose` with the right `MATCH_CIVIL`), with
the same checks as an operator's proposal, verified by the regency and determined by the
ministry; nothing is applied here. A deceased or not-found head of family is followed by the
family's one spouse (`new_head`); without exactly one, the workflow's checks refuse the
proposal and the member's result says why (`note`), for an operator to propose by hand.

An import proposes at most `MAX_PROPOSALS` new requests (each runs the workflow's checks on
its family); the rest are noted as deferred, and the next import proposes them. Importing
again does not propose twice: a member with an open request of the same kind (a
removal, or a NIK correction) keeps it, and the result points to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.errors import LumbungError
from lumbung.registry.models import ChangeRequest
from lumbung.registry.proposals import propose
from lumbung.registry.vocab import HEAD

OPEN = ("proposed", "verified")
CHUNK = 2_000
# A proposal runs the workflow's checks on its family (the import's DuckDB pipeline, one family
# at a time: 3.7 s each on the loaded 2-core machine of benchmarks/README.md). An import
# proposes at most this many; the rest are noted as deferred and proposed by the next import
# (whose open ones are skipped).
MAX_PROPOSALS = 1_000
DEFERRED = (
    "Ditunda: satu impor mengusulkan paling banyak {limit} perubahan; diusulkan oleh impor "
    "ekstrak berikutnya."
)


@dataclass(frozen=True, slots=True)
class Proposed:
    """What became of one member's proposal: a request (new or already open), or a note."""

    member_id: int
    request_id: int | None
    note: str | None
    new: bool
    deferred: bool = False


def _chunks(values: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _open_requests(session: Session, households: list[int]) -> dict[tuple[int, str, str], int]:
    """(household, NIK, "remove" or "nik") → the id of an open request that already removes
    the member or corrects their NIK."""
    found: dict[tuple[int, str, str], int] = {}
    for chunk in _chunks(households):
        for request in session.execute(
            select(ChangeRequest)
            .where(
                ChangeRequest.household_id.in_(chunk),
                ChangeRequest.state.in_(OPEN),
                ChangeRequest.kind.in_(("remove_member", "update_member")),
            )
            .order_by(ChangeRequest.id)
        ).scalars():
            payload = request.payload or {}
            if request.kind == "remove_member":
                key = (request.household_id, str(payload.get("nik")), "remove")
                found.setdefault(key, request.id)
                continue
            for item in payload.get("members") or []:
                if isinstance(item, dict) and "nik" in (item.get("changes") or {}):
                    key = (request.household_id, str(item.get("nik")), "nik")
                    found.setdefault(key, request.id)
    return found


def _payload(row: dict[str, Any], import_id: int) -> tuple[str, str, dict[str, Any]]:
    """(kind, what, payload) of the member's proposal."""
    note = f"Padan Dukcapil, impor {import_id}"
    if row["outcome"] in ("deceased", "not_found"):
        deceased = row["outcome"] == "deceased"
        payload: dict[str, Any] = {
            "nik": row["nik"],
            "status": "deceased" if deceased else "removed",
            "reason": (
                f"{note}: meninggal {row['death_date']} menurut Dukcapil"
                if deceased
                else f"{note}: NIK tidak ditemukan di ekstrak Dukcapil; periksa di lapangan"
            ),
        }
        spouses = row["spouses"] or []
        if row["relationship"] == HEAD and len(spouses) == 1:
            payload["new_head"] = spouses[0]
        return "remove_member", "remove", payload
    return (
        "update_member",
        "nik",
        {"members": [{"nik": row["nik"], "changes": {"nik": row["extract_nik"]}}]},
    )


def candidates(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The members of `outcome` for whom a change is proposed, by family, with their family's
    KK and version and its spouses' NIKs."""
    result = con.execute(
        "SELECT o.member_id, o.household_id, o.outcome, o.nik, o.relationship, o.kk, "
        "o.version, o.extract_nik, CAST(o.death_date AS VARCHAR) AS death_date, "
        "(SELECT list(s.nik ORDER BY s.member_id) FROM reg s WHERE s.household_id = "
        "o.household_id AND s.relationship = 'istri_suami' AND s.member_id <> o.member_id) "
        "AS spouses FROM outcome o "
        "WHERE o.outcome IN ('deceased', 'not_found') OR o.extract_nik IS NOT NULL "
        "ORDER BY o.household_id, o.member_id"
    )
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def propose_updates(
    session: Session,
    actor: User,
    rows: list[dict[str, Any]],
    import_id: int,
    limit: int = MAX_PROPOSALS,
    progress: Callable[[int], None] | None = None,
) -> list[Proposed]:
    """Propose each member's change (see the module docstring), at most `limit` new ones;
    what became of each."""
    open_now = _open_requests(session, sorted({int(r["household_id"]) for r in rows}))
    done: list[Proposed] = []
    made_now = 0
    for n, row in enumerate(rows, start=1):
        kind, what, payload = _payload(row, import_id)
        member_id = int(row["member_id"])
        existing = open_now.get((int(row["household_id"]), str(row["nik"]), what))
        if existing is not None:
            done.append(Proposed(member_id, existing, None, False))
            continue
        if made_now >= limit:
            done.append(Proposed(member_id, None, DEFERRED.format(limit=limit), False, True))
            continue
        try:
            with session.begin_nested():
                made = propose(
                    session,
                    actor=actor,
                    kind=kind,
                    payload=payload,
                    kk_number=str(row["kk"]),
                    base_version=int(row["version"]),
                    right=Action.MATCH_CIVIL,
                )
        except LumbungError as refused:
            done.append(Proposed(member_id, None, f"Usulan tidak dibuat: {refused.message}", False))
            continue
        open_now[(int(row["household_id"]), str(row["nik"]), what)] = made.request.id
        made_now += 1
        done.append(Proposed(member_id, made.request.id, None, True))
        if progress is not None and n % 1000 == 0:
            progress(n)
    return done
