"""The proxy means test: fitting a model on a survey, model files, and scoring a release into
desil per regency (idempotent; a model's name and version pin its coefficients)."""

from __future__ import annotations

import csv
import shutil
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine as DbEngine

from factories import OTHER_VILLAGE, family, kk, write_batch
from helpers import run_import
from lumbung.db import session_scope
from lumbung.errors import Conflict, PermissionDenied, ValidationFailed
from lumbung.synth import generate
from lumbung.targeting.fit import fit_model, targeting_quality
from lumbung.targeting.models import PmtModelRecord, PmtScore, Scoring
from lumbung.targeting.pmt import PmtModel, default_model_path, load_model, save_model
from targeting_helpers import floor_model, release, score, survey_with_consumption

AS_OF = date(2025, 7, 1)


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("survey")
    generate(households=2000, seed=3, out_dir=out)
    return survey_with_consumption(out)


def copy_survey(survey: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("households.csv", "members.csv"):
        shutil.copy(survey / name, target / name)
    return target


def rewrite_households(folder: Path, change: dict[int, dict[str, str]], drop: str = "") -> None:
    """Change cells of data rows (1 = the first row under the header); drop a column."""
    path = folder / "households.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for index, cells in change.items():
        rows[index - 1].update(cells)
    fields = [f for f in rows[0] if f != drop]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


# --- fitting ------------------------------------------------------------------------------


def test_a_model_fitted_on_a_survey_ranks_held_out_households_well(
    survey: Path, tmp_path: Path
) -> None:
    report = fit_model(survey, name="survei-uji", version="1", as_of=AS_OF)
    model = report.model
    assert model.key == "survei-uji@1"
    assert report.households == 2000
    assert report.train + report.held_out == 2000
    assert 300 <= report.held_out <= 500  # one in five, by a hash of the KK number
    held = model.fit["held_out"]
    assert held["spearman"] > 0.5
    assert held["inclusion_error"] < 0.5
    assert held["exclusion_error"] < 0.5
    assert model.fit["held_out_households"] == report.held_out
    assert model.fit["as_of"] == AS_OF.isoformat()
    assert model.area is not None
    assert model.area.level == "province"
    with (survey / "households.csv").open(encoding="utf-8") as handle:
        provinces = {r["village_code"][:2] for r in csv.DictReader(handle)}
    assert set(model.area.effects) < provinces  # every province but the base level
    assert len(model.area.effects) == len(provinces) - 1
    # More floor area and a car mean more consumption in the synthetic population.
    assert model.numeric["has_car"] > 0
    # The file round trip keeps every coefficient, and so the hash.
    for suffix in (".yaml", ".json"):
        path = tmp_path / f"model{suffix}"
        save_model(model, path)
        loaded = load_model(path)
        assert loaded == model
        assert loaded.sha256() == model.sha256()


def test_fitting_without_area_effects_and_the_same_split_every_time(survey: Path) -> None:
    first = fit_model(survey, name="survei-uji", version="2", as_of=AS_OF, area=None)
    assert first.model.area is None
    again = fit_model(survey, name="survei-uji", version="2", as_of=AS_OF, area=None)
    assert again.model.sha256() == first.model.sha256()
    assert again.held_out == first.held_out


def test_targeting_quality_on_known_rankings() -> None:
    actual = np.log(np.array([100.0, 200, 300, 400, 500, 600, 700, 800, 900, 1000]))
    weights = np.ones(10)
    perfect = targeting_quality(actual, actual, weights)
    assert perfect == {
        "r2": 1.0,
        "spearman": 1.0,
        "quota": 0.4,
        "inclusion_error": 0.0,
        "exclusion_error": 0.0,
    }
    backwards = targeting_quality(actual, actual[::-1].copy(), weights)
    assert backwards["spearman"] == -1.0
    assert backwards["inclusion_error"] == backwards["exclusion_error"] == 1.0
    # one of the four poorest swapped with the fifth: one of four wrongly in, one left out
    swapped = actual.copy()
    swapped[[3, 4]] = swapped[[4, 3]]
    partly = targeting_quality(actual, swapped, weights)
    assert partly["inclusion_error"] == partly["exclusion_error"] == 0.25


def test_targeting_errors_count_people_by_survey_weight() -> None:
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    weights = np.array([3.0, 1.0, 1.0, 1.0])  # the poorest household stands for half the people
    perfect = targeting_quality(actual, actual.copy(), weights)
    assert perfect["inclusion_error"] == perfect["exclusion_error"] == 0.0
    # ranked backwards: the three light households fill the 40 %, the poor half is missed
    backwards = targeting_quality(actual, actual[::-1].copy(), weights)
    assert backwards["exclusion_error"] == 1.0
    assert backwards["inclusion_error"] == 1.0
    # unweighted, the same ranking would have selected two of four households
    assert targeting_quality(actual, actual[::-1].copy(), np.ones(4))["exclusion_error"] == 1.0


def test_a_survey_without_consumption_is_refused_naming_the_file(
    survey: Path, tmp_path: Path
) -> None:
    folder = copy_survey(survey, tmp_path / "no-consumption")
    rewrite_households(folder, {}, drop="consumption_per_capita")
    with pytest.raises(ValidationFailed) as caught:
        fit_model(folder, name="x", version="1", as_of=AS_OF)
    assert "households.csv" in caught.value.message
    assert "consumption_per_capita" in caught.value.message

    (folder / "members.csv").unlink()
    with pytest.raises(ValidationFailed) as caught:
        fit_model(folder, name="x", version="1", as_of=AS_OF)
    assert "members.csv" in caught.value.message


def test_non_positive_or_unreadable_consumption_is_refused_by_row(
    survey: Path, tmp_path: Path
) -> None:
    folder = copy_survey(survey, tmp_path / "bad-consumption")
    rewrite_households(
        folder,
        {
            5: {"consumption_per_capita": "0"},
            9: {"consumption_per_capita": "-1500"},
            12: {"consumption_per_capita": "banyak"},
        },
    )
    with pytest.raises(ValidationFailed) as caught:
        fit_model(folder, name="x", version="1", as_of=AS_OF)
    message = caught.value.message
    # file rows count the header as row 1
    for row in (6, 10, 13):
        assert f"households.csv baris {row} kolom consumption_per_capita" in message
    assert "baris 7 " not in message

    weighted = copy_survey(survey, tmp_path / "bad-weight")
    weights = {i: {"weight": "1.5"} for i in range(1, 2001)}
    rewrite_households(weighted, weights | {3: {"weight": "0"}})
    with pytest.raises(ValidationFailed) as caught:
        fit_model(weighted, name="x", version="1", as_of=AS_OF)
    assert "households.csv baris 4 kolom weight" in caught.value.message


def test_unknown_codes_and_repeated_families_in_a_survey_are_refused_by_row(
    survey: Path, tmp_path: Path
) -> None:
    folder = copy_survey(survey, tmp_path / "bad-codes")
    rewrite_households(folder, {2: {"floor_material": "emas"}})
    path = folder / "households.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join([*lines, lines[8]]), encoding="utf-8")  # family of row 9 again
    with pytest.raises(ValidationFailed) as caught:
        fit_model(folder, name="x", version="1", as_of=AS_OF)
    message = caught.value.message
    assert "households.csv baris 3 kolom floor_material" in message
    assert "households.csv baris 9 kolom kk_number" in message
    assert f"households.csv baris {len(lines) + 1} kolom kk_number" in message


def test_a_survey_too_small_is_refused(survey: Path, tmp_path: Path) -> None:
    folder = copy_survey(survey, tmp_path / "small")
    path = folder / "households.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:41]), encoding="utf-8")
    kept = {line.split(",")[0] for line in lines[1:41]}
    members = (folder / "members.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "members.csv").write_text(
        members[0] + "".join(m for m in members[1:] if m.split(",")[0] in kept), encoding="utf-8"
    )
    with pytest.raises(ValidationFailed, match="40 keluarga"):
        fit_model(folder, name="x", version="1", as_of=AS_OF)


# --- model files --------------------------------------------------------------------------


def test_the_shipped_model_loads() -> None:
    model = load_model(default_model_path())
    assert model.name == "lumbung-synthetic"
    assert model.numeric
    assert len(model.sha256()) == 64


def test_a_model_file_with_unknown_features_is_refused_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(
        "name: rusak\nversion: '1'\nintercept: 12.0\n"
        "numeric: {floor_area_m2: 0.01, jumlah_kambing: 0.2, head_sex: 0.1}\n"
        "categorical: {toilet: {sendiri: 0.1, emas: 0.5}, hh_size: {x: 1.0}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationFailed) as caught:
        load_model(path)
    message = caught.value.message
    assert str(path) in message
    for problem in ("jumlah_kambing", "head_sex", "emas", "hh_size"):
        assert problem in message
    assert "sendiri" not in message
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ValidationFailed, match="tidak ada"):
        load_model(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="YAML"):
        load_model(broken)
    extra = tmp_path / "extra.yaml"
    extra.write_text("name: ok\nversion: '1'\nintercept: 1.0\nslope: 2\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="slope"):
        load_model(extra)


# --- scoring a release, on both databases -------------------------------------------------

JAKARTA = 23  # families in Kota Jakarta Pusat (31.71)
BANDUNG = 7  # families in Kota Bandung (32.73)


def scored_registry(engine: DbEngine, data_dir: Path) -> None:
    """30 families; family s has floor area 100 - s, except 5 and 6 share theirs."""
    households, members = [], []
    for serial in range(1, JAKARTA + BANDUNG + 1):
        area = 95 if serial in (5, 6) else 100 - serial
        village = {"village_code": OTHER_VILLAGE} if serial > JAKARTA else {}
        h, m = family(serial, floor_area_m2=str(area), **village)
        households.append(h)
        members += m
    paths = write_batch(data_dir / "batch", households, members)
    summary = run_import(engine, paths, status="approved")
    assert summary.households_rejected == 0
    release(engine, data_dir, "R1")


@pytest.mark.usefixtures("users")
def test_scores_and_deciles_per_regency(engine: DbEngine, tmp_path: Path) -> None:
    scored_registry(engine, tmp_path)
    result = score(engine, tmp_path, "R1", floor_model())
    assert (result.release, result.model, result.households) == ("R1", "test-floor@1", 30)
    assert result.regencies == 2
    assert result.already_scored is False
    assert result.engine == "duckdb"
    assert Path(result.scores_file) == tmp_path / "scores" / "R1" / "test-floor@1.parquet"
    with session_scope(engine) as session:
        rows = session.execute(select(PmtScore)).scalars().all()
        by_kk = {r.kk_number: r for r in rows}
    assert len(rows) == 30
    # score = 12 + 0.01 × floor area, in double precision
    assert by_kk[kk(1)].score == 12.0 + 99.0 * 0.01
    assert by_kk[kk(5)].score == by_kk[kk(6)].score == 12.0 + 95.0 * 0.01
    sizes: dict[str, Counter[int]] = defaultdict(Counter)
    for r in rows:
        sizes[r.regency_code][r.decile] += 1
    # ntile: 23 families → three deciles of 3, seven of 2; 7 families → deciles 1..7 of 1
    assert sizes["31.71"] == Counter({1: 3, 2: 3, 3: 3, **dict.fromkeys(range(4, 11), 2)})
    assert sizes["32.73"] == Counter(dict.fromkeys(range(1, 8), 1))
    assert result.by_decile == {d: sizes["31.71"][d] + sizes["32.73"][d] for d in range(1, 11)}
    for regency in ("31.71", "32.73"):
        ordered = sorted(
            (r for r in rows if r.regency_code == regency), key=lambda r: (r.score, r.kk_number)
        )
        assert [r.rank_area for r in ordered] == list(range(1, len(ordered) + 1))
        assert [r.decile for r in ordered] == sorted(r.decile for r in ordered)
    # smallest house, poorest: in Jakarta family 23 (floor 77) is rank 1; 5 and 6 tie on
    # score, the lower KK (5) ranks first
    assert by_kk[kk(23)].rank_area == 1
    assert by_kk[kk(5)].rank_area + 1 == by_kk[kk(6)].rank_area
    assert by_kk[kk(1)].decile == 10
    with duckdb.connect() as con:
        parquet = con.execute(
            "SELECT kk_number, score, decile, rank_area FROM read_parquet(?) ORDER BY kk_number",
            [result.scores_file],
        ).fetchall()
    assert parquet == sorted((r.kk_number, r.score, r.decile, r.rank_area) for r in rows)


@pytest.mark.usefixtures("users")
def test_scoring_again_is_idempotent_and_a_changed_model_is_refused(
    engine: DbEngine, tmp_path: Path
) -> None:
    scored_registry(engine, tmp_path)
    first = score(engine, tmp_path, "R1", floor_model())
    again = score(engine, tmp_path, "R1", floor_model())
    assert again.already_scored is True
    assert (again.sha256, again.households, again.by_decile, again.scores_file) == (
        first.sha256,
        first.households,
        first.by_decile,
        first.scores_file,
    )
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pmt_score")).scalar_one() == 30
        assert conn.execute(text("SELECT count(*) FROM pmt_scoring")).scalar_one() == 1
        events = conn.execute(
            text("SELECT count(*) FROM audit_event WHERE action = 'pmt.score'")
        ).scalar_one()
        assert events == 1
    changed = floor_model(per_m2=0.02)  # same name and version, other coefficients
    with pytest.raises(Conflict, match="test-floor@1"):
        score(engine, tmp_path, "R1", changed)
    renamed = floor_model(version="2", per_m2=0.02)
    second = score(engine, tmp_path, "R1", renamed)
    assert second.already_scored is False
    with session_scope(engine) as session:
        models = session.execute(select(PmtModelRecord.version, PmtModelRecord.sha256)).all()
        assert dict(models) == {"1": floor_model().sha256(), "2": renamed.sha256()}
        assert len(session.execute(select(Scoring)).scalars().all()) == 2


@pytest.mark.usefixtures("users")
def test_only_a_determiner_scores_and_only_an_intact_release(
    engine: DbEngine, tmp_path: Path
) -> None:
    scored_registry(engine, tmp_path)
    for actor in ("operator", "verifier", "admin", "auditor"):
        with pytest.raises(PermissionDenied):
            score(engine, tmp_path, "R1", floor_model(), actor=actor)
    [parquet, *_] = sorted((tmp_path / "releases" / "R1" / "households").rglob("*.parquet"))
    with parquet.open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(Conflict, match="R1"):
        score(engine, tmp_path, "R1", floor_model())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pmt_scoring")).scalar_one() == 0
    assert not (tmp_path / "scores" / "R1" / "test-floor@1.parquet").exists()


def test_a_model_name_must_be_a_plain_identifier() -> None:
    with pytest.raises(ValueError, match="name"):
        PmtModel(name="Model Saya", version="1", intercept=1.0)
