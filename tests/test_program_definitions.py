"""Program definition files: the shipped programs, every problem at FILE:LINE:COL, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from lumbung.cli import app
from lumbung.errors import ValidationFailed
from lumbung.programs.definition import (
    DEFINITION_CODES,
    KNOWN_KEYS,
    ComponentsBenefit,
    InKindBenefit,
    ProgramDefinitionError,
    check_program,
    load_program,
    load_shipped_programs,
    parse_program,
    per_cycle,
    shipped_programs,
    validate_program_file,
)
from lumbung.programs.language import PROBLEM_CODES
from lumbung.programs.source import Problem

DOCS = Path(__file__).resolve().parent.parent / "docs" / "PROGRAMS.md"
SHIPPED = {"PKH", "SEMBAKO", "PBI-JKN", "BLT-BBM-2022", "BLT-MIGOR-2022"}
PER_CYCLE = {
    "PKH": {
        "pregnant": 750_000,
        "early_childhood": 750_000,
        "school_sd": 225_000,
        "school_smp": 375_000,
        "school_sma": 500_000,
        "severe_disability": 600_000,
        "elderly": 600_000,
    },
    "SEMBAKO": {"flat": 200_000},
    "PBI-JKN": {"per_person": 42_000},
    "BLT-BBM-2022": {"flat": 300_000},
    "BLT-MIGOR-2022": {"flat": 300_000},
}

GOOD = """\
code: TEST-FLAT
name: Program uji
version: "1"
unit: household
eligibility: decile <= 2
benefit:
  kind: flat
  monthly_idr: 100000
schedule:
  kind: monthly
channel: pos
"""


def where(text: str, line: int, needle: str, nth: int = 0) -> tuple[int, int]:
    """(line, column) of the nth `needle` on a 1-based line of `text`."""
    row = text.split("\n")[line - 1]
    column = -1
    for _ in range(nth + 1):
        column = row.index(needle, column + 1)
    return line, column + 1


def found(problems: list[Problem]) -> list[tuple[int, int, str]]:
    return [(p.line, p.column, p.code) for p in problems]


def write(tmp_path: Path, text: str, name: str = "program.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# shipped programs


def test_the_shipped_programs_are_the_five_and_are_named_by_code() -> None:
    files = shipped_programs()
    assert set(files) == SHIPPED
    definitions = load_shipped_programs()
    assert {code: d.code for code, d in definitions.items()} == {c: c for c in SHIPPED}


@pytest.mark.parametrize("code", sorted(SHIPPED))
def test_each_shipped_program_validates_with_its_amounts(code: str) -> None:
    path = shipped_programs()[code]
    assert validate_program_file(path, programs=frozenset(SHIPPED)) == []
    definition = load_program(path, programs=frozenset(SHIPPED))
    assert definition.amounts_per_cycle() == PER_CYCLE[code]
    assert all(isinstance(v, int) for v in definition.amounts_per_cycle().values())
    assert path.read_text(encoding="utf-8").startswith("#")  # says where amounts come from


def test_shipped_details() -> None:
    programs = load_shipped_programs()
    pkh = programs["PKH"]
    assert isinstance(pkh.benefit, ComponentsBenefit)
    assert pkh.benefit.annual and pkh.benefit.max_persons == 4
    caps = {c.name: c.max_persons for c in pkh.benefit.components}
    assert caps == {
        "pregnant": 2,
        "early_childhood": 2,
        "school_sd": None,
        "school_smp": None,
        "school_sma": None,
        "severe_disability": None,
        "elderly": None,
    }
    assert (pkh.unit, pkh.channel, pkh.schedule.kind, pkh.months_per_cycle) == (
        "household",
        "bank",
        "quarterly",
        3,
    )
    assert "decile" in pkh.eligibility_rule.names
    assert [c.text for c in pkh.eligibility_rule.clauses()] == [
        "decile <= 3",
        "n_pregnant + n_age_0_6 + n_school_sd + n_school_smp + n_school_sma"
        " + n_severe_disability + n_elderly_70 > 0",
    ]
    assert programs["PBI-JKN"].unit == "person" and programs["PBI-JKN"].channel == "bpjs"
    assert programs["PBI-JKN"].members_rule is not None
    assert programs["SEMBAKO"].members_rule is None
    bbm = programs["BLT-BBM-2022"]
    assert (bbm.schedule.months, bbm.schedule.tranches, bbm.months_per_cycle) == (4, 2, 2)
    migor = programs["BLT-MIGOR-2022"]
    assert migor.eligibility_rule.programs == {"PKH", "SEMBAKO"}
    assert migor.months_per_cycle == 3 and migor.channel == "pos"


def test_pkh_component_conditions_pick_the_right_members() -> None:
    pkh = load_shipped_programs()["PKH"]
    members = ibis.memtable(
        pa.table(
            {
                "age": [0, 5, 6, 8, 13, 17, 22, 30, 71],
                "school_level": [
                    "tidak",
                    "paud",
                    "sd",
                    "sd",
                    "smp",
                    "sma",
                    "sma",
                    "tidak",
                    "tidak",
                ],
                "pregnant": [False, False, False, False, False, False, False, True, False],
                "disability_severity": ["tidak_ada"] * 7 + ["berat", "tidak_ada"],
            }
        )
    )
    con = ibis.duckdb.connect()
    chosen = {}
    for component in ("pregnant", "early_childhood", "school_sd", "school_smp", "school_sma"):
        rule = pkh.condition(component)
        value = rule.to_ibis(lambda name: members[name])
        result = con.to_pyarrow(members.select(v=value)).column("v").to_pylist()
        chosen[component] = [i for i, v in enumerate(result) if v]
    for component in ("severe_disability", "elderly"):
        value = pkh.condition(component).to_ibis(lambda name: members[name])
        result = con.to_pyarrow(members.select(v=value)).column("v").to_pylist()
        chosen[component] = [i for i, v in enumerate(result) if v]
    assert chosen == {
        "pregnant": [7],
        "early_childhood": [0, 1],
        "school_sd": [2, 3],
        "school_smp": [4],
        "school_sma": [5],  # 22 years old is past the education age
        "severe_disability": [7],
        "elderly": [8],
    }
    with pytest.raises(KeyError):
        pkh.condition("nope")


# the schema


def test_a_minimal_definition_loads() -> None:
    definition = parse_program(GOOD)
    assert definition.code == "TEST-FLAT" and definition.quota is None
    assert definition.amounts_per_cycle() == {"flat": 100_000}
    assert check_program(GOOD) == []


def test_per_cycle_is_exact_or_refused() -> None:
    assert per_cycle(900_000, months=3, annual=True) == 225_000
    assert per_cycle(150_000, months=2, annual=False) == 300_000
    with pytest.raises(ValueError, match="tidak terbagi rata"):
        per_cycle(1_000_001, months=3, annual=True)


def test_members_may_be_a_bare_yaml_boolean_for_a_person_unit() -> None:
    text = GOOD.replace("unit: household", "unit: person\nmembers: true").replace(
        "kind: flat", "kind: per_person"
    )
    definition = parse_program(text)
    assert definition.members == "true" and definition.members_rule is not None


def test_quota_codes_are_normalised_to_the_registry_form() -> None:
    text = GOOD + 'quota:\n  level: regency\n  default: 10\n  counts: {"3171": 5, "32.01": 7}\n'
    definition = parse_program(text)
    assert definition.quota is not None
    assert definition.quota.counts == {"31.71": 5, "32.01": 7}
    assert definition.quota.default == 10


def test_an_in_kind_program() -> None:
    text = """\
code: ATENSI-DENGAR
name: Indonesia Mendengar
version: "2025.1"
unit: person
eligibility: n_disability > 0
members: disability in ['rungu_wicara', 'ganda']
benefit:
  kind: in_kind
  items:
    - name: hearing_aid
      label: Alat bantu dengar
      when: disability == 'rungu_wicara'
      unit_value_idr: 1500000
schedule:
  kind: tranches
  months: 1
  tranches: 1
channel: pos
"""
    definition = parse_program(text)
    assert isinstance(definition.benefit, InKindBenefit)
    assert definition.amounts_per_cycle() == {"hearing_aid": 1_500_000}
    assert definition.condition("hearing_aid").names == {"disability"}


BAD = """\
code: pkh
name: Program
version: 2025.1
unit: household
colour: red
eligibility: >
  decile <= 3 and
  n_pregnant + foo > 0 and
  tenure == 'milik' and enrolled("PKHX")
members: "age > 3"
benefit:
  kind: components
  annual: true
  max_persons: 4.0
  components:
    - name: pregnant
      label: Ibu hamil
      when: pregnant and decile < 3
      amount_idr: 3000001
    - name: pregnant
      label: Dup
      when: "age >> 3"
      amount_idr: -5
schedule:
  kind: quarterly
  months: 4
channel: giro
quota:
  level: regency
  counts: {3171: 10, "317": 5}
"""


def test_every_problem_of_a_broken_file_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    problems = validate_program_file(path, programs=frozenset({"PKH"}))
    assert found(problems) == [
        (*where(BAD, 1, "pkh"), "invalid_value"),
        (*where(BAD, 3, "2025.1"), "wrong_type"),
        (*where(BAD, 5, "colour"), "unknown_key"),
        (*where(BAD, 8, "foo"), "unknown_name"),
        (*where(BAD, 9, "'milik'"), "unknown_value"),
        (*where(BAD, 9, '"PKHX"'), "unknown_program"),
        (*where(BAD, 10, "members"), "not_allowed"),
        (*where(BAD, 14, "4.0"), "wrong_type"),
        (*where(BAD, 18, "decile"), "unknown_name"),
        (*where(BAD, 19, "3000001"), "inexact_amount"),
        (*where(BAD, 20, "pregnant"), "duplicate_name"),
        (*where(BAD, 22, "age"), "not_allowed"),
        (*where(BAD, 23, "-5"), "invalid_value"),
        (*where(BAD, 26, "months"), "not_allowed"),
        (*where(BAD, 27, "giro"), "invalid_value"),
        (*where(BAD, 30, "3171"), "wrong_type"),
        (*where(BAD, 30, '"317"'), "invalid_value"),
    ]
    assert all(p.file == str(path) for p in problems)
    assert {p.code for p in problems} <= set(DEFINITION_CODES) | set(PROBLEM_CODES)
    assert str(problems[0]) == f"{path}:1:7: Kode program: 2-32 huruf besar, angka atau tanda -."
    with pytest.raises(ProgramDefinitionError) as raised:
        load_program(path, programs=frozenset({"PKH"}))
    assert raised.value.problems == problems
    assert isinstance(raised.value, ValidationFailed)
    assert raised.value.details == [p.as_dict() for p in problems]


BLOCKS = """\
code: TEST-BLOCK
name: Blok
version: "1"
unit: person
eligibility: |
  decile <= 3
  and foo > 1
  and tenure == 'milik'
members: >
  age >= 18 and
  bar
benefit:
  kind: components
  components:
    - name: one
      label: Satu
      when: "age >= 70 and baz"
      amount_idr: 10
    - name: two
      label: Dua
      when: 'age >= 70 and qux'
      amount_idr: 10
    - name: three
      label: Tiga
      when: age >= 70 and
        quux
      amount_idr: 10
schedule:
  kind: monthly
channel: bank
"""


def test_rule_positions_inside_block_plain_and_quoted_scalars() -> None:
    assert found(check_program(BLOCKS)) == [
        (*where(BLOCKS, 7, "foo"), "unknown_name"),
        (*where(BLOCKS, 8, "'milik'"), "unknown_value"),
        (*where(BLOCKS, 11, "bar"), "unknown_name"),
        (*where(BLOCKS, 17, "baz"), "unknown_name"),
        (*where(BLOCKS, 21, "qux"), "unknown_name"),
        (*where(BLOCKS, 26, "quux"), "unknown_name"),
    ]


@pytest.mark.parametrize(
    ("change", "code", "needle"),
    [
        (("monthly_idr: 100000", "monthly_idr: 100000.0"), "wrong_type", "100000.0"),
        (("monthly_idr: 100000", "monthly_idr: 100.000"), "wrong_type", "100.000"),
        (("monthly_idr: 100000", 'monthly_idr: "100000"'), "wrong_type", '"100000"'),
        (("monthly_idr: 100000", "monthly_idr: true"), "wrong_type", "true"),
        (("monthly_idr: 100000", "monthly_idr: -1"), "invalid_value", "-1"),
        (("monthly_idr: 100000", "monthly_idr: 0"), "invalid_value", "0"),
        (("monthly_idr: 100000", "monthly_idr:"), "missing", "monthly_idr"),
        (("kind: flat", "kind: cash"), "invalid_value", "cash"),
        (("kind: flat\n", ""), "missing", "monthly_idr"),
        (("unit: household", "unit: family"), "invalid_value", "family"),
        (("name: Program uji\n", ""), "missing", "code"),
        (("channel: pos", "channel: [pos]"), "invalid_value", "[pos]"),
        (("benefit:\n  kind: flat\n  monthly_idr: 100000", "benefit: flat"), "wrong_type", "flat"),
        (("kind: monthly", "kind: weekly"), "invalid_value", "weekly"),
        (("kind: monthly", "kind: tranches"), "missing", "kind: tranches"),
        (("kind: monthly", "kind: tranches\n  months: 3\n  tranches: 2"), "invalid_value", "es: 2"),
        (("code: TEST-FLAT", "code: TEST-FLAT\ncode: AGAIN"), "duplicate_key", "AGAIN"),
        (("channel: pos", "channel: pos\nextra: 1"), "unknown_key", "extra"),
        (("channel: pos", "chanel: pos"), "unknown_key", "chanel"),
        (("decile <= 2", "decile <=="), "syntax_error", "decile"),
        (("decile <= 2", "''"), "syntax_error", "''"),
        (('version: "1"', "version: 1"), "wrong_type", "1"),
        (("name: Program uji", "name: ''"), "invalid_value", "''"),
        (("name: Program uji", "name: [a"), "yaml_error", "[a"),
        (("name: Program uji", "name: &n Program uji\nversion: *n"), "not_allowed", "&n"),
    ],
)
def test_each_schema_problem(change: tuple[str, str], code: str, needle: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    problems = check_program(text)
    assert code in {p.code for p in problems}, problems
    problem = next(p for p in problems if p.code == code)
    line = next(i for i, row in enumerate(text.split("\n"), 1) if needle in row)
    if code != "yaml_error":  # the parser notices a bracket never closed on the next line
        assert problem.line == line, (problem, line)


def test_unknown_keys_get_a_suggestion() -> None:
    problems = check_program(GOOD.replace("channel: pos", "chanel: pos"))
    assert any("Maksudnya `channel`?" in p.message for p in problems)


def test_inexact_annual_amounts_are_refused_not_rounded() -> None:
    text = GOOD.replace(
        "benefit:\n  kind: flat\n  monthly_idr: 100000\n",
        "benefit:\n  kind: components\n  annual: true\n  components:\n"
        "    - name: one\n      label: Satu\n      when: 'true'\n      amount_idr: 1000\n",
    )
    [problem] = check_program(text)
    assert problem.code == "inexact_amount" and "Rp83,33" in problem.message
    assert parse_program(text.replace("amount_idr: 1000", "amount_idr: 1200")).amounts_per_cycle()


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "wrong_type"),
        (b"- a\n- b\n", "wrong_type"),
        (b"code: [\n", "yaml_error"),
        (b"code: A\x00\n", "yaml_error"),
        (b"\xff\xfe\x00garbage", "file_unreadable"),
        (b"[" * 5_000 + b"]" * 5_000, "yaml_error"),
        (b"a: &a [*a, *a]\n", "not_allowed"),
        (b"--- 1\n--- 2\n", "yaml_error"),
        (b"code: !!python/object:os.system x\n", "invalid_value"),
    ],
)
def test_unreadable_files_are_problems(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_bytes(content)
    problems = validate_program_file(path)
    assert code in {p.code for p in problems}, problems
    with pytest.raises(ProgramDefinitionError):
        load_program(path)


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    [problem] = validate_program_file(tmp_path / "nope.yaml")
    assert (problem.line, problem.column, problem.code) == (1, 1, "file_unreadable")


def test_enrolled_codes_are_checked_against_known_programs() -> None:
    text = GOOD.replace("decile <= 2", "enrolled('PKH') or enrolled('SEMBAKOO')")
    assert [p.code for p in check_program(text, programs=frozenset(SHIPPED))] == ["unknown_program"]
    assert check_program(text) == []  # any well-formed code when none are given


# the command


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["program", *args])
    return result.exit_code, result.stdout


def test_cli_validate_a_good_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    pkh = shipped_programs()["PKH"]
    code, output = invoke("validate", str(path), str(pkh))
    assert code == 0, output
    lines = output.strip().split("\n")
    assert len(lines) == 2
    assert lines[0].startswith(f"OK {path}: TEST-FLAT") and "Rp100.000/bulan" in lines[0]
    assert lines[1].startswith(f"OK {pkh}: PKH") and "7 komponen" in lines[1]


def test_cli_validate_a_bad_file_prints_every_problem(tmp_path: Path) -> None:
    bad = write(tmp_path, BAD, "bad.yaml")
    good = write(tmp_path, GOOD, "good.yaml")
    code, output = invoke("validate", str(good), str(bad))
    assert code == 1
    lines = output.strip().split("\n")
    assert lines[0].startswith(f"OK {good}")
    problems = validate_program_file(bad, programs=frozenset(SHIPPED) | {"TEST-FLAT", "pkh"})
    assert lines[1:] == [str(p) for p in problems]
    assert lines[1] == f"{bad}:1:7: Kode program: 2-32 huruf besar, angka atau tanda -."


def test_cli_validate_json(tmp_path: Path) -> None:
    bad = write(tmp_path, BAD, "bad.yaml")
    good = write(tmp_path, GOOD, "good.yaml")
    code, output = invoke("validate", str(good), str(bad), "--json")
    assert code == 1
    [ok, broken] = json.loads(output)
    assert ok["ok"] and ok["code"] == "TEST-FLAT" and ok["amounts_per_cycle"] == {"flat": 100000}
    assert not broken["ok"] and len(broken["problems"]) == 17
    assert broken["problems"][0] == {
        "file": str(bad),
        "line": 1,
        "column": 7,
        "code": "invalid_value",
        "message": "Kode program: 2-32 huruf besar, angka atau tanda -.",
    }
    code, output = invoke("validate", str(good), "--json")
    assert code == 0 and json.loads(output)[0]["problems"] == []


def test_cli_validate_knows_the_codes_of_files_checked_together(tmp_path: Path) -> None:
    first = write(tmp_path, GOOD, "first.yaml")
    second = write(
        tmp_path,
        GOOD.replace("TEST-FLAT", "TEST-TOPUP").replace("decile <= 2", "enrolled('TEST-FLAT')"),
        "second.yaml",
    )
    assert invoke("validate", str(second))[0] == 1
    assert invoke("validate", str(first), str(second))[0] == 0


def test_cli_list() -> None:
    code, output = invoke("list", "--json")
    assert code == 0
    rows = json.loads(output)
    assert {r["code"] for r in rows} == SHIPPED
    pkh = next(r for r in rows if r["code"] == "PKH")
    assert (pkh["unit"], pkh["channel"], pkh["schedule"]) == ("household", "bank", "quarterly")
    code, output = invoke("list")
    assert code == 0 and "PKH" in output and "triwulanan" in output


# the reference


@pytest.mark.parametrize("code", sorted(set(DEFINITION_CODES) | set(PROBLEM_CODES)))
def test_every_problem_code_is_documented(code: str) -> None:
    assert f"| `{code}` |" in DOCS.read_text(encoding="utf-8")


def test_the_documented_keys_are_the_schema() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert [key for key in KNOWN_KEYS if f"`{key}`" not in text] == []
