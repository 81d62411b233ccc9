"""The program rule language: Python-like expressions, checked against a whitelist.

A rule such as ``decile <= 3 and n_elderly_70 > 0`` is parsed with :mod:`ast` in ``eval``
mode and then only *read*: it is never evaluated or compiled by Python and never pasted into
SQL. Every node must be one of the few allowed forms, every name must come from the
vocabulary, every type must fit; all problems are collected in one pass. A rule that passes
is checked by :mod:`lumbung.programs.checker` and compiles to an Ibis expression
(:mod:`lumbung.programs.compiler`, imported when a rule is first compiled: checking a program
file needs no Ibis), the same on every backend.
The language is documented for the people who write rules in docs/PROGRAMS.md.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lumbung import driver_errors
from lumbung.errors import ValidationFailed
from lumbung.numbers import grouped
from lumbung.programs import checker
from lumbung.targeting.vocabulary import (
    HOUSEHOLD_FEATURES,
    MEMBER_FEATURES,
    RANKING_FEATURES,
    TEXT_VALUES,
    Comparison,
    ValueType,
)

MAX_LENGTH = 4_000
MAX_NODES = 500
MAX_DEPTH = 40

# code → English gloss (docs/PROGRAMS.md lists them all)
PROBLEM_CODES: dict[str, str] = {
    "syntax_error": "the text is not a well-formed expression (or is empty)",
    "too_long": f"the rule is longer than {MAX_LENGTH:,} characters",
    "too_complex": f"more than {MAX_NODES} elements or nesting deeper than {MAX_DEPTH}",
    "not_allowed": "a construct outside the language (attributes, indexing, lambda, ...)",
    "unknown_name": "a name that is not in the vocabulary of this kind of rule",
    "unknown_function": "a call of a function the language does not have",
    "wrong_arguments": "a function called with the wrong number of arguments",
    "type_error": "an operand of the wrong type, or a rule that does not give a boolean",
    "unknown_value": "a text compared with a code its name never takes",
    "unknown_program": "enrolled() with a program code that is not known",
    "out_of_range": "a number that is not finite or larger than 10^15",
    "division_by_zero": "division by the constant 0",
}

Position = Callable[[int, int], tuple[int, int]]
"""(line in rule text, 1-based; column in rule text, 0-based) → (line, column) in the file."""


@dataclass(frozen=True)
class Vocabulary:
    """What a rule may use: names with their types, code lists, known program codes."""

    names: Mapping[str, ValueType]
    text_values: Mapping[str, Sequence[str]] = field(default_factory=dict)
    programs: frozenset[str] | None = None  # None: any well-formed code is accepted
    allow_enrolled: bool = True


def household_vocabulary(programs: frozenset[str] | None = None) -> Vocabulary:
    """The vocabulary of an eligibility rule: household features, score, decile, enrolled()."""
    names = {**HOUSEHOLD_FEATURES, **RANKING_FEATURES}
    texts = {n: v for n, v in TEXT_VALUES.items() if n in names}
    return Vocabulary(names=names, text_values=texts, programs=programs)


def member_vocabulary() -> Vocabulary:
    """The vocabulary of a member rule (`members`, a component's `when`): one member."""
    texts = {n: v for n, v in TEXT_VALUES.items() if n in MEMBER_FEATURES}
    return Vocabulary(names=dict(MEMBER_FEATURES), text_values=texts, allow_enrolled=False)


@dataclass(frozen=True)
class RuleProblem:
    line: int
    column: int
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RuleError(ValidationFailed):
    """A rule with problems; all of them, not just the first."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        first = f"{problems[0].line}:{problems[0].column}: {problems[0].message}"
        more = f" (dan {len(problems) - 1} masalah lain)" if len(problems) > 1 else ""
        super().__init__(
            f"Aturan tidak sah: {first}{more}", details=[p.as_dict() for p in problems]
        )


class Rule:
    """A checked rule: its text, what it uses, and its compilation to Ibis."""

    def __init__(
        self, text: str, *, source: str, node: ast.expr, expect: ValueType, vocabulary: Vocabulary
    ) -> None:
        self.text = text
        self.expect = expect
        self.vocabulary = vocabulary
        self._source = source  # the text as parsed (wrapped in parentheses)
        self._node = node
        names, programs = _used(node, vocabulary.names)
        self.names: frozenset[str] = names
        self.programs: frozenset[str] = programs

    def to_ibis(
        self,
        column: Callable[[str], Any],
        enrolled: Callable[[str], Any] | None = None,
        *,
        compare: Comparison | None = None,
        condition: bool = False,
    ) -> Any:
        """The rule as an Ibis value; a boolean rule treats an unknown (NULL) result as false.

        `column(name)` gives the Ibis value of a vocabulary name, `enrolled(code)` a boolean
        value: whether the household is enrolled in that program now. `compare` may give a
        cheaper form of `name OP whole number` (`targeting.vocabulary.Comparison`). A value
        used only as a `condition` (filter, CASE) may stay unknown: there unknown is not true
        either.
        """
        from lumbung.programs import compiler

        return compiler.compile_rule(
            self._node, self.expect, column, enrolled, compare, condition=condition
        )

    def clauses(self) -> list[Rule]:
        """The operands of the top-level `and`, each a rule of its own (to explain a decision)."""
        if not (isinstance(self._node, ast.BoolOp) and isinstance(self._node.op, ast.And)):
            return [self]
        return [
            Rule(
                _one_line(ast.get_source_segment(self._source, operand) or ast.unparse(operand)),
                source=self._source,
                node=operand,
                expect=ValueType.BOOLEAN,
                vocabulary=self.vocabulary,
            )
            for operand in _conjuncts(self._node)
        ]

    def __repr__(self) -> str:
        return f"Rule({self.text!r})"


def parse_rule(
    text: str,
    vocabulary: Vocabulary,
    *,
    expect: ValueType = ValueType.BOOLEAN,
    position: Position | None = None,
) -> Rule:
    """The checked rule; raises RuleError with every problem when it is not sound."""
    problems, rule = _analyse(text, vocabulary, expect, position)
    if rule is None:
        raise RuleError(problems)
    return rule


def check_rule(
    text: str,
    vocabulary: Vocabulary,
    *,
    expect: ValueType = ValueType.BOOLEAN,
    position: Position | None = None,
) -> list[RuleProblem]:
    """Every problem of the rule (empty when it is sound)."""
    return _analyse(text, vocabulary, expect, position)[0]


def _one_line(text: str) -> str:
    """A clause that ran over several lines, as one line (for explanations)."""
    return " ".join(text.split()) if "\n" in text else text


def _conjuncts(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return [c for value in node.values for c in _conjuncts(value)]
    return [node]


def _used(
    node: ast.expr, vocabulary_names: Mapping[str, ValueType]
) -> tuple[frozenset[str], frozenset[str]]:
    names: set[str] = set()
    programs: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
            if sub.func.id == "enrolled" and isinstance(sub.args[0], ast.Constant):
                programs.add(str(sub.args[0].value))
        elif isinstance(sub, ast.Name) and sub.id in vocabulary_names:
            names.add(sub.id)
    return frozenset(names), frozenset(programs)


class _Locator:
    """Positions of the parsed (wrapped) text → positions in the file."""

    def __init__(self, text: str, source: str, position: Position | None) -> None:
        self.lines = text.split("\n")
        self.source_lines = source.split("\n")
        self.position = position
        content = text.rstrip().split("\n")  # a problem past the end points at the last word
        self.end = (len(content), len(content[-1]))

    def at_text(self, line: int, col: int) -> tuple[int, int]:
        """(line 1-based, column 0-based, both in the rule text) → reported position."""
        if line < 1:
            line, col = 1, 0
        elif line > len(self.lines):
            line, col = len(self.lines), len(self.lines[-1])
        col = max(0, min(col, len(self.lines[line - 1])))
        if (line, col) > self.end:
            line, col = self.end
        if self.position is not None:
            return self.position(line, col)
        return line, col + 1

    def past_end(self, line: int, col: int) -> bool:
        return (line, col) >= self.end

    def at_source(self, line: int, col: int) -> tuple[int, int]:
        """A position in the wrapped source (its line 1 is the added parenthesis)."""
        return self.at_text(line - 1, col)

    def at_node(self, node: ast.AST) -> tuple[int, int]:
        line = getattr(node, "lineno", 2)
        offset = getattr(node, "col_offset", 0)  # UTF-8 bytes, not characters
        raw = self.source_lines[line - 1] if 0 < line <= len(self.source_lines) else ""
        col = len(raw.encode("utf-8")[:offset].decode("utf-8", errors="ignore"))
        return self.at_source(line, col)


def _analyse(
    text: str, vocabulary: Vocabulary, expect: ValueType, position: Position | None
) -> tuple[list[RuleProblem], Rule | None]:
    problems: list[RuleProblem] = []
    if len(text) > MAX_LENGTH:
        where = _Locator(text[:1], "(\n" + text[:1] + "\n)", position).at_text(1, 0)
        message = (
            f"Aturan terlalu panjang: {grouped(len(text))} karakter "
            f"(paling banyak {grouped(MAX_LENGTH)})."
        )
        return [RuleProblem(*where, "too_long", message)], None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Parenthesised so that a rule may run over several lines, as in a YAML block scalar.
    source = "(\n" + text + "\n)"
    locate = _Locator(text, source, position)

    def problem(at: tuple[int, int], code: str, message: str) -> None:
        problems.append(RuleProblem(at[0], at[1], code, message))

    if not text.strip():
        problem(locate.at_text(1, 0), "syntax_error", "Aturan kosong.")
        return problems, None
    if "\0" in text:
        before = text[: text.index("\0")].split("\n")
        at = locate.at_text(len(before), len(before[-1]))
        problem(at, "syntax_error", "Karakter NUL tidak boleh ada dalam aturan.")
        return problems, None
    unbalanced = _unbalanced(text)
    if unbalanced is not None:
        problem(locate.at_text(*unbalanced[0]), "syntax_error", unbalanced[1])
        return problems, None
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        code, message = _syntax_message(exc.msg)
        line, col = (exc.lineno or 2) - 1, (exc.offset or 1) - 1
        if code == "syntax_error" and message.endswith("di sini.") and locate.past_end(line, col):
            message = "Aturan belum selesai: ada yang kurang di akhir."
        problem(locate.at_text(line, col), code, message)
        return problems, None
    except (RecursionError, MemoryError):
        problem(locate.at_text(1, 0), "too_complex", "Aturan bersarang terlalu dalam.")
        return problems, None
    except ValueError as exc:  # e.g. characters the parser refuses
        problem(locate.at_text(1, 0), "syntax_error", f"Aturan tidak dapat dibaca ({exc}).")
        return problems, None
    nodes, depth = _measure(tree)
    if nodes > MAX_NODES or depth > MAX_DEPTH:
        message = (
            f"Aturan terlalu rumit: lebih dari {MAX_NODES} unsur."
            if nodes > MAX_NODES
            else f"Aturan bersarang terlalu dalam: lebih dari {MAX_DEPTH} tingkat."
        )
        problem(locate.at_text(1, 0), "too_complex", message + " Pecah menjadi aturan lebih kecil.")
        return problems, None

    def report(node: ast.AST, code: str, message: str) -> None:
        problem(locate.at_node(node), code, message)

    result = checker.Checker(vocabulary, report).check(tree.body)
    if result is not None and result is not expect:
        report(
            tree.body,
            "type_error",
            f"Aturan harus menghasilkan {checker.TYPE_NAMES[expect]}, "
            f"bukan {checker.TYPE_NAMES[result]}.",
        )
    if problems:
        problems.sort(key=lambda p: (p.line, p.column))
        return problems, None
    rule = Rule(text.strip(), source=source, node=tree.body, expect=expect, vocabulary=vocabulary)
    return [], rule


def _unbalanced(text: str) -> tuple[tuple[int, int], str] | None:
    """A bracket without its partner; the parentheses added around the rule would hide it."""
    opened: list[tuple[int, int]] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type != tokenize.OP:
                continue
            if token.string in "([{":
                opened.append(token.start)
            elif token.string in ")]}":
                if not opened:
                    return token.start, "Kurung tutup tanpa kurung buka."
                opened.pop()
    except tokenize.TokenError as exc:
        if driver_errors.tokenize_unterminated_string(exc):
            return None  # an unterminated string: the parser says so
    except (SyntaxError, ValueError):
        return None  # the parser reports it
    if opened:
        return opened[-1], "Kurung ini tidak ditutup."
    return None


_SYNTAX_HINTS: tuple[tuple[str, str, str], ...] = (
    ("instead of '='", "syntax_error", "gunakan == untuk membandingkan, bukan ="),
    ("never closed", "syntax_error", "kurung tidak ditutup"),
    ("unterminated", "syntax_error", "tanda kutip teks tidak ditutup"),
    ("expected 'else'", "syntax_error", "`if` harus diikuti `else`: a if syarat else b"),
    ("does not match", "syntax_error", "pasangan kurung tidak cocok"),
    ("unmatched", "syntax_error", "kurung tutup tanpa kurung buka"),
    ("too many nested", "too_complex", "terlalu banyak kurung bersarang"),
    ("leading zeros", "syntax_error", "angka tidak boleh diawali 0; kode ditulis sebagai teks"),
    ("invalid decimal literal", "syntax_error", "angka tidak sah"),
    ("invalid character", "syntax_error", "ada karakter yang tidak dikenal"),
)


def _syntax_message(python_message: str) -> tuple[str, str]:
    for needle, code, hint in _SYNTAX_HINTS:
        if needle in python_message:
            return code, f"Penulisan aturan salah: {hint}."
    return "syntax_error", "Penulisan aturan salah di sini."


_SINGLETONS = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)


def _measure(tree: ast.AST) -> tuple[int, int]:
    """(number of nodes, depth), without recursion; stops counting past the limits."""
    count, deepest = 0, 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        if count > MAX_NODES or deepest > MAX_DEPTH:
            break
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, _SINGLETONS):
                stack.append((child, depth + 1))
    return count - 1, deepest  # the Expression wrapper is not part of the rule
