"""Typed builders of valid exchange-format rows, and of batch files on disk."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from lumbung.registry import vocab

VILLAGE = "31.71.01.1001"  # Gambir, Gambir, Kota Jakarta Pusat
OTHER_VILLAGE = "32.73.01.1001"  # Kota Bandung


def nik(birth: date, sex: str, serial: int = 1, district: str = "317101") -> str:
    day = birth.day + (40 if sex == "P" else 0)
    return f"{district}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def kk(serial: int, district: str = "317101") -> str:
    return f"{district}010120{serial:04d}"


def household(kk_number: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kk_number": kk_number,
        "village_code": VILLAGE,
        "address": "Jl. Merdeka 1",
        "rt": "1",
        "rw": "2",
        "latitude": "-6.1754",
        "longitude": "106.8272",
        "floor_area_m2": "36",
        "floor_material": "semen",
        "wall_material": "tembok",
        "roof_material": "genteng",
        "toilet": "sendiri",
        "water_source": "ledeng",
        "lighting": "pln_900",
        "cooking_fuel": "gas_3kg",
        "tenure": "milik_sendiri",
        "owns_land": "0",
        "motorbikes": "1",
        "has_car": "0",
        "has_refrigerator": "1",
        "has_air_conditioner": "0",
        "has_gold": "0",
        "large_livestock": "0",
    }
    row.update(over)
    return row


def member(
    kk_number: str, birth: date, sex: str, relationship: str, serial: int, **over: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kk_number": kk_number,
        "nik": nik(birth, sex, serial),
        "name": f"ANGGOTA {serial}",
        "sex": sex,
        "birth_date": birth.isoformat(),
        "relationship": relationship,
        "marital_status": "kawin"
        if relationship in ("kepala_keluarga", "istri_suami")
        else "belum_kawin",
        "education": "sma",
        "school_level": "tidak",
        "occupation": "buruh",
        "disability": "tidak_ada",
        "disability_severity": "tidak_ada",
        "pregnant": "0",
        "mother_name": "",
    }
    row.update(over)
    return row


def family(serial: int, **household_over: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A couple with one child of primary-school age, all valid."""
    number = kk(serial)
    base = serial * 10
    return household(number, **household_over), [
        member(number, date(1980, 3, 12), "L", "kepala_keluarga", base + 1, name="BUDI SANTOSO"),
        member(number, date(1983, 7, 1), "P", "istri_suami", base + 2, name="SITI AMINAH"),
        member(
            number,
            date(2015, 1, 20),
            "L",
            "anak",
            base + 3,
            name="ANDI",
            education="tidak_sekolah",
            school_level="sd",
            occupation="tidak_bekerja",
        ),
    ]


def write_batch(
    folder: Path,
    households: list[dict[str, Any]],
    members: list[dict[str, Any]],
    *,
    delimiter: str = ",",
    bom: bool = False,
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows, columns in (
        ("households.csv", households, vocab.HOUSEHOLD_COLUMNS),
        ("members.csv", members, vocab.MEMBER_COLUMNS),
    ):
        path = folder / name
        with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
            writer = csv.DictWriter(
                handle, fieldnames=list(columns), delimiter=delimiter, extrasaction="raise"
            )
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths
