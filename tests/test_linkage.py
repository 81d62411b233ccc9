"""Record linkage's runs and review queue, on SQLite and PostgreSQL: a run's pairs in the
smallest region holding both members, seen by the verifiers of that region (masked in lists),
decided once and remembered across runs, "same person" taken through the change request
workflow to the registry, every step audited; and a run's quality report."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from conftest import user
from linkage_helpers import (
    Registry,
    all_records,
    build_registry,
    link,
    matcher,
    probability,
    story_pairs,
)
from lumbung.audit.models import AuditEvent
from lumbung.config import Settings
from lumbung.db import session_scope
from lumbung.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lumbung.jobs.kinds import KINDS
from lumbung.linkage import quality, review, service
from lumbung.linkage.models import LinkDecision, LinkPair
from lumbung.registry import workflow
from lumbung.registry.models import ChangeRequest, Household, Member

pytestmark = pytest.mark.usefixtures("users")


@pytest.fixture
def registry(engine: Engine, tmp_path: Path) -> Registry:
    return build_registry(engine, tmp_path / "batch", tmp_path / "data")


def _queue(
    engine: Engine, who: str, *, state: str = "pending", region: str | None = None
) -> list[review.PairRow]:
    with session_scope(engine) as session:
        return review.review_queue(session, user(session, who), state=state, region=region).items


def _pair_of(engine: Engine, a: int, b: int) -> int:
    with session_scope(engine) as session:
        return (
            session.execute(
                select(LinkPair.id)
                .where(LinkPair.member_id_l == min(a, b), LinkPair.member_id_r == max(a, b))
                .order_by(LinkPair.id.desc())
            )
            .scalars()
            .first()
            or 0
        )


def _decide(engine: Engine, who: str, pair_id: int, decision: str, **kwargs: str) -> review.Decided:
    with session_scope(engine) as session:
        return review.decide(
            session, actor=user(session, who), pair_id=pair_id, decision=decision, **kwargs
        )


def _actions(engine: Engine, prefix: str) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        return [
            (a, e)
            for a, e in session.execute(
                select(AuditEvent.action, AuditEvent.entity_id).order_by(AuditEvent.id)
            )
            if a.startswith(prefix)
        ]


def test_the_region_of_a_pair_is_the_longest_common_prefix_of_their_villages() -> None:
    assert review.pair_region("31.71.01.1001", "31.71.01.1001") == "31.71.01.1001"
    assert review.pair_region("31.71.01.1001", "31.71.01.1002") == "31.71.01"
    assert review.pair_region("31.71.01.1001", "31.71.02.1001") == "31.71"
    assert review.pair_region("31.71.01.1001", "31.74.01.1001") == "31"
    assert review.pair_region("31.71.01.1001", "32.73.01.1001") is None


def test_a_run_keeps_the_registry_pairs_above_the_review_weight(
    engine: Engine, registry: Registry, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    run = link(
        engine,
        data,
        matcher(
            # Siti's pair twice (the second, the other way round, is asked once)
            [*story_pairs(registry), (registry.sitti, registry.siti, 18.5)],
            all_records(registry),
            other_source=[(registry.siti, 7, 30.0)],  # a civil-registry row: not a member pair
        ),
    )
    assert (run.pairs_scored, run.pairs_queued, run.pairs_known) == (7, 4, 0)
    assert (run.records, run.clusters) == (8, 4)  # Siti's with Dewi, Budi's, Asep's, Ahmad
    assert run.state == "finished" and run.release == "R1"
    assert run.model_sha256 and len(run.model_sha256) == 64 and run.settings_sha256
    assert (data / "linkage" / f"run-{run.id}" / "pairs.parquet").is_file()
    with session_scope(engine) as session:
        regions = dict(session.execute(select(LinkPair.match_weight, LinkPair.region_code)).all())
        waterfall = session.execute(
            select(LinkPair.waterfall).where(LinkPair.match_weight == 18.5)
        ).scalar_one()
    assert regions == {18.5: "31.71", 22.0: "31.71.01.1001", 7.0: "32.73.01.1001", 4.0: None}
    assert waterfall["prior"] == -12.0
    assert [c["name"] for c in waterfall["comparisons"]] == ["name", "birth_date", "nik"]
    assert sum(c["weight"] for c in waterfall["comparisons"]) + waterfall["prior"] == 18.5
    assert _actions(engine, "link.run") == [("link.run", str(run.id))]


def test_only_a_national_determiner_runs_linkage(
    engine: Engine, registry: Registry, tmp_path: Path
) -> None:
    write = matcher(story_pairs(registry), all_records(registry))
    with pytest.raises(PermissionDenied):
        link(engine, tmp_path / "data", write, actor="verifier")
    with pytest.raises(ValidationFailed, match="rentang"):
        link(engine, tmp_path / "data", write, review_weight=500.0)
    assert _actions(engine, "link.run") == []
    # The matching engine itself (linkage/engine.py), with the shipped settings, trains even on
    # eight members (its EM sessions block on parts a release shares, never on one NIK: a
    # release holds none twice) and the run is recorded.
    with session_scope(engine) as session:
        done = service.run_link(
            session,
            actor=user(session, "determiner"),
            release_label="R1",
            data_dir=tmp_path / "data",
            releases_dir=tmp_path / "data" / "releases",
        )
    assert done.state == "finished" and done.records == 8 and done.model_sha256
    assert len(_actions(engine, "link.run")) == 1
    with session_scope(engine) as session:
        settings = Settings(database_url="sqlite://", data_dir=tmp_path)
        checked = KINDS["link"].check(
            user(session, "determiner"),
            {"release": "R1"},
            settings,
        )
        assert checked == {"release": "R1", "review_weight": service.DEFAULT_REVIEW_WEIGHT}
        with pytest.raises(PermissionDenied):
            KINDS["link"].check(user(session, "verifier"), {"release": "R1"}, settings)
        with pytest.raises(ValidationFailed):
            KINDS["link"].check(
                user(session, "determiner"),
                {"release": "R1", "review_weight": "x"},
                settings,
            )


def test_a_verifier_sees_the_pairs_inside_their_region_masked_in_the_list(
    engine: Engine, registry: Registry, tmp_path: Path
) -> None:
    link(engine, tmp_path / "data", matcher(story_pairs(registry), all_records(registry)))
    jakarta = _queue(engine, "verifier")
    assert [p.match_weight for p in jakarta] == [22.0, 18.5]  # the strongest first
    assert {p.left.name for p in jakarta} == {"B****I S****O", "S****I N****A"}
    assert all("*" in p.left.nik and "*" in p.right.kk_number for p in jakarta)
    bandung = _queue(engine, "other_verifier")
    assert [p.match_weight for p in bandung] == [7.0]
    national = _queue(engine, "determiner")
    assert [p.match_weight for p in national] == [22.0, 18.5, 7.0, 4.0]
    assert [p.match_weight for p in _queue(engine, "determiner", region="32")] == [7.0]
    assert [p.match_weight for p in _queue(engine, "verifier", region="31.71.01")] == [22.0]
    with pytest.raises(PermissionDenied):
        _queue(engine, "verifier", region="32.73")
    with pytest.raises(ValidationFailed):
        _queue(engine, "verifier", state="maybe")
    with session_scope(engine) as session:
        assert review.pending_count(session, user(session, "verifier")) == 2
        assert review.pending_count(session, user(session, "determiner")) == 4


def test_one_pair_in_full_for_its_verifier_masked_for_an_auditor(
    engine: Engine, registry: Registry, tmp_path: Path
) -> None:
    link(engine, tmp_path / "data", matcher(story_pairs(registry), all_records(registry)))
    pair_id = _pair_of(engine, registry.siti, registry.sitti)
    cross = _pair_of(engine, registry.jakarta_cross, registry.bandung_cross)
    with session_scope(engine) as session:
        view = review.get_pair(session, user(session, "verifier"), pair_id=pair_id)
        assert (view.pair.left.name, view.pair.right.name) == ("SITI NURHALIZA", "SITTI NURHALIZAH")
        assert not view.masked and view.prior_weight == -12.0
        assert {"name", "nik", "kk_number", "village_code"} <= set(view.differs)
        assert "birth_date" not in view.differs and "sex" not in view.differs
        assert [c.name for c in view.waterfall] == ["name", "birth_date", "nik"]
        seen = review.get_pair(session, user(session, "auditor"), pair_id=pair_id)
        assert seen.masked and seen.pair.left.name == "S****I N****A"
        assert seen.pair.left.address is None and "*" in seen.pair.right.nik
        assert seen.differs == view.differs
        with pytest.raises(NotFound):
            review.get_pair(session, user(session, "other_verifier"), pair_id=pair_id)
        with pytest.raises(NotFound):
            review.get_pair(session, user(session, "verifier"), pair_id=cross)


def test_a_decision_is_remembered_and_never_asked_again(
    engine: Engine, registry: Registry, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    write = matcher(story_pairs(registry), all_records(registry))
    first = link(engine, data, write)
    second = link(engine, data, write)  # a second run before any decision: the pairs twice
    assert (first.pairs_queued, second.pairs_queued) == (4, 4)
    twins = _pair_of(engine, registry.bandung, registry.bandung_twin)
    decided = _decide(engine, "other_verifier", twins, "not_same")
    assert decided.pairs_settled == 2 and decided.change_request_id is None
    assert [p.match_weight for p in _queue(engine, "other_verifier")] == []
    assert len(_queue(engine, "other_verifier", state="not_same")) == 2
    with pytest.raises(Conflict, match="sudah diputuskan"):
        _decide(engine, "other_verifier", twins, "same_person")
    third = link(engine, data, write)
    assert (third.pairs_queued, third.pairs_known) == (3, 1)
    with session_scope(engine) as session:
        remembered = session.get(
            LinkDecision,
            (
                min(registry.bandung, registry.bandung_twin),
                max(registry.bandung, registry.bandung_twin),
            ),
        )
        assert remembered is not None and remembered.decision == "not_same"
        assert remembered.decided_by == "other_verifier"
    # A field visit is a decision for now, and can be decided again later.
    siti = _pair_of(engine, registry.siti, registry.sitti)
    assert _decide(engine, "verifier", siti, "field_visit").pairs_settled == 3
    assert _decide(engine, "verifier", siti, "not_same").decision == "not_same"
    assert [a for a, _ in _actions(engine, "link.decide")] == [
        "link.decide.not_same",
        "link.decide.field_visit",
        "link.decide.not_same",
    ]


def test_who_may_decide(engine: Engine, registry: Registry, tmp_path: Path) -> None:
    link(engine, tmp_path / "data", matcher(story_pairs(registry), all_records(registry)))
    siti = _pair_of(engine, registry.siti, registry.sitti)
    cross = _pair_of(engine, registry.jakarta_cross, registry.bandung_cross)
    with pytest.raises(NotFound):
        _decide(engine, "other_verifier", siti, "not_same")
    with pytest.raises(PermissionDenied):
        _decide(engine, "operator", siti, "not_same")
    with pytest.raises(PermissionDenied):
        _decide(engine, "auditor", siti, "not_same")
    with pytest.raises(NotFound):  # across two provinces: none of the regional verifiers'
        _decide(engine, "verifier", cross, "not_same")
    with pytest.raises(ValidationFailed):
        _decide(engine, "verifier", siti, "probably")
    with pytest.raises(ValidationFailed):
        _decide(engine, "verifier", siti, "same_person", keep="both")
    assert _actions(engine, "link.decide") == []


def test_same_person_opens_a_change_request_that_removes_the_duplicate(
    engine: Engine, registry: Registry, tmp_path: Path
) -> None:
    link(engine, tmp_path / "data", matcher(story_pairs(registry), all_records(registry)))
    siti = _pair_of(engine, registry.siti, registry.sitti)
    decided = _decide(engine, "verifier", siti, "same_person", keep="left")
    assert decided.request_kind == "remove_member" and decided.change_request_id
    with session_scope(engine) as session:
        request = session.get(ChangeRequest, decided.change_request_id)
        assert request is not None
        duplicate = session.get(Member, max(registry.siti, registry.sitti))
        assert duplicate is not None
        assert (request.state, request.proposed_by) == ("proposed", "verifier")
        assert request.payload["nik"] == duplicate.nik and request.payload["status"] == "removed"
        assert f"anggota {min(registry.siti, registry.sitti)}" in request.payload["reason"]
        assert request.payload["link_pair"] == siti
        pair = session.get(LinkPair, siti)
        assert pair is not None and pair.change_request_id == request.id
        workflow.verify(session, actor=user(session, "verifier"), request_id=request.id)
    with session_scope(engine) as session:
        workflow.determine(
            session, actor=user(session, "determiner"), request_id=decided.change_request_id
        )
    with session_scope(engine) as session:
        kept = session.get(Member, min(registry.siti, registry.sitti))
        gone = session.get(Member, max(registry.siti, registry.sitti))
        assert kept is not None and gone is not None
        assert (kept.status, gone.status) == ("active", "removed")
    assert ("link.decide.same_person", str(siti)) in _actions(engine, "link.decide")
    assert len(_actions(engine, "request.propose.remove_member")) == 1
    assert len(_actions(engine, "request.determine.remove_member")) == 1


def test_same_person_alone_in_a_family_takes_the_family_out(
    engine: Engine, registry: Registry, tmp_path: Path
) -> None:
    link(engine, tmp_path / "data", matcher(story_pairs(registry), all_records(registry)))
    budi = _pair_of(engine, registry.budi, registry.budi_alone)
    decided = _decide(engine, "verifier", budi, "same_person")  # keeps the left, the older row
    assert decided.request_kind == "exit"
    with session_scope(engine) as session:
        assert decided.change_request_id is not None
        workflow.verify(
            session, actor=user(session, "verifier"), request_id=decided.change_request_id
        )
        workflow.determine(
            session, actor=user(session, "determiner"), request_id=decided.change_request_id
        )
    with session_scope(engine) as session:
        alone = session.get(Member, registry.budi_alone)
        assert alone is not None
        family = session.get(Household, alone.household_id)
        assert family is not None and family.status == "inactive"
        assert "Duplikat" in (family.status_reason or "")


def test_same_person_keeping_the_right_removes_the_left_and_a_head_needs_a_successor(
    engine: Engine, registry: Registry, tmp_path: Path
) -> None:
    pairs = [(registry.budi, registry.sitti_head, 12.0)]
    link(engine, tmp_path / "data", matcher(pairs, all_records(registry)))
    pair_id = _pair_of(engine, registry.budi, registry.sitti_head)
    # Keeping the right removes Budi, head of a family of two: without a new head, refused
    # (the proposal's checks), and nothing is recorded.
    with pytest.raises(ValidationFailed):
        _decide(engine, "verifier", pair_id, "same_person", keep="right")
    with session_scope(engine) as session:
        pair = session.get(LinkPair, pair_id)
        assert pair is not None and pair.state == "pending"
        siti = session.get(Member, registry.siti)
        assert siti is not None
        successor = siti.nik
    decided = _decide(engine, "verifier", pair_id, "same_person", keep="right", new_head=successor)
    with session_scope(engine) as session:
        assert decided.change_request_id is not None
        request = session.get(ChangeRequest, decided.change_request_id)
        budi = session.get(Member, registry.budi)
        assert request is not None and budi is not None
        assert request.payload["nik"] == budi.nik and request.payload["new_head"] == successor


def test_the_quality_report(engine: Engine, registry: Registry, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run = link(engine, data, matcher(story_pairs(registry), all_records(registry)))
    _decide(engine, "verifier", _pair_of(engine, registry.siti, registry.sitti), "not_same")
    _decide(
        engine,
        "other_verifier",
        _pair_of(engine, registry.bandung, registry.bandung_twin),
        "not_same",
    )
    with session_scope(engine) as session:
        found = quality.quality_report(
            session, user(session, "auditor"), run_id=run.id, data_dir=data
        )
    by_label = {b.label: b for b in found.bands}
    assert [b.pairs for b in found.bands] == [1, 1, 1, 0, 1, 1]  # -3 | 4 | 7 | – | 18.5 | 22
    assert by_label["< 0"].expected_matches == pytest.approx(probability(-3.0), abs=1e-3)
    assert found.pairs_above_review == 4
    expected = sum(probability(w) for w in (22.0, 18.5, 7.0, 4.0)) / 4
    assert found.estimated_precision == pytest.approx(expected)
    # Clusters of two or more, by their weakest pair inside: Siti (18.5), Budi (22), Asep (7),
    # Siti with Dewi of Bandung (4) joins Siti's cluster, whose weakest link is then 4.
    assert sum(b.clusters for b in found.bands) == 3
    assert by_label["0 – 5"].clusters == 1 and by_label["5 – 10"].clusters == 1
    assert by_label["≥ 20"].clusters == 1
    assert found.cluster_sizes == {1: 1, 2: 2, 3: 1}
    # Both decisions say "not the same" where the model said "same": no agreement.
    assert (found.decided, found.agreed, found.agreement) == (2, 0, 0.0)
    assert by_label["15 – 20"].not_same == 1 and by_label["15 – 20"].agreement == 0.0
    assert by_label["≥ 20"].pending == 1 and by_label["≥ 20"].agreement is None
    _decide(engine, "verifier", _pair_of(engine, registry.budi, registry.budi_alone), "same_person")
    with session_scope(engine) as session:
        again = quality.quality_report(
            session, user(session, "auditor"), run_id=run.id, data_dir=data
        )
    assert (again.decided, again.agreed) == (3, 1)
    assert again.agreement == pytest.approx(1 / 3)
    with session_scope(engine) as session, pytest.raises(NotFound):
        quality.quality_report(session, user(session, "auditor"), run_id=run.id + 99, data_dir=data)
