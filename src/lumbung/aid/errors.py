"""The row-level error codes of a distribution file, and what each means (docs/ERRORS.md).

A problem is a `registry.errors.RowError` (file, row, column, code, message, severity), as a
batch's: the same reject file, the same lines on the command line and the pages."""

from __future__ import annotations

ERROR_CODES: dict[str, str] = {
    # the file as a whole: refused, nothing loaded
    "file_unreadable": "not UTF-8 CSV, or a quote never closed",
    "bad_header": "the header is not exactly program,nik,name,item,quantity,unit_value_idr,"
    "date,village_code",
    "too_many_rows": "more rows (100,000) or bytes (32 MB) than one import takes",
    "no_rows": "the file has a header and no rows",
    # a row
    "field_count": "the row has more or fewer fields than the header",
    "required": "a required value is empty",
    "unknown_program": "the program is not one of the in-kind programs",
    "unknown_item": "the item is not in the catalogue",
    "item_not_in_program": "the item is in the catalogue but the program does not give it",
    "invalid_nik": "a NIK that is not 16 digits (and the other NIK checks of identity/nik.py)",
    "nik_unknown_province": "the NIK's first two digits are not a province",
    "nik_invalid_date": "the birth date inside the NIK does not exist or is in the future",
    "nik_serial": "the NIK's serial (last 4 digits) is 0000",
    "control_character": "a control character or a bidirectional mark in the name",
    "formula": "a name that begins with = + - @ (a spreadsheet formula)",
    "too_long": "a name longer than 200 characters",
    "invalid_quantity": "the quantity is not a whole number from 1 to 10,000",
    "invalid_amount": "the value per unit is not whole rupiah (digits only, at most 10 billion)",
    "invalid_date": "the date is not a real date written YYYY-MM-DD",
    "future_date": "the date is after today",
    "invalid_village": "the village code is not written PP.KK.CC.DDDD",
    "unknown_village": "the village code is not a village of the Kemendagri list",
    "out_of_scope": "the village, or the family of the registered person, lies outside the "
    "importer's region",
    "duplicate_row": "the same program, NIK, item and date appear earlier in the file",
    "distribution_exists": "already recorded with other values (name, quantity, value or "
    "village); not changed by an import",
}

WARNING_CODES: dict[str, str] = {
    "nik_region_unknown": "the NIK's regency or district code is not in today's list",
    "already_recorded": "the distribution is recorded exactly so; nothing to do",
}
