"""Merging another registry (issue 17, item 4), with the real matching engine: a small registry
is released and deduplicated by the engine with a model trained on a synthetic release
(`data/linkage_model.json`, how it was made in its `made_by`), then another source's export is
linked against it. Both databases."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from conftest import user
from factories import nik
from lumbung.auth.roles import Role
from lumbung.auth.service import create_user
from lumbung.db import session_scope
from lumbung.errors import Conflict, PermissionDenied
from lumbung.linkage import merge_report
from lumbung.linkage.merge import MergeSummary, merge_source
from lumbung.linkage.merge_models import LinkMergeRecord
from lumbung.registry.models import ChangeRequest
from merge_helpers import MODEL, export, registry
from targeting_helpers import release

pytestmark = pytest.mark.usefixtures("users")


def _merge(
    engine: Engine, data_dir: Path, paths: list[Path], actor: str = "admin", limit: int = 1000
) -> MergeSummary:
    with session_scope(engine) as session:
        return merge_source(
            session,
            actor=user(session, actor),
            paths=paths,
            source="dinsos-dki",
            data_dir=data_dir,
            releases_dir=data_dir / "releases",
            limit=limit,
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
    data_dir, people = registry(engine, tmp_path)
    paths = export(tmp_path / "export", people)
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


def test_past_the_bound_the_next_merge_proposes_the_rest(engine: Engine, tmp_path: Path) -> None:
    data_dir, people = registry(engine, tmp_path)
    paths = export(tmp_path / "export", people)
    # Siti's update first (in the export's order), then the new family: deferred, both rows.
    first = _merge(engine, data_dir, paths, limit=1)
    assert first.by_kind == {"update_member": 1} and first.proposals_deferred == 2, first
    second = _merge(engine, data_dir, paths, limit=1)
    assert second.by_kind == {"new_family": 1}, second
    assert (second.proposals_open, second.proposals_deferred) == (1, 0), second
    third = _merge(engine, data_dir, paths)
    assert third.proposals == 0 and third.proposals_open == 3, third


def test_who_may_merge_and_what_a_regency_admin_proposes(engine: Engine, tmp_path: Path) -> None:
    data_dir, people = registry(engine, tmp_path)
    paths = export(tmp_path / "export", people)
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
    with pytest.raises(Conflict, match="belum punya model pencocokan") as refused:
        _merge(engine, data_dir, paths)
    assert refused.value.cause == "linkage_model_missing"
    assert refused.value.command == "lumbung link run --release R2"


def test_the_stored_model_is_a_trained_one() -> None:
    model = json.loads(MODEL.read_text(encoding="utf-8"))
    assert model["format"] == "lumbung-linkage-model/1" and model["settings"]["name"] == "registry"
    assert model["thresholds"]["match"] >= model["thresholds"]["review"]
