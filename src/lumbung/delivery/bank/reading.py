"""What the status readers share: the result of reading a file (its rows streamed, its
problems collected as they are met) and the checks of one value, in the words of the
operator who reads the problem list."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lumbung.delivery.outcomes import OutcomeRow, problem

# A bank's word for an outcome → Lumbung's: English, Indonesian, and ISO 20022 status codes
# (ACSC settlement completed, ACCC credited to the creditor's account: paid; RJCT: failed).
STATUSES = {
    "paid": "paid",
    "berhasil": "paid",
    "sukses": "paid",
    "acsc": "paid",
    "accc": "paid",
    "failed": "failed",
    "gagal": "failed",
    "rjct": "failed",
    "returned": "returned",
    "retur": "returned",
    "dikembalikan": "returned",
}
# ISO 20022 statuses that are not an outcome yet (received, accepted, pending…): skipped.
NOT_FINAL = {"rcvd", "actc", "accp", "acsp", "acwc", "acwp", "pdng", "part", "acfc", "stle"}

ENTITLEMENT = re.compile(r"\d{1,18}-\d{1,18}")
ATTEMPT = re.compile(r"(\d{1,18}-\d{1,18})-\d{1,9}")
# Whole rupiah: digits, optionally with a zero fraction (`300000`, `300000.00`; XML decimals
# have no thousands separators, so `300000.000` is whole rupiah there).
AMOUNT = re.compile(r"(\d{1,15})(?:\.0{1,5})?")


@dataclass(slots=True)
class StatusRead:
    """A status file being read: iterate `rows()` once; `problems` (each row the reader
    refused, with file, row, column, code and message) and the counts are complete when the
    rows are exhausted."""

    file: str
    format: str  # pain.002.001.NN or csv
    _rows: Callable[[StatusRead], Iterator[OutcomeRow]]
    problems: list[dict[str, Any]] = field(default_factory=list)
    read: int = 0  # rows handed on
    skipped: int = 0  # rows with a status that is not an outcome yet (pain.002: ACSP, PDNG…)

    def rows(self) -> Iterator[OutcomeRow]:
        return self._rows(self)

    def refuse(self, row: int, column: str, code: str, message: str) -> None:
        self.problems.append(problem(self.file, row, column, code, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "read": self.read,
            "skipped": self.skipped,
            "rejected": len(self.problems),
            "problems": self.problems,
        }


def shown(value: str, limit: int = 40) -> str:
    return repr(value[:limit] + ("…" if len(value) > limit else ""))


def check_ids(
    read: StatusRead, row: int, end_to_end: str | None, instruction: str | None
) -> tuple[str, str | None] | None:
    """The row's end-to-end and instruction ids when both are Lumbung's ids (the first derived
    from the second when missing); None, with the problem noted, when not."""
    if instruction:
        attempt = ATTEMPT.fullmatch(instruction)
        if attempt is None:
            read.refuse(
                row,
                "instruction_id",
                "unknown_id",
                f"Id instruksi {shown(instruction)} bukan id pembayaran Lumbung "
                "(SIKLUS-PENERIMA-PERCOBAAN, mis. 12-3456-1).",
            )
            return None
        if not end_to_end or attempt.group(1) == end_to_end:
            return attempt.group(1), instruction  # the entitlement's shape checked with it
        if attempt.group(1) != end_to_end:
            read.refuse(
                row,
                "instruction_id",
                "unknown_id",
                f"Id instruksi {shown(instruction)} bukan percobaan dari id end-to-end "
                f"{shown(end_to_end)}.",
            )
            return None
    if not end_to_end:
        read.refuse(row, "end_to_end_id", "missing_value", "Id end-to-end kosong.")
        return None
    if not ENTITLEMENT.fullmatch(end_to_end):
        read.refuse(
            row,
            "end_to_end_id",
            "unknown_id",
            f"Id end-to-end {shown(end_to_end)} bukan id hak Lumbung (SIKLUS-PENERIMA, "
            "mis. 12-3456).",
        )
        return None
    return end_to_end, instruction or None


def check_amount(read: StatusRead, row: int, value: str | None) -> tuple[bool, int | None]:
    """(ok, whole rupiah or None when not given)."""
    if not value:
        return True, None
    if value.isascii() and value.isdigit() and len(value) <= 15:  # the common case
        return True, int(value)
    if not value.strip():
        return True, None
    found = AMOUNT.fullmatch(value.strip())
    if found is None:
        read.refuse(
            row,
            "amount_idr",
            "bad_amount",
            f"Jumlah {shown(value, 20)} bukan rupiah bulat: tulis angka saja tanpa pemisah "
            "ribuan dan tanpa sen, mis. 300000.",
        )
        return False, None
    return True, int(found.group(1))
