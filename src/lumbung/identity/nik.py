"""NIK and KK checks for one record at a time, on top of lokal-id's parser.

The import checks the same rules set-based in SQL (registry/checks.py); a test holds the two
to the same verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lokal import parse_nik
from lokal.wilayah import wilayah_name

from lumbung.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class IdentityIssue:
    code: str
    message: str
    severity: str = "error"


def _nik_year(yy: int, birth_date: date | None, as_of: date) -> int:
    if birth_date is not None and birth_date.year % 100 == yy:
        return birth_date.year
    return 2000 + yy if yy <= as_of.year % 100 else 1900 + yy


def check_nik(
    nik: str, *, birth_date: date | None = None, sex: str | None = None, as_of: date | None = None
) -> list[IdentityIssue]:
    """Every problem with a NIK, given the member's birth date and sex when known."""
    as_of = as_of or date.today()
    if len(nik) != 16 or not nik.isdigit():
        return [IdentityIssue("invalid_nik", "NIK harus tepat 16 digit angka.")]
    info = parse_nik(nik, lookup_wilayah=wilayah_name, reference_date=as_of)
    codes = {issue.code for issue in info.errors}
    if "province" in codes:
        return [
            IdentityIssue(
                "nik_unknown_province", f"Dua digit awal NIK ({nik[:2]}) bukan kode provinsi."
            )
        ]
    # About the region code alone, so reported alongside any error below (as the import does).
    region = (
        [
            IdentityIssue(
                "nik_region_unknown",
                "Kode kabupaten/kecamatan NIK tidak ada di daftar wilayah terbaru.",
                severity="warning",
            )
        ]
        if info.warnings or "wilayah" in codes
        else []
    )
    day = int(nik[6:8])
    nik_sex = "P" if day > 40 else "L"
    day = day - 40 if day > 40 else day
    month, yy = int(nik[8:10]), int(nik[10:12])
    try:
        nik_birth = date(_nik_year(yy, birth_date, as_of), month, day)
    except ValueError:
        nik_birth = None
    if nik_birth is None or nik_birth > as_of:
        return [
            IdentityIssue(
                "nik_invalid_date", "Tanggal lahir dalam NIK tidak valid atau di masa depan."
            ),
            *region,
        ]
    if nik[12:] == "0000":
        return [
            IdentityIssue("nik_serial", "Nomor urut NIK (4 digit terakhir) tidak boleh 0000."),
            *region,
        ]
    issues = []
    if (
        birth_date is not None
        and sex in ("L", "P")
        and (
            (nik_birth.day, nik_birth.month, yy, nik_sex)
            != (birth_date.day, birth_date.month, birth_date.year % 100, sex)
        )
    ):
        issues.append(
            IdentityIssue(
                "nik_mismatch",
                f"NIK menunjukkan lahir {nik_birth:%d-%m-%Y} jenis kelamin {nik_sex}, "
                f"data anggota: {birth_date:%d-%m-%Y} {sex}.",
            )
        )
    return issues + region


def require_kk(kk_number: str) -> None:
    """Refuse a KK number that cannot be one (a typo), saying so, before looking it up: "not
    found" would hide the typo. Echoed as typed: what is not a KK number reveals no family."""
    for issue in check_kk(kk_number):
        raise ValidationFailed(f"KK '{kk_number}' tidak sah: {issue.message}")


def check_kk(kk_number: str) -> list[IdentityIssue]:
    """Problems with a family card number: 16 digits, a known province, serial not 0000."""
    from lokal import PROVINCES

    if (
        len(kk_number) != 16
        or not kk_number.isdigit()
        or kk_number[:2] not in PROVINCES
        or kk_number[12:] == "0000"
    ):
        return [
            IdentityIssue(
                "invalid_kk",
                "Nomor KK harus 16 digit dengan kode provinsi yang dikenal "
                "dan nomor urut bukan 0000.",
            )
        ]
    return []
