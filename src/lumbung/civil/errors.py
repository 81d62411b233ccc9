"""The row-level codes of a civil registry extract, and what each means (docs/ERRORS.md).

A problem is a `registry.errors.RowError` (file, row, column, code, message, severity), as a
batch's: the same reject file columns, the same lines on the command line and the pages."""

from __future__ import annotations

ERROR_CODES: dict[str, str] = {
    # the file as a whole: refused, nothing marked
    "file_unreadable": "not UTF-8 CSV, a quote never closed, or a line longer than 1 MB",
    "bad_header": "the header is not nik,kk_number,name,birth_place,birth_date,sex,death_date",
    "no_rows": "the file has a header and no rows",
    # a row: not used for matching (its NIK's member is left unmarked by this import)
    "field_count": "the row has more or fewer fields than the header",
    "required": "nik, kk_number, name, birth_date or sex is empty",
    "invalid_nik": "a NIK that is not 16 digits",
    "invalid_kk": "a KK number that is not 16 digits",
    "invalid_date": "a birth or death date that is not a real date written YYYY-MM-DD",
    "future_date": "a birth or death date after today",
    "death_before_birth": "the death date is before the birth date",
    "invalid_sex": "sex is not L or P",
    "control_character": "a control character or a bidirectional mark in a name or place",
    "too_long": "a name or birth place longer than 200 characters",
    "duplicate_nik": "the same NIK on more than one row of the extract (all of them refused)",
}
