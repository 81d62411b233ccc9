"""The rule language: what it accepts, what it computes, and every way it says no."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from lumbung.errors import ValidationFailed
from lumbung.programs.language import (
    MAX_LENGTH,
    PROBLEM_CODES,
    Rule,
    RuleError,
    RuleProblem,
    Vocabulary,
    check_rule,
    household_vocabulary,
    member_vocabulary,
    parse_rule,
)
from lumbung.targeting.vocabulary import ValueType

HOUSEHOLD = household_vocabulary(frozenset({"PKH", "SEMBAKO"}))
MEMBER = member_vocabulary()
T, F = True, False

HOUSEHOLDS = pa.table(
    {
        "decile": pa.array([1, 5, None, 10], pa.int16()),
        "score": pa.array([10.5, 11.2, None, 13.0], pa.float64()),
        "n_pregnant": pa.array([1, 0, None, 0], pa.int64()),
        "n_age_0_6": pa.array([0, 2, 1, 0], pa.int64()),
        "hh_size": pa.array([4, 6, 1, 2], pa.int64()),
        "floor_area_m2": pa.array([36.0, 60.0, None, 120.0], pa.float64()),
        "tenure": pa.array(["milik_sendiri", "kontrak_sewa", None, "dinas"], pa.string()),
        "has_car": pa.array([False, True, None, False], pa.bool_()),
        "enrolled_PKH": pa.array([True, False, False, True], pa.bool_()),
        "enrolled_SEMBAKO": pa.array([False, False, True, False], pa.bool_()),
    }
)
MEMBERS = pa.table(
    {
        "age": pa.array([3, 6, 25, 75, None], pa.int64()),
        "school_level": pa.array(["paud", "sd", "tidak", None, "sma"], pa.string()),
        "pregnant": pa.array([False, False, True, None, False], pa.bool_()),
        "disability_severity": pa.array(
            ["tidak_ada", "ringan", "berat", None, "tidak_ada"], pa.string()
        ),
    }
)

# rule → expected result per household row; row 2 is mostly NULL (unknown → false)
HOUSEHOLD_CASES: list[tuple[str, list[bool]]] = [
    ("decile <= 3", [T, F, F, F]),
    ("decile > 3", [F, T, F, T]),
    ("decile < 5", [T, F, F, F]),
    ("decile >= 5", [F, T, F, T]),
    ("decile == 5", [F, T, F, F]),
    ("decile != 5", [T, F, F, T]),
    ("not (decile <= 3)", [F, T, F, T]),
    ("not has_car", [T, F, F, T]),
    ("decile <= 3 or has_car", [T, T, F, F]),
    ("decile == 5 or n_age_0_6 >= 1", [F, T, T, F]),
    ("decile <= 3 and score < 11 and n_pregnant > 0", [T, F, F, F]),
    ("score >= 10.5 and (decile < 2 or decile > 9)", [T, F, F, T]),
    ("1 <= decile <= 5", [T, T, F, F]),
    ("decile in [1, 10]", [T, F, F, T]),
    ("decile in (1, 10)", [T, F, F, T]),
    ("decile not in [1, 10]", [F, T, F, F]),
    ("decile in [-1, 5]", [F, T, F, F]),
    ("tenure in ['milik_sendiri', 'dinas']", [T, F, F, T]),
    ("tenure == 'kontrak_sewa'", [F, T, F, F]),
    ("'kontrak_sewa' == tenure", [F, T, F, F]),
    ("tenure != 'kontrak_sewa'", [T, F, F, T]),
    ('tenure == "dinas"', [F, F, F, T]),
    ("n_pregnant + n_age_0_6 > 0", [T, T, F, F]),
    ("n_age_0_6 * 2 - 1 >= 3", [F, T, F, F]),
    ("floor_area_m2 / hh_size >= 10", [F, T, F, T]),
    ("hh_size / n_age_0_6 > 1", [F, T, F, F]),  # x / 0 is unknown, so false
    ("7 / 2 == 3.5", [T, T, T, T]),  # float division
    ("-score < -11", [F, T, F, T]),
    ("+decile == 1", [T, F, F, F]),
    ("abs(decile - 5) <= 1", [F, T, F, F]),
    ("min(decile, hh_size) == 1", [T, F, T, F]),  # min ignores a missing value
    ("max(decile, n_age_0_6) >= 5", [F, T, F, T]),
    ("min(decile, hh_size, 3) == 3", [F, T, F, F]),
    ("between(decile, 2, 5)", [F, T, F, F]),
    ("between(score, 10.5, 11.2)", [T, T, F, F]),
    ("(3 if has_car else 1) == 3", [F, T, F, F]),  # unknown condition takes `else`
    ("(decile <= 3) if has_car == False else (decile > 3)", [T, T, F, F]),
    ("has_car == False", [T, F, F, T]),
    ("has_car == false", [T, F, F, T]),
    ("has_car != True", [T, F, F, T]),
    ("enrolled('PKH') and decile <= 3", [T, F, F, F]),
    ('enrolled("PKH") or enrolled("SEMBAKO")', [T, F, T, T]),
    ("not enrolled('PKH')", [F, T, T, F]),
    ("True", [T, T, T, T]),
    ("true", [T, T, T, T]),
    ("False", [F, F, F, F]),
    ("decile <= 3  # the poorest\n  and n_pregnant > 0", [T, F, F, F]),
]
MEMBER_CASES: list[tuple[str, list[bool]]] = [
    ("age <= 6 and school_level in ['tidak', 'paud']", [T, F, F, F, F]),
    ("school_level == 'sd' and between(age, 6, 21)", [F, T, F, F, F]),
    ("school_level == 'sma' and between(age, 6, 21)", [F, F, F, F, F]),
    ("pregnant", [F, F, T, F, F]),
    ("not pregnant", [T, T, F, F, T]),
    ("age >= 70", [F, F, F, T, F]),
    ("disability_severity == 'berat'", [F, F, T, F, F]),
    ("true", [T, T, T, T, T]),
]


def evaluate(rule: Rule, rows: pa.Table) -> list[Any]:
    table = ibis.memtable(rows)
    value = rule.to_ibis(lambda name: table[name], lambda code: table[f"enrolled_{code}"])
    result = ibis.duckdb.connect().to_pyarrow(table.select(result=value))
    values: list[Any] = result.column("result").to_pylist()
    return values


@pytest.mark.parametrize(("text", "expected"), HOUSEHOLD_CASES)
def test_household_rules_compute_row_by_row(text: str, expected: list[bool]) -> None:
    assert evaluate(parse_rule(text, HOUSEHOLD), HOUSEHOLDS) == expected


@pytest.mark.parametrize(("text", "expected"), MEMBER_CASES)
def test_member_rules_compute_row_by_row(text: str, expected: list[bool]) -> None:
    assert evaluate(parse_rule(text, MEMBER), MEMBERS) == expected


def test_a_number_rule_keeps_unknown_values() -> None:
    rule = parse_rule("n_pregnant + n_age_0_6", HOUSEHOLD, expect=ValueType.NUMBER)
    table = ibis.memtable(HOUSEHOLDS)
    result = ibis.duckdb.connect().to_pyarrow(table.select(v=rule.to_ibis(lambda n: table[n])))
    assert result.column("v").to_pylist() == [1, 2, None, 0]


def test_a_rule_knows_what_it_uses() -> None:
    rule = parse_rule("decile <= 3 and (enrolled('PKH') or has_car) and true", HOUSEHOLD)
    assert rule.names == {"decile", "has_car"}
    assert rule.programs == {"PKH"}
    assert rule.expect is ValueType.BOOLEAN


def test_clauses_are_the_operands_of_the_top_level_and() -> None:
    text = "decile <= 3\n  and (n_pregnant > 0 and has_car == False)\n  and enrolled('PKH')"
    rule = parse_rule(text, HOUSEHOLD)
    clauses = rule.clauses()
    assert [c.text for c in clauses] == [
        "decile <= 3",
        "n_pregnant > 0",
        "has_car == False",
        "enrolled('PKH')",
    ]
    assert [evaluate(c, HOUSEHOLDS) for c in clauses] == [
        [T, F, F, F],
        [T, F, F, F],
        [T, F, F, T],
        [T, F, F, T],
    ]
    assert clauses[2].names == {"has_car"} and clauses[3].programs == {"PKH"}
    single = parse_rule("decile <= 3 or has_car", HOUSEHOLD)
    assert single.clauses() == [single]


def test_enrolled_needs_its_callback() -> None:
    rule = parse_rule("enrolled('PKH')", HOUSEHOLD)
    with pytest.raises(ValueError, match="enrolled"):
        rule.to_ibis(lambda name: ibis.literal(1))


# one case per problem code (each code appears at least once)
PROBLEM_CASES: list[tuple[str, Vocabulary, str]] = [
    ("decile <= ", HOUSEHOLD, "syntax_error"),
    ("decile = 3", HOUSEHOLD, "syntax_error"),
    ("", HOUSEHOLD, "syntax_error"),
    ("decile <= 3)", HOUSEHOLD, "syntax_error"),
    ("(decile <= 3", HOUSEHOLD, "syntax_error"),
    ("tenure == 'dinas", HOUSEHOLD, "syntax_error"),
    ("import os", HOUSEHOLD, "syntax_error"),
    ("decile <= 3 and " * 300 + "True", HOUSEHOLD, "too_long"),
    (" + ".join(["decile"] * 300) + " > 0", HOUSEHOLD, "too_complex"),
    ("x.y", HOUSEHOLD, "not_allowed"),
    ("decile is 3", HOUSEHOLD, "not_allowed"),
    ("decile % 2 == 0", HOUSEHOLD, "not_allowed"),
    ("decile ** 2 > 4", HOUSEHOLD, "not_allowed"),
    ("has_car & has_gold", HOUSEHOLD, "not_allowed"),
    ("~has_car", HOUSEHOLD, "not_allowed"),
    ("decile in range(3)", HOUSEHOLD, "not_allowed"),
    ("decile in []", HOUSEHOLD, "not_allowed"),
    ("decile in [hh_size]", HOUSEHOLD, "not_allowed"),
    ("decile in [1] == True", HOUSEHOLD, "not_allowed"),
    ("min(decile, hh_size, key=1) > 0", HOUSEHOLD, "not_allowed"),
    ("enrolled", HOUSEHOLD, "not_allowed"),
    ("decile(3)", HOUSEHOLD, "not_allowed"),
    ("enrolled('PKH')", MEMBER, "not_allowed"),
    ("decile == None", HOUSEHOLD, "not_allowed"),
    ("decile == b'3'", HOUSEHOLD, "not_allowed"),
    ("[decile] == [1]", HOUSEHOLD, "not_allowed"),
    ("decil <= 3", HOUSEHOLD, "unknown_name"),
    ("age >= 70", HOUSEHOLD, "unknown_name"),
    ("decile <= 3", MEMBER, "unknown_name"),
    ("round(score) > 1", HOUSEHOLD, "unknown_function"),
    ("abs(decile, 1) > 1", HOUSEHOLD, "wrong_arguments"),
    ("between(decile, 1)", HOUSEHOLD, "wrong_arguments"),
    ("min(decile) > 1", HOUSEHOLD, "wrong_arguments"),
    ("enrolled('PKH', 'SEMBAKO')", HOUSEHOLD, "wrong_arguments"),
    ("decile", HOUSEHOLD, "type_error"),
    ("decile and has_car", HOUSEHOLD, "type_error"),
    ("not decile", HOUSEHOLD, "type_error"),
    ("tenure + 1 > 2", HOUSEHOLD, "type_error"),
    ("-has_car", HOUSEHOLD, "type_error"),
    ("decile == 'satu'", HOUSEHOLD, "type_error"),
    ("has_car == 1", HOUSEHOLD, "type_error"),
    ("tenure < 'dinas'", HOUSEHOLD, "type_error"),
    ("has_car > False", HOUSEHOLD, "type_error"),
    ("decile in ['1']", HOUSEHOLD, "type_error"),
    ("(1 if has_car else 'a') == 1", HOUSEHOLD, "type_error"),
    ("(1 if decile else 2) == 1", HOUSEHOLD, "type_error"),
    ("between(tenure, 1, 2)", HOUSEHOLD, "type_error"),
    ("enrolled(PKH)", HOUSEHOLD, "type_error"),
    ("tenure == 'milik'", HOUSEHOLD, "unknown_value"),
    ("tenure in ['dinas', 'sewa']", HOUSEHOLD, "unknown_value"),
    ("school_level == 'SD'", MEMBER, "unknown_value"),
    ("enrolled('PKHH')", HOUSEHOLD, "unknown_program"),
    ("enrolled('pkh')", household_vocabulary(), "unknown_program"),
    ("decile < 1e400", HOUSEHOLD, "out_of_range"),
    ("score < 10000000000000000", HOUSEHOLD, "out_of_range"),
    ("hh_size / 0 > 1", HOUSEHOLD, "division_by_zero"),
]


@pytest.mark.parametrize(("text", "vocabulary", "code"), PROBLEM_CASES)
def test_each_problem_has_its_code(text: str, vocabulary: Vocabulary, code: str) -> None:
    problems = check_rule(text, vocabulary)
    assert code in {p.code for p in problems}, problems
    assert all(p.code in PROBLEM_CODES and p.message for p in problems)
    with pytest.raises(RuleError) as raised:
        parse_rule(text, vocabulary)
    assert raised.value.problems == problems
    assert isinstance(raised.value, ValidationFailed)
    assert raised.value.details == [p.as_dict() for p in problems]


def test_every_problem_code_has_a_case() -> None:
    assert {code for _, _, code in PROBLEM_CASES} == set(PROBLEM_CODES)


def test_messages_suggest_and_explain() -> None:
    def message(text: str, vocabulary: Vocabulary = HOUSEHOLD) -> str:
        return " ".join(p.message for p in check_rule(text, vocabulary))

    assert "`decile`" in message("decil <= 3")
    assert "`between`" in message("betwen(decile, 1, 3)")
    assert "`PKH`" in message("enrolled('PKHH')")
    assert "`sd`" in message("school_level == 'SD'", MEMBER)
    assert "milik_sendiri" in message("tenure == 'milik'")
    assert "anggota" in message("age >= 70")
    assert "==" in message("decile = 3")
    assert "boolean" in message("decile")


def test_all_problems_at_once_with_positions() -> None:
    text = (
        "decile <= 3 and foo > 1\n"
        "  and tenure == 'milik' and enrolled('PKHH')\n"
        "  and has_car + 1 > 0 and school_level == 'sd'"
    )
    found = [(p.line, p.column, p.code) for p in check_rule(text, HOUSEHOLD)]
    assert found == [
        (1, 17, "unknown_name"),
        (2, 17, "unknown_value"),
        (2, 38, "unknown_program"),
        (3, 7, "type_error"),
        (3, 27, "unknown_name"),
    ]


def test_positions_count_characters_not_bytes() -> None:
    [problem] = check_rule("tenure == 'é' or decil > 1", HOUSEHOLD)[1:]
    assert (problem.line, problem.column, problem.code) == (1, 18, "unknown_name")


def test_a_position_mapper_places_problems_in_the_file() -> None:
    def in_file(line: int, col: int) -> tuple[int, int]:
        return 10 + line, 4 + col + 1

    problems = check_rule("decile <= 3 and\nfoo", HOUSEHOLD, position=in_file)
    assert problems == [RuleProblem(12, 5, "unknown_name", "Nama `foo` tidak dikenal.")]
    [syntax] = check_rule("decile <= 3 and", HOUSEHOLD, position=in_file)
    assert (syntax.line, syntax.column) == (11, 20)  # at the end of the text


def test_a_syntax_error_points_where_it_is() -> None:
    [problem] = check_rule("decile <= 3 and\n  has_car ==\n  and x", HOUSEHOLD)
    assert (problem.line, problem.code) == (3, "syntax_error")
    [problem] = check_rule("(decile <= 3 and has_car", HOUSEHOLD)
    assert (problem.line, problem.column) == (1, 1)
    [problem] = check_rule("decile <= 3 and has_car)", HOUSEHOLD)
    assert (problem.line, problem.column) == (1, 24)


def marker_rules(marker: Path) -> list[str]:
    return [
        f"__import__('os').system('touch {marker}')",
        f"open('{marker}', 'w')",
        f"[open('{marker}', 'w') for x in [1]]",
        f"(lambda: open('{marker}', 'w'))()",
        f'f\'{{open("{marker}", "w")}}\'',
        f"exec(\"open('{marker}', 'w')\")",
        f"eval(\"open('{marker}', 'w')\")",
        f"decile <= 3 and __builtins__.open('{marker}', 'w')",
        f"(x := open('{marker}', 'w'))",
        f"import os; os.system('touch {marker}')",
    ]


HOSTILE = [
    "x.__class__",
    "().__class__.__bases__",
    "().__class__.__bases__[0].__subclasses__()",
    "decile.__class__",
    "getattr(decile, '__class__')",
    "lambda: 1",
    "[x for x in [1]]",
    "{x: 1 for x in [1]}",
    "(x for x in [1])",
    "f'{decile}'",
    "*decile",
    "min(*[1, 2])",
    "min(**{'a': 1})",
    "decile[0]",
    "decile[1:2]",
    "(yield decile)",
    "await decile",
    "{1, 2}",
    "{'a': 1}",
    "(x := 1)",
    "a" * 100_000,
    "(" * 10_000 + "decile" + ")" * 10_000,
    "(" * 1_000 + "decile" + ")" * 1_000,
    "-" * 3_000 + "decile > 0",
    "not " * 900 + "has_car",
    "1" + "+1" * 1_999 + " > 0",
    "1" + "+1" * 400 + " > 0",
    "[" * 1_500 + "]" * 1_500,
    "decile <= 3\0 and has_car",
    "\0",
    "decile <= 3 \\\n and has_car) or (True",
    "'''unterminated",
    "\x1b[31m",
    "decile <= 3 and \u200b has_car",
    "\ufeffdecile <= 3",
    "# only a comment",
    "   \n  \t ",
    "1j == decile",
    "... == decile",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_a_problem_never_a_crash(text: str) -> None:
    problems = check_rule(text, HOUSEHOLD)
    assert problems, text[:50]
    assert all(p.code in PROBLEM_CODES and p.line >= 1 and p.column >= 1 for p in problems)
    with pytest.raises(RuleError):
        parse_rule(text, HOUSEHOLD)


def test_hostile_text_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    for text in marker_rules(marker):
        assert check_rule(text, HOUSEHOLD), text
    assert not marker.exists()


def test_limits() -> None:
    assert not check_rule("decile <= 3 or " * ((MAX_LENGTH - 10) // 15) + "True", HOUSEHOLD)
    assert [p.code for p in check_rule("x" * (MAX_LENGTH + 1), HOUSEHOLD)] == ["too_long"]
    deep = "(" * 30 + "-" * 45 + "decile" + ")" * 30 + " > 0"
    assert [p.code for p in check_rule(deep, HOUSEHOLD)] == ["too_complex"]


@pytest.mark.slow
def test_spark_and_duckdb_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every household case, compiled once, computed by both backends (Spark in ANSI mode)."""
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    import ibis.backends.pyspark  # registers the dialect
    from pyspark.sql import SparkSession

    existing = SparkSession.getActiveSession()
    session = existing or (
        SparkSession.builder.master("local[1]")
        .appName("lumbung-rule-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    ansi = session.conf.get("spark.sql.ansi.enabled")
    session.conf.set("spark.sql.ansi.enabled", "true")  # division by zero would raise
    try:
        schema = (
            "decile SMALLINT, score DOUBLE, n_pregnant BIGINT, n_age_0_6 BIGINT, hh_size BIGINT, "
            "floor_area_m2 DOUBLE, tenure STRING, has_car BOOLEAN, enrolled_PKH BOOLEAN, "
            "enrolled_SEMBAKO BOOLEAN"
        )
        session.createDataFrame(HOUSEHOLDS.to_pylist(), schema).createOrReplaceTempView("hh")
        spark = ibis.pyspark.connect(session)
        duckdb = ibis.duckdb.connect()
        results = {}
        for name, con, table in (
            ("duckdb", duckdb, duckdb.create_table("hh", ibis.memtable(HOUSEHOLDS), temp=True)),
            ("spark", spark, spark.table("hh")),
        ):

            def column(name: str, t: Any = table) -> Any:
                return t[name]

            def enrolled(code: str, t: Any = table) -> Any:
                return t[f"enrolled_{code}"]

            columns = {
                f"c{i}": parse_rule(text, HOUSEHOLD).to_ibis(column, enrolled)
                for i, (text, _) in enumerate(HOUSEHOLD_CASES)
            }
            frame = con.to_pyarrow(table.select(**columns)).to_pydict()
            results[name] = frame
        assert results["spark"] == results["duckdb"]
        assert [results["spark"][f"c{i}"] for i in range(len(HOUSEHOLD_CASES))] == [
            expected for _, expected in HOUSEHOLD_CASES
        ]
    finally:
        if ansi is None:
            session.conf.unset("spark.sql.ansi.enabled")
        else:
            session.conf.set("spark.sql.ansi.enabled", ansi)
        if existing is None:
            session.stop()
