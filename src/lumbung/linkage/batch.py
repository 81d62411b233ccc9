"""Linking a batch before import: its members found among the latest release's, by the model.

`lumbung import --link` (and the API's and the web's import with `link`) and the dry check
`lumbung link batch DIR` run the import's checks, then link the batch's member rows against
the latest release (linkage/against_release.py) with the trained model of that release's
newest deduplication run, at that run's review weight:

- `link_checked_batch`, inside the import after its checks: every member row with a pair at
  or above the review weight gets the warning `probable_duplicate` (members file, its row,
  column `nik`) naming the matched family's KK and village when that family lies in the
  importer's region, the KK masked and no village otherwise (identity/masking.py). A warning
  never rejects a row. A row that is the matched member itself (the same NIK in the same
  family: a row already registered) is no duplicate of it and is not reported.
- `queue_batch_pairs`, after the accepted rows are loaded: each pair of a row, now a member,
  and its matched member goes to the review queue (`LinkPair`, with its waterfall) under a
  link run of its own (kind `link`, the model's hashes), unless the two members are already
  in the queue of any run or decided (`LinkDecision`): linking a batch again asks nothing
  twice. A link that queues nothing leaves no run. A dry run queues nothing.

The engine is loaded only when a batch is linked: an import without `--link` does none of it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import in_scope
from lumbung.db import utcnow
from lumbung.identity.masking import mask_id
from lumbung.linkage.against_release import Match, ReleaseModel, latest_release_model
from lumbung.linkage.models import LinkDecision, LinkPair, LinkRun
from lumbung.linkage.review import pair_region
from lumbung.registry.import_run import ImportRequest, ImportSummary
from lumbung.registry.models import Household, Member

SOURCE = "batch"  # the batch rows' source in the engine's files
CODE = "probable_duplicate"
COLUMN = "nik"  # the column the warning names: where the import's identity problems are
CHUNK = 1000
LINKAGE_DIR = "linkage"


@dataclass(frozen=True, slots=True)
class Matched:
    """A release member as the registry holds it now."""

    nik: str
    kk_number: str
    village_code: str


@dataclass(slots=True)
class BatchLinks:
    """What linking a batch found: the model used, and each row's probable duplicates."""

    model: ReleaseModel
    rows: int  # member rows linked
    matches: list[Match]  # by row, the strongest first; the row's own member left out
    members: dict[int, Matched]  # the matched members
    identities: dict[int, tuple[str, str]]  # row → (NIK, KK) as the batch has them
    folder: Path  # the engine's files of this link (in the import's scratch folder)
    data_dir: Path  # where a link run's folder goes
    run_id: int | None = None  # the link run that queued pairs, once queued
    pairs_queued: int = 0
    pairs_known: int = 0  # already in the queue (any run) or decided

    def queue(self, session: Session, *, actor: User, import_batch_id: int | None) -> None:
        queue_batch_pairs(session, self, actor=actor, import_batch_id=import_batch_id)

    @property
    def duplicate_rows(self) -> int:
        return len({m.record_id for m in self.matches})

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.model.release_label,
            "model_run": self.model.run_id,
            "review_weight": self.model.review_weight,
            "rows_linked": self.rows,
            "probable_duplicates": self.duplicate_rows,
            "pairs": len(self.matches),
            "link_run": self.run_id,
            "pairs_queued": self.pairs_queued,
            "pairs_known": self.pairs_known,
        }


def _batch_base() -> str:
    """The batch's member rows as the engine's base columns (linkage/records.py), from the
    import's checked tables: a row's place is its family's in the batch, else in the registry.
    `record_id` is the row number the import reports."""
    return """(
SELECT CAST(m._row AS BIGINT) AS record_id, CAST(NULL AS BIGINT) AS household_id, m.name,
    m.birth_date, m.nik, m.sex, m.kk_number,
    coalesce(h.village_code, x.village_code) AS village_code,
    CAST(NULL AS VARCHAR) AS district_code, coalesce(h.rt, x.rt) AS rt,
    coalesce(h.rw, x.rw) AS rw, coalesce(h.address, x.address) AS address
FROM mb AS m
LEFT JOIN (SELECT DISTINCT ON (kk_number) kk_number, village_code, rt, rw, address
           FROM hh ORDER BY kk_number, _row) AS h ON h.kk_number = m.kk_number
LEFT JOIN existing_hh AS x ON x.kk_number = m.kk_number
)"""


@dataclass(frozen=True, slots=True)
class ReleaseLinker:
    """What an import asked to link (`ImportRequest.link`) is given: the data folder (the link
    runs and their models) and the releases' folder."""

    data_dir: Path
    releases_dir: Path

    def link(
        self,
        session: Session,
        con: duckdb.DuckDBPyConnection,
        *,
        actor: User,
        members_file: str,
        scratch: Path,
    ) -> BatchLinks:
        return link_checked_batch(
            session, con, actor=actor, folders=self, members_file=members_file, scratch=scratch
        )


def link_checked_batch(
    session: Session,
    con: duckdb.DuckDBPyConnection,
    *,
    actor: User,
    folders: ReleaseLinker,
    members_file: str,
    scratch: Path,
) -> BatchLinks:
    """Link a checked batch (the import's DuckDB tables `mb`, `hh`, `existing_hh`) against the
    latest release and add a `probable_duplicate` warning to `errors` for each row that has a
    pair at or above the review weight. The caller is the import, which has checked the
    actor's right to import; the warnings show the actor only what their region allows."""
    from lumbung.linkage.against_release import link_against_release
    from lumbung.linkage.records import write_records

    model = latest_release_model(
        session, data_dir=folders.data_dir, releases_dir=folders.releases_dir
    )
    records = scratch / "batch-records.parquet"
    rows = write_records(_batch_base(), SOURCE, records, con=con)
    folder = scratch / "batch-link"
    found = link_against_release(model, records, source=SOURCE, folder=folder, scratch=scratch)
    matched_rows = sorted({m.record_id for m in found})
    identities = {
        int(row): (str(nik or "").strip(), str(kk or "").strip())
        for row, nik, kk in (
            con.execute(
                "SELECT _row, nik, kk_number FROM mb "
                "WHERE _row IN (SELECT unnest(CAST($rows AS BIGINT[])))",
                {"rows": matched_rows},
            ).fetchall()
            if matched_rows
            else []
        )
    }
    members = _members(session, {m.member_id for m in found})
    matches = [
        m
        for m in found
        if m.member_id in members
        # The row is this very member (registered already, the same NIK in the same family).
        and (members[m.member_id].nik, members[m.member_id].kk_number)
        != identities.get(m.record_id)
    ]
    links = BatchLinks(model, rows, matches, members, identities, folder, folders.data_dir)
    _warn(con, links, actor, members_file)
    return links


def _members(session: Session, ids: set[int]) -> dict[int, Matched]:
    """member id → its NIK, its family's KK and village, for the members among `ids`."""
    found: dict[int, Matched] = {}
    ordered = sorted(ids)
    for at in range(0, len(ordered), CHUNK):
        for member_id, nik, kk, village in session.execute(
            select(Member.id, Member.nik, Household.kk_number, Household.village_code)
            .join(Household, Household.id == Member.household_id)
            .where(Member.id.in_(ordered[at : at + CHUNK]))
        ):
            found[int(member_id)] = Matched(str(nik), str(kk), str(village))
    return found


def warning_message(links: BatchLinks, match: Match, others: int, actor: User) -> str:
    """What a row's `probable_duplicate` says: the matched family's KK and village in the
    reader's region, the KK masked (and no village) outside it."""
    member = links.members[match.member_id]
    if in_scope(actor.region_code, member.village_code):
        where = f"keluarga KK {member.kk_number}, desa {member.village_code}"
    else:
        where = f"keluarga KK {mask_id(member.kk_number)}, di luar wilayah Anda"
    more = f"; dan {others} kecocokan lain" if others else ""
    return (
        f"Kemungkinan orang yang sama dengan anggota {where} (rilis "
        f"{links.model.release_label}, bobot kecocokan {match.match_weight:.1f}{more}). "
        "Baris tidak ditolak; pasangan ini masuk antrean tinjauan pencocokan bila dimuat."
    )


def _warn(con: duckdb.DuckDBPyConnection, links: BatchLinks, actor: User, file: str) -> None:
    by_row: dict[int, list[Match]] = {}
    for match in links.matches:
        by_row.setdefault(match.record_id, []).append(match)
    if not by_row:
        return
    rows = sorted(by_row)
    messages = [warning_message(links, by_row[r][0], len(by_row[r]) - 1, actor) for r in rows]
    con.register(
        "probable_in",
        pa.table(
            {
                "file": [file] * len(rows),
                "row": pa.array(rows, type=pa.int64()),
                "column_name": [COLUMN] * len(rows),
                "code": [CODE] * len(rows),
                "message": messages,
                "severity": ["warning"] * len(rows),
            }
        ),
    )
    con.execute("INSERT INTO errors SELECT * FROM probable_in")
    con.unregister("probable_in")


def queue_batch_pairs(
    session: Session, links: BatchLinks, *, actor: User, import_batch_id: int | None
) -> BatchLinks:
    """Send each pair of a loaded row and its matched member to review, once (see the module
    docstring); the run that queued them recorded and audited. Inside the import's
    transaction, after its rows are loaded."""
    if not links.matches:
        return links
    loaded = _loaded_members(session, set(links.identities.values()))
    candidates: dict[tuple[int, int], Match] = {}
    for match in links.matches:
        member_id = loaded.get(links.identities.get(match.record_id, ("", "")))
        if member_id is None or member_id == match.member_id:
            continue  # a row not loaded (rejected): nothing to decide on yet
        low, high = sorted((member_id, match.member_id))
        kept = candidates.get((low, high))
        if kept is None or match.match_weight > kept.match_weight:
            candidates[(low, high)] = match
    if not candidates:
        return links
    known = _known(session, set(candidates))
    links.pairs_known = len(known)
    new = {key: m for key, m in candidates.items() if key not in known}
    if not new:
        return links
    villages = _villages(session, {i for key in new for i in key})
    run = _link_run(session, links, actor)
    session.flush()
    rows = []
    for (low, high), match in sorted(new.items()):
        if low not in villages or high not in villages:
            continue
        rows.append(_pair_row(run.id, low, high, villages, match))
    if rows:
        session.execute(insert(LinkPair), rows)
    run.pairs_queued = links.pairs_queued = len(rows)
    run.pairs_known = links.pairs_known
    run.state, run.finished_at = "finished", utcnow()
    links.run_id = run.id
    relative = Path(LINKAGE_DIR) / f"run-{run.id}"
    run.folder = str(relative)
    target = links.data_dir / relative
    shutil.rmtree(target, ignore_errors=True)  # a rolled-back run's folder of the same number
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(links.folder, target)
    audit.record(
        session,
        actor=actor.username,
        action="link.batch",
        entity="link_run",
        entity_id=run.id,
        diff={
            "release": links.model.release_label,
            "kind": "link",
            "model_run": links.model.run_id,
            "model_sha256": links.model.model_sha256,
            "review_weight": links.model.review_weight,
            "import_batch": import_batch_id,
            "records": links.rows,
            "pairs_queued": run.pairs_queued,
            "pairs_known": run.pairs_known,
        },
    )
    return links


def _link_run(session: Session, links: BatchLinks, actor: User) -> LinkRun:
    run = LinkRun(
        release_id=links.model.release_id,
        kind="link",
        review_weight=links.model.review_weight,
        folder="",
        actor=actor.username,
        started_at=utcnow(),
        state="running",
        records=links.rows,
        clusters=0,
        pairs_scored=len(links.matches),
        pairs_queued=0,
        pairs_known=0,
        settings_sha256=links.model.settings_sha256,
        model_sha256=links.model.model_sha256,
    )
    session.add(run)
    return run


def _loaded_members(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(NIK, KK) → the active member with that NIK in the family with that KK."""
    niks = sorted({nik for nik, _ in keys if nik})
    found: dict[tuple[str, str], int] = {}
    for at in range(0, len(niks), CHUNK):
        for member_id, nik, kk in session.execute(
            select(Member.id, Member.nik, Household.kk_number)
            .join(Household, Household.id == Member.household_id)
            .where(Member.nik.in_(niks[at : at + CHUNK]), Member.status == "active")
        ):
            if (nik, kk) in keys:
                found[(str(nik), str(kk))] = int(member_id)
    return found


def _known(session: Session, keys: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The pairs among `keys` already in the queue of any run, or decided."""
    ordered = sorted(keys)
    found: set[tuple[int, int]] = set()
    for at in range(0, len(ordered), CHUNK):
        chunk = ordered[at : at + CHUNK]
        for table in (LinkPair, LinkDecision):
            found.update(
                (int(low), int(high))
                for low, high in session.execute(
                    select(table.member_id_l, table.member_id_r).where(
                        tuple_(table.member_id_l, table.member_id_r).in_(chunk)
                    )
                )
            )
    return found


def _villages(session: Session, ids: set[int]) -> dict[int, str]:
    return {
        member_id: matched.village_code for member_id, matched in _members(session, ids).items()
    }


def _pair_row(
    run_id: int, low: int, high: int, villages: dict[int, str], match: Match
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "member_id_l": low,
        "member_id_r": high,
        "village_code_l": villages[low],
        "village_code_r": villages[high],
        "region_code": pair_region(villages[low], villages[high]),
        "match_weight": match.match_weight,
        "match_probability": match.match_probability,
        "waterfall": {
            "prior": match.prior_weight,
            "comparisons": [
                {"name": name, "level": match.levels[name], "weight": match.weights[name]}
                for name in match.levels
            ],
        },
        "state": "pending",
    }


def check_batch(
    session: Session,
    *,
    actor: User,
    paths: list[Path],
    rejects_dir: Path,
    folders: ReleaseLinker,
) -> ImportSummary:
    """The dry check (`lumbung link batch DIR`): the import's checks and the link against the
    latest release, nothing loaded and nothing queued; the import's summary, its `linkage` and
    its warnings saying which rows are probable duplicates. The import's own right is needed
    (the batch is read as an import would read it); the caller rolls back."""
    from lumbung.registry.importer import import_batch

    return import_batch(
        session,
        actor=actor,
        request=ImportRequest(paths=paths, rejects_dir=rejects_dir, dry_run=True, link=folders),
    )


def probable_duplicates(summary: ImportSummary) -> list[dict[str, Any]]:
    """The `probable_duplicate` warnings of an import's summary (those it lists)."""
    return [w for w in summary.warnings if w.get("code") == CODE]
