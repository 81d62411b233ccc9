"""The checks of each family as a whole, once its rows have had theirs (registry/checks.py):
which households and members are new, unchanged or rejected (`hh_state`, `mb_state`); members
of a rejected household rejected with it; one head per family, counting the members the
registry already holds; and the accepted rows (`hh_new`, `mb_new`) and the duplicates loaded
for review (`review_nik`).
"""

from __future__ import annotations

import duckdb

from lumbung.registry import vocab
from lumbung.registry.check_sql import (
    HOUSEHOLD_VALUE_COLUMNS,
    MEMBER_VALUE_COLUMNS,
    CheckOptions,
    lit,
)


def check_families(con: duckdb.DuckDBPyConnection, o: CheckOptions) -> None:
    hf, mf = lit(o.households_file), lit(o.members_file)
    con.execute(f"""
        CREATE TEMP TABLE hh_state AS
        SELECT h._row, h.kk_number,
               CASE WHEN EXISTS (SELECT 1 FROM errors e WHERE e.file = {hf} AND e.row = h._row
                                 AND e.severity = 'error') THEN 'rejected'
                    WHEN EXISTS (SELECT 1 FROM hh_existing x WHERE x._row = h._row) THEN 'unchanged'
                    ELSE 'new' END AS state
        FROM hh h
    """)
    con.execute(f"""
        CREATE TEMP TABLE mb_state AS
        SELECT m._row, m.kk_number, m.nik, m.relationship,
               CASE WHEN EXISTS (SELECT 1 FROM errors e WHERE e.file = {mf} AND e.row = m._row
                                 AND e.severity = 'error') THEN 'rejected'
                    WHEN EXISTS (SELECT 1 FROM errors e WHERE e.file = {mf} AND e.row = m._row
                                 AND e.code = 'already_registered') THEN 'unchanged'
                    ELSE 'new' END AS state
        FROM mb m
    """)
    # Members of a rejected household go with it.
    con.execute(f"""
        INSERT INTO errors
        SELECT {mf}, m._row, 'kk_number', 'household_rejected',
               'Keluarga ' || m.kk_number || ' (baris ' || h._row || ' berkas households) ditolak.',
               'error'
        FROM mb_state m JOIN hh_state h ON h.kk_number = m.kk_number
        WHERE h.state = 'rejected' AND m.state = 'new'
          AND NOT EXISTS (SELECT 1 FROM hh_state g WHERE g.kk_number = m.kk_number
                          AND g.state <> 'rejected')
    """)
    con.execute("""
        UPDATE mb_state SET state = 'rejected' WHERE state = 'new' AND kk_number IN (
            SELECT kk_number FROM hh_state GROUP BY kk_number HAVING bool_and(state = 'rejected'))
    """)
    # Heads and members per family, counting members the registry already holds.
    head = lit(vocab.HEAD)
    con.execute(f"""
        CREATE TEMP TABLE family AS
        SELECT kk_number, sum(members) AS members, sum(heads) AS heads FROM (
            SELECT kk_number, count(*) AS members,
                   count(*) FILTER (WHERE relationship = {head}) AS heads
            FROM mb_state WHERE state IN ('new', 'unchanged') GROUP BY kk_number
            UNION ALL
            SELECT x.kk_number, count(*), count(*) FILTER (WHERE x.relationship = {head})
            FROM existing_mb x JOIN existing_hh h ON h.kk_number = x.kk_number
            WHERE NOT EXISTS (SELECT 1 FROM mb_state s WHERE s.nik = x.nik
                              AND s.kk_number = x.kk_number AND s.state = 'unchanged')
            GROUP BY x.kk_number)
        GROUP BY kk_number
    """)
    # A family whose head was in the batch but rejected is told so, with the head's row and
    # why: "no kepala_keluarga" alone sends the operator looking for a row that is there.
    con.execute(f"""
        INSERT INTO errors
        WITH rejected_head AS (
            SELECT m.kk_number, min(m._row) AS head_row FROM mb_state m
            WHERE m.state = 'rejected' AND m.relationship = {head} GROUP BY m.kk_number),
        why AS (
            SELECT r.kk_number, r.head_row,
                   string_agg(DISTINCT e.code, ', ' ORDER BY e.code) AS codes
            FROM rejected_head r JOIN errors e
              ON e.file = {mf} AND e.row = r.head_row AND e.severity = 'error'
            GROUP BY r.kk_number, r.head_row)
        SELECT {hf}, h._row, 'kk_number', code, msg, 'error' FROM (
            SELECT h._row, CASE WHEN coalesce(f.members, 0) = 0 THEN 'no_valid_members'
                                WHEN f.heads = 0 THEN 'no_head' ELSE 'multiple_heads' END AS code,
                   CASE WHEN coalesce(f.members, 0) = 0
                        THEN 'Semua anggota keluarga ini ditolak atau tidak ada.'
                        WHEN f.heads = 0 AND w.kk_number IS NOT NULL
                        THEN 'Kepala keluarga (' || {mf} || ' baris ' || w.head_row
                             || ') ditolak: ' || w.codes || '.'
                        WHEN f.heads = 0 THEN 'Tidak ada anggota dengan hubungan kepala_keluarga.'
                        ELSE 'Ada ' || f.heads || ' kepala_keluarga; harus tepat satu.' END AS msg
            FROM hh_state h LEFT JOIN family f ON f.kk_number = h.kk_number
                            LEFT JOIN why w ON w.kk_number = h.kk_number
            WHERE h.state = 'new' AND coalesce(f.heads, 0) <> 1) h
    """)
    con.execute(f"""
        INSERT INTO errors
        SELECT {mf}, m._row, 'relationship', 'multiple_heads',
               'Keluarga ' || m.kk_number || ' di registry sudah punya kepala_keluarga.', 'error'
        FROM mb_state m JOIN family f ON f.kk_number = m.kk_number
        WHERE m.state = 'new' AND m.relationship = {head} AND f.heads > 1
          AND m.kk_number NOT IN (SELECT kk_number FROM hh_state)
    """)
    con.execute(f"""
        UPDATE hh_state SET state = 'rejected' WHERE state = 'new' AND _row IN (
            SELECT row FROM errors WHERE file = {hf} AND severity = 'error')
    """)
    con.execute(f"""
        INSERT INTO errors
        SELECT {mf}, m._row, 'kk_number', 'household_rejected',
               'Keluarga ' || m.kk_number || ' (baris ' || h._row || ' berkas households) ditolak.',
               'error'
        FROM mb_state m JOIN hh_state h ON h.kk_number = m.kk_number
        WHERE h.state = 'rejected' AND m.state = 'new'
    """)
    con.execute(f"""
        UPDATE mb_state SET state = 'rejected' WHERE state = 'new' AND _row IN (
            SELECT row FROM errors WHERE file = {mf} AND severity = 'error')
    """)


def accepted_rows(con: duckdb.DuckDBPyConnection) -> None:
    hh_cols = ", ".join(f"h.{c}" for c in HOUSEHOLD_VALUE_COLUMNS)
    mb_cols = ", ".join(f"m.{c}" for c in MEMBER_VALUE_COLUMNS)
    con.execute(f"""
        CREATE TEMP VIEW hh_new AS
        SELECT h._row, {hh_cols} FROM hh h
        WHERE h._row IN (SELECT _row FROM hh_state WHERE state = 'new')
    """)
    con.execute(f"""
        CREATE TEMP VIEW mb_new AS
        SELECT m._row, {mb_cols} FROM mb m
        WHERE m._row IN (SELECT _row FROM mb_state WHERE state = 'new')
    """)
    con.execute("""
        CREATE TEMP TABLE review_nik AS
        SELECT DISTINCT e.row AS _row FROM errors e WHERE e.code = 'duplicate_allowed'
    """)
