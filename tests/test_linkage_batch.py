"""Linking a batch before import (linkage/batch.py), with the real matching engine: a small
synthetic registry in two regions is imported, released and deduplicated (its model trained),
then a batch with a family whose members repeat release members under another spelling and a
mistyped NIK is checked and imported with `link`. Both databases."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from api_helpers import make_api
from conftest import user
from factories import VILLAGE, household, kk, member, nik, write_batch
from helpers import counts, run_import
from lumbung.cli import app, common
from lumbung.config import Settings, get_settings
from lumbung.db import session_scope
from lumbung.errors import Conflict
from lumbung.identity.masking import mask_id
from lumbung.jobs import queue
from lumbung.jobs.runner import execute
from lumbung.linkage import batch as batch_link
from lumbung.linkage.engine import dedupe
from lumbung.linkage.models import LinkPair, LinkRun
from lumbung.linkage.records import release_base_sql, write_records
from lumbung.linkage.service import run_link
from lumbung.linkage.settings import LinkageSettings, load_settings
from lumbung.registry.import_run import ImportSummary
from lumbung.synth import generate
from targeting_helpers import release
from web_helpers import client, csrf_of, give_passwords, make_app, sign_in

pytestmark = pytest.mark.usefixtures("users")

HOUSEHOLDS = 50  # per region: enough for EM to train on, small enough to stay fast


def fast(settings: LinkageSettings) -> LinkageSettings:
    """The shipped settings with training sized for a few hundred members."""
    return dataclasses.replace(
        settings,
        training=dataclasses.replace(settings.training, u_max_pairs=200_000, em_max_pairs=None),
    )


def train(release_dir: Path, run_dir: Path) -> None:
    """The engine's deduplication of the release, as `call_matching_engine` runs it (its
    records kept in the run's folder), with training sized for a small release."""
    records = run_dir / "records.parquet"
    write_records(release_base_sql(release_dir), "registry", records)
    dedupe(records, folder=run_dir, settings=fast(load_settings("registry")))


@dataclass(frozen=True)
class Person:
    nik: str
    name: str
    sex: str
    birth_date: date
    kk_number: str
    village_code: str


@dataclass(frozen=True)
class World:
    data_dir: Path
    near: Person  # a release member in the operator's village
    far: Person  # a release member in Bandung (outside the operator's region)
    members: int  # registered


def plain_people(truth: Path) -> set[str]:
    """The NIKs of people registered once, with no twin and no common-name look-alike."""
    with truth.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    times: dict[str, int] = {}
    for row in rows:
        times[row["person_id"]] = times.get(row["person_id"], 0) + 1
    return {
        row["nik"]
        for row in rows
        if times[row["person_id"]] == 1 and not (row["event"] or row["twin"] or row["common_name"])
    }


def _registered(engine: Engine, region: str, plain: set[str]) -> Person:
    """A head of family of `region` in the registry, registered once, with a two-word name."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.nik, m.name, m.sex, m.birth_date, h.kk_number, h.village_code "
                "FROM member m JOIN household h ON h.id = m.household_id "
                "WHERE m.relationship = 'kepala_keluarga' AND h.village_code LIKE :region "
                "ORDER BY m.id"
            ),
            {"region": region + "%"},
        ).all()
    row = next(r for r in rows if r[0] in plain and len(r[1].split()) == 2)
    birth = row[3] if isinstance(row[3], date) else date.fromisoformat(str(row[3]))
    return Person(row[0], row[1], row[2], birth, row[4], row[5])


def build_world(
    engine: Engine, tmp_path: Path, *, trained: bool = True, households: int = HOUSEHOLDS
) -> World:
    plain: set[str] = set()
    for region, seed in ((VILLAGE, 5), ("32.73", 6)):
        out = tmp_path / f"synth-{seed}"
        # Second registrations in the release: what EM learns a match from.
        generate(households=households, seed=seed, out_dir=out, region=region, duplicates=0.15)
        plain |= plain_people(out / "truth" / "persons.csv")
        # (A second registration with the very same NIK is refused, as always.)
        summary = run_import(
            engine, [out / "households.csv", out / "members.csv"], status="approved"
        )
        assert summary.members_accepted > 3 * households
    data_dir = tmp_path / "data"
    release(engine, data_dir, "R1")
    if trained:
        with session_scope(engine) as session:
            run_link(
                session,
                actor=user(session, "determiner"),
                release_label="R1",
                data_dir=data_dir,
                releases_dir=data_dir / "releases",
                matcher=train,
            )
    return World(
        data_dir,
        near=_registered(engine, VILLAGE, plain),
        far=_registered(engine, "32.73.", plain),
        members=counts(engine)[1],
    )


def misspelled(name: str) -> str:
    """Another spelling of the same name: a letter doubled, an 'h' added to a final vowel."""
    words = name.split()
    words[0] = words[0][:2] + words[0][1:]
    if words[-1][-1] in "AIUEO":
        words[-1] += "H"
    return " ".join(words)


def mistyped(number: str) -> str:
    """The NIK with one serial digit typed wrong (never a serial of 0000)."""
    last = int(number[-1])
    return number[:-1] + str(last + 1 if last < 8 else last - 1)


def batch_of(folder: Path, world: World) -> list[Path]:
    """A new family in the operator's village: a clean head (row 2), the near member again
    (row 3) and the far member again (row 4), each misspelled with a mistyped NIK."""
    number = kk(9001)
    head_birth = date(1961, 11, 23)
    again = [
        member(
            number,
            p.birth_date,
            p.sex,
            "famili_lain",
            0,
            nik=mistyped(p.nik),
            name=misspelled(p.name),
            marital_status="kawin",
        )
        for p in (world.near, world.far)
    ]
    return write_batch(
        folder,
        [household(number)],
        [
            member(
                number,
                head_birth,
                "L",
                "kepala_keluarga",
                0,
                nik=nik(head_birth, "L", 7777),
                name="KARTOLO WIRYOSUDARMO",
            ),
            *again,
        ],
    )


def linked(engine: Engine, paths: list[Path], world: World, **options: object) -> ImportSummary:
    folders = batch_link.ReleaseLinker(world.data_dir, world.data_dir / "releases")
    return run_import(engine, paths, actor="operator", link=folders, **options)


def found(summary: ImportSummary) -> dict[int, str]:
    return {w["row"]: w["message"] for w in batch_link.probable_duplicates(summary)}


def queued(engine: Engine) -> list[tuple[int, str | None]]:
    """The pairs that batch links sent to review (not the release's own run's): run, region."""
    with session_scope(engine) as session:
        return [
            (run, region)
            for run, region in session.execute(
                select(LinkPair.run_id, LinkPair.region_code)
                .join(LinkRun, LinkRun.id == LinkPair.run_id)
                .where(LinkRun.kind == "link")
                .order_by(LinkPair.id)
            )
        ]


@pytest.fixture
def lumbung(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("LUMBUNG_DATABASE_URL", database_url)
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
    for cached in common._engines.values():
        cached.dispose()
    common._engines.clear()


def command(lumbung: CliRunner, *args: str) -> tuple[int, str]:
    get_settings.cache_clear()
    result = lumbung.invoke(app, list(args))
    return result.exit_code, result.stdout


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return build_world(engine, tmp_path)


def test_a_batch_row_like_a_release_member_is_a_probable_duplicate_once_in_review(
    engine: Engine, world: World, tmp_path: Path, lumbung: CliRunner
) -> None:
    paths = batch_of(tmp_path / "batch", world)

    # The dry check (`lumbung link batch`): reported, nothing loaded, nothing queued.
    code, out = command(lumbung, "link", "batch", *map(str, paths), "--as", "operator", "--json")
    checked = json.loads(out)
    assert code == 0, out
    rows = {w["row"]: w["message"] for w in checked["probable_duplicates"]}
    assert sorted(rows) == [3, 4], checked
    # The family in the operator's region is named; the one outside is masked.
    assert f"KK {world.near.kk_number}, desa {VILLAGE}" in rows[3]
    assert world.far.kk_number not in rows[4]
    assert f"KK {mask_id(world.far.kk_number)}, di luar wilayah Anda" in rows[4]
    assert checked["linkage"]["release"] == "R1" and checked["errors_total"] == 0
    assert checked["linkage"]["probable_duplicates"] == 2
    assert checked["linkage"]["pairs_queued"] == 0
    code, out = command(lumbung, "link", "batch", *map(str, paths), "--as", "operator")
    assert code == 0 and "2 baris kemungkinan duplikat" in out and "probable_duplicate" in out
    assert queued(engine) == [] and counts(engine)[1] == world.members

    # The import (a job of the API, with `link`): the warnings do not block, and both pairs
    # go to review under a link run.
    api = make_api(engine, world.data_dir, ["operator"])
    sent = api.post(
        "operator",
        "/imports",
        files=[("files", (p.name, p.read_bytes(), "text/csv")) for p in paths],
        data={"link": "true"},
    )
    assert sent.status_code == 202, sent.text
    app = api.client.app
    assert isinstance(app, FastAPI)
    execute(app.state.queue, sent.json()["id"])
    job = api.get("operator", f"/jobs/{sent.json()['id']}").json()
    assert job["state"] == "succeeded", job
    first = job["result"]
    assert first["members_accepted"] == 3 and first["members_rejected"] == 0
    probable = [w for w in first["warnings"] if w["code"] == "probable_duplicate"]
    assert sorted(w["row"] for w in probable) == [3, 4]
    assert all(w["column"] == "nik" and w["severity"] == "warning" for w in probable)
    with (world.data_dir / first["reject_file"]).open(newline="", encoding="utf-8") as handle:
        lines = [r for r in csv.DictReader(handle) if r["code"] == "probable_duplicate"]
    assert sorted(int(r["row"]) for r in lines) == [3, 4]
    # The job's page lists them.
    give_passwords(engine, "operator")
    web = client(make_app(engine, world.data_dir))
    sign_in(web, "operator")
    page = web.get(f"/pekerjaan/{job['id']}").text
    assert 'id="probable"' in page and 'id="r-pairs_queued">2<' in page
    assert f"KK {world.near.kk_number}" in page and world.far.kk_number not in page
    pairs = queued(engine)
    assert first["linkage"]["pairs_queued"] == 2
    assert len(pairs) == 2 and {run for run, _ in pairs} == {first["linkage"]["link_run"]}
    assert sorted(region or "" for _, region in pairs) == ["", VILLAGE]
    with session_scope(engine) as session:
        link_run = session.get(LinkRun, first["linkage"]["link_run"])
        assert link_run is not None and link_run.kind == "link" and link_run.pairs_queued == 2
        assert (world.data_dir / link_run.folder / "pairs.parquet").is_file()

    # Linked again (the rows now registered; from the command line): reported again, asked
    # no second time.
    code, out = command(lumbung, "import", *map(str, paths), "--link", "--as", "operator", "--json")
    second = json.loads(out)
    assert code == 0 and second["members_unchanged"] == 3, out
    assert sorted(w["row"] for w in second["warnings"] if w["code"] == "probable_duplicate") == [
        3,
        4,
    ]
    assert second["linkage"]["pairs_queued"] == 0
    assert second["linkage"]["pairs_known"] == 2 and second["linkage"]["link_run"] is None
    assert queued(engine) == pairs

    # A batch of people the release does not hold: linked, nothing to say.
    clean = batch_of(tmp_path / "clean", world)
    with clean[1].open(encoding="utf-8") as handle:
        head_only = handle.readlines()[:2]
    clean[1].write_text("".join(head_only), encoding="utf-8")
    with session_scope(engine) as session:
        nothing = batch_link.check_batch(
            session,
            actor=user(session, "operator"),
            paths=clean,
            rejects_dir=tmp_path / "clean" / "rejects",
            folders=batch_link.ReleaseLinker(world.data_dir, world.data_dir / "releases"),
        )
        session.rollback()
    assert nothing.linkage and nothing.linkage["rows_linked"] == 1
    assert nothing.linkage["probable_duplicates"] == 0 and not found(nothing)


def test_a_batch_without_link_is_not_linked(engine: Engine, tmp_path: Path) -> None:
    world = build_world(engine, tmp_path, trained=False, households=15)
    summary = run_import(engine, batch_of(tmp_path / "batch", world), actor="operator")
    assert summary.linkage is None and not batch_link.probable_duplicates(summary)
    assert queued(engine) == []


def test_linking_without_a_trained_model_says_which_run_to_make(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(engine, tmp_path, trained=False, households=15)
    paths = batch_of(tmp_path / "batch", world)
    with pytest.raises(Conflict) as refused:
        linked(engine, paths, world)
    assert refused.value.command == "lumbung link run --release R1"
    assert refused.value.cause == "linkage_model_missing"

    # The same from the import page's `link` box: the job fails saying so, nothing loaded.
    monkeypatch.setenv("LUMBUNG_DATA_DIR", str(world.data_dir))
    get_settings.cache_clear()
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=world.data_dir
    )
    jobs = queue.JobQueue(settings, engine=engine)
    queue.set_default_queue(jobs)
    try:
        give_passwords(engine, "operator")
        web = client(make_app(engine, world.data_dir))
        sign_in(web, "operator")
        page = web.get("/impor")
        assert 'name="link"' in page.text
        sent = web.post(
            "/impor",
            data={"csrf": csrf_of(page.text), "link": "1"},
            files=[("files", (p.name, p.read_bytes(), "text/csv")) for p in paths],
        )
        assert sent.status_code == 303, sent.text[:2000]
        execute(jobs, sent.headers["location"].rsplit("/", 1)[1])
        job = web.get(sent.headers["location"])
        assert "belum punya model pencocokan" in job.text and "R1" in job.text
        assert counts(engine)[1] == world.members
    finally:
        queue.set_default_queue(None)
        get_settings.cache_clear()
