"""`lumbung synth --duplicates`: people registered twice with realistic noise, twins and
common names, truth/persons.csv consistent with the rows, and the batch importing as a real
operator's would (both backends)."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from lokal import parse_nik
from sqlalchemy.engine import Engine

from helpers import counts, run_import
from lumbung.synth import REFERENCE_DATE, SynthSummary, generate, spelling
from lumbung.synth.duplicates import DATE_KINDS, EVENTS, KINDS, NAME_KINDS, NIK_KINDS

FILES = ("households.csv", "members.csv", "truth/consumption.csv", "truth/persons.csv")


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class Batch:
    def __init__(self, out: Path, summary: SynthSummary) -> None:
        self.out = out
        self.summary = summary
        self.households = rows(out / "households.csv")
        self.members = rows(out / "members.csv")
        self.persons = rows(out / "truth" / "persons.csv")
        self.first: dict[str, dict[str, str]] = {}  # person → the member row of its first card
        for p in self.persons:
            if not p["event"]:
                assert p["person_id"] not in self.first
                self.first[p["person_id"]] = self.member(p)

    def member(self, person: dict[str, str]) -> dict[str, str]:
        return self.members[int(person["row"]) - 2]

    def copies(self) -> list[tuple[dict[str, str], dict[str, str], dict[str, str]]]:
        """(truth row, original member row, copied member row) of every copy."""
        return [(p, self.first[p["person_id"]], self.member(p)) for p in self.persons if p["event"]]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    out = tmp_path_factory.mktemp("dup")
    return Batch(out, generate(households=3000, seed=5, out_dir=out, region="33", duplicates=0.1))


def test_same_seed_same_bytes_and_no_duplicates_leaves_the_batch_as_it_was(
    tmp_path: Path,
) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        generate(households=400, seed=seed, out_dir=out, duplicates=0.08)
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "members.csv").read_bytes() != (c / "members.csv").read_bytes()
    plain, zero = tmp_path / "plain", tmp_path / "zero"
    generate(households=400, seed=3, out_dir=plain, noise=0.05)
    generate(households=400, seed=3, out_dir=zero, noise=0.05, duplicates=0.0)
    for name in ("households.csv", "members.csv", "truth/consumption.csv", "truth/noise.csv"):
        assert (plain / name).read_bytes() == (zero / name).read_bytes(), name
    assert not (zero / "truth" / "persons.csv").exists()
    with pytest.raises(ValueError, match="duplicates"):
        generate(households=1, seed=1, out_dir=tmp_path / "d", duplicates=0.9)


def test_truth_names_every_row_and_the_copies_hold_their_share(batch: Batch) -> None:
    s = batch.summary
    assert len(batch.persons) == len(batch.members) == s.members
    assert len(batch.households) == s.households > 3000
    for i, (p, m) in enumerate(zip(batch.persons, batch.members, strict=True), start=2):
        assert (int(p["row"]), p["kk_number"], p["nik"]) == (i, m["kk_number"], m["nik"])
    copies = batch.copies()
    originals = len(batch.members) - len(copies)
    assert len(copies) == s.copies
    assert 0.09 * originals <= len(copies) <= 0.11 * originals
    assert len(batch.first) == originals  # every person once on a first card
    assert set(Counter(p["event"] for p, _, _ in copies)) == set(EVENTS)
    seen = Counter(k for p, _, _ in copies for k in p["kinds"].split("|"))
    assert set(seen) == set(KINDS)  # every kind of noise occurs
    # A person is copied at most once; a copy's family is the original's first card.
    assert max(Counter(p["person_id"] for p, _, _ in copies).values()) == 1
    for p, original, _ in copies:
        assert p["family"] == original["kk_number"] != p["kk_number"]


def test_each_copy_differs_exactly_as_its_kinds_say(batch: Batch) -> None:
    households = {h["kk_number"]: h for h in batch.households}
    for p, original, copy in batch.copies():
        kinds = set(p["kinds"].split("|"))
        assert (copy["name"] != original["name"]) == bool(kinds & set(NAME_KINDS)), p
        assert (copy["birth_date"] != original["birth_date"]) == bool(kinds & set(DATE_KINDS))
        assert copy["sex"] == original["sex"]
        assert len(kinds & set(NIK_KINDS)) == (0 if kinds & set(DATE_KINDS) else 1), p
        assert (copy["nik"] == original["nik"]) == ("nik_exact" in kinds)
        info = parse_nik(copy["nik"], reference_date=REFERENCE_DATE)
        assert info.valid, (copy["nik"], info.errors)
        assert info.birth_date == copy["birth_date"]
        assert info.gender == copy["sex"]
        assert info.province_code == original["nik"][:2]
        if "date_swap" in kinds:
            y, mo, d = original["birth_date"].split("-")
            assert copy["birth_date"] == f"{y}-{d}-{mo}"
        if "year_typo" in kinds:
            assert copy["birth_date"][4:] == original["birth_date"][4:]
        if "nik_transposition" in kinds:
            assert sorted(copy["nik"]) == sorted(original["nik"])
        if "nik_digit" in kinds:
            assert sum(a != b for a, b in zip(copy["nik"], original["nik"], strict=True)) == 1
        if "nik_reissued" in kinds:
            assert copy["nik"][:12] == original["nik"][:12]
        if kinds & set(NAME_KINDS) == {"name_title"}:
            assert any(t in copy["name"].split(" ") for t in spelling.TITLES)
        here = households[copy["kk_number"]]["village_code"]
        there = households[original["kk_number"]]["village_code"]
        if p["event"] == "moved":
            assert here != there
            assert ("moved_district" in kinds) == (here[:8] != there[:8])
        if p["event"] == "reregistered":
            assert here == there
            assert copy["relationship"] == original["relationship"]
        if p["event"] == "split":
            assert copy["relationship"] == "kepala_keluarga"


def test_twins_share_card_and_birth_date_and_are_distinct_persons(batch: Batch) -> None:
    by_person = {p["person_id"]: p for p in batch.persons if not p["event"]}
    pairs = {tuple(sorted((p["person_id"], p["twin"]))) for p in by_person.values() if p["twin"]}
    assert len(pairs) >= 20
    for a, b in pairs:
        assert a != b
        ta, tb = by_person[a], by_person[b]
        assert ta["twin"] == b and tb["twin"] == a
        ma, mb = batch.member(ta), batch.member(tb)
        assert ma["kk_number"] == mb["kk_number"]
        assert ma["birth_date"] == mb["birth_date"]
        assert ma["relationship"] == mb["relationship"] == "anak"
        assert ma["mother_name"] == mb["mother_name"] or "" in (
            ma["mother_name"],
            mb["mother_name"],
        )
        assert ma["name"].split(" ")[0] != mb["name"].split(" ")[0]
        assert ma["nik"] != mb["nik"]


def test_common_names_meet_in_one_district_and_year_in_other_families(batch: Batch) -> None:
    households = {h["kk_number"]: h for h in batch.households}
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for p in batch.persons:
        if p["common_name"] and not p["event"]:
            groups[p["common_name"]].append(batch.member(p))
    assert len(groups) >= 40
    firsts: Counter[str] = Counter()
    for members in groups.values():
        assert len(members) == 2
        a, b = members
        assert a["name"] == b["name"]
        firsts[a["name"].split(" ")[0]] += 1
        assert a["sex"] == b["sex"]
        assert a["birth_date"][:4] == b["birth_date"][:4]
        assert a["kk_number"] != b["kk_number"]
        va, vb = (households[m["kk_number"]]["village_code"] for m in (a, b))
        assert va[:8] == vb[:8]
    assert {"MUHAMMAD", "SITI"} <= set(firsts)
    # Young men in Java often carry MUHAMMAD first (the copies then write it MOH., M., …).
    young_men = [m for m in batch.members if m["sex"] == "L" and m["birth_date"] > "1975"]
    share = sum(m["name"].startswith("MUHAMMAD ") for m in young_men) / len(young_men)
    assert 0.1 < share < 0.2


def test_spelling_variants() -> None:
    r = (0.0, 0.0)
    assert spelling.muhammad("MUHAMMAD RIZKI", r, False, 30) in {
        f"{w} RIZKI" for w in spelling.MUHAMMAD if w != "MUHAMMAD"
    }
    assert spelling.muhammad("BUDI", r, False, 30) is None
    assert spelling.old_spelling("SUKARNO", r, False, 60) == "SOEKARNO"
    assert spelling.old_spelling("DJOKO", r, False, 20) == "JOKO"  # modernised at any age
    assert spelling.old_spelling("SUKARNO", r, False, 20) is None  # not aged
    assert spelling.old_spelling("SYAMSUL", (0.0, 0.0), False, 60) == "SYAMSOEL"
    assert spelling.old_spelling("SYAMSUL", (0.99, 0.0), False, 60) == "SJAMSUL"
    assert spelling.old_spelling("KHOLIL", r, False, 60) == "CHOLIL"
    assert spelling.old_spelling("TJAHJO", r, False, 20) == "CAHJO"
    assert spelling.doubled_letter("MUHAMMAD", (0.0, 0.0), False, 30) == "MUHAMAD"
    assert spelling.doubled_letter("SITI", (0.0, 0.0), True, 30) == "SITTI"
    assert spelling.title("SITI AMINAH", (0.0, 0.0), True, 50) == "HJ. SITI AMINAH"
    assert spelling.title("BUDI", (0.0, 0.9), False, 30) == "BUDI S.PD"
    assert spelling.title("BUDI", (0.0, 0.0), False, 12) is None
    assert spelling.single_name("AQILA NURAINI", (0.0, 0.0), True, 30) == "AQILA"
    assert spelling.single_name("I MADE SUARTA", (0.9, 0.0), False, 30) == "SUARTA"
    assert spelling.single_name("WATI", (0.0, 0.0), True, 30) is None


@pytest.mark.usefixtures("users")
def test_the_batch_imports_as_an_operator_s_would(engine: Engine, tmp_path: Path) -> None:
    """Every row passes the import's checks but the blocked exact NIKs: both rows of such a
    pair are refused (duplicate_nik), and the copy's own card with it (no_valid_members)."""
    out = tmp_path / "batch"
    summary = generate(households=500, seed=8, out_dir=out, region="33.74", duplicates=0.15)
    batch = Batch(out, summary)
    exact = [(p, o, c) for p, o, c in batch.copies() if "nik_exact" in p["kinds"]]
    assert exact
    result = run_import(engine, [out / "households.csv", out / "members.csv"])
    refused = {(e["file"], e["row"], e["code"]) for e in result.errors}
    expected = set()
    kk_rows = {h["kk_number"]: i for i, h in enumerate(batch.households, start=2)}
    rows_of = {(m["kk_number"], m["nik"]): i for i, m in enumerate(batch.members, start=2)}
    for p, original, copy in exact:
        expected.add(("members.csv", int(p["row"]), "duplicate_nik"))
        expected.add(
            ("members.csv", rows_of[original["kk_number"], original["nik"]], "duplicate_nik")
        )
        expected.add(("households.csv", kk_rows[copy["kk_number"]], "no_valid_members"))
    assert refused == expected
    assert result.members_rejected == 2 * len(exact)
    assert result.households_rejected == len(exact)
    assert counts(engine) == (
        len(batch.households) - len(exact),
        len(batch.members) - 2 * len(exact),
    )
