"""The synthetic batch generator: format, identity numbers, consistency, truth and noise."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from lokal import parse_nik

from lumbung.regions.catalog import all_regions
from lumbung.synth import REFERENCE_DATE, SynthSummary, generate

HOUSEHOLD_HEADER = (
    "kk_number,village_code,address,rt,rw,latitude,longitude,floor_area_m2,floor_material,"
    "wall_material,roof_material,toilet,water_source,lighting,cooking_fuel,tenure,owns_land,"
    "motorbikes,has_car,has_refrigerator,has_air_conditioner,has_gold,large_livestock"
)
MEMBER_HEADER = (
    "kk_number,nik,name,sex,birth_date,relationship,marital_status,education,school_level,"
    "occupation,disability,disability_severity,pregnant,mother_name"
)
ENUMS = {
    "floor_material": "tanah bambu kayu_murah semen ubin keramik marmer_granit parket",
    "wall_material": "bambu_rumbia kayu_murah tembok_tanpa_plester kayu_berkualitas tembok",
    "roof_material": "ijuk_rumbia seng asbes genteng beton",
    "toilet": "tidak_ada umum bersama sendiri",
    "water_source": "sungai_hujan sumur_tak_terlindung sumur_terlindung ledeng air_kemasan",
    "lighting": "bukan_listrik listrik_non_pln pln_450 pln_900 pln_1300 pln_2200_plus",
    "cooking_fuel": "kayu_arang minyak_tanah gas_3kg gas_besar listrik",
    "tenure": "milik_sendiri kontrak_sewa bebas_sewa dinas lainnya",
    "sex": "L P",
    "relationship": "kepala_keluarga istri_suami anak menantu cucu orang_tua mertua famili_lain "
    "lainnya",
    "marital_status": "belum_kawin kawin cerai_hidup cerai_mati",
    "education": "tidak_sekolah sd smp sma diploma sarjana",
    "school_level": "tidak paud sd smp sma pt",
    "occupation": "tidak_bekerja petani nelayan buruh pedagang wiraswasta karyawan_swasta "
    "pns_tni_polri lainnya",
    "disability": "tidak_ada fisik netra rungu_wicara mental intelektual ganda",
    "disability_severity": "tidak_ada ringan sedang berat",
}
FLAGS = ("owns_land", "has_car", "has_refrigerator", "has_air_conditioner", "has_gold")
SCHOOL_AGES = {"paud": (4, 6), "sd": (7, 12), "smp": (13, 15), "sma": (16, 18), "pt": (19, 22)}
# Youngest age at which a level can have been completed.
COMPLETED_AGE = {"tidak_sekolah": 0, "sd": 12, "smp": 15, "sma": 18, "diploma": 20, "sarjana": 21}
FILES = ("households.csv", "members.csv", "truth/consumption.csv", "truth/noise.csv")


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def age_on(birth: dt.date, day: dt.date = REFERENCE_DATE) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class Batch:
    def __init__(self, out: Path, summary: SynthSummary) -> None:
        self.out = out
        self.summary = summary
        self.households = rows(out / "households.csv")
        self.members = rows(out / "members.csv")
        self.consumption = rows(out / "truth" / "consumption.csv")
        self.noise = rows(out / "truth" / "noise.csv")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    out = tmp_path_factory.mktemp("clean")
    return Batch(out, generate(households=2000, seed=11, out_dir=out))


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    out = tmp_path_factory.mktemp("noisy")
    return Batch(out, generate(households=2000, seed=11, out_dir=out, noise=0.1))


def test_headers_are_exactly_the_exchange_format(clean: Batch) -> None:
    lines = {n: (clean.out / n).read_text("utf-8").splitlines()[0] for n in FILES}
    assert lines["households.csv"] == HOUSEHOLD_HEADER
    assert lines["members.csv"] == MEMBER_HEADER
    assert lines["truth/consumption.csv"] == "kk_number,consumption_per_capita,members"
    assert lines["truth/noise.csv"] == "file,row,kk_number,nik,column,kind,original,noisy"
    assert "consumption" not in HOUSEHOLD_HEADER + MEMBER_HEADER
    assert not (clean.out / "consumption.csv").exists()


def test_summary_counts_what_was_written(clean: Batch) -> None:
    s = clean.summary
    assert (s.households, s.members, s.noise_rows) == (2000, len(clean.members), 0)
    assert len(clean.households) == 2000
    assert clean.noise == []
    assert {p.name for p in s.files.values()} == {Path(f).name for f in FILES}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        generate(households=300, seed=seed, out_dir=out, noise=0.05)
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "households.csv").read_bytes() != (c / "households.csv").read_bytes()
    assert (a / "members.csv").read_bytes() != (c / "members.csv").read_bytes()


def test_values_follow_the_format(clean: Batch) -> None:
    for h in clean.households:
        for col in ("floor_material", "wall_material", "roof_material", "toilet"):
            assert h[col] in ENUMS[col].split()
        for col in ("water_source", "lighting", "cooking_fuel", "tenure"):
            assert h[col] in ENUMS[col].split()
        assert all(h[f] in ("0", "1") for f in FLAGS)
        assert re.fullmatch(r"\d{3}", h["rt"])
        assert re.fullmatch(r"\d{3}", h["rw"])
        assert h["rt"] != "000"
        assert h["rw"] != "000"
        assert re.fullmatch(r"-?\d+\.\d{6}", h["latitude"])
        assert re.fullmatch(r"-?\d+\.\d{6}", h["longitude"])
        assert -11 <= float(h["latitude"]) <= 6
        assert 95 <= float(h["longitude"]) <= 141
        assert int(h["floor_area_m2"]) > 0
        assert int(h["motorbikes"]) >= 0
        assert int(h["large_livestock"]) >= 0
        assert h["address"]
    for m in clean.members:
        for col in ENUMS.keys() & m.keys():
            assert m[col] in ENUMS[col].split(), (col, m[col])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", m["birth_date"])
        assert m["pregnant"] in ("0", "1")
        assert re.fullmatch(r"[A-Z]+( [A-Z]+)*", m["name"])
        assert len(m["name"]) <= 100
    filled = sum(bool(m["mother_name"]) for m in clean.members)
    assert filled > 0.85 * len(clean.members)


def test_villages_are_real_and_kk_numbers_unique(clean: Batch) -> None:
    villages = {r.code for r in all_regions() if r.level == 4}
    kks = [h["kk_number"] for h in clean.households]
    assert len(set(kks)) == len(kks)
    for h in clean.households:
        assert h["village_code"] in villages
        kk = h["kk_number"]
        assert re.fullmatch(r"\d{16}", kk)
        assert not kk.endswith("0000")
        assert kk[:6] == h["village_code"].replace(".", "")[:6]
        dt.date(2000 + int(kk[10:12]), int(kk[8:10]), int(kk[6:8]))  # a real issue date
    assert {c["kk_number"] for c in clean.consumption} == set(kks)
    assert {m["kk_number"] for m in clean.members} == set(kks)


def test_niks_valid_unique_and_match_birth_date_and_sex(clean: Batch) -> None:
    niks = [m["nik"] for m in clean.members]
    assert len(set(niks)) == len(niks)
    districts = {r.code.replace(".", "") for r in all_regions() if r.level == 3}
    home = 0
    village_of = {h["kk_number"]: h["village_code"].replace(".", "") for h in clean.households}
    for m in clean.members:
        nik = m["nik"]
        info = parse_nik(nik, reference_date=REFERENCE_DATE)
        assert info.valid, (nik, info.errors)
        assert nik[:6] in districts
        assert nik[:2] == village_of[m["kk_number"]][:2]
        home += nik[:6] == village_of[m["kk_number"]][:6]
        birth = dt.date.fromisoformat(m["birth_date"])
        day = int(nik[6:8])
        assert (day > 40) == (m["sex"] == "P")
        assert day % 40 == birth.day
        assert int(nik[8:10]) == birth.month
        assert int(nik[10:12]) == birth.year % 100
        assert info.birth_date == m["birth_date"]
        assert info.gender == m["sex"]
        assert nik[12:] != "0000"
        assert birth <= REFERENCE_DATE
        assert age_on(birth) <= 120
    assert 0.8 < home / len(niks) < 0.9


def test_households_have_one_head_and_consistent_families(clean: Batch) -> None:
    by_kk: dict[str, list[dict[str, str]]] = defaultdict(list)
    for m in clean.members:
        by_kk[m["kk_number"]].append(m)
    for people in by_kk.values():
        rel = Counter(p["relationship"] for p in people)
        assert rel["kepala_keluarga"] == 1
        assert rel["istri_suami"] <= 1
        head = next(p for p in people if p["relationship"] == "kepala_keluarga")
        parents = [p for p in people if p["relationship"] in ("kepala_keluarga", "istri_suami")]
        if rel["istri_suami"]:
            assert {p["marital_status"] for p in parents} == {"kawin"}
            assert {p["sex"] for p in parents} == {"L", "P"}
        mothers = [p["name"] for p in parents if p["sex"] == "P"]
        for p in people:
            if p["relationship"] == "anak" and mothers and p["mother_name"]:
                assert p["mother_name"] == mothers[0]
        parent_born = [dt.date.fromisoformat(q["birth_date"]) for q in parents]
        for p in people:
            born = dt.date.fromisoformat(p["birth_date"])
            # Years by which the person is younger than the head and the spouse.
            gaps = [(born - b).days / 365.25 for b in parent_born]
            if p["relationship"] == "anak":
                assert all(16 <= g <= 45 for g in gaps), (head["nik"], gaps)
            if p["relationship"] == "cucu":
                assert all(g >= 32 for g in gaps)
            if p["relationship"] in ("orang_tua", "mertua"):
                assert any(16 <= -g <= 45 for g in gaps)
            if age_on(born) < 15:
                assert p["marital_status"] == "belum_kawin"
                assert p["occupation"] == "tidak_bekerja"


def test_person_attributes_fit_age_and_sex(clean: Batch) -> None:
    for m in clean.members:
        age = age_on(dt.date.fromisoformat(m["birth_date"]))
        if m["pregnant"] == "1":
            assert m["sex"] == "P"
            assert 10 <= age <= 55
            assert m["marital_status"] == "kawin"
        assert (m["disability"] == "tidak_ada") == (m["disability_severity"] == "tidak_ada")
        if m["school_level"] != "tidak":
            lo, hi = SCHOOL_AGES[m["school_level"]]
            assert lo <= age <= hi, (m["school_level"], age)
        assert age >= COMPLETED_AGE[m["education"]], (m["education"], age)
    ages = [age_on(dt.date.fromisoformat(m["birth_date"])) for m in clean.members]
    in_sd = [m["school_level"] == "sd" for m, a in zip(clean.members, ages, strict=True) if a == 9]
    assert sum(in_sd) > 0.9 * len(in_sd)
    disabled = sum(m["disability"] != "tidak_ada" for m in clean.members) / len(clean.members)
    assert 0.01 < disabled < 0.04
    pregnant = sum(m["pregnant"] == "1" for m in clean.members)
    assert 0 < pregnant < 0.03 * len(clean.members)


def test_household_size_and_consumption_truth(clean: Batch) -> None:
    sizes = Counter(m["kk_number"] for m in clean.members)
    assert 3.0 <= len(clean.members) / len(clean.households) <= 4.2
    assert [c["kk_number"] for c in clean.consumption] == [h["kk_number"] for h in clean.households]
    for c in clean.consumption:
        assert re.fullmatch(r"\d+", c["consumption_per_capita"])
        assert int(c["members"]) == sizes[c["kk_number"]]
    values = sorted(int(c["consumption_per_capita"]) for c in clean.consumption)
    assert 800_000 < values[len(values) // 2] < 1_700_000


def test_consumption_drives_housing_and_assets(clean: Batch) -> None:
    spend = {c["kk_number"]: int(c["consumption_per_capita"]) for c in clean.consumption}

    def mean_spend(column: str, value: str) -> float:
        chosen = [spend[h["kk_number"]] for h in clean.households if h[column] == value]
        assert len(chosen) >= 20, (column, value)
        return sum(chosen) / len(chosen)

    assert mean_spend("has_car", "1") > 1.5 * mean_spend("has_car", "0")
    assert mean_spend("floor_material", "keramik") > 1.5 * mean_spend("floor_material", "tanah")
    assert mean_spend("has_refrigerator", "1") > mean_spend("has_refrigerator", "0")
    assert mean_spend("cooking_fuel", "gas_3kg") > mean_spend("cooking_fuel", "kayu_arang")
    assert mean_spend("lighting", "pln_2200_plus") > mean_spend("lighting", "pln_450")


def test_noise_share_kinds_and_records(noisy: Batch, clean: Batch) -> None:
    members = noisy.members
    assert noisy.summary.noise_rows == len(noisy.noise)
    assert abs(len(noisy.noise) - 0.1 * len(members)) <= 2
    assert set(Counter(r["kind"] for r in noisy.noise)) == {
        "name_typo",
        "swapped_day_month",
        "invalid_nik",
        "duplicate_nik",
        "missing_head",
    }
    recorded = {(int(r["row"]), r["column"]) for r in noisy.noise}
    assert len({row for row, _ in recorded}) == len(noisy.noise)  # one error per row
    # Apart from the recorded cells, the noisy batch is the clean batch of the same seed.
    assert (noisy.out / "households.csv").read_bytes() == (
        clean.out / "households.csv"
    ).read_bytes()
    for i, (a, b) in enumerate(zip(clean.members, members, strict=True), start=2):
        for col in a:
            assert (a[col] == b[col]) != ((i, col) in recorded), (i, col)
    nik_households: dict[str, set[str]] = defaultdict(set)
    for m in members:
        nik_households[m["nik"]].add(m["kk_number"])
    heads = Counter(m["kk_number"] for m in members if m["relationship"] == "kepala_keluarga")
    for r in noisy.noise:
        m = members[int(r["row"]) - 2]
        assert r["file"] == "members.csv"
        assert r["kk_number"] == m["kk_number"]
        assert m[r["column"]] == r["noisy"] != r["original"]
        assert clean.members[int(r["row"]) - 2][r["column"]] == r["original"]
        if r["kind"] == "invalid_nik":
            assert not parse_nik(r["noisy"], reference_date=REFERENCE_DATE).valid
            assert len(nik_households[r["noisy"]]) == 1
        elif r["kind"] == "duplicate_nik":
            assert len(nik_households[r["noisy"]]) >= 2
        elif r["kind"] == "missing_head":
            assert r["original"] == "kepala_keluarga"
            assert heads[m["kk_number"]] == 0
        elif r["kind"] == "swapped_day_month":
            y, mo, d = r["original"].split("-")
            assert r["noisy"] == f"{y}-{d}-{mo}"
            info = parse_nik(m["nik"], reference_date=REFERENCE_DATE)
            assert info.birth_date != r["noisy"]
        else:
            assert r["kind"] == "name_typo"
            assert r["column"] == "name"
            assert abs(len(r["noisy"]) - len(r["original"])) <= 1


def test_chunks_keep_numbers_unique_and_report_progress(tmp_path: Path) -> None:
    calls: list[int] = []
    summary = generate(households=60_000, seed=2, out_dir=tmp_path, progress=calls.append)
    assert calls == [50_000, 10_000]
    niks: set[str] = set()
    kks: set[str] = set()
    with (tmp_path / "members.csv").open(encoding="utf-8") as f:
        next(f)
        for line in f:
            kk, nik, _ = line.split(",", 2)
            niks.add(nik)
            kks.add(kk)
    assert len(niks) == summary.members
    assert len(kks) == 60_000


def test_zero_households_writes_headers_only(tmp_path: Path) -> None:
    summary = generate(households=0, seed=1, out_dir=tmp_path)
    assert summary.members == 0
    assert (tmp_path / "members.csv").read_text("utf-8") == MEMBER_HEADER + "\n"
    with pytest.raises(ValueError, match="noise"):
        generate(households=1, seed=1, out_dir=tmp_path, noise=1.5)


def test_a_batch_in_one_region_spreads_over_its_villages(tmp_path: Path) -> None:
    """`region` puts every family in a village of that region, drawn evenly over all of them,
    with KKs of the village's district and NIKs of the same province; same seed, same bytes.
    A code that is not a Kemendagri region is refused by name."""
    from lumbung.errors import ValidationFailed

    region = "31.71"  # Jakarta Pusat
    villages = {r.code for r in all_regions() if r.level == 4 and r.code.startswith(region + ".")}
    out = tmp_path / "a"
    summary = generate(households=1500, seed=4, out_dir=out, region=region)
    batch = Batch(out, summary)
    used = Counter(h["village_code"] for h in batch.households)
    assert set(used) == villages  # every village of the region, and only those
    assert max(used.values()) < 3 * min(used.values())  # evenly, not by population
    for h in batch.households:
        assert h["kk_number"][:6] == h["village_code"].replace(".", "")[:6]
    assert all(m["nik"][:2] == "31" for m in batch.members)
    generate(households=1500, seed=4, out_dir=tmp_path / "b", region=region)
    for name in FILES:
        assert (tmp_path / "b" / name).read_bytes() == (out / name).read_bytes()
    one = generate(households=20, seed=4, out_dir=tmp_path / "c", region="31.71.01.1001")
    assert {h["village_code"] for h in Batch(tmp_path / "c", one).households} == {"31.71.01.1001"}
    province = generate(households=300, seed=4, out_dir=tmp_path / "p", region="31")
    regencies = {h["village_code"][:5] for h in Batch(tmp_path / "p", province).households}
    assert len(regencies) > 1 and all(code.startswith("31.") for code in regencies)
    for wrong in ("31.7", "3171", "99", "31.71.99"):
        with pytest.raises(ValidationFailed, match=f"Kode wilayah {wrong} tidak dikenal"):
            generate(households=5, seed=4, out_dir=tmp_path / "d", region=wrong)
    assert not (tmp_path / "d").exists()  # refused before anything was written
