"""The matching engine (linkage/): canonical names, records, a dedupe with known truth on DuckDB,
the same clusters on Spark, and twins never merged."""

from __future__ import annotations

import dataclasses
import datetime
import random
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lumbung.engine.backend import open_spark
from lumbung.identity.names import canonical_name, canonical_name_sql, sound_key, sound_key_sql
from lumbung.linkage.engine import _constrained_components, dedupe, link, read_model
from lumbung.linkage.evaluation import cluster_quality
from lumbung.linkage.pairs import (
    CLUSTER_COLUMNS,
    PAIR_KEYS,
    SCORE_COLUMNS,
    comparison_names,
)
from lumbung.linkage.records import BASE_COLUMNS, write_records
from lumbung.linkage.settings import LinkageSettings, load_settings

CANONICAL = [
    ("H. Moch. Soekarno, S.H.", "muhamad sukarno"),
    ("Muhamad Sukarno", "muhamad sukarno"),
    ("MOHAMMAD SUKARNO", "muhamad sukarno"),
    ("Mhd. Sukarno", "muhamad sukarno"),
    ("M. Sukarno", "muhamad sukarno"),
    ("Hj. SITTI NURHALIZAH S.Pd. M.Si", "siti nurhalizah"),
    ("Siti Nurhalizah, S.Pd., M.Si.", "siti nurhalizah"),
    ("Ir. Sjahrir", "syahrir"),
    ("Djoko Tjahjono", "joko cahjono"),
    ("Chairul Tanjung", "khairul tanjung"),
    ("Drs H Achmad", "ahmad"),
    ("SUTRISNO SH", "sutrisno"),
    ("Ani S.Pd", "ani"),
    ("NURRAHMAN A.Md", "nurahman"),
    ("Wayan", "wayan"),
    ("JOSÉ Ma'ruf", "jose maruf"),
    ("", ""),
]


@pytest.mark.parametrize(("written", "canonical"), CANONICAL)
def test_canonical_names_in_python_and_sql_agree(written: str, canonical: str) -> None:
    assert canonical_name(written) == canonical
    row = duckdb.connect().execute(f"SELECT {canonical_name_sql('$1')}", [written]).fetchone()
    assert row is not None
    assert row[0] == canonical


@pytest.mark.parametrize(
    ("word", "key"), [("nurhaliza", "nrls"), ("nurhalisah", "nrls"), ("siti", "st"), ("", "")]
)
def test_sound_keys_in_python_and_sql_agree(word: str, key: str) -> None:
    assert sound_key(word) == key
    row = duckdb.connect().execute(f"SELECT {sound_key_sql('$1')}", [word]).fetchone()
    assert row is not None
    assert (row[0] or "") == key


def test_sound_keys_make_spelling_variants_one() -> None:
    assert sound_key("fitri") == sound_key("pitri")
    assert sound_key("yusuf") == sound_key("yusup")


def _family(household: int, kk: str, people: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "household_id": household,
            "name": name,
            "birth_date": datetime.date.fromisoformat(born),
            "nik": None,
            "sex": "L",
            "kk_number": kk,
            "village_code": "3201012001",
            "district_code": None,
            "rt": "1",
            "rw": "1",
            "address": None,
        }
        for name, born in people
    ]


def _family_records(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """A family with twins, the same family registered again elsewhere (a date, a name and the
    card written otherwise), and a man alone on his card; by name."""
    home = [("Budi", "1970-05-01"), ("Siti", "1975-02-03"), ("Rizki", "2010-07-07")]
    rows = _family(1, "3201010101100001", [*home, ("Fajar", "2010-07-07")])
    rows += _family(
        2,
        "3273010101200002",
        [
            ("Budi", "1970-05-01"),
            ("Siti", "1975-02-03"),
            ("Riski", "2010-07-07"),
            ("Fajar", "2010-07-07"),
        ],
    )
    rows += _family(5, "3273010101200005", [("Budi", "1970-05-01"), ("Siti", "1975-03-02")])
    rows += _family(3, "3201010101100003", [("Joko", "1960-01-01")])
    rows += [dict(r, household_id=None) for r in _family(4, "3201010101100004", home[:2])]
    table = pa.Table.from_pylist([dict(r, record_id=i + 1) for i, r in enumerate(rows)])
    con = duckdb.connect()
    con.register("families", table)
    write_records("families", "registry", tmp_path / "families.parquet", con=con)
    records = pq.read_table(tmp_path / "families.parquet").to_pylist()
    return {f"{r['household_id'] or 'kk'}-{r['name']}": r for r in records}


def test_records_carry_the_family_s_other_members(tmp_path: Path) -> None:
    by = _family_records(tmp_path)
    assert by["1-budi"]["family_dates"] == ["1975-02-03", "2010-07-07", "2010-07-07"]
    assert by["1-budi"]["family_size"] == 3
    # a twin's family holds the other twin's date (the same as hers), not her own row
    assert by["1-rizki"]["family_dates"] == ["1970-05-01", "1975-02-03", "2010-07-07"]
    assert by["1-rizki"]["family_key"] == "1970-05-01 1975-02-03 2010-07-07"
    # the family registered again (a child's name written otherwise): the same other members
    assert by["2-riski"]["family_key"] == by["1-rizki"]["family_key"]
    # another family, the wife's date written otherwise: Budi's other member differs
    assert by["5-budi"]["family_dates"] == ["1975-03-02"]
    assert by["3-joko"]["family_dates"] is None and by["3-joko"]["family_key"] is None
    assert by["3-joko"]["family_size"] == 0
    # no household id (a batch): the family card groups the members
    assert by["kk-budi"]["family_dates"] == ["1975-02-03"]


def test_twins_of_one_family_registered_again_are_never_one_person(tmp_path: Path) -> None:
    by = _family_records(tmp_path)
    rule = " OR ".join(f"({c})" for c in load_settings("registry").never_merge)
    con = duckdb.connect()
    con.register("records", pa.Table.from_pylist(list(by.values())))
    columns = pq.read_schema(tmp_path / "families.parquet").names
    sides = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in columns)

    def forbidden(left: str, right: str) -> bool:
        row = con.execute(
            f"SELECT coalesce(({rule}), false) FROM (SELECT {sides} "
            "FROM records AS l, records AS r WHERE l.record_id = $1 AND r.record_id = $2)",
            [by[left]["record_id"], by[right]["record_id"]],
        ).fetchone()
        assert row is not None
        return bool(row[0])

    assert forbidden("1-rizki", "1-fajar")  # twins on one card
    assert forbidden("1-rizki", "2-fajar")  # a twin and the other twin registered again
    assert forbidden("1-fajar", "2-riski")
    assert not forbidden("1-rizki", "2-riski")  # the same child, a letter written otherwise
    assert not forbidden("1-fajar", "2-fajar")


# ---- a small registry with known duplicates and twins ----

FIRST = ["siti", "muhammad", "ahmad", "dewi", "sri", "budi", "agus", "rina", "joko", "eko"]
LAST = ["aminah", "rahmawati", "santoso", "hidayat", "saputra", "lestari", "wijaya", ""]


def _person(rng: random.Random, household: int) -> dict[str, Any]:
    birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randint(0, 25_000))
    sex = rng.choice("LP")
    village = f"3201{rng.randint(1, 5):02d}{rng.randint(1, 4):04d}"
    day = birth.day + (40 if sex == "P" else 0)
    return {
        "household_id": household,
        "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}".strip().title(),
        "birth_date": birth,
        "nik": f"{village[:6]}{day:02d}{birth:%m%y}{rng.randint(1, 9999):04d}",
        "sex": sex,
        "kk_number": f"{village[:6]}{rng.randint(0, 10**10 - 1):010d}",
        "village_code": village,
        "district_code": village[:6],
        "rt": str(rng.randint(1, 9)),
        "rw": str(rng.randint(1, 5)),
        "address": f"Dusun {rng.choice(['Krajan', 'Wetan', 'Kulon'])}",
    }


def registry(people: int = 300, seed: int = 3) -> tuple[pa.Table, dict[int, int]]:
    """People, a fifth of them registered twice with noise; and pairs of twins."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    truth: dict[int, int] = {}

    def add(row: dict[str, Any], person: int) -> None:
        rows.append({"record_id": len(rows) + 1, **row})
        truth[len(rows)] = person

    for person in range(people):
        row = _person(rng, person)
        add(row, person)
        if person % 5 == 0:  # registered again: another spelling, a NIK typo, a swapped date
            again = dict(row, name=f"Hj. {row['name'].replace('i', 'ii', 1).upper()}")
            if person % 10 == 0:
                again["nik"] = row["nik"][:-1] + str((int(row["nik"][-1]) + 1) % 10)
            birth = row["birth_date"]
            if person % 15 == 0 and birth.day <= 12:
                again["birth_date"] = birth.replace(day=birth.month, month=birth.day)
            add(again, person)
        if person % 25 == 0:  # a twin: same family card, same birth date, another first name
            twin = dict(row, name="Hasan " + row["name"].split(" ")[-1])
            twin["nik"] = row["nik"][:-4] + f"{(int(row['nik'][-4:]) + 1) % 10000:04d}"
            if row["name"].split(" ")[0].lower() == "hasan":
                twin["name"] = "Husein"
            add(twin, people + person)
    return pa.Table.from_pylist(rows), truth


def fast(settings: LinkageSettings) -> LinkageSettings:
    """The shipped settings with training sized for a few hundred records."""
    return dataclasses.replace(
        settings,
        training=dataclasses.replace(settings.training, u_max_pairs=100_000, em_max_pairs=None),
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, int]]:
    root = tmp_path_factory.mktemp("linkage")
    table, truth = registry()
    con = duckdb.connect()
    con.register("base", table)
    assert write_records("base", "registry", root / "records.parquet", con=con) == len(truth)
    con.close()
    return root, truth


@pytest.fixture(scope="module")
def duck_run(world: tuple[Path, dict[int, int]]) -> Path:
    root, _ = world
    dedupe(root / "records.parquet", folder=root / "duck", settings=fast(load_settings("registry")))
    return root / "duck"


def test_records_carry_what_the_nik_says(world: tuple[Path, dict[int, int]]) -> None:
    root, _ = world
    rows = pq.read_table(root / "records.parquet").to_pylist()
    woman = next(r for r in rows if r["sex"] == "P")
    assert (
        woman["nik_birth"]
        == woman["birth_date"][8:10] + woman["birth_date"][5:7] + (woman["birth_date"][2:4])
    )
    assert woman["nik_region"] == woman["district_code"]
    assert all(r["dusun"] in ("krajan", "wetan", "kulon") for r in rows)
    assert {"record_id", "source", "name", "first_key"} <= set(rows[0])
    assert set(BASE_COLUMNS) - {"address"} <= set(rows[0])


def test_a_dedupe_finds_the_known_duplicates(
    world: tuple[Path, dict[int, int]], duck_run: Path
) -> None:
    _, truth = world
    clusters = pq.read_table(duck_run / "clusters.parquet")
    assert clusters.column_names[: len(CLUSTER_COLUMNS)] == list(CLUSTER_COLUMNS)
    assert clusters.num_rows == len(truth)
    quality = cluster_quality(
        {r["record_id"]: r["cluster_id"] for r in clusters.to_pylist()}, truth
    )
    assert quality.f1 >= 0.95, quality.line()


def test_the_pairs_file_follows_the_contract(duck_run: Path) -> None:
    pairs = pq.read_table(duck_run / "pairs.parquet")
    names = comparison_names(pairs.column_names)
    assert names == ["name", "birth_date", "nik", "sex", "kk", "address", "family", "twins"]
    assert pairs.column_names[:4] == list(PAIR_KEYS)
    assert set(SCORE_COLUMNS) <= set(pairs.column_names)
    for row in pairs.to_pylist():
        assert row["record_id_l"] < row["record_id_r"]
        total = row["prior_weight"] + sum(row[f"weight_{n}"] for n in names)
        assert total == pytest.approx(row["match_weight"], abs=1e-6)
    assert read_model(duck_run / "model.json").probability_two_random_records_match > 0


def test_twins_are_never_merged(world: tuple[Path, dict[int, int]], duck_run: Path) -> None:
    _, truth = world
    cluster = {
        r["record_id"]: r["cluster_id"]
        for r in pq.read_table(duck_run / "clusters.parquet").to_pylist()
    }
    twins = [record for record, person in truth.items() if person >= 300]
    assert twins
    for twin in twins:
        sibling = min(r for r, p in truth.items() if p == truth[twin] - 300)
        assert cluster[twin] != cluster[sibling]
    pairs = pq.read_table(duck_run / "pairs.parquet").to_pylist()
    assert all(p["match_weight"] < 0 for p in pairs if p["level_twins"].startswith("twins"))


def test_a_chain_never_joins_twins() -> None:
    # Twins a and b, each strongly like c: the strongest edge (a–c) is kept, b–c would put the
    # twins in one cluster and is left out; d joins b as before.
    edges = [
        {"node_l": "r-a", "node_r": "r-c", "match_weight": 20.0},
        {"node_l": "r-b", "node_r": "r-d", "match_weight": 18.0},
        {"node_l": "r-b", "node_r": "r-c", "match_weight": 15.0},
    ]
    named = _constrained_components(edges, {"r-a": {"r-b"}, "r-b": {"r-a"}})
    assert named == {"r-a": "r-a", "r-c": "r-a", "r-b": "r-b", "r-d": "r-b"}


def test_a_pair_never_merged_stays_apart_through_a_third_record(
    duck_run: Path, tmp_path: Path
) -> None:
    # Three registrations of one person, the first two told apart by a rule (here: another RT,
    # the third has none): the rule keeps their own edge out, and the cluster the third record
    # would make of all three is cut again, the third joining one of them.
    first = dict(_person(random.Random(5), 1), record_id=1, rt="1")
    rows = [first, dict(first, record_id=2, rt="2"), dict(first, record_id=3, rt=None)]
    con = duckdb.connect()
    con.register("three", pa.Table.from_pylist(rows))
    write_records("three", "registry", tmp_path / "three.parquet", con=con)
    settings = fast(load_settings("registry"))
    dedupe(
        tmp_path / "three.parquet",
        folder=tmp_path / "run",
        settings=dataclasses.replace(settings, never_merge=(*settings.never_merge, "rt_l <> rt_r")),
        model=duck_run / "model.json",
    )
    pairs = pq.read_table(tmp_path / "run" / "pairs.parquet").to_pylist()
    strong = {(p["record_id_l"], p["record_id_r"]) for p in pairs if p["match_weight"] >= 10}
    assert strong == {(1, 2), (1, 3), (2, 3)}  # each pair alone is a match
    cluster = {
        r["record_id"]: r["cluster_id"]
        for r in pq.read_table(tmp_path / "run" / "clusters.parquet").to_pylist()
    }
    assert cluster[1] != cluster[2]
    assert cluster[3] in (cluster[1], cluster[2])


def test_a_model_trained_with_other_settings_is_refused(
    world: tuple[Path, dict[int, int]], duck_run: Path, tmp_path: Path
) -> None:
    import json

    from lumbung.errors import ValidationFailed

    model = json.loads((duck_run / "model.json").read_text(encoding="utf-8"))
    del model["parameters"]["levels"]["name"][2]  # as if trained before a level was added
    older = tmp_path / "model.json"
    older.write_text(json.dumps(model), encoding="utf-8")
    root, _ = world
    with pytest.raises(ValidationFailed) as refused:
        dedupe(root / "records.parquet", folder=tmp_path / "run", model=older)
    assert refused.value.cause == "linkage_model_mismatch"
    assert "'name'" in refused.value.message


def test_a_batch_is_linked_with_the_release_model(
    world: tuple[Path, dict[int, int]], duck_run: Path, tmp_path: Path
) -> None:
    root, _truth = world
    table, _ = registry()
    duplicates = table.filter(pa.compute.is_in(table.column("record_id"), pa.array([2, 3, 4])))
    con = duckdb.connect()
    con.register("batch", duplicates)
    write_records("batch", "batch", tmp_path / "batch.parquet", con=con)
    summary = link(
        root / "records.parquet",
        tmp_path / "batch.parquet",
        folder=tmp_path / "run",
        settings=fast(load_settings("registry")),
        model=duck_run / "model.json",
    )
    assert not summary.trained
    # a given model: no training stage, the others timed
    assert {"load", "predict", "pairs", "clusters"} <= set(summary.stages)
    assert "u" not in summary.stages
    assert all(wall >= 0 and cpu >= 0 for wall, cpu in summary.stages.values())
    pairs = pq.read_table(tmp_path / "run" / "pairs.parquet").to_pylist()
    found = set()
    for p in pairs:
        sides = {p["source_l"]: p["record_id_l"], p["source_r"]: p["record_id_r"]}
        if p["match_weight"] >= 10:
            found.add((sides["batch"], sides["registry"]))
    # Each batch row finds itself; the twin (3) is found neither in its sibling (1) nor in the
    # sibling's second registration (2), nor they in it.
    assert {(2, 2), (3, 3), (4, 4)} <= found
    assert not {(3, 1), (3, 2), (2, 3), (1, 3)} & found


def test_spark_gives_the_same_clusters_with_the_same_model(
    world: tuple[Path, dict[int, int]], duck_run: Path
) -> None:
    root, _ = world
    with open_spark() as engine:
        dedupe(
            root / "records.parquet",
            folder=root / "spark",
            settings=fast(load_settings("registry")),
            model=duck_run / "model.json",
            spark=engine.session,
        )
    on_duck = pq.read_table(duck_run / "clusters.parquet").to_pylist()
    on_spark = pq.read_table(root / "spark" / "clusters.parquet").to_pylist()
    assert on_spark == on_duck
    duck_pairs = pq.read_table(duck_run / "pairs.parquet")
    spark_pairs = pq.read_table(root / "spark" / "pairs.parquet")
    assert spark_pairs.num_rows == duck_pairs.num_rows


def _one_edit(text: str, rnd: random.Random) -> str:
    """`text` with one change, insertion, removal or swap of neighbours (or none at the end)."""
    i = rnd.randrange(len(text) + 1)
    kind = rnd.randrange(4)
    if kind == 0 and i < len(text):
        return text[:i] + rnd.choice("01ab") + text[i + 1 :]
    if kind == 1:
        return text[:i] + rnd.choice("01ab") + text[i:]
    if kind == 2 and i < len(text):
        return text[:i] + text[i + 1 :]
    if i < len(text) - 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text


def test_the_guarded_damerau_level_takes_exactly_the_pairs_the_distance_takes() -> None:
    """The Damerau-Levenshtein level's cheap test before the distance (settings.py,
    `_guarded_damerau`) never turns away a pair within distance 1: strings of every length
    from empty to 19, with one or two edits anywhere, and NULLs."""
    from splink.internals.dialects import SplinkDialect

    from lumbung.linkage.settings import _guarded_damerau

    guarded = _guarded_damerau("s", 1).create_sql(SplinkDialect.from_string("duckdb"))
    plain = 'damerau_levenshtein("s_l", "s_r") <= 1'
    assert guarded != plain and guarded.endswith(plain)
    rnd = random.Random(5)
    rows: list[tuple[str | None, str | None]] = [(None, "x"), ("x", None), (None, None)]
    for _ in range(50_000):
        a = "".join(rnd.choice("01ab") for _ in range(rnd.randrange(20)))
        b = _one_edit(a, rnd) if rnd.random() < 0.7 else _one_edit(a[::-1], rnd)
        rows.append((a, _one_edit(b, rnd) if rnd.random() < 0.3 else b))
    con = duckdb.connect()
    con.register("t", pa.table({"s_l": [r[0] for r in rows], "s_r": [r[1] for r in rows]}))
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE coalesce(({guarded}), false) "
        f"<> coalesce(({plain}), false)), count(*) FILTER (WHERE {plain}) FROM t"
    ).fetchone()
    assert row is not None
    differing, within = row
    assert differing == 0
    assert within > 20_000  # most pairs are one edit apart: the test tests something
