"""Loading a checked batch's accepted rows (registry/checks.py) into the registry, inside the
import's transaction: an `import_batch` row, ids reserved in file order, the households and
members bulk-copied from DuckDB with their seals computed on the way (`sealed_rows`), the
counters, the duplicate reviews, and one audit event.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.audit import service as audit
from lumbung.audit import tally
from lumbung.audit.keys import keyring
from lumbung.audit.seal import prepare_duckdb, seal_sql
from lumbung.auth.models import User
from lumbung.db import is_postgres, utcnow
from lumbung.identity.names import normalise_name_sql
from lumbung.registry.batch_files import Batch
from lumbung.registry.check_sql import (
    CODED_KINDS,
    HOUSEHOLD_CELLS,
    HOUSEHOLD_VALUE_COLUMNS,
    MEMBER_CELLS,
    MEMBER_VALUE_COLUMNS,
)
from lumbung.registry.import_run import ImportRequest, ImportSummary, Progress
from lumbung.registry.models import Household, ImportBatch, Member

HOUSEHOLD_TABLE: Table = Household.__table__  # type: ignore[assignment]
MEMBER_TABLE: Table = Member.__table__  # type: ignore[assignment]
LOAD_HOUSEHOLD = (
    "id",
    *HOUSEHOLD_VALUE_COLUMNS,
    "district_code",
    "regency_code",
    "province_code",
    "status",
    "import_batch_id",
    "version",
    "created_at",
    "updated_at",
    "seal",
)
LOAD_MEMBER = (
    "id",
    "household_id",
    *(c for c in MEMBER_VALUE_COLUMNS if c != "kk_number"),
    "name_normalised",
    "regency_code",
    "status",
    "version",
    "created_at",
    "updated_at",
    "seal",
)
# Loaded text columns that the checks confine to codes, digits and dates (a code list, RT/RW
# digits, a known village, a valid date; the KK and the NIK: 16 digits, `_kk_error` and
# `_nik_checks`), or that the import writes itself (region codes cut from the village's,
# status, stamps): nothing in them needs escaping on the way into PostgreSQL. Every other text
# column is escaped, a new one included, until it is named here.
CODED = frozenset(
    {c.name for c in (*HOUSEHOLD_CELLS, *MEMBER_CELLS) if c.kind in CODED_KINDS}
    | {"kk_number", "nik", "district_code", "regency_code", "province_code"}
    | {"status", "created_at", "updated_at", "seal"}
)


def sealed_rows(table: str, query: str, columns: tuple[str, ...]) -> str:
    """`query`'s rows with their seals, as `columns` (the last being the seal). Columns a new
    row leaves NULL (a status reason, a Dukcapil match) are sealed as NULL."""
    nulls = {
        "household": "CAST(NULL AS VARCHAR) AS status_reason",
        "member": "CAST(NULL AS BOOLEAN) AS dukcapil_match",
    }[table]
    chosen = ", ".join(f"q.{c}" for c in columns if c != "seal")
    return f"""
        SELECT {chosen}, {seal_sql(table, "q")} AS seal
        FROM (SELECT r.*, {nulls} FROM ({query}) r) q"""


def _stamp_sql(session: Session) -> str:
    now = utcnow()
    # What each dialect's DateTime column stores (SQLAlchemy's SQLite format has no zone).
    return now.isoformat(sep=" ") if is_postgres(session) else now.strftime("%Y-%m-%d %H:%M:%S.%f")


def load_accepted(
    session: Session,
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    request: ImportRequest,
    summary: ImportSummary,
    actor: User,
    scratch: Path,
    say: Progress,
) -> None:
    prepare_duckdb(con, keyring().current)  # the rows are sealed on their way (audit/seal.py)
    record = ImportBatch(
        sha256=batch.sha256,
        files=batch.sources,
        actor=actor.username,
        entry_status=request.status,
        summary={},
    )
    session.add(record)
    session.flush()
    summary.batch_id = record.id
    # Ids are given here, in file order, rather than by the tables' sequences in the order the
    # rows arrive: the rows can then travel unsorted (bulk.insert_from_duckdb).
    first_household = bulk.reserve_ids(session, "household", summary.households_accepted)
    first_member = bulk.reserve_ids(session, "member", summary.members_accepted)
    now = _stamp_sql(session)
    con.execute(
        "CREATE TABLE hh_ids AS SELECT _row, kk_number, village_code, "
        f"{int(first_household)} - 1 + row_number() OVER (ORDER BY _row) AS id FROM hh_new"
    )
    con.execute(
        f"CREATE TABLE mb_ids AS SELECT _row, {int(first_member)} - 1 + "
        "row_number() OVER (ORDER BY _row) AS id FROM mb_new"
    )
    values = ", ".join(f"h.{c}" for c in HOUSEHOLD_VALUE_COLUMNS)
    say("memuat keluarga")
    household_query = f"""
        SELECT i.id, {values}, h.village_code[1:8] AS district_code,
               h.village_code[1:5] AS regency_code, h.village_code[1:2] AS province_code,
               '{request.status}' AS status, {record.id} AS import_batch_id, 1 AS version,
               '{now}' AS created_at, '{now}' AS updated_at
        FROM hh_new h JOIN hh_ids i USING (_row)"""
    household_query = sealed_rows("household", household_query, LOAD_HOUSEHOLD)
    with bulk.deferred_indexes(session, HOUSEHOLD_TABLE, summary.households_accepted):
        bulk.insert_from_duckdb(
            session,
            con,
            household_query,
            "household",
            LOAD_HOUSEHOLD,
            scratch,
            unescaped=CODED,
        )
    say("memuat anggota")
    member_values = ", ".join(
        "CAST(m.birth_date AS VARCHAR) AS birth_date" if c == "birth_date" else f"m.{c}"
        for c in MEMBER_VALUE_COLUMNS
        if c != "kk_number"
    )
    member_query = f"""
        SELECT n.id, coalesce(i.id, x.id) AS household_id, {member_values},
               {normalise_name_sql("m.name")} AS name_normalised,
               coalesce(i.village_code, x.village_code)[1:5] AS regency_code,
               'active' AS status, 1 AS version, '{now}' AS created_at, '{now}' AS updated_at
        FROM mb_new m JOIN mb_ids n USING (_row)
                      LEFT JOIN hh_ids i ON i.kk_number = m.kk_number
                      LEFT JOIN existing_hh x ON x.kk_number = m.kk_number"""
    member_query = sealed_rows("member", member_query, LOAD_MEMBER)
    with bulk.deferred_indexes(session, MEMBER_TABLE, summary.members_accepted):
        bulk.insert_from_duckdb(
            session,
            con,
            member_query,
            "member",
            LOAD_MEMBER,
            scratch,
            unescaped=CODED,
        )
    tally.add(session, "household", request.status, summary.households_accepted)
    tally.add(session, "member", "active", summary.members_accepted)
    say("mencatat")
    if summary.duplicates_for_review and summary.members_accepted:
        _queue_reviews(session, con, record.id, first_member)
    counts = {
        k: v
        for k, v in summary.as_dict().items()
        if isinstance(v, int) and not isinstance(v, bool) and not k.startswith("reject_file")
    }
    record.summary = counts
    audit.record(
        session,
        actor=actor.username,
        action="registry.import",
        entity="import_batch",
        entity_id=record.id,
        diff={"sha256": batch.sha256, "files": batch.sources, "status": request.status, **counts},
    )


def _queue_reviews(
    session: Session, con: duckdb.DuckDBPyConnection, batch_id: int, first_member: int
) -> None:
    niks = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT m.nik FROM mb m JOIN review_nik r USING (_row)"
        ).fetchall()
    ]
    bulk.push_keys(session, "tmp_review_nik", niks)
    session.execute(
        text("""
        INSERT INTO duplicate_review (nik, member_id, other_member_id, import_batch_id, state,
                                      created_at)
        SELECT m.nik, m.id,
               (SELECT max(o.id) FROM member o
                WHERE o.nik = m.nik AND o.id < m.id AND o.status = 'active'),
               :batch, 'open', :now
        FROM member m
        WHERE m.id >= :first_member AND m.nik IN (SELECT k FROM tmp_review_nik)
          AND EXISTS (SELECT 1 FROM member o
                      WHERE o.nik = m.nik AND o.id < m.id AND o.status = 'active')
    """),
        {"batch": batch_id, "first_member": first_member, "now": utcnow()},
    )
    bulk.drop_temp(session, "tmp_review_nik")
