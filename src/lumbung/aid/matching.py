"""Who a file's rows are about and what is recorded already: the registry member each NIK
names (a person in the registry is linked, and their family's region counts for scope), and
the handovers recorded under the same keys (the same values: nothing to do; others: refused).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.aid.models import AidDistribution
from lumbung.aid.rows import CheckedFile, DistributionRow, Key
from lumbung.auth.roles import in_scope
from lumbung.registry.errors import RowError
from lumbung.registry.models import Household, Member

CHUNK = 2_000  # NIKs per lookup (bound parameters)


@dataclass(frozen=True, slots=True)
class Registered:
    """A registry member found by NIK, with their family's region."""

    member_id: int
    village_code: str
    district_code: str
    regency_code: str
    province_code: str


def chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def registered_members(session: Session, niks: list[str]) -> dict[str, Registered]:
    """The active registry member of each NIK (the lowest id where a duplicate is under
    review), in a family that was not rejected."""
    found: dict[str, Registered] = {}
    for chunk in chunks(niks):
        rows = session.execute(
            select(
                Member.nik,
                Member.id,
                Household.village_code,
                Household.district_code,
                Household.regency_code,
                Household.province_code,
            )
            .join(Household, Household.id == Member.household_id)
            .where(
                Member.nik.in_(chunk),
                Member.status == "active",
                Household.status != "rejected",
            )
            .order_by(Member.nik, Member.id)
        ).all()
        for nik, member_id, village, district, regency, province in rows:
            found.setdefault(
                str(nik), Registered(int(member_id), village, district, regency, province)
            )
    return found


def recorded_handovers(session: Session, niks: list[str]) -> dict[Key, tuple[str, int, int, str]]:
    """The distributions recorded for these NIKs: key → (name, quantity, value, village)."""
    d = AidDistribution
    found: dict[Key, tuple[str, int, int, str]] = {}
    for chunk in chunks(niks):
        for row in session.execute(
            select(
                d.program_code,
                d.nik,
                d.item_code,
                d.distributed_on,
                d.name,
                d.quantity,
                d.unit_value_idr,
                d.village_code,
            ).where(d.nik.in_(chunk))
        ).all():
            found[(row[0], row[1], row[2], row[3])] = (row[4], row[5], row[6], row[7])
    return found


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def judge(
    checked: CheckedFile,
    registered: dict[str, Registered],
    recorded: dict[Key, tuple[str, int, int, str]],
    file: str,
    scope: str | None,
) -> list[DistributionRow]:
    """The rows to load; the others get their problem added to `checked.problems`."""
    fresh = []
    for row in checked.rows:
        person = registered.get(row.nik)
        if person is not None and not in_scope(scope, person.village_code):
            checked.cells[row.row] = row.cells()
            checked.problems.append(
                RowError(
                    file,
                    row.row,
                    "nik",
                    "out_of_scope",
                    "NIK ini anggota keluarga terdaftar di luar wilayah Anda; penyerahan "
                    "dicatat oleh petugas wilayah keluarganya.",
                )
            )
            continue
        before = recorded.get(row.key)
        if before is None:
            fresh.append(row)
        elif _same_name(before[0], row.name) and before[1:] == (
            row.quantity,
            row.unit_value_idr,
            row.village_code,
        ):
            checked.cells[row.row] = row.cells()
            checked.problems.append(
                RowError(
                    file,
                    row.row,
                    "nik",
                    "already_recorded",
                    "Penyerahan ini sudah tercatat persis sama; tidak ada yang diubah.",
                    "warning",
                )
            )
        else:
            checked.cells[row.row] = row.cells()
            checked.problems.append(
                RowError(
                    file,
                    row.row,
                    "nik",
                    "distribution_exists",
                    f"Penyerahan {row.item} program {row.program} tanggal "
                    f"{row.distributed_on} untuk NIK ini sudah tercatat dengan nilai lain "
                    f"(jumlah {before[1]}, nilai satuan {before[2]}, desa {before[3]}); "
                    "impor tidak mengubah catatan.",
                )
            )
    return fresh
