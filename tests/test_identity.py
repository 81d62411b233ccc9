"""NIK and KK checks, masking, name normalisation — and parity of the Python checks with the
set-based SQL pipeline that the import and the change requests run."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy.engine import Engine

from factories import household, kk, member, write_batch
from helpers import run_import
from lumbung.audit.keys import keyring
from lumbung.db import session_scope
from lumbung.identity import (
    IdentityIssue,
    check_kk,
    check_nik,
    mask_id,
    mask_name,
    normalise_name,
)
from lumbung.identity.masking import distinct_id_masker
from lumbung.identity.names import normalise_name_sql
from lumbung.registry.validation import validate_family

AS_OF = date(2026, 11, 26)
NIK_CODES = {
    "invalid_nik",
    "nik_unknown_province",
    "nik_invalid_date",
    "nik_serial",
    "nik_mismatch",
}

# (NIK, birth date, sex, the codes expected) — every code, the edges of each rule.
NIK_CASES: list[tuple[str, date, str, list[str]]] = [
    # valid
    ("3171011203800011", date(1980, 3, 12), "L", []),
    ("3171015708450001", date(1945, 8, 17), "P", []),  # the example of DOMAIN.md
    ("3171016902000001", date(2000, 2, 29), "P", []),  # a woman born on a leap day
    ("3171012902960002", date(1996, 2, 29), "L", []),
    ("3171010101240003", date(2024, 1, 1), "L", []),
    ("3171010505260004", date(1926, 5, 5), "L", []),  # yy 26 is 1926 when the birth date says so
    ("3171014111260005", date(2026, 11, 1), "P", []),  # born this month
    ("1101011203800012", date(1980, 3, 12), "L", []),  # Aceh
    # invalid_nik
    ("317101120380001", date(1980, 3, 12), "L", ["invalid_nik"]),
    ("31710112038000111", date(1980, 3, 12), "L", ["invalid_nik"]),
    ("31710112038O0011", date(1980, 3, 12), "L", ["invalid_nik"]),
    ("3171.0112038000", date(1980, 3, 12), "L", ["invalid_nik"]),
    # nik_unknown_province
    ("9971011203800013", date(1980, 3, 12), "L", ["nik_unknown_province"]),
    ("0071011203800014", date(1980, 3, 12), "L", ["nik_unknown_province"]),
    ("2071011203800015", date(1980, 3, 12), "L", ["nik_unknown_province"]),
    ("9971013203800016", date(1980, 3, 12), "L", ["nik_unknown_province"]),  # first rule wins
    # nik_invalid_date
    ("3171010003800017", date(1980, 3, 3), "L", ["nik_invalid_date"]),  # day 00
    ("3171013203800018", date(1980, 3, 12), "L", ["nik_invalid_date"]),  # day 32
    ("3171014003800019", date(1980, 3, 12), "L", ["nik_invalid_date"]),  # day 40
    ("3171017203800020", date(1980, 3, 12), "P", ["nik_invalid_date"]),  # woman, day 32
    ("3171011213800021", date(1980, 3, 12), "L", ["nik_invalid_date"]),  # month 13
    ("3171011200800022", date(1980, 3, 12), "L", ["nik_invalid_date"]),  # month 00
    ("3171016902010023", date(2001, 3, 1), "P", ["nik_invalid_date"]),  # 29 Feb 2001
    ("3171017002000024", date(2000, 2, 29), "P", ["nik_invalid_date"]),  # 30 Feb
    ("3171012512260025", date(2000, 1, 1), "L", ["nik_invalid_date"]),  # 25 Dec 2026: future
    ("3171013002000000", date(2000, 3, 30), "L", ["nik_invalid_date"]),  # date before serial
    # nik_serial
    ("3171011203800000", date(1980, 3, 12), "L", ["nik_serial"]),
    ("3171015708450000", date(1945, 8, 17), "P", ["nik_serial"]),
    # nik_mismatch
    ("3171011203800026", date(1980, 3, 12), "P", ["nik_mismatch"]),  # sex
    ("3171015708450027", date(1945, 8, 17), "L", ["nik_mismatch"]),  # woman's NIK, man
    ("3171011203800028", date(1980, 12, 3), "L", ["nik_mismatch"]),  # day and month swapped
    ("3171011203800029", date(1981, 3, 12), "L", ["nik_mismatch"]),  # year
    ("3171011203800030", date(1980, 3, 13), "L", ["nik_mismatch"]),  # day
    # nik_region_unknown: a warning, the member is accepted
    ("3171991203800031", date(1980, 3, 12), "L", ["nik_region_unknown"]),  # district 31.71.99
    ("3199011203800032", date(1980, 3, 12), "L", ["nik_region_unknown"]),  # regency 31.99
    ("3100001203800033", date(1980, 3, 12), "L", ["nik_region_unknown"]),  # 00 codes
    ("3171991203800034", date(1980, 3, 12), "P", ["nik_mismatch", "nik_region_unknown"]),
    ("3171993203800035", date(1980, 3, 12), "L", ["nik_invalid_date", "nik_region_unknown"]),
    ("3171991203800000", date(1980, 3, 12), "L", ["nik_serial", "nik_region_unknown"]),
]


def python_codes(nik: str, birth: date, sex: str) -> list[str]:
    return sorted(i.code for i in check_nik(nik, birth_date=birth, sex=sex, as_of=AS_OF))


@pytest.mark.parametrize(("nik", "birth", "sex", "expected"), NIK_CASES)
def test_check_nik(nik: str, birth: date, sex: str, expected: list[str]) -> None:
    assert python_codes(nik, birth, sex) == sorted(expected)


def test_check_nik_cases_cover_every_identity_code() -> None:
    covered = {code for *_, codes in NIK_CASES for code in codes}
    assert covered == NIK_CODES | {"nik_region_unknown"}


def test_check_nik_details() -> None:
    [issue] = check_nik("3171991203800031", birth_date=date(1980, 3, 12), sex="L", as_of=AS_OF)
    assert issue == IdentityIssue(issue.code, issue.message, "warning")
    [mismatch] = check_nik("3171011203800026", birth_date=date(1980, 3, 12), sex="P", as_of=AS_OF)
    assert mismatch.severity == "error"
    assert "12-03-1980" in mismatch.message
    # Without a birth date the century follows the reference date; nothing to mismatch.
    assert check_nik("3171010505260004", as_of=AS_OF) == []
    assert [i.code for i in check_nik("3171010512260004", as_of=AS_OF)] == ["nik_invalid_date"]
    assert check_nik("3171010512260004", as_of=date(2026, 12, 5)) == []


def _members(family_kk: str) -> list[dict[str, Any]]:
    """One member per case, the first a valid head; only the NIK cases vary."""
    rows = [member(family_kk, date(1970, 1, 1), "L", "kepala_keluarga", 9999, name="KEPALA")]
    for i, (nik, birth, sex, _) in enumerate(NIK_CASES):
        rows.append(
            member(
                family_kk,
                birth,
                sex,
                "famili_lain",
                i,
                nik=nik,
                name=f"KASUS {i}",
                marital_status="belum_kawin",
            )
        )
    return rows


def _sql_codes_by_case(found: list[tuple[int, str]]) -> list[list[str]]:
    """Codes per case from (spreadsheet row, code) pairs; row 2 is the head, row 3 case 0."""
    by_row: dict[int, list[str]] = {}
    for row, code in found:
        by_row.setdefault(row, []).append(code)
    return [sorted(by_row.get(i + 3, [])) for i in range(len(NIK_CASES))]


def test_python_and_sql_agree_on_every_nik_error(engine: Engine) -> None:
    """validate_family (the pipeline of change requests and of the import) gives the
    very errors check_nik gives, case by case."""
    number = kk(1)
    members = _members(number)
    with session_scope(engine) as session:
        result = validate_family(
            session, household=household(number), members=members, scope=None, as_of=AS_OF
        )
    found = [(e.row, e.code) for e in result.errors if e.code in NIK_CODES]
    assert all(
        e.file == "members" and e.column == "nik" for e in result.errors if e.code in NIK_CODES
    )
    assert not [e for e in result.errors if e.row == 2], "the head must be valid"
    sql = _sql_codes_by_case(found)
    python = [
        [c for c in python_codes(nik, birth, sex) if c in NIK_CODES]
        for nik, birth, sex, _ in NIK_CASES
    ]
    mismatches = [
        (NIK_CASES[i][0], python[i], sql[i]) for i in range(len(NIK_CASES)) if python[i] != sql[i]
    ]
    assert mismatches == []
    # The members the pipeline accepts are exactly those without an error in Python.
    accepted = {m["nik"] for m in result.members}
    clean = {
        nik
        for nik, birth, sex, _ in NIK_CASES
        if not set(python_codes(nik, birth, sex)) & NIK_CODES
    }
    assert accepted == clean | {members[0]["nik"]}


@pytest.mark.usefixtures("users")
def test_python_and_sql_agree_on_nik_warnings(engine: Engine, tmp_path: Path) -> None:
    """The warning is not an error, so validate_family drops it; the import reports it."""
    number = kk(1)
    members = _members(number)
    summary = run_import(
        engine,
        write_batch(tmp_path / "b", [household(number)], members),
        as_of=AS_OF,
        dry_run=True,
    )
    found = [
        (int(e["row"]), str(e["code"]))
        for e in [*summary.errors, *summary.warnings]
        if e["code"] in NIK_CODES | {"nik_region_unknown"}
    ]
    sql = _sql_codes_by_case(found)
    python = [python_codes(nik, birth, sex) for nik, birth, sex, _ in NIK_CASES]
    mismatches = [
        (NIK_CASES[i][0], python[i], sql[i]) for i in range(len(NIK_CASES)) if python[i] != sql[i]
    ]
    assert mismatches == []


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        (kk(1), True),
        ("3171010101200001", True),
        ("1101010101200001", True),
        ("317101010120001", False),  # 15 digits
        ("31710101012000011", False),  # 17 digits
        ("317101010120000A", False),
        ("9971010101200001", False),  # no province 99
        ("2071010101200001", False),
        ("3171010101200000", False),  # serial 0000
        ("", False),
    ],
)
def test_check_kk(number: str, valid: bool) -> None:
    issues = check_kk(number)
    assert (issues == []) is valid
    if not valid:
        assert [i.code for i in issues] == ["invalid_kk"]


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("SUTRISNO", "S****O"),
        ("SITI AMINAH", "S****I A****H"),
        ("BUDI", "B****I"),
        ("AN", "A*"),
        ("I GUSTI NGURAH RAI", "I G****I N****H R****I"),
        ("  ANDI   WIJAYA ", "A****I W****A"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_name_does_not_give_the_length_away() -> None:
    assert len(mask_name("BUDI")) == len(mask_name("BUDIMANSYAHPUTRA"))
    assert "UDI" not in mask_name("BUDI")


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("3171011203800011", "3171************"),
        (" 3171011203800011 ", "3171************"),
        ("317101120380001", "*" * 15),
        ("12", "**"),
    ],
)
def test_mask_id(number: str, masked: str) -> None:
    assert mask_id(number) == masked


def test_masked_niks_of_one_family_can_be_told_apart() -> None:
    """Members often share the first and last four digits; a keyed tag tells them apart."""
    father, son = "3171011203800001", "3171011505100001"
    assert mask_id(father) == mask_id(son)
    tagged = {mask_id(n, distinct=True) for n in (father, son)}
    assert len(tagged) == 2
    assert all(t.startswith("3171************·") and len(t) == 20 for t in tagged)
    assert mask_id(father, distinct=True) == mask_id(f" {father} ", distinct=True)


def test_a_list_masks_numbers_as_one_number_is_masked() -> None:
    """A name search masks its page's NIKs with the key read once (`distinct_id_masker`): the
    same tags as `mask_id`, which are the first three base32 characters of the keyed digest."""
    mask = distinct_id_masker()
    secret = keyring().current.secret
    for number in ("3171011203800001", " 3171011505100001 ", "3273010101200099", "12"):
        assert mask(number) == mask_id(number, distinct=True)
        digits = number.strip()
        if len(digits) == 16:
            mac = hmac.new(secret, b"mask\x1f" + digits.encode(), hashlib.sha256).digest()
            assert mask(number).endswith("·" + base64.b32encode(mac).decode()[:3])


# name → what matching compares
NAMES: list[tuple[str, str]] = [
    ("SUTRISNO, S.H., M.Si.", "sutrisno"),
    ("H. Hj.SITI AMINAH", "siti aminah"),
    ("Drs. H. Ahmad Dahlan, M.Pd", "ahmad dahlan"),
    ("Prof. Dr. Ir. BUDI   SANTOSO", "budi santoso"),
    ("Ma'ruf Amin", "maruf amin"),
    ("K.H. Hasyim Asy’ari", "k h hasyim asyari"),
    ("ibu sri mulyani", "sri mulyani"),
    ("Bpk Joko Widodo, S.H", "joko widodo"),
    ("Raden Ajeng Kartini", "ajeng kartini"),
    ("Ny. Siti Hartinah (Tien)", "siti hartinah tien"),
    ("Almh. Hj. Fatimah", "fatimah"),
    ("Tn.Ahmad", "ahmad"),
    ("Dra.Yuni Shara", "yuni shara"),
    ("Hadi Santoso", "hadi santoso"),  # "h" is a title only before a dot or a space
    ("Irawati", "irawati"),
    ("Nur-Hidayah", "nur hidayah"),
    ("  Siti  Nurbaya  ", "siti nurbaya"),
    ("I Gusti Ngurah Rai", "i gusti ngurah rai"),
    ("Muhammad bin Abdullah", "muhammad bin abdullah"),
    ("O`Neil", "oneil"),
    ("ANDI", "andi"),
    ("DR", "dr"),
    ("hj.", ""),
    ("José Ramos-Horta", "jose ramos horta"),
    ("MESUT ÖZİL", "mesut ozil"),
    ("Siti Aminah 2", "siti aminah"),
]


def test_normalise_name_examples() -> None:
    wrong = [
        (name, normalise_name(name), want) for name, want in NAMES if normalise_name(name) != want
    ]
    assert wrong == []


def test_normalise_name_python_and_duckdb_agree() -> None:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE names (i INTEGER, name VARCHAR)")
        con.executemany("INSERT INTO names VALUES (?, ?)", list(enumerate(n for n, _ in NAMES)))
        rows = con.execute(
            f"SELECT i, {normalise_name_sql('name')} FROM names ORDER BY i"
        ).fetchall()
    assert [r[1] for r in rows] == [normalise_name(n) for n, _ in NAMES]


def test_normalise_name_python_and_duckdb_agree_on_every_character() -> None:
    """One character at a time inside a word, over the whole Basic Multilingual Plane up to
    CJK: the two implementations share rules, and their lower-casing must agree too."""
    words = [f"a{chr(c)}b" for c in range(0x20, 0x3000)]
    with duckdb.connect() as con:
        con.execute("CREATE TABLE names (i INTEGER, name VARCHAR)")
        con.executemany("INSERT INTO names VALUES (?, ?)", list(enumerate(words)))
        rows = con.execute(
            f"SELECT i, {normalise_name_sql('name')} FROM names ORDER BY i"
        ).fetchall()
    differ = [
        (words[i], normalise_name(words[i]), sql)
        for i, sql in rows
        if normalise_name(words[i]) != sql
    ]
    assert differ == []
