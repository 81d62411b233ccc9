"""The change requests a merge proposes, through the usual workflow (never applied here).

- A matched record whose name, NIK, birth date or sex differ: `update_member` of its registry
  family, one request per family naming each of its members that differ.
- A family of the export whose records are all new: `new_family` with the export's rows.
- A new record whose family's other records matched one registry family: `add_member` to it.
- Conflicting records, records outside the merger's region, and new records whose family
  matched several registry families or holds a conflicting record: no request (`note` says why).

Each request is proposed by the merging admin (`registry.proposals.propose` with the right
`MERGE_REGISTRY`), with the same checks as an operator's; one the checks refuse is noted, and
the merge goes on. As for a civil registry extract (civil/updates.py), at most `MAX_PROPOSALS`
requests are made per merge: the rest are noted as deferred and the next merge of the source
proposes them. A request is never made twice: `proposal_key` names what it does (the family and
the kind), and a merge of the same source that finds a request of that key still open (proposed
or verified) points to it instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.errors import LumbungError
from lumbung.linkage.merge_models import LinkMerge, LinkMergeRecord
from lumbung.registry.models import ChangeRequest
from lumbung.registry.proposals import propose
from lumbung.registry.vocab import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS

if TYPE_CHECKING:
    from lumbung.linkage.merge import SourceRecord

OPEN = ("proposed", "verified")
CHUNK = 1000
# Each proposal runs the workflow's checks on its family (seconds each on a loaded machine, as
# for civil registry imports: civil/updates.py); a merge makes at most this many.
MAX_PROPOSALS = 1_000
DEFERRED = (
    "Ditunda: satu penggabungan mengusulkan paling banyak {limit} perubahan; diusulkan oleh "
    "penggabungan sumber ini berikutnya."
)
OUTSIDE = "Di luar wilayah penggabung; tidak diusulkan."


@dataclass(slots=True)
class Proposed:
    """What the proposals came to: requests made now, and records by what became of them."""

    requests: int = 0
    open_records: int = 0
    refused_records: int = 0
    deferred_records: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class _Request:
    key: str
    kind: str
    payload: dict[str, Any]
    records: list[SourceRecord]
    kk_number: str | None = None
    base_version: int | None = None


def _cells(cells: dict[str, str], columns: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in cells.items() if k in columns and v != ""}


def _requests(records: list[SourceRecord]) -> list[_Request]:
    """The requests the records ask for, in the export's order; the records that ask for none
    get their note."""
    wanted: list[_Request] = []
    updates: dict[int, _Request] = {}
    families: dict[str, list[SourceRecord]] = {}
    for record in records:
        families.setdefault(record.kk_number, []).append(record)
        if record.outside:
            record.note = record.note or OUTSIDE
            continue
        if record.outcome != "matched" or not record.changes:
            continue
        assert record.household_id is not None
        request = updates.get(record.household_id)
        if request is None:
            request = _Request(
                f"update_member:{record.household_id}",
                "update_member",
                {"members": []},
                [],
                record.registry_kk,
                record.registry_version,
            )
            updates[record.household_id] = request
            wanted.append(request)
        request.payload["members"].append({"nik": record.registry_nik, "changes": record.changes})
        request.records.append(record)
    for kk, family in families.items():
        new = [r for r in family if r.outcome == "new" and not r.outside]
        if not new:
            continue
        if all(r.outcome == "new" for r in family):
            home = family[0].household
            if home is None or not kk:
                for record in new:
                    record.note = (
                        "Tidak ada baris keluarga dengan KK ini di ekspor; tidak diusulkan."
                    )
                continue
            wanted.append(
                _Request(
                    f"new_family:{kk}",
                    "new_family",
                    {
                        "household": _cells(home, HOUSEHOLD_COLUMNS),
                        "members": [_cells(r.cells, MEMBER_COLUMNS) for r in family],
                    },
                    new,
                )
            )
            continue
        homes = {
            (r.household_id, r.registry_kk, r.registry_version)
            for r in family
            if r.outcome == "matched"
        }
        if len(homes) != 1 or any(r.outcome == "conflicting" for r in family):
            for record in new:
                record.note = (
                    "Keluarganya cocok dengan beberapa keluarga registry atau memuat baris yang "
                    "konflik; tidak diusulkan."
                )
            continue
        household_id, registry_kk, version = homes.pop()
        for record in new:
            member = {**_cells(record.cells, MEMBER_COLUMNS), "kk_number": str(registry_kk)}
            wanted.append(
                _Request(
                    f"add_member:{household_id}:{record.nik}",
                    "add_member",
                    {"member": member},
                    [record],
                    registry_kk,
                    version,
                )
            )
    return wanted


def _open(session: Session, source: str, keys: list[str]) -> dict[str, int]:
    """proposal key → an open request a merge of `source` made under it."""
    found: dict[str, int] = {}
    for at in range(0, len(keys), CHUNK):
        for key, request_id in session.execute(
            select(LinkMergeRecord.proposal_key, LinkMergeRecord.change_request_id)
            .join(LinkMerge, LinkMerge.id == LinkMergeRecord.merge_id)
            .join(ChangeRequest, ChangeRequest.id == LinkMergeRecord.change_request_id)
            .where(
                LinkMerge.source == source,
                LinkMergeRecord.proposal_key.in_(keys[at : at + CHUNK]),
                ChangeRequest.state.in_(OPEN),
            )
            .order_by(LinkMergeRecord.id)
        ):
            if request_id is not None:
                found.setdefault(str(key), int(request_id))
    return found


def propose_records(
    session: Session,
    actor: User,
    records: list[SourceRecord],
    *,
    source: str,
    limit: int = MAX_PROPOSALS,
) -> Proposed:
    """Propose what the records ask for (module docstring); each record gets its request's
    key and id, or a note."""
    wanted = _requests(records)
    open_now = _open(session, source, sorted({w.key for w in wanted}))
    done = Proposed()
    for request in wanted:
        for record in request.records:
            record.proposal_key = request.key
        existing = open_now.get(request.key)
        if existing is not None:
            for record in request.records:
                record.change_request_id = existing
            done.open_records += len(request.records)
            continue
        if done.requests >= limit:
            for record in request.records:
                record.note = DEFERRED.format(limit=limit)
            done.deferred_records += len(request.records)
            continue
        try:
            with session.begin_nested():
                made = propose(
                    session,
                    actor=actor,
                    kind=request.kind,
                    payload=request.payload,
                    kk_number=request.kk_number,
                    base_version=request.base_version,
                    right=Action.MERGE_REGISTRY,
                )
        except LumbungError as refused:
            for record in request.records:
                record.note = f"Usulan tidak dibuat: {refused.message}"
            done.refused_records += len(request.records)
            continue
        open_now[request.key] = made.request.id
        done.requests += 1
        done.by_kind[request.kind] += 1
        for record in request.records:
            record.change_request_id = made.request.id
            record.proposed = True
    return done
