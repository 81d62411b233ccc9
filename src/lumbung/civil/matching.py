"""The outcome of every registry member of the area an extract covers, in DuckDB.

Not the NIK alone. A member whose NIK is in the extract is that row's person when the name
(normalised, `identity.names.normalise_name`) or the birth date agrees (a date with day and
month swapped agrees here): then `deceased` when the row has a death date, `mismatched` when
any of name, birth date, sex or KK differs, else `matched`. Otherwise, an extract row of the
member's KK with the same normalised name and birth date, and a NIK no other member of the area
holds, is the person under another NIK (`mismatched`, field `nik`, `extract_nik` the likely
correct one; `deceased` when that row has a death date). A NIK in the extract whose row agrees
on neither name nor birth date is another person's: `mismatched` (NIK, and the fields that
differ), never deceased. Nothing of the above: `not_found`. A member whose NIK is on a row the
checks refused is left unmarked. The birth place is read but not compared: the registry does
not hold one.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lumbung import bulk
from lumbung.registry.models import Household, Member, household_in_area

REG_SCHEMA = pa.schema(
    [
        ("member_id", pa.int64()),
        ("household_id", pa.int64()),
        ("nik", pa.string()),
        ("name_norm", pa.string()),
        ("birth_date", pa.string()),
        ("sex", pa.string()),
        ("relationship", pa.string()),
        ("dukcapil_match", pa.bool_()),
        ("kk", pa.string()),
        ("version", pa.int64()),
        ("village_code", pa.string()),
        ("district_code", pa.string()),
        ("regency_code", pa.string()),
        ("province_code", pa.string()),
    ]
)
# The families whose members an extract marks: those in the registry's workflow (an exited or
# rejected family is not the registry's any more).
LIVE_FAMILIES = ("proposed", "verified", "approved")


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def load_registry(session: Session, con: duckdb.DuckDBPyConnection, area: str | None) -> int:
    """DuckDB table `reg`: the active members of live families in `area` (None: the nation),
    streamed from the database in chunks; the number of members."""
    m, h = Member, Household
    statement = (
        select(
            m.id,
            m.household_id,
            m.nik,
            m.name_normalised,
            m.birth_date,
            m.sex,
            m.relationship,
            m.dukcapil_match,
            h.kk_number,
            h.version,
            h.village_code,
            h.district_code,
            h.regency_code,
            h.province_code,
        )
        .join(h, h.id == m.household_id)
        .where(
            m.status == "active",
            # equalities, not IN: `stream_tuples` sends the statement as compiled
            or_(*(h.status == s for s in LIVE_FAMILIES)),
            household_in_area(area),
        )
    )
    con.execute(
        "CREATE TABLE reg_in (member_id BIGINT, household_id BIGINT, nik VARCHAR, "
        "name_norm VARCHAR, birth_date VARCHAR, sex VARCHAR, relationship VARCHAR, "
        "dukcapil_match BOOLEAN, kk VARCHAR, version BIGINT, village_code VARCHAR, "
        "district_code VARCHAR, regency_code VARCHAR, province_code VARCHAR)"
    )
    total = 0
    for rows in bulk.stream_tuples(session, statement):
        columns = list(zip(*rows, strict=True))
        arrays = [
            pa.array([int(v) for v in columns[0]], pa.int64()),
            pa.array([int(v) for v in columns[1]], pa.int64()),
            pa.array(columns[2], pa.string()),
            pa.array(columns[3], pa.string()),
            pa.array([str(v) for v in columns[4]], pa.string()),
            pa.array(columns[5], pa.string()),
            pa.array(columns[6], pa.string()),
            pa.array([_flag(v) for v in columns[7]], pa.bool_()),
            pa.array(columns[8], pa.string()),
            pa.array([int(v) for v in columns[9]], pa.int64()),
            *(pa.array(columns[i], pa.string()) for i in range(10, 14)),
        ]
        con.register("incoming", pa.table(arrays, schema=REG_SCHEMA))
        con.execute("INSERT INTO reg_in SELECT * FROM incoming")
        con.unregister("incoming")
        total += len(rows)
    con.execute(
        "CREATE TABLE reg AS SELECT * REPLACE (CAST(birth_date AS DATE) AS birth_date) FROM reg_in"
    )
    con.execute("DROP TABLE reg_in")
    return total


def _swapped(mine: str, theirs: str) -> str:
    return (
        f"({mine} <> {theirs} AND year({mine}) = year({theirs}) "
        f"AND month({mine}) = day({theirs}) AND day({mine}) = month({theirs}))"
    )


def match(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB table `outcome`: one row per member of `reg` the extract speaks for (see the
    module docstring), with the fields that differ, the extract's NIK when it is another, the
    death date, and `dukcapil_match` as it will be (true only for `matched`)."""
    # The person under another NIK: one row of the member's KK with the same name and birth
    # date whose NIK no member of the area holds (two such rows: not known which; none used).
    con.execute(
        "CREATE TABLE rescue AS SELECT r.member_id, any_value(e.nik) AS nik, "
        "any_value(e.sex) AS sex, any_value(e.death_date) AS death_date "
        "FROM reg r JOIN extract e ON e.kk = r.kk AND e.name_norm = r.name_norm "
        "AND e.birth_date = r.birth_date "
        "WHERE e.nik <> r.nik AND e.nik NOT IN (SELECT nik FROM reg) "
        "GROUP BY r.member_id HAVING count(*) = 1"
    )
    con.execute(
        "CREATE TABLE joined AS SELECT r.*, "
        "h.nik AS h_nik, h.kk AS h_kk, h.name_norm AS h_name, h.birth_date AS h_birth, "
        "h.sex AS h_sex, h.death_date AS h_death, "
        "s.nik AS s_nik, s.sex AS s_sex, s.death_date AS s_death, "
        "h.nik IS NOT NULL AND (h.name_norm = r.name_norm OR h.birth_date = r.birth_date "
        f"OR {_swapped('r.birth_date', 'h.birth_date')}) AS same "
        "FROM reg r LEFT JOIN extract h ON h.nik = r.nik "
        "LEFT JOIN rescue s ON s.member_id = r.member_id "
        "WHERE r.nik NOT IN (SELECT nik FROM refused_nik)"
    )
    # e_*: the extract row the member is compared with: the NIK's row when it is the person
    # (or when nothing better was found), else the row found by KK, name and birth date.
    con.execute(
        "CREATE TABLE compared AS SELECT *, "
        "CASE WHEN same OR s_nik IS NULL THEN h_nik ELSE s_nik END AS e_nik, "
        "CASE WHEN same OR s_nik IS NULL THEN h_name ELSE name_norm END AS e_name, "
        "CASE WHEN same OR s_nik IS NULL THEN h_birth ELSE birth_date END AS e_birth, "
        "CASE WHEN same OR s_nik IS NULL THEN h_sex ELSE s_sex END AS e_sex, "
        "CASE WHEN same OR s_nik IS NULL THEN h_kk ELSE kk END AS e_kk, "
        "CASE WHEN same OR s_nik IS NULL THEN h_death ELSE s_death END AS e_death "
        "FROM joined"
    )
    con.execute(
        "CREATE TABLE outcome AS SELECT member_id, household_id, "
        "CASE WHEN same THEN CASE WHEN e_death IS NOT NULL THEN 'deceased' "
        "  WHEN e_name <> name_norm OR e_birth <> birth_date OR e_sex <> sex OR e_kk <> kk "
        "  THEN 'mismatched' ELSE 'matched' END "
        "WHEN s_nik IS NOT NULL THEN CASE WHEN e_death IS NOT NULL THEN 'deceased' "
        "  ELSE 'mismatched' END "
        "WHEN h_nik IS NOT NULL THEN 'mismatched' ELSE 'not_found' END AS outcome, "
        "coalesce(NOT same AND e_nik IS NOT NULL, false) AS nik_differs, "
        "coalesce(e_name <> name_norm, false) AS name_differs, "
        "coalesce(e_birth <> birth_date, false) AS birth_date_differs, "
        f"coalesce({_swapped('birth_date', 'e_birth')}, false) AS birth_date_swapped, "
        "coalesce(e_sex <> sex, false) AS sex_differs, "
        "coalesce(e_kk <> kk, false) AS kk_differs, "
        "CASE WHEN NOT same AND s_nik IS NOT NULL THEN s_nik END AS extract_nik, "
        "CASE WHEN same OR s_nik IS NOT NULL THEN e_death END AS death_date, "
        "village_code, district_code, regency_code, province_code, "
        "dukcapil_match AS match_before, nik, relationship, kk, version "
        "FROM compared"
    )


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Members by outcome (every outcome named, zero where none)."""
    found = dict(con.execute("SELECT outcome, count(*) FROM outcome GROUP BY outcome").fetchall())
    return {o: int(found.get(o, 0)) for o in ("matched", "mismatched", "deceased", "not_found")}
