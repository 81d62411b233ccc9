"""The records a linkage compares: one row per person, the fields in the form the model reads.

Any source gives the same base columns (`BASE_COLUMNS`): a release's members with their
family's KK and place, a batch in the exchange format, another registry's export. From them
`records_sql` derives the comparison table (`RECORD_COLUMNS`): the canonical name and its
parts and sound keys (identity/names.py), the birth date and its parts, the NIK and what it
carries (region, birth date; women's day + 40), the KK, the place and the address's tokens.

Built in DuckDB always (a million records in seconds), then compared by DuckDB or Spark.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lumbung.identity.names import canonical_name_sql, sound_key_sql

# What every source provides (a missing field is NULL).
BASE_COLUMNS: dict[str, str] = {
    "record_id": "BIGINT",
    "household_id": "BIGINT",
    "name": "VARCHAR",
    "birth_date": "DATE",
    "nik": "VARCHAR",
    "sex": "VARCHAR",
    "kk_number": "VARCHAR",
    "village_code": "VARCHAR",
    "district_code": "VARCHAR",
    "rt": "VARCHAR",
    "rw": "VARCHAR",
    "address": "VARCHAR",
}

# The comparison table: what the settings' blocking rules and comparisons may name.
RECORD_COLUMNS: dict[str, str] = {
    "record_id": "BIGINT",
    "source": "VARCHAR",
    "household_id": "BIGINT",
    "name": "VARCHAR",  # canonical (identity.names.canonical_name)
    "name_tokens": "VARCHAR[]",
    "first_name": "VARCHAR",
    "last_name": "VARCHAR",  # NULL for a single name
    "first_key": "VARCHAR",  # sound key of the first word
    "last_key": "VARCHAR",  # sound key of the last word (the first, for a single name)
    "birth_date": "VARCHAR",  # YYYY-MM-DD
    "birth_year": "INTEGER",
    "birth_month": "INTEGER",
    "birth_day": "INTEGER",
    "nik": "VARCHAR",
    "nik_region": "VARCHAR",  # the first six digits: province, regency, district of issue
    "nik_birth": "VARCHAR",  # the birth date the NIK carries, DDMMYY, women's day less 40
    "nik_birth_agrees": "BOOLEAN",  # it is the record's birth date (NULL when either is)
    "sex": "VARCHAR",
    "kk_number": "VARCHAR",
    "village_code": "VARCHAR",
    "district_code": "VARCHAR",
    "rt": "VARCHAR",
    "rw": "VARCHAR",
    "dusun": "VARCHAR",  # the hamlet named in the address ("Dusun Krajan", "Dsn. Krajan")
    "address_tokens": "VARCHAR[]",
    # The family's other members (same household, else same KK): their birth dates, sorted;
    # NULL for a record alone on its card. A family registered again (moved, re-registered)
    # brings the same members: evidence beside the person's own fields, none of them repeated.
    "family_dates": "VARCHAR[]",
    "family_key": "VARCHAR",  # family_dates joined: equal when every other member's date is
    "family_size": "INTEGER",  # how many other members
}

# Address words that say nothing about where (they are in every address).
ADDRESS_STOP_WORDS = (
    "jl",
    "jln",
    "jalan",
    "gg",
    "gang",
    "rt",
    "rw",
    "no",
    "nomor",
    "desa",
    "kel",
    "kelurahan",
    "kec",
    "kecamatan",
    "kab",
    "kabupaten",
    "kota",
    "blok",
    "dusun",
    "dsn",
    "dukuh",
    "kampung",
    "kp",
)


def _digits(expr: str) -> str:
    return f"nullif(regexp_replace(trim({expr}), '[^0-9]', '', 'g'), '')"


def records_sql(base: str, source: str) -> str:
    """A SELECT of the comparison table from `base` (a relation with `BASE_COLUMNS`)."""
    stop = ", ".join(f"'{word}'" for word in ADDRESS_STOP_WORDS)
    quoted_source = source.replace("'", "''")
    return f"""
WITH named AS (
    SELECT *,
        nullif({canonical_name_sql("name")}, '') AS canonical,
        {_digits("nik")} AS nik_digits,
        regexp_replace(lower(coalesce(address, '')), '[^a-z0-9]+', ' ', 'g') AS address_words
    FROM {base}
), parted AS (
    SELECT *,
        string_split(canonical, ' ') AS tokens,
        CASE WHEN length(nik_digits) = 16 THEN nik_digits END AS nik16,
        list_sort(list_transform(list_filter(
            list(struct_pack(id := record_id, d := strftime(birth_date, '%Y-%m-%d')))
                OVER (PARTITION BY coalesce(CAST(household_id AS VARCHAR),
                    'kk' || {_digits("kk_number")}, 'record' || CAST(record_id AS VARCHAR))),
            lambda s: s.id IS DISTINCT FROM record_id AND s.d IS NOT NULL),
            lambda s: s.d)) AS others
    FROM named
)
SELECT
    CAST(record_id AS BIGINT) AS record_id,
    '{quoted_source}' AS source,
    CAST(household_id AS BIGINT) AS household_id,
    canonical AS name,
    tokens AS name_tokens,
    tokens[1] AS first_name,
    CASE WHEN len(tokens) > 1 THEN tokens[-1] END AS last_name,
    {sound_key_sql("tokens[1]")} AS first_key,
    {sound_key_sql("tokens[-1]")} AS last_key,
    strftime(birth_date, '%Y-%m-%d') AS birth_date,
    CAST(year(birth_date) AS INTEGER) AS birth_year,
    CAST(month(birth_date) AS INTEGER) AS birth_month,
    CAST(day(birth_date) AS INTEGER) AS birth_day,
    coalesce(nik16, nik_digits) AS nik,
    substr(nik16, 1, 6) AS nik_region,
    CASE WHEN nik16 IS NOT NULL THEN
        lpad(CAST(CAST(substr(nik16, 7, 2) AS INTEGER) % 40 AS VARCHAR), 2, '0')
        || substr(nik16, 9, 4) END AS nik_birth,
    CASE WHEN nik16 IS NOT NULL AND birth_date IS NOT NULL THEN
        CAST(substr(nik16, 7, 2) AS INTEGER) % 40 = day(birth_date)
        AND substr(nik16, 9, 4) = strftime(birth_date, '%m%y') END AS nik_birth_agrees,
    nullif(upper(trim(sex)), '') AS sex,
    {_digits("kk_number")} AS kk_number,
    {_digits("village_code")} AS village_code,
    coalesce({_digits("district_code")}, substr({_digits("village_code")}, 1, 6))
        AS district_code,
    lpad({_digits("rt")}, 3, '0') AS rt,
    lpad({_digits("rw")}, 3, '0') AS rw,
    nullif(regexp_extract(address_words, '\\b(dusun|dsn|dukuh)\\s+([a-z0-9]+)', 2), '')
        AS dusun,
    list_distinct(list_filter(string_split(trim(address_words), ' '),
        lambda w: length(w) > 1 AND w NOT IN ({stop}))) AS address_tokens,
    CASE WHEN len(others) > 0 THEN others END AS family_dates,
    CASE WHEN len(others) > 0 THEN array_to_string(others, ' ') END AS family_key,
    CAST(len(others) AS INTEGER) AS family_size
FROM parted
"""


def release_base_sql(release_dir: Path) -> str:
    """The base columns of a release's members (`record_id` = member id), as a relation.

    A member's place is its family's (the households table of the same release)."""
    members = str(release_dir / "members" / "**" / "*.parquet").replace("'", "''")
    households = str(release_dir / "households" / "**" / "*.parquet").replace("'", "''")
    return f"""(
SELECT m.id AS record_id, m.household_id, m.name, m.birth_date, m.nik, m.sex,
    coalesce(h.kk_number, m.kk_number) AS kk_number, h.village_code, h.district_code,
    h.rt, h.rw, h.address
FROM read_parquet('{members}', hive_partitioning = true) AS m
LEFT JOIN read_parquet('{households}', hive_partitioning = true) AS h ON h.id = m.household_id
)"""


def _date(expr: str) -> str:
    formats = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")
    tries = ", ".join(f"try_strptime(trim({expr}), '{f}')" for f in formats)
    return f"CAST(coalesce({tries}) AS DATE)"


def batch_base_sql(members_csv: Path, households_csv: Path | None = None) -> str:
    """The base columns of a batch in the exchange format (CSV), as a relation.

    `record_id` is the row's line in the members file (the header is line 1), as the import
    reports it; `household_id` is NULL (the batch's families have no id yet)."""
    members = str(members_csv).replace("'", "''")
    place = "NULL AS village_code, NULL AS district_code, NULL AS rt, NULL AS rw, NULL AS address"
    join = ""
    if households_csv is not None:
        households = str(households_csv).replace("'", "''")
        place = "h.village_code, NULL AS district_code, h.rt, h.rw, h.address"
        join = (
            f"LEFT JOIN read_csv('{households}', all_varchar = true, header = true) AS h "
            "ON h.kk_number = m.kk_number"
        )
    return f"""(
SELECT CAST(m.line AS BIGINT) AS record_id, CAST(NULL AS BIGINT) AS household_id, m.name,
    {_date("m.birth_date")} AS birth_date, m.nik, m.sex, m.kk_number, {place}
FROM (
    SELECT *, row_number() OVER () + 1 AS line
    FROM read_csv('{members}', all_varchar = true, header = true)
) AS m
{join}
)"""


def write_records(base: str, source: str, path: Path, *, con: Any = None) -> int:
    """Write the comparison table of `base` (a relation with `BASE_COLUMNS`) to `path`.

    Returns the number of records. `con` is a DuckDB connection (a new one when None)."""
    import duckdb

    connection = con if con is not None else duckdb.connect()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        connection.execute(
            f"COPY ({records_sql(base, source)}) TO '{_quoted_path(temporary)}' "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        temporary.replace(path)
        row = connection.execute(
            f"SELECT count(*) FROM read_parquet('{_quoted_path(path)}')"
        ).fetchone()
        return int(row[0]) if row else 0
    finally:
        if con is None:
            connection.close()


def _quoted_path(path: Path) -> str:
    return str(path).replace("'", "''")
