"""A small registry released and deduplicated by the real matching engine with a stored trained
model, and another source's export to merge against it (tests of linkage/merge.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from conftest import user
from factories import household, kk, member, nik, write_batch
from lumbung.db import session_scope
from lumbung.linkage.service import run_link
from targeting_helpers import import_approved, release

MODEL = Path(__file__).parent / "data" / "linkage_model.json"
# (serial, name, birth date, sex, relationship): one person per line; families of two.
PEOPLE = [
    (1, "BUDI SANTOSO", date(1980, 3, 12), "L", "kepala_keluarga"),
    (1, "SITI NURHALIZA", date(1983, 7, 1), "P", "istri_suami"),
    (2, "AHMAD FAUZI", date(1975, 5, 5), "L", "kepala_keluarga"),
    (2, "DEWI LESTARI", date(1978, 8, 8), "P", "istri_suami"),
    (3, "JOKO SUSILO", date(1970, 1, 1), "L", "kepala_keluarga"),
    (3, "SRI RAHAYU", date(1972, 2, 14), "P", "istri_suami"),
    # Joko registered a second time, under a NIK one digit off: two registry persons
    (4, "JOKO SUSILO", date(1970, 1, 1), "L", "kepala_keluarga"),
    (5, "HENDRA GUNAWAN", date(1966, 11, 30), "L", "kepala_keluarga"),
    (5, "NUR AINI", date(1969, 4, 22), "P", "istri_suami"),
    (6, "BAMBANG SUPRIYADI", date(1958, 6, 17), "L", "kepala_keluarga"),
    (6, "SUMARNI", date(1961, 9, 3), "P", "istri_suami"),
    (7, "AGUS SETIAWAN", date(1990, 12, 24), "L", "kepala_keluarga"),
    (7, "RINA MARLINA", date(1992, 10, 10), "P", "istri_suami"),
]


def _registry_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    homes = [household(kk(s)) for s in sorted({p[0] for p in PEOPLE})]
    people = [
        member(kk(serial), born, sex, role, serial * 10 + n, name=name)
        for n, (serial, name, born, sex, role) in enumerate(PEOPLE, start=1)
    ]
    people[6]["nik"] = nik(date(1970, 1, 1), "L", 36)  # Joko again: his NIK's last digit off
    return homes, people


def matcher(release_dir: Path, run_dir: Path) -> None:
    """The real engine on the release, with the stored model (training needs thousands)."""
    from lumbung.linkage.engine import dedupe
    from lumbung.linkage.records import release_base_sql, write_records

    records = run_dir / "records.parquet"
    write_records(release_base_sql(release_dir), "registry", records)
    dedupe(records, folder=run_dir, model=MODEL)


def registry(engine: Engine, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    homes, people = _registry_rows()
    import_approved(engine, tmp_path / "registry", homes, people)
    data_dir = tmp_path / "data"
    release(engine, data_dir, "R1")
    with session_scope(engine) as session:
        run_link(
            session,
            actor=user(session, "determiner"),
            release_label="R1",
            data_dir=data_dir,
            releases_dir=data_dir / "releases",
            matcher=matcher,
        )
    return data_dir, people


def export(folder: Path, people: list[dict[str, Any]]) -> list[Path]:
    """Another source's export: Budi as he is, Siti spelt SITTI, a family unknown to the
    registry, and Joko (who is twice in the registry) on a card of the source's own."""
    budi, siti, joko = dict(people[0]), dict(people[1]), dict(people[4])
    siti["name"] = "SITTI NURHALIZA"
    new_kk, joko_kk = kk(8), kk(9)
    newcomers = [
        member(new_kk, date(1985, 2, 2), "L", "kepala_keluarga", 81, name="RUDI HARTONO"),
        member(new_kk, date(1987, 3, 9), "P", "istri_suami", 82, name="YANTI KUSUMA"),
    ]
    joko["kk_number"] = joko_kk
    return write_batch(
        folder,
        [household(kk(1)), household(new_kk), household(joko_kk)],
        [budi, siti, *newcomers, joko],
    )
