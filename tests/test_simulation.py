"""Policy simulation (issue 18): scenarios through the cycle engine, on both databases.

The registry is test_cycles' ten families (family s in desil s; PKH pays family 1, with a
grandmother of 75, and family 2). Every figure below is computed here from the families
themselves, not read back from the service.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine

from api_helpers import make_api, problem_of
from conftest import user
from factories import kk
from lumbung.db import session_scope
from lumbung.engine.names import EngineName
from lumbung.errors import NotFound, PermissionDenied, ValidationFailed
from lumbung.jobs.queue import JobQueue
from lumbung.simulation.explain import explain_simulated
from lumbung.simulation.scenario import (
    ProgramChange,
    Scenario,
    changes_from_options,
    read_scenario,
)
from lumbung.simulation.service import (
    compare_simulations,
    delete_simulation,
    list_simulations,
    run_simulation,
    show_simulation,
)
from lumbung.simulation.solve import solve_budget
from lumbung.simulation.survey import targeting_errors
from test_cli import Cli, cli, said  # noqa: F401  (cli: the fixture)
from test_cycles import AS_OF, approve, cycle, registry_families, setup_registry
from test_jobs import data_dir, immediate, submit, view  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("users")

PKH_ELDERLY_YEAR = 2_400_000  # the shipped annual amount
DECISION_TABLES = ("cycle", "entitlement", "enrollment", "program")


def simulate(
    engine: DbEngine,
    folder: Path,
    label: str,
    programs: list[ProgramChange],
    *,
    actor: str = "determiner",
    engine_name: EngineName = EngineName.DUCKDB,
) -> dict[str, Any]:
    with session_scope(engine) as session:
        return run_simulation(
            session,
            actor=user(session, actor),
            label=label,
            scenario=Scenario(f"uji {label}", tuple(programs)),
            release_label="R1",
            data_dir=folder,
            as_of=AS_OF,
            engine=engine_name,
        )


def counts(engine: DbEngine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in (*DECISION_TABLES, "simulation")
        }


def age_on(born: str, day: date) -> int:
    b = date.fromisoformat(born)
    return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


def eligible_elderly() -> int:
    """Members of 70 or more in the families PKH pays on the shipped rule (desil ≤ 3 and a
    component member), counted from the families as imported."""
    _households, members = registry_families()
    by_kk: dict[str, list[dict[str, Any]]] = {}
    for m in members:
        by_kk.setdefault(m["kk_number"], []).append(m)
    found = 0
    for serial in range(1, 4):  # desil s = family s
        people = by_kk[kk(serial)]
        ages = [age_on(m["birth_date"], AS_OF) for m in people]
        has_component = any(
            a >= 70 or m.get("pregnant") == "1" or m.get("school_level") == "sd"
            for a, m in zip(ages, people, strict=True)
        )
        if has_component:
            found += sum(1 for a in ages if a >= 70)
    return found


def test_elderly_doubled_costs_exactly_the_eligible_elderly_and_writes_no_decision(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    before = counts(engine)
    result = simulate(
        engine,
        tmp_path,
        "PKH-LANSIA-2X",
        [ProgramChange("PKH", {"amounts": {"elderly": 2 * PKH_ELDERLY_YEAR}})],
    )
    pkh = result["programs"]["PKH"]
    elderly = eligible_elderly()
    assert elderly == 1
    raise_year = pkh["scenario"]["per_year_idr"] - pkh["baseline"]["per_year_idr"]
    assert raise_year == elderly * PKH_ELDERLY_YEAR
    assert result["difference_year_idr"] == raise_year
    # The baseline is the shipped PKH: 1,800,000 a quarter (test_cycles), four quarters.
    assert pkh["baseline"]["per_year_idr"] == 4 * 1_800_000
    assert pkh["baseline"]["per_month_idr"] == 4 * 1_800_000 // 12
    assert pkh["scenario"]["by_component"]["elderly"] == {"persons": 1, "amount_idr": 1_200_000}
    # Who gains: family 1, in DKI Jakarta (31); nobody enters or leaves.
    assert pkh["families"]["gained"]["families"] == 1
    assert pkh["families"]["gained"]["difference_year_idr"] == PKH_ELDERLY_YEAR
    assert pkh["families"]["entered"]["families"] == pkh["families"]["left"]["families"] == 0
    (province,) = pkh["by"]["province"]
    assert (province["key"], province["gained"], province["difference_year_idr"]) == (
        "31",
        1,
        PKH_ELDERLY_YEAR,
    )
    assert [d["key"] for d in pkh["by"]["decile"]] == [1, 2]
    assert result["kind"] == "simulation" and "SIMULASI" in result["notice"]
    after = counts(engine)
    assert {t: after[t] for t in DECISION_TABLES} == {t: before[t] for t in DECISION_TABLES}
    assert after["simulation"] == before["simulation"] + 1
    assert not (tmp_path / "cycles").exists()


def test_spark_gives_the_numbers_duckdb_gives(engine: DbEngine, tmp_path: Path) -> None:
    # The same scenario on both engines: every figure, group and family move the same.
    setup_registry(engine, tmp_path)
    changes = [
        ProgramChange("PKH", {"amounts": {"elderly": 2 * PKH_ELDERLY_YEAR}}),
        ProgramChange("SEMBAKO", {"decile": 4}),
    ]
    on_duck = simulate(engine, tmp_path, "DUA-MESIN-D", changes)
    on_spark = simulate(engine, tmp_path, "DUA-MESIN-S", changes, engine_name=EngineName.SPARK)

    def figures(result: dict[str, Any]) -> dict[str, Any]:
        return {
            code: {k: v for k, v in p.items() if k != "sample"}
            for code, p in result["programs"].items()
        }

    assert figures(on_spark) == figures(on_duck)
    assert on_duck["programs"]["SEMBAKO"]["scenario"]["beneficiaries"] > 0
    assert on_duck["programs"]["PKH"]["families"]["gained"]["families"] == 1
    assert on_spark["difference_year_idr"] == on_duck["difference_year_idr"]


def test_a_wider_threshold_shows_who_enters_and_an_approved_cycle_is_a_baseline(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    cycle(engine, tmp_path, "PKH-2026-T1")
    approve(engine, "PKH-2026-T1", data_dir=tmp_path)
    result = simulate(
        engine,
        tmp_path,
        "PKH-D4",
        [ProgramChange("PKH", {"decile": 4}, baseline_cycle="PKH-2026-T1")],
    )
    pkh = result["programs"]["PKH"]
    assert pkh["baseline"]["per_cycle_idr"] == 1_800_000  # the approved cycle's total
    entered = pkh["families"]["entered"]
    # Family 4 (desil 4, a child at SD: 225,000 a quarter) comes in; family 3 has no component.
    assert entered["families"] == 1
    assert [s["kk_number"] for s in entered["sample"]] == [kk(4)]
    assert entered["difference_year_idr"] == 4 * 225_000
    assert result["baseline"] == "cycle"
    # The family that enters, opened by the verifier of its regency as a cycle's would be.
    with session_scope(engine) as session:
        why = explain_simulated(
            session,
            actor=user(session, "verifier"),
            label="PKH-D4",
            program="PKH",
            kk_number=kk(4),
            data_dir=tmp_path,
        )
        assert (why["outcome"], why["amount_idr"], why["simulation"]) == (
            "entitled",
            225_000,
            "PKH-D4",
        )
        assert why["components"] == {"school_sd": {"persons": 1, "amount_idr": 225_000}}
        assert "decile <= 4" in why["eligibility"]
        with pytest.raises(NotFound):  # outside the reader's region: as if not there
            explain_simulated(
                session,
                actor=user(session, "other_verifier"),
                label="PKH-D4",
                program="PKH",
                kk_number=kk(4),
                data_dir=tmp_path,
            )


def test_budget_solve_never_exceeds_and_the_next_desil_would(
    engine: DbEngine, tmp_path: Path
) -> None:
    setup_registry(engine, tmp_path)
    # SEMBAKO pays 200,000 a month to each family in desil ≤ N: 2,400,000 a year each.
    budget = 3 * 2_400_000 + 1_000_000
    with session_scope(engine) as session:
        answer = solve_budget(
            session,
            actor=user(session, "determiner"),
            program="SEMBAKO",
            budget_year_idr=budget,
            method="decile",
            release_label="R1",
            data_dir=tmp_path,
            as_of=AS_OF,
            save_as="SEMBAKO-BUDGET",
        )
    assert answer["solved"] and answer["decile"] == 3
    assert answer["per_year_idr"] == 3 * 2_400_000 <= budget
    assert answer["next"]["per_year_idr"] == 4 * 2_400_000 > budget
    assert answer["by_province"] == [
        {"province_code": "31", "beneficiaries": 3, "per_year_idr": 3 * 2_400_000}
    ]
    with session_scope(engine) as session:
        saved = show_simulation(session, actor=user(session, "auditor"), label="SEMBAKO-BUDGET")
    assert saved["programs"]["SEMBAKO"]["scenario"]["per_year_idr"] == 3 * 2_400_000
    # Scaling: the six SEMBAKO families at 2,400,000 a year cost 14,400,000; 10,000,000
    # allows 138,000 a month (×6×12 = 9,936,000), the next thousand would not.
    with session_scope(engine) as session:
        scaled = solve_budget(
            session,
            actor=user(session, "determiner"),
            program="SEMBAKO",
            budget_year_idr=10_000_000,
            method="scale",
            release_label="R1",
            data_dir=tmp_path,
            as_of=AS_OF,
        )
    # A score cut per regency: the poorest p % of each regency (here one regency of ten).
    with session_scope(engine) as session:
        cut = solve_budget(
            session,
            actor=user(session, "determiner"),
            program="SEMBAKO",
            budget_year_idr=budget,
            method="percentile",
            release_label="R1",
            data_dir=tmp_path,
            as_of=AS_OF,
        )
    assert (cut["percent"], cut["beneficiaries"]) == (39, 3)  # 40 % takes family 4 as well
    assert cut["per_year_idr"] == 3 * 2_400_000 <= budget < cut["next"]["per_year_idr"]
    (regency,) = cut["score_cuts"]
    assert (regency["regency_code"], regency["households"]) == ("31.71", 3)
    assert regency["score_cut"] == pytest.approx(12 + 0.01 * 23)  # family 3: floor 23 m²
    assert scaled["solved"] and scaled["amounts"] == {"monthly_idr": 138_000}
    assert scaled["per_year_idr"] == 6 * 12 * 138_000 <= 10_000_000 < 6 * 12 * 139_000


def test_deleting_removes_the_row_and_the_files(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    result = simulate(engine, tmp_path, "S1", [ProgramChange("SEMBAKO", {"decile": 5})])
    folder = tmp_path / result["folder"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "SEMBAKO.baseline.parquet",
        "SEMBAKO.families.parquet",
        "SEMBAKO.scenario.parquet",
    ]
    with session_scope(engine) as session:
        delete_simulation(session, actor=user(session, "determiner"), label="S1", data_dir=tmp_path)
    assert not (tmp_path / "simulations" / "S1").exists()
    assert counts(engine)["simulation"] == 0
    with session_scope(engine) as session, pytest.raises(NotFound):
        show_simulation(session, actor=user(session, "determiner"), label="S1")
    # The label is free again: rerunning converges.
    again = simulate(engine, tmp_path, "S1", [ProgramChange("SEMBAKO", {"decile": 5})])
    assert again["programs"]["SEMBAKO"]["scenario"]["beneficiaries"] == 5


def test_changes_that_do_not_fit_say_which_key_and_why(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    bad: list[tuple[dict[str, Any], str, str]] = [
        ({"amounts": {"lansia": 100}}, "amounts.lansia", "tidak punya komponen `lansia`"),
        ({"amount": 5}, "changes.amount", "tidak dikenal"),
        ({"amounts": {"elderly": 2_400_001}}, "amounts.elderly", "tidak dibulatkan"),
        ({"decile": 11}, "changes.decile", "desil 1 sampai 10"),
        ({"monthly_idr": 5}, "changes.monthly_idr", "amounts"),
        ({"regions": ["3"]}, "changes.regions", "bukan kode provinsi"),
        ({"eligibility": "decile <= 3 and warna == 1"}, "PKH", "tidak sah"),
    ]
    for changes, key, why in bad:
        with pytest.raises(ValidationFailed) as caught:
            simulate(engine, tmp_path, "BAD", [ProgramChange("PKH", changes)])
        assert key in str(caught.value) and why in str(caught.value), str(caught.value)
    assert counts(engine)["simulation"] == 0
    assert not (tmp_path / "simulations" / "BAD").exists() or not any(
        (tmp_path / "simulations" / "BAD").iterdir()
    )
    assert changes_from_options(["amounts.elderly=4_800_000", "regions=31,32.01"]) == {
        "amounts": {"elderly": 4_800_000},
        "regions": ["31", "32.01"],
    }


def test_a_scenario_file_with_regions_and_two_programs(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "title: Sembako hanya di Jawa Barat, PKH desil 4\n"
        "programs:\n"
        "  - program: SEMBAKO\n"
        "    changes: {regions: ['32']}\n"
        "  - program: PKH\n"
        "    changes: {decile: 4}\n",
        encoding="utf-8",
    )
    scenario = read_scenario(path)
    with session_scope(engine) as session:
        result = run_simulation(
            session,
            actor=user(session, "determiner"),
            label="TWO",
            scenario=scenario,
            release_label="R1",
            data_dir=tmp_path,
            as_of=AS_OF,
        )
    sembako = result["programs"]["SEMBAKO"]
    assert sembako["scenario"]["beneficiaries"] == 0  # every family lives in 31.71
    assert sembako["families"]["left"]["families"] == 6
    assert result["programs"]["PKH"]["families"]["entered"]["families"] == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: x\nprograms:\n  - program: PKH\n    chnages: {}\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match=r"programs\[0\]\.chnages"):
        read_scenario(bad)


def test_who_may_run_and_read_simulations(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    for actor in ("verifier", "operator", "auditor", "admin"):
        with pytest.raises(PermissionDenied):
            simulate(engine, tmp_path, "X", [ProgramChange("SEMBAKO")], actor=actor)
    simulate(engine, tmp_path, "PKH-D4", [ProgramChange("PKH", {"decile": 4})], actor="determiner")
    with session_scope(engine) as session:
        for reader in ("verifier", "operator"):
            with pytest.raises(PermissionDenied):
                list_simulations(session, actor=user(session, reader))
        assert [s["label"] for s in list_simulations(session, actor=user(session, "admin"))] == [
            "PKH-D4"
        ]
        seen = show_simulation(session, actor=user(session, "auditor"), label="PKH-D4")
        sample = seen["programs"]["PKH"]["families"]["entered"]["sample"]
        assert sample and sample[0]["kk_number"] != kk(4)  # masked for an auditor
        full = show_simulation(session, actor=user(session, "determiner"), label="PKH-D4")
        assert full["programs"]["PKH"]["families"]["entered"]["sample"][0]["kk_number"] == kk(4)
        both = compare_simulations(session, actor=user(session, "auditor"), labels=["PKH-D4"])
        assert [s["label"] for s in both] == ["PKH-D4"]
        with pytest.raises(PermissionDenied):
            delete_simulation(
                session, actor=user(session, "auditor"), label="PKH-D4", data_dir=tmp_path
            )


def test_the_command_line_runs_compares_exports_and_deletes(
    engine: DbEngine,
    cli: Cli,  # noqa: F811  (the fixture from test_cli)
    tmp_path: Path,
) -> None:
    data = cli.data_dir
    setup_registry(engine, data)
    common = ("--release", "R1", "--as-of", AS_OF.isoformat(), "--as", "determiner")
    doubled = cli.json(
        "simulate",
        "run",
        "LANSIA",
        "--program",
        "PKH",
        "--change",
        "amounts.elderly=4800000",
        *common,
    )
    assert doubled["difference_year_idr"] == eligible_elderly() * PKH_ELDERLY_YEAR
    shown = said(cli.ok("simulate", "show", "LANSIA", "--as", "auditor").stdout)
    assert "SIMULASI" in shown and "+Rp2.400.000" in shown
    assert "perubahan: amounts.elderly=4800000" in shown  # as typed, not a Python dict
    cli.ok("simulate", "run", "D4", "--program", "PKH", "--change", "decile=4", *common)
    listed = cli.json("simulate", "list", "--as", "admin")
    assert [s["label"] for s in listed] == ["D4", "LANSIA"]
    refused = cli.run("simulate", "list", "--as", "verifier")
    assert refused.exit_code != 0 and "simulasi" in said(refused.output)
    xlsx = tmp_path / "both.xlsx"
    cli.ok("simulate", "export", "LANSIA", "D4", "--out", str(xlsx), "--as", "auditor")
    from openpyxl import load_workbook

    book = load_workbook(xlsx)
    assert book.sheetnames == [
        "Ringkasan",
        "Provinsi",
        "Kabupaten",
        "Desil",
        "Komponen",
        "Keluarga",
    ]
    summary = [[c.value for c in row] for row in book["Ringkasan"].iter_rows(min_row=4)]
    assert [(r[0], r[2], r[11]) for r in summary] == [
        ("LANSIA", "PKH", PKH_ELDERLY_YEAR),
        ("D4", "PKH", 4 * 225_000),
    ]
    assert "SIMULASI" in str(book["Provinsi"]["A1"].value)
    csv_file = tmp_path / "both.csv"
    cli.ok("simulate", "export", "LANSIA", "D4", "--out", str(csv_file), "--as", "auditor")
    import csv

    lines = list(csv.DictReader(csv_file.open(encoding="utf-8")))
    provinces = [r for r in lines if r["tingkat"] == "provinsi" and r["simulasi"] == "LANSIA"]
    assert [(r["kode"], r["nama"], r["selisih_setahun_idr"]) for r in provinces] == [
        ("31", "Daerah Khusus Ibukota Jakarta", str(PKH_ELDERLY_YEAR))
    ]
    solved = cli.json(
        "simulate",
        "solve",
        "--program",
        "SEMBAKO",
        "--budget",
        "8000000",
        "--release",
        "R1",
        "--as-of",
        AS_OF.isoformat(),
        "--as",
        "determiner",
    )
    assert (solved["decile"], solved["per_year_idr"]) == (3, 3 * 2_400_000)
    cli.ok("simulate", "delete", "D4", "--as", "determiner")
    assert [s["label"] for s in cli.json("simulate", "list", "--as", "admin")] == ["LANSIA"]
    gone = cli.run("simulate", "show", "D4", "--as", "admin")
    assert gone.exit_code != 0 and "D4 tidak ada" in said(gone.output)


def test_a_simulation_job_and_the_api(
    engine: DbEngine,
    data_dir: Path,  # noqa: F811  (the fixtures from test_jobs)
    immediate: JobQueue,  # noqa: F811
) -> None:
    setup_registry(engine, data_dir)
    scenario = {
        "title": "PKH lansia dua kali",
        "programs": [{"program": "PKH", "changes": {"amounts": {"elderly": 4_800_000}}}],
    }
    params = {"label": "JOB-1", "release": "R1", "scenario": scenario, "as_of": str(AS_OF)}
    job = view(engine, "determiner", submit(engine, "determiner", "simulation_run", params))
    assert job.state == "succeeded", job.error
    assert job.result is not None
    assert (job.result["kind"], job.result["difference_year_idr"]) == (
        "simulation",
        eligible_elderly() * PKH_ELDERLY_YEAR,
    )
    with pytest.raises(ValidationFailed, match="bukan berkas"):
        submit(
            engine,
            "determiner",
            "simulation_run",
            {**params, "scenario": {"title": "x", "programs": [{"program": "/etc/x.yaml"}]}},
        )
    with pytest.raises(PermissionDenied):
        submit(engine, "operator", "simulation_run", params)

    api = make_api(engine, data_dir, ["determiner", "auditor", "verifier", "operator"])
    assert [s["label"] for s in api.get("auditor", "/simulations").json()] == ["JOB-1"]
    problem_of(api.get("verifier", "/simulations"), 403, "permission_denied")
    shown = api.get("auditor", "/simulations/JOB-1").json()
    assert shown["kind"] == "simulation" and shown["region_names"]["31"]
    exported = api.get("auditor", "/simulations/export", params={"label": "JOB-1", "format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "JOB-1,PKH,nasional" in exported.text
    why = api.get(
        "verifier", "/simulations/JOB-1/explain", params={"program": "PKH", "kk": kk(1)}
    ).json()
    assert (why["kind"], why["amount_idr"]) == ("simulation", 1_575_000 + 600_000)
    body = {"label": "API-1", "release": "R1", "title": "x", "programs": [{"program": "SEMBAKO"}]}
    problem_of(api.post("operator", "/simulations", json=body), 403, "permission_denied")
    queued = api.post("determiner", "/simulations", json=body)
    assert queued.status_code == 202 and queued.json()["kind"] == "simulation_run"
    solved = api.post(
        "determiner",
        "/simulations/solve",
        json={
            "program": "SEMBAKO",
            "release": "R1",
            "budget_year_idr": 8_000_000,
            "as_of": str(AS_OF),
        },
    ).json()
    assert (solved["decile"], solved["per_year_idr"]) == (3, 3 * 2_400_000)
    gone = api.client.delete("/api/v1/simulations/JOB-1", headers=api.auth("determiner"))
    assert gone.status_code == 200, gone.text
    problem_of(api.get("auditor", "/simulations/JOB-1"), 404, "not_found")


def test_inclusion_and_exclusion_error_against_a_survey(engine: DbEngine, tmp_path: Path) -> None:
    setup_registry(engine, tmp_path)
    simulate(engine, tmp_path, "BASE", [ProgramChange("PKH")])
    # Consumption: family 1 (paid by PKH) is in fact the richest; families 2 and 3 the poorest.
    survey = tmp_path / "survey"
    survey.mkdir()
    lines = ["kk_number,consumption_per_capita"]
    lines += [f"{kk(s)},{2_000_000 if s == 1 else 100_000 * s}" for s in range(1, 11)]
    lines.append(f"{kk(99)},50000")  # not in the release: left out
    (survey / "households.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with session_scope(engine) as session:
        found = targeting_errors(
            session, actor=user(session, "auditor"), label="BASE", survey=survey, data_dir=tmp_path
        )
    assert (found["survey_households"], found["in_release"]) == (11, 10)
    # PKH pays families 1 and 2 (coverage 2 of 10); the poorest two are 2 and 3.
    assert found["programs"]["PKH"]["scenario"] == {
        "coverage": 0.2,
        "inclusion_error": 0.5,
        "exclusion_error": 0.5,
    }
    assert found["programs"]["PKH"]["baseline"] == found["programs"]["PKH"]["scenario"]
    (survey / "households.csv").write_text("kk_number,weight\n1,1\n", encoding="utf-8")
    with session_scope(engine) as session, pytest.raises(ValidationFailed, match="consumption"):
        targeting_errors(
            session, actor=user(session, "auditor"), label="BASE", survey=survey, data_dir=tmp_path
        )


def test_the_web_pages_show_a_simulation_to_national_readers(
    engine: DbEngine, tmp_path: Path
) -> None:
    from web_helpers import client, enrolled, give_passwords, make_app, sign_in

    data = tmp_path / "data"
    setup_registry(engine, data)
    simulate(engine, data, "LANSIA", [ProgramChange("PKH", {"amounts": {"elderly": 4_800_000}})])
    give_passwords(engine, "determiner", "verifier")
    app = make_app(engine, data)
    browser = enrolled(app, "determiner")
    listed = browser.get("/simulasi")
    assert listed.status_code == 200 and "LANSIA" in listed.text and "SIMULASI" in listed.text
    shown = browser.get("/simulasi/LANSIA")
    assert shown.status_code == 200
    assert "Daerah Khusus Ibukota Jakarta (31)" in shown.text and "2.400.000" in shown.text
    assert shown.text.count("<svg") == 3 and "Rp2.400.000</text>" in shown.text  # bars, map, bars
    book = browser.get("/simulasi/LANSIA/xlsx")
    assert book.status_code == 200 and book.content[:2] == b"PK"
    verifier = client(app)
    sign_in(verifier, "verifier")
    assert verifier.get("/simulasi").status_code == 403
