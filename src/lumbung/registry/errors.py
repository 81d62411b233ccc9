"""The stable error codes of a batch, what each means, and the row-level error record."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# code → (English gloss for docs and --lang en, whether it rejects the row)
ERROR_CODES: dict[str, str] = {
    # file level: the batch is refused whole and nothing is loaded
    "file_unreadable": "the file cannot be read as CSV/XLSX (encoding, quoting, missing sheet)",
    "missing_file": "the batch needs a households file and a members file",
    "missing_column": "a required column is absent from the header",
    "unknown_column": "a column that the format does not define (never silently dropped)",
    "duplicate_column": "the same column appears twice in the header",
    # row level
    "field_count": "the row has more or fewer fields than the header (an unquoted separator)",
    # cell level
    "required": "a required value is empty",
    "formula": "a cell that begins with = + - @ and is not a number (possible spreadsheet formula)",
    "invalid_value": "not one of the codes the column allows",
    "invalid_number": "not a number in Indonesian or plain notation",
    "ambiguous_number": "separators that can be read two ways, e.g. 23.393.366,000",
    "out_of_range": "a number or date outside the allowed range",
    "too_long": "text longer than the column allows",
    "control_character": "a control character (NUL, BEL, ESC, …) or a bidirectional mark in text",
    "invalid_format": "a value with the wrong shape (RT/RW, region code)",
    "numeric_id_cell": "an NIK or KK stored as a number in a spreadsheet (digits are lost)",
    "invalid_date": "not a date in YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY",
    "future_date": "a birth date after today",
    # identity
    "invalid_kk": "a family card number that is not 16 digits of a known province",
    "invalid_nik": "a NIK that is not 16 digits",
    "nik_unknown_province": "the NIK's first two digits are not a province",
    "nik_invalid_date": "the birth date inside the NIK does not exist or is in the future",
    "nik_serial": "the NIK's serial (last 4 digits) is 0000",
    "nik_mismatch": "the NIK's birth date or sex differs from the member's birth_date or sex",
    # registry and batch consistency
    "unknown_village": "the village code is not in the Kemendagri list",
    "out_of_scope": "the village lies outside the importing user's region",
    "duplicate_kk": "the family card number appears more than once in the batch",
    "kk_exists": "the family is already registered with different data (use a change request)",
    "household_locked": "members cannot be added by import to a verified or approved family",
    "duplicate_nik": "the NIK is active in another family or appears twice in the batch",
    "unknown_household": "the member's kk_number is in neither the batch nor the registry",
    "inconsistent": "values that contradict each other (severity without disability, pregnancy)",
    "no_head": "the household has no kepala_keluarga among its accepted members",
    "multiple_heads": "the household has more than one kepala_keluarga",
    "no_valid_members": "every member of the household was rejected",
    "household_rejected": "the member's household was rejected",
}

WARNING_CODES: dict[str, str] = {
    "nik_region_unknown": "the NIK's regency or district code is not in today's list "
    "(codes of issue survive splits and renumbering)",
    "already_registered": "the row is already in the registry exactly so; nothing to do",
    "duplicate_allowed": "a duplicate NIK loaded with --allow-duplicates; on the review list",
    "probable_duplicate": "with --link: the row is probably a person of the latest release "
    "(the matching engine's model, at its run's review weight); the matched family's KK in "
    "the importer's region, masked outside it; the pair goes to the linkage review queue",
}


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    row: int
    column: str
    code: str
    message: str
    severity: str = "error"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class BatchFileError(Exception):
    """A batch that cannot be read at all; nothing is loaded."""

    def __init__(self, errors: list[RowError], *, command: str | None = None) -> None:
        self.errors = errors
        # The command that helps, for the command line to add (`LumbungError.command`).
        self.command = command
        super().__init__("; ".join(f"{e.file} baris {e.row}: {e.message}" for e in errors))
