"""Every check of a batch, set-based in DuckDB: cell checks, identity, duplicates, and then the
families as a whole (registry/family_checks.py).

Input tables (all VARCHAR cells, `_row` = the row number a spreadsheet shows):
  hh_src, mb_src       the two files
  ref_region           code, level of every Kemendagri region (from the operational DB)
  existing_hh          registry households whose kk_number is in the batch (typed)
  existing_mb          active registry members whose NIK or family is in the batch
  pre_errors           errors found while reading (e.g. numeric NIK cells in XLSX)
Output tables:
  errors               file, row, column, code, message, severity
  hh_new, mb_new       the accepted rows, typed, ready to load
  review_nik           NIKs loaded despite a duplicate (--allow-duplicates)
"""

from __future__ import annotations

import duckdb

from lumbung.registry.check_sql import (
    HOUSEHOLD_CELLS,
    HOUSEHOLD_VALUE_COLUMNS,
    MACROS,
    MEMBER_CELLS,
    MEMBER_VALUE_COLUMNS,
    Cell,
    CheckOptions,
    err,
    lit,
)
from lumbung.registry.family_checks import accepted_rows, check_families


def run_checks(con: duckdb.DuckDBPyConnection, options: CheckOptions) -> None:
    """Fill `errors`, `hh_new`, `mb_new` and `review_nik` from the input tables."""
    con.execute(MACROS)
    _household_cells(con, options)
    _member_cells(con, options)
    _member_rows(con, options)
    check_families(con, options)
    # A cell already known to be unreadable (an NIK stored as a number) needs no further
    # verdicts on the digits that are left of it, nor a row with a field too many or too few
    # on values that sit in the wrong columns (a stray comma in an address would otherwise
    # bury its own cause under a dozen "invalid value" errors); the row stays rejected by the
    # first.
    con.execute("""
        DELETE FROM errors e WHERE e.code NOT IN ('numeric_id_cell', 'field_count')
          AND EXISTS (
            SELECT 1 FROM pre_errors p WHERE p.file = e.file AND p.row = e.row
              AND (p.code = 'field_count'
                   OR (p.code = 'numeric_id_cell' AND p.column_name = e.column_name)))
    """)
    accepted_rows(con)


OUTSIDE = "Nomor KK sudah terdaftar di luar wilayah Anda; tidak bisa diimpor."


def _visible(village: str, o: CheckOptions) -> str:
    """SQL: whether a registered family's village lies in the importer's region. Of a family
    outside it, an import is told only that its KK is registered (`OUTSIDE`): not its state,
    not its members, not whether a row matches it."""
    if not o.scope:
        return "true"
    return f"({village} = {lit(o.scope)} OR starts_with({village}, {lit(o.scope + '.')}))"


def _kk_error(column: str) -> str:
    return (
        f"CASE WHEN NOT regexp_full_match({column}, '[0-9]{{16}}') OR {column}[13:16] = '0000' "
        f"OR {column}[1:2] NOT IN (SELECT code FROM ref_region WHERE level = 1) THEN "
        + err(
            "invalid_kk",
            lit(
                "Nomor KK harus 16 digit dengan kode provinsi yang dikenal "
                "dan nomor urut bukan 0000."
            ),
        )
        + " END"
    )


def _cell_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    src: str,
    cells: tuple[Cell, ...],
    extra_errors: dict[str, str],
) -> None:
    """`name` = typed values + one error column per cell (the first failing check)."""
    trimmed = ", ".join(f"NULLIF(trim({c.name}), '') AS {c.name}" for c in cells)
    all_null = " AND ".join(f"{c.name} IS NULL" for c in cells)
    errors = []
    for c in cells:
        base = c.error()
        if c.name in extra_errors:
            base = base.removesuffix(f" AS e_{c.name}")
            base = f"COALESCE({base}, {extra_errors[c.name]}) AS e_{c.name}"
        errors.append(base)
    typed = ", ".join(c.typed() for c in cells)
    # A row whose cells are all empty is no row at all (spreadsheets leave them behind).
    con.execute(
        f"CREATE TEMP TABLE {name} AS SELECT _row, {typed}, {', '.join(errors)} "
        f"FROM (SELECT _row, {trimmed} FROM {src}) WHERE NOT ({all_null})"
    )


def _unpivot_errors(
    con: duckdb.DuckDBPyConnection, table: str, cells: tuple[Cell, ...], file: str
) -> None:
    columns = ", ".join(f"e_{c.name}" for c in cells)
    con.execute(
        f"INSERT INTO errors SELECT {lit(file)}, _row, substr(col, 3), "
        "split_part(msg, '|', 1), substr(msg, strpos(msg, '|') + 1), 'error' "
        f"FROM (UNPIVOT (SELECT _row, {columns} FROM {table}) ON {columns} "
        "INTO NAME col VALUE msg)"
    )


def _household_cells(con: duckdb.DuckDBPyConnection, o: CheckOptions) -> None:
    con.execute(
        "CREATE TEMP TABLE errors (file VARCHAR, row BIGINT, column_name VARCHAR, "
        "code VARCHAR, message VARCHAR, severity VARCHAR)"
    )
    con.execute("INSERT INTO errors SELECT * FROM pre_errors")
    village_errors = (
        "CASE WHEN lb_region(village_code) NOT IN "
        "(SELECT code FROM ref_region WHERE level = 4) THEN "
        + err(
            "unknown_village",
            "'Kode desa ' || village_code || " + lit(" tidak ada dalam daftar wilayah Kemendagri."),
        )
        + (
            " WHEN NOT (lb_region(village_code) = $scope OR starts_with(lb_region(village_code), "
            "$scope || '.')) THEN "
            + err(
                "out_of_scope",
                "'Desa ' || lb_region(village_code) || "
                + lit(" di luar wilayah kewenangan pengguna."),
            )
            if o.scope
            else ""
        )
        + " END"
    )
    sql_scope = village_errors.replace("$scope", lit(o.scope) if o.scope else "NULL")
    _cell_table(
        con,
        "hh",
        "hh_src",
        HOUSEHOLD_CELLS,
        {"kk_number": _kk_error("kk_number"), "village_code": sql_scope},
    )
    _unpivot_errors(con, "hh", HOUSEHOLD_CELLS, o.households_file)
    f = lit(o.households_file)
    # Row-level checks across rows: the same KK twice, or a KK the registry already has.
    con.execute(f"""
        INSERT INTO errors
        SELECT {f}, _row, 'kk_number', 'duplicate_kk',
               'Nomor KK ' || kk_number || ' muncul lebih dari sekali dalam batch (juga baris '
               || CASE WHEN _row = lo THEN hi ELSE lo END || ').', 'error'
        FROM (SELECT _row, kk_number, min(_row) OVER w AS lo, max(_row) OVER w AS hi
              FROM hh WHERE e_kk_number IS NULL AND kk_number IN (
                  SELECT kk_number FROM hh GROUP BY kk_number HAVING count(*) > 1)
              WINDOW w AS (PARTITION BY kk_number))
    """)
    compared = [c for c in HOUSEHOLD_VALUE_COLUMNS if c != "kk_number"]
    same = " AND ".join(f"h.{c} IS NOT DISTINCT FROM x.{c}" for c in compared)
    # Which columns differ, named in the error: what the change request must then propose.
    differing = ", ".join(
        f"CASE WHEN h.{c} IS DISTINCT FROM x.{c} THEN '{c}' END" for c in compared
    )
    # Only of a family in the importer's region is anything told beyond "registered": whether
    # the row matches it, and which columns differ (else a batch of guesses, dry run after dry
    # run, would read a family of another region value by value).
    visible = _visible("x.village_code", o)
    con.execute(f"""
        CREATE TEMP TABLE hh_existing AS
        SELECT h._row, x.kk_number, x.status, {visible} AND ({same}) AS same,
               CASE WHEN {visible} THEN concat_ws(', ', {differing}) END AS differing
        FROM hh h JOIN existing_hh x ON x.kk_number = h.kk_number
    """)
    con.execute(f"""
        INSERT INTO errors
        SELECT {f}, _row, 'kk_number',
               CASE WHEN same THEN 'already_registered' ELSE 'kk_exists' END,
               CASE WHEN same THEN 'Keluarga ini sudah terdaftar dengan data yang sama; dilewati.'
                    WHEN differing IS NULL THEN {lit(OUTSIDE)}
                    ELSE 'Nomor KK sudah terdaftar dengan data berbeda (' || differing
                         || '); ajukan perubahan data (usulan perubahan), bukan impor.' END,
               CASE WHEN same THEN 'warning' ELSE 'error' END
        FROM hh_existing
    """)


def _nik_checks(o: CheckOptions) -> str:
    """The NIK's own checks, first failing one wins (format, province, date, serial, match)."""
    year = o.as_of.year
    day = "CAST(nik[7:8] AS INTEGER)"
    nik_day = f"(CASE WHEN {day} > 40 THEN {day} - 40 ELSE {day} END)"
    nik_sex = f"(CASE WHEN {day} > 40 THEN 'P' ELSE 'L' END)"
    yy = "CAST(nik[11:12] AS INTEGER)"
    nik_year = (
        f"(CASE WHEN birth_date IS NOT NULL AND year(birth_date) % 100 = {yy} "
        f"THEN year(birth_date) WHEN {yy} <= {year % 100} THEN 2000 + {yy} "
        f"ELSE 1900 + {yy} END)"
    )
    nik_date = f"try(make_date({nik_year}, CAST(nik[9:10] AS INTEGER), {nik_day}))"
    as_of = f"DATE '{o.as_of.isoformat()}'"
    return f"""CASE
        WHEN NOT regexp_full_match(nik, '[0-9]{{16}}') THEN
            {err("invalid_nik", "'NIK ' || lb_shown(nik) || ' harus tepat 16 digit angka.'")}
        WHEN nik[1:2] NOT IN (SELECT code FROM ref_region WHERE level = 1) THEN
            {
        err(
            "nik_unknown_province",
            "'Dua digit awal NIK (' || nik[1:2] || " + lit(") bukan kode provinsi."),
        )
    }
        WHEN {nik_date} IS NULL OR {nik_date} > {as_of} THEN
            {
        err(
            "nik_invalid_date",
            lit(
                "Tanggal lahir dalam NIK (digit 7–12, perempuan +40) "
                "tidak valid atau di masa depan."
            ),
        )
    }
        WHEN nik[13:16] = '0000' THEN
            {err("nik_serial", lit("Nomor urut NIK (4 digit terakhir) tidak boleh 0000."))}
        WHEN birth_date IS NOT NULL AND sex IN ('L', 'P') AND (
             {nik_day} <> day(birth_date) OR CAST(nik[9:10] AS INTEGER) <> month(birth_date)
             OR {yy} <> year(birth_date) % 100 OR {nik_sex} <> sex) THEN
            {
        err(
            "nik_mismatch",
            "'NIK menunjukkan lahir ' || strftime("
            + nik_date
            + ", '%d-%m-%Y') || ' jenis kelamin ' || "
            + nik_sex
            + " || ', data anggota: ' || strftime(birth_date, '%d-%m-%Y') || ' ' || sex || '.'",
        )
    }
        END"""


def _member_cells(con: duckdb.DuckDBPyConnection, o: CheckOptions) -> None:
    as_of = f"DATE '{o.as_of.isoformat()}'"
    birth = (
        f"CASE WHEN lb_date(birth_date) > {as_of} THEN "
        + err("future_date", lit("Tanggal lahir di masa depan."))
        + f" WHEN date_sub('year', lb_date(birth_date), {as_of}) > 120 THEN "
        + err("out_of_range", lit("Umur lebih dari 120 tahun."))
        + " END"
    )
    _cell_table(
        con,
        "mb",
        "mb_src",
        MEMBER_CELLS,
        {"kk_number": _kk_error("kk_number"), "birth_date": birth},
    )
    _unpivot_errors(con, "mb", MEMBER_CELLS, o.members_file)
    f = lit(o.members_file)
    con.execute(f"""
        INSERT INTO errors SELECT {f}, _row, 'nik', split_part(msg, '|', 1),
               substr(msg, strpos(msg, '|') + 1), 'error'
        FROM (SELECT _row, {_nik_checks(o)} AS msg FROM mb
              WHERE e_nik IS NULL AND e_birth_date IS NULL AND e_sex IS NULL)
        WHERE msg IS NOT NULL
    """)
    # The NIK's regency or district may be an old code: a warning, never a rejection.
    con.execute(f"""
        INSERT INTO errors SELECT {f}, _row, 'nik', 'nik_region_unknown',
               'Kode kabupaten/kecamatan NIK (' || nik[1:2] || '.' || nik[3:4] || '.' || nik[5:6]
               || ') tidak ada di daftar wilayah terbaru (mungkin kode lama sebelum pemekaran).',
               'warning'
        FROM mb WHERE e_nik IS NULL AND regexp_full_match(nik, '[0-9]{{16}}')
          AND nik[1:2] IN (SELECT code FROM ref_region WHERE level = 1)
          AND nik[1:2] || '.' || nik[3:4] || '.' || nik[5:6]
              NOT IN (SELECT code FROM ref_region WHERE level = 3)
    """)
    age = f"date_sub('year', birth_date, {as_of})"
    con.execute(f"""
        INSERT INTO errors SELECT {f}, _row, col, 'inconsistent', msg, 'error' FROM (
          SELECT _row, 'disability_severity' AS col,
                 'Tingkat disabilitas harus tidak_ada tepat bila jenis disabilitas '
                 || 'tidak_ada.' AS msg
          FROM mb WHERE e_disability IS NULL AND e_disability_severity IS NULL
            AND (disability = 'tidak_ada') <> (disability_severity = 'tidak_ada')
          UNION ALL
          SELECT _row, 'pregnant', 'Hamil hanya untuk perempuan berumur 10–55 tahun.'
          FROM mb WHERE e_pregnant IS NULL AND pregnant AND e_sex IS NULL AND e_birth_date IS NULL
            AND (sex <> 'P' OR {age} NOT BETWEEN 10 AND 55))
    """)


def _member_rows(con: duckdb.DuckDBPyConnection, o: CheckOptions) -> None:
    f = lit(o.members_file)
    # Where each member belongs: a family of this batch, or one the registry already has.
    con.execute(f"""
        CREATE TEMP TABLE mb_home AS
        SELECT m._row, m.kk_number, m.nik,
               m.kk_number IN (SELECT kk_number FROM hh) AS in_batch,
               x.status AS registry_status,
               x.kk_number IS NOT NULL AND NOT {_visible("x.village_code", o)} AS outside
        FROM mb m LEFT JOIN existing_hh x ON x.kk_number = m.kk_number
    """)
    # A member of a registered family outside the importer's region: that, and nothing more.
    con.execute(f"""
        INSERT INTO errors
        SELECT {f}, _row, 'kk_number', 'kk_exists', {lit(OUTSIDE)}, 'error'
        FROM mb_home WHERE outside
    """)
    con.execute(f"""
        INSERT INTO errors
        SELECT {f}, _row, 'kk_number', 'unknown_household',
               'Nomor KK ' || kk_number || ' tidak ada di berkas households maupun di registry.',
               'error'
        FROM mb_home WHERE NOT in_batch AND registry_status IS NULL
          AND _row NOT IN (SELECT row FROM errors WHERE file = {f} AND column_name = 'kk_number')
    """)
    # The same NIK in the same registry family is a row already loaded; what else of it
    # differs is said (an import does not change a registered member).
    member_differing = ", ".join(
        f"CASE WHEN m.{c} IS DISTINCT FROM x.{c} THEN '{c}' END"
        for c in MEMBER_VALUE_COLUMNS
        if c not in ("kk_number", "nik")
    )
    con.execute(f"""
        INSERT INTO errors
        SELECT {f}, _row, 'nik', 'already_registered',
               'Anggota ini sudah terdaftar pada keluarga yang sama; dilewati.'
               || CASE WHEN differing <> '' THEN ' Kolom yang berbeda tidak diubah oleh impor: '
                       || differing || ' (ajukan usulan update_member).' ELSE '' END, 'warning'
        FROM (SELECT m._row, concat_ws(', ', {member_differing}) AS differing
              FROM mb m JOIN existing_mb x ON x.nik = m.nik AND x.kk_number = m.kk_number
              WHERE {_visible("x.village_code", o)})
    """)
    con.execute(f"""
        INSERT INTO errors
        SELECT {f}, h._row, 'kk_number', 'household_locked',
               'Keluarga ' || h.kk_number || ' sudah berstatus ' || h.registry_status
               || '; anggota baru diajukan lewat usulan perubahan (add_member), bukan impor.',
               'error'
        FROM mb_home h WHERE h.registry_status IN ('verified', 'approved', 'inactive', 'rejected')
          AND NOT h.outside AND NOT EXISTS (SELECT 1 FROM existing_mb x
                          WHERE x.nik = h.nik AND x.kk_number = h.kk_number)
    """)
    dup_code = "'duplicate_allowed'" if o.allow_duplicates else "'duplicate_nik'"
    dup_severity = "'warning'" if o.allow_duplicates else "'error'"
    con.execute(f"""
        INSERT INTO errors
        SELECT {f}, _row, 'nik', {dup_code},
               'NIK ' || nik || ' juga ada pada keluarga KK ' || other_kk || ' (baris '
               || other_row || ' batch ini).', {dup_severity}
        FROM (SELECT _row, nik,
                     CASE WHEN _row = min(_row) OVER w THEN max(_row) OVER w
                          ELSE min(_row) OVER w END AS other_row,
                     CASE WHEN _row = min(_row) OVER w THEN arg_max(kk_number, _row) OVER w
                          ELSE arg_min(kk_number, _row) OVER w END AS other_kk
              FROM mb WHERE e_nik IS NULL AND nik IN (
                  SELECT nik FROM mb GROUP BY nik HAVING count(*) > 1)
              WINDOW w AS (PARTITION BY nik))
        UNION ALL
        SELECT {f}, m._row, 'nik', {dup_code},
               'NIK ' || m.nik || ' sudah aktif pada keluarga lain di registry ('
               || CASE WHEN {_visible("x.village_code", o)}
                       THEN 'KK ' || lb_mask_id(x.kk_number) || ', desa ' || x.village_code
                       ELSE 'di luar wilayah Anda' END || ').', {dup_severity}
        FROM mb m JOIN existing_mb x ON x.nik = m.nik AND x.kk_number <> m.kk_number
    """)
