"""Merging another registry (issue 17, item 4), with the real matching engine: a small registry
is released and deduplicated by the engine with a model trained on a synthetic release
(`data/linkage_model.json`, how it was made in its `made_by`), then another source's export is
linked against it. Both databases."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from conftest import user
from factories import household, kk, member, nik, write_batch
from lumbung.auth.roles import Role
from lumbung.auth.service import create_user
from lumbung.db import session_scope
from lumbung.errors import Conflict, PermissionDenied
from lumbung.linkage import merge_report
from lumbung.linkage.merge import MergeSummary, merge_source
from lumbung.linkage.merge_models import LinkMergeRecord
from lumbung.linkage.service import run_link
from lumbung.registry.models import ChangeRequest
from targeting_helpers import import_approved, release

pytestmark = pytest.mark.usefixtures("users")

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


def _person(serial: int, index: int, name: str, born: date, sex: str, role: str) -> Any:
    return member(kk(serial), born, sex, role, serial * 10 + index, name=name)


def _registry_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    homes = [household(kk(s)) for s in sorted({p[0] for p in PEOPLE})]
    people = [_person(s, n, *rest) for n, (s, *rest) in enumerate(PEOPLE, start=1)]
    people[6]["nik"] = nik(date(1970, 1, 1), "L", 36)  # Joko again: his NIK's last digit off
    return homes, people


def _matcher(release_dir: Path, run_dir: Path) -> None:
    """The real engine on the release, with the stored model (training needs thousands)."""
    from lumbung.linkage.engine import dedupe
    from lumbung.linkage.records import release_base_sql, write_records

    records = run_dir / "records.parquet"
    write_records(release_base_sql(release_dir), "registry", records)
    dedupe(records, folder=run_dir, model=MODEL)


def _registry(engine: Engine, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
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
            matcher=_matcher,
        )
    return data_dir, people


def _export(folder: Path, people: list[dict[str, Any]]) -> list[Path]:
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


def _merge(engine: Engine, data_dir: Path, paths: list[Path], actor: str = "admin") -> MergeSummary:
    with session_scope(engine) as session:
        return merge_source(
            session,
            actor=user(session, actor),
            paths=paths,
            source="dinsos-dki",
            data_dir=data_dir,
            releases_dir=data_dir / "releases",
        )


def _records(engine: Engine, merge_id: int) -> dict[str, LinkMergeRecord]:
    with session_scope(engine) as session:
        found = session.execute(
            select(LinkMergeRecord).where(LinkMergeRecord.merge_id == merge_id)
        ).scalars()
        rows = {r.nik: r for r in found}
        session.expunge_all()
        return rows


def test_an_export_comes_out_matched_new_or_conflicting_and_is_proposed_once(
    engine: Engine, tmp_path: Path
) -> None:
    data_dir, people = _registry(engine, tmp_path)
    paths = _export(tmp_path / "export", people)
    first = _merge(engine, data_dir, paths)
    assert (first.records, first.matched, first.new, first.conflicting) == (5, 2, 2, 1), first
    records = _records(engine, first.merge_id)
    budi, siti, joko = (records[people[i]["nik"]] for i in (0, 1, 4))
    rudi, yanti = records[nik(date(1985, 2, 2), "L", 81)], records[nik(date(1987, 3, 9), "P", 82)]

    # Siti, spelt SITTI: matched, the name listed as differing, and an update proposed.
    assert siti.outcome == "matched" and siti.differs == "name", (siti.outcome, siti.note)
    assert budi.outcome == "matched" and budi.differs == "" and budi.change_request_id is None
    # Joko matches both of his registry records: conflicting, nothing proposed.
    assert joko.outcome == "conflicting" and joko.candidates == 2 and joko.change_request_id is None
    # The unknown family: new, one new_family request for both.
    assert rudi.outcome == yanti.outcome == "new"
    assert rudi.change_request_id is not None and rudi.change_request_id == yanti.change_request_id
    assert first.proposals == 2 and first.by_kind == {"update_member": 1, "new_family": 1}
    with session_scope(engine) as session:
        update = session.get(ChangeRequest, siti.change_request_id)
        assert update is not None and update.kind == "update_member"
        assert update.payload["members"] == [
            {"nik": people[1]["nik"], "changes": {"name": "SITTI NURHALIZA"}}
        ]
        assert update.proposed_by == "admin" and update.state == "proposed"
        family = session.get(ChangeRequest, rudi.change_request_id)
        assert family is not None and family.kind == "new_family"
        requests = session.execute(select(func.count()).select_from(ChangeRequest)).scalar()

    # The same export again: the open requests are pointed to, none made twice.
    second = _merge(engine, data_dir, paths)
    assert second.proposals == 0 and second.proposals_open == 3, second
    again = _records(engine, second.merge_id)
    assert again[people[1]["nik"]].change_request_id == siti.change_request_id
    assert again[people[1]["nik"]].proposed is False
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(ChangeRequest)).scalar() == (
            requests
        )

        # The report counts each source by its latest merge; the regions add up to the total.
        report = merge_report.merge_report(session, user(session, "auditor"), level="regency")
    assert report.merges == [second.merge_id]
    assert report.total["records"] == 5 and report.total["proposals_open"] == 3
    for row in [*(r.counts for r in report.rows), report.total]:
        assert row["matched"] + row["new"] + row["conflicting"] == row["records"], row
    for measure in merge_report.MEASURES:
        assert sum(r.counts[measure] for r in report.rows) == report.total[measure]
    assert [r.region_code for r in report.rows] == ["31.71"]
    lines = merge_report.report_csv(report).splitlines()
    assert lines[1].startswith("dinsos-dki,31.71,") and lines[-1].startswith("*,*,jumlah")


def test_who_may_merge_and_what_a_regency_admin_proposes(engine: Engine, tmp_path: Path) -> None:
    data_dir, people = _registry(engine, tmp_path)
    paths = _export(tmp_path / "export", people)
    with session_scope(engine) as session:
        for name, region in (("district_admin", "31.71.01"), ("bandung_admin", "32.73")):
            create_user(
                session,
                actor=user(session, "admin"),
                username=name,
                full_name=name,
                role=Role.ADMIN,
                region_code=region,
            )
    for who in ("verifier", "operator", "district_admin"):
        with pytest.raises(PermissionDenied), session_scope(engine) as session:
            merge_source(
                session,
                actor=user(session, who),
                paths=paths,
                source="dinsos-dki",
                data_dir=data_dir,
                releases_dir=data_dir / "releases",
            )
    # Bandung's admin links the Jakarta export: counted, nothing proposed (outside).
    outside = _merge(engine, data_dir, paths, actor="bandung_admin")
    assert outside.outside == 5 and outside.proposals == 0, outside
    assert outside.matched + outside.new + outside.conflicting == 5
    # A release without a trained model is refused in words.
    release(engine, data_dir, "R2")
    with pytest.raises(Conflict, match="link run --release R2"):
        _merge(engine, data_dir, paths)


def test_the_stored_model_is_a_trained_one() -> None:
    model = json.loads(MODEL.read_text(encoding="utf-8"))
    assert model["format"] == "lumbung-linkage-model/1" and model["settings"]["name"] == "registry"
    assert model["thresholds"]["match"] >= model["thresholds"]["review"]
