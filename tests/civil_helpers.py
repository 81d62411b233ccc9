"""A small registry and a Dukcapil extract that speaks of each outcome, for the civil
registry matching tests."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from conftest import user
from factories import family, nik, write_batch
from helpers import run_import
from lumbung.civil.extract import HEADER
from lumbung.civil.service import CivilImportSummary, import_extract
from lumbung.db import session_scope

AS_OF = date(2026, 12, 1)
# Family 2's wife is registered under a mistyped NIK (serial 99); Dukcapil has serial 22.
TYPO_NIK = nik(date(1983, 7, 1), "P", 99)
RIGHT_NIK = nik(date(1983, 7, 1), "P", 22)


def registry(engine: Engine, folder: Path) -> dict[str, dict[str, Any]]:
    """Three approved families of Gambir (families 1 to 3 of `factories.family`); family 2's
    wife with `TYPO_NIK`. Every member by a short label (`f1_head`, `f2_wife`, …)."""
    households, members = [], []
    labelled: dict[str, dict[str, Any]] = {}
    for serial in (1, 2, 3):
        household, people = family(serial)
        if serial == 2:
            people[1]["nik"] = TYPO_NIK
        households.append(household)
        members += people
        for label, person in zip(("head", "wife", "child"), people, strict=True):
            labelled[f"f{serial}_{label}"] = person
    summary = run_import(engine, write_batch(folder, households, members), status="approved")
    assert summary.members_accepted == 9, summary.errors
    return labelled


def extract_row(person: dict[str, Any], **over: Any) -> dict[str, str]:
    """The civil registry's row of a registered member, as the registry has them."""
    row = {
        "nik": person["nik"],
        "kk_number": person["kk_number"],
        "name": person["name"],
        "birth_place": "JAKARTA",
        "birth_date": person["birth_date"],
        "sex": person["sex"],
        "death_date": "",
    }
    row.update(over)
    return row


def every_outcome(people: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """f1: head matched, wife's name written with a title (still matched on name) and her
    birth date with day and month swapped, child's row refused (sex X: left unmarked). f2: head
    deceased, wife under her right NIK, child's sex differs. f3: head matched, wife absent (not
    found), child's NIK another (dead) person's. And a row of nobody with a broken NIK."""
    return [
        extract_row(people["f1_head"]),
        extract_row(people["f1_wife"], name="Hj. Siti Aminah", birth_date="1983-01-07"),
        extract_row(people["f1_child"], sex="X"),
        extract_row(people["f2_head"], death_date="2026-10-02"),
        extract_row(people["f2_wife"], nik=RIGHT_NIK),
        extract_row(people["f2_child"], sex="P"),
        extract_row(people["f3_head"]),
        extract_row(
            people["f3_child"], name="ORANG LAIN", birth_date="1950-05-05", death_date="2020-01-01"
        ),
        extract_row(people["f3_head"], nik="12345", name="TANPA NIK"),
    ]


def write_extract(
    path: Path, rows: list[dict[str, str]], *, header: list[str] | None = None
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or list(HEADER))
        for r in rows:
            writer.writerow([r[c] for c in HEADER])
    return path


def add_admin(engine: Engine, username: str, region: str | None) -> None:
    """Another admin, made by the national one (conftest.add_user expects one admin only)."""
    from lumbung.auth.roles import Role
    from lumbung.auth.service import create_user

    with session_scope(engine) as session:
        create_user(
            session,
            actor=user(session, "admin"),
            username=username,
            full_name=username,
            role=Role.ADMIN,
            region_code=region,
        )


def run_civil_import(
    engine: Engine, path: Path, *, actor: str = "admin", confirm: bool = True, **options: Any
) -> CivilImportSummary:
    """An import as the importer makes it: when the extract leaves members not found, the
    first answer asks to confirm their removal (nothing written), and with `confirm` the
    number it gave is confirmed."""

    def once(**more: Any) -> CivilImportSummary:
        with session_scope(engine) as session:
            return import_extract(
                session,
                actor=user(session, actor),
                path=path,
                rejects_dir=path.parent / "data" / "rejects",
                as_of=AS_OF,
                **options,
                **more,
            )

    first = once()
    if not (first.needs_confirmation and confirm):
        return first
    assert first.removals == first.not_found > 0 and first.import_id is None
    assert first.proposals == 0 and "konfirmasi" in first.message
    return once(confirm_removals=first.removals)
