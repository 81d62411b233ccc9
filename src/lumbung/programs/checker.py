"""Type checking a parsed rule: the whitelist of names, functions and operators, and the
type of every node, every problem reported with its line and column (no Ibis needed: checking a
program file, and starting any command, does not load it).

`Checker` walks the whole tree once and reports every problem through a callback; only a
tree it accepted ever reaches `compiler.compile_rule`. Both are driven by
`lumbung.programs.language`.
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lumbung.targeting.vocabulary import (
    HOUSEHOLD_FEATURES,
    MEMBER_FEATURES,
    RANKING_FEATURES,
    ValueType,
)

if TYPE_CHECKING:
    from lumbung.programs.language import Vocabulary

N, B, T = ValueType.NUMBER, ValueType.BOOLEAN, ValueType.TEXT
MAX_NUMBER = 10**15
PROGRAM_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

# name → how it is called, for messages and docs
FUNCTIONS: dict[str, str] = {
    "enrolled": 'enrolled("KODE")',
    "min": "min(a, b, ...)",
    "max": "max(a, b, ...)",
    "abs": "abs(x)",
    "between": "between(x, bawah, atas)",
}
BOOLEAN_NAMES: dict[str, bool] = {"true": True, "false": False}  # besides True and False
TYPE_NAMES: dict[ValueType, str] = {N: "angka", B: "benar/salah (boolean)", T: "teks"}

ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    # Division by zero is NULL on every backend (Spark in ANSI mode would raise instead).
    ast.Div: lambda a, b: a / b.nullif(0),
}
_OPERATOR_HINTS: dict[type[ast.operator], str] = {
    ast.BitAnd: "Gunakan `and`, bukan `&`.",
    ast.BitOr: "Gunakan `or`, bukan `|`.",
}
_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Attribute: "Akses atribut dengan titik tidak diizinkan.",
    ast.Subscript: "Indeks dengan [...] tidak diizinkan.",
    ast.Lambda: "`lambda` tidak diizinkan.",
    ast.ListComp: "Perulangan (for ... in ...) tidak diizinkan.",
    ast.SetComp: "Perulangan (for ... in ...) tidak diizinkan.",
    ast.DictComp: "Perulangan (for ... in ...) tidak diizinkan.",
    ast.GeneratorExp: "Perulangan (for ... in ...) tidak diizinkan.",
    ast.JoinedStr: "f-string tidak diizinkan.",
    ast.Starred: "Tanda * tidak diizinkan.",
    ast.NamedExpr: "Penugasan `:=` tidak diizinkan.",
    ast.Dict: "Kurung kurawal {...} tidak diizinkan.",
    ast.Set: "Kurung kurawal {...} tidak diizinkan.",
    ast.List: "Daftar [...] hanya boleh di sebelah kanan `in` atau `not in`.",
    ast.Tuple: "Daftar (a, b) hanya boleh di sebelah kanan `in` atau `not in`.",
    ast.Await: "`await` tidak diizinkan.",
    ast.Yield: "`yield` tidak diizinkan.",
    ast.YieldFrom: "`yield` tidak diizinkan.",
}


def suggestion(word: str, choices: Sequence[str] | Mapping[str, Any]) -> str:
    """' Maksudnya `x`?' when a close match exists, else ''."""
    options = list(choices)
    same = [c for c in options if c.lower() == word.lower()]
    close = same or difflib.get_close_matches(word, options, n=1)
    return f" Maksudnya `{close[0]}`?" if close else ""


class Checker:
    """Types every node; reports each problem once and carries on (None: type unknown)."""

    def __init__(self, vocabulary: Vocabulary, report: Callable[[ast.AST, str, str], None]):
        self.vocabulary = vocabulary
        self.report = report

    def check(self, node: ast.expr) -> ValueType | None:
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self._want(value, B, f"Kedua sisi `{_word(node.op)}`")
            return B
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._arithmetic(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            return self._conditional(node)
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        message = _FORBIDDEN.get(type(node), "Bentuk ini tidak diizinkan dalam aturan.")
        self.report(node, "not_allowed", message)
        return None

    def _want(self, node: ast.expr, want: ValueType, what: str) -> ValueType | None:
        found = self.check(node)
        if found is not None and found is not want:
            self.report(
                node,
                "type_error",
                f"{what} harus {TYPE_NAMES[want]}, bukan {TYPE_NAMES[found]}.",
            )
            return None
        return found

    def _unary(self, node: ast.UnaryOp) -> ValueType | None:
        if isinstance(node.op, ast.Not):
            self._want(node.operand, B, "Sesudah `not`")
            return B
        if isinstance(node.op, ast.USub | ast.UAdd):
            self._want(node.operand, N, "Sesudah tanda minus")
            return N
        self.report(node, "not_allowed", "Operator `~` tidak diizinkan; gunakan `not`.")
        self.check(node.operand)
        return None

    def _arithmetic(self, node: ast.BinOp) -> ValueType | None:
        allowed = type(node.op) in ARITHMETIC
        if not allowed:
            hint = _OPERATOR_HINTS.get(
                type(node.op), "Operator ini tidak diizinkan; yang ada: + - * /."
            )
            self.report(node, "not_allowed", hint)
        self._want(node.left, N, "Hitungan")
        self._want(node.right, N, "Hitungan")
        if isinstance(node.op, ast.Div) and constant_number(node.right) == 0:
            self.report(node.right, "division_by_zero", "Pembagian dengan 0.")
        return N if allowed else None

    def _compare(self, node: ast.Compare) -> ValueType:
        chained = len(node.ops) > 1
        left, left_type = node.left, self.check(node.left)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if chained:
                    self.report(
                        node, "not_allowed", "`in` tidak boleh dirangkai; pisahkan dengan `and`."
                    )
                    return B
                self._membership(left, left_type, right)
                return B
            right_type = self.check(right)
            if isinstance(op, ast.Is | ast.IsNot):
                self.report(node, "not_allowed", "Gunakan == atau !=, bukan `is`.")
            else:
                self._pair(node, op, left, left_type, right, right_type)
            left, left_type = right, right_type
        return B

    def _pair(
        self,
        node: ast.Compare,
        op: ast.cmpop,
        left: ast.expr,
        left_type: ValueType | None,
        right: ast.expr,
        right_type: ValueType | None,
    ) -> None:
        if left_type is None or right_type is None:
            return
        if left_type is not right_type:
            self.report(
                node,
                "type_error",
                f"Tidak dapat membandingkan {TYPE_NAMES[left_type]} "
                f"dengan {TYPE_NAMES[right_type]}.",
            )
            return
        if left_type is not N and not isinstance(op, ast.Eq | ast.NotEq):
            self.report(
                node,
                "type_error",
                f"{TYPE_NAMES[left_type].capitalize()} hanya dapat dibandingkan dengan == atau !=.",
            )
        if left_type is T:
            self._code(left, right)
            self._code(right, left)

    def _code(self, name: ast.expr, value: ast.expr) -> None:
        """A text name compared with a constant: the constant must be one of its codes."""
        if not (isinstance(name, ast.Name) and isinstance(value, ast.Constant)):
            return
        code, allowed = str(value.value), self.vocabulary.text_values.get(name.id)
        if allowed and code not in allowed:
            self.report(
                value,
                "unknown_value",
                f"`{name.id}` tidak punya kode '{code}'.{suggestion(code, allowed)} "
                f"Kode yang ada: {', '.join(allowed)}.",
            )

    def _membership(self, left: ast.expr, left_type: ValueType | None, right: ast.expr) -> None:
        if not isinstance(right, ast.List | ast.Tuple):
            self.report(right, "not_allowed", "Sesudah `in` harus ada daftar, mis. ['a', 'b'].")
            self.check(right)
            return
        if not right.elts:
            self.report(right, "not_allowed", "Daftar sesudah `in` tidak boleh kosong.")
        for element in right.elts:
            value = constant_value(element)
            if value is None:
                self.report(element, "not_allowed", "Daftar sesudah `in` hanya berisi nilai tetap.")
                continue
            element_type = self.check(element)
            if left_type is None or element_type is None:
                continue
            if element_type is not left_type:
                self.report(
                    element,
                    "type_error",
                    f"Daftar berisi {TYPE_NAMES[element_type]}, "
                    f"padahal yang dicari {TYPE_NAMES[left_type]}.",
                )
            elif left_type is T:
                self._code(left, element)

    def _conditional(self, node: ast.IfExp) -> ValueType | None:
        self._want(node.test, B, "Syarat `if`")
        body, orelse = self.check(node.body), self.check(node.orelse)
        if body is None or orelse is None:
            return None
        if body is not orelse:
            self.report(
                node,
                "type_error",
                f"Kedua pilihan `if ... else` harus sejenis, bukan {TYPE_NAMES[body]} "
                f"dan {TYPE_NAMES[orelse]}.",
            )
            return None
        return body

    def _constant(self, node: ast.Constant) -> ValueType | None:
        value = node.value
        if isinstance(value, bool):
            return B
        if isinstance(value, int | float):
            if not math.isfinite(value) or abs(value) > MAX_NUMBER:
                self.report(node, "out_of_range", "Angka terlalu besar.")
                return None
            return N
        if isinstance(value, str):
            return T
        if value is None:
            self.report(node, "not_allowed", "`None` tidak diizinkan; nilai kosong tidak diuji.")
        else:
            self.report(node, "not_allowed", "Nilai tetap ini tidak diizinkan.")
        return None

    def _name(self, node: ast.Name) -> ValueType | None:
        if node.id in BOOLEAN_NAMES:
            return B
        found = self.vocabulary.names.get(node.id)
        if found is not None:
            return found
        if node.id in FUNCTIONS:
            message = f"`{node.id}` adalah fungsi; tulis {FUNCTIONS[node.id]}."
            self.report(node, "not_allowed", message)
            return None
        self.report(node, "unknown_name", f"Nama `{node.id}` tidak dikenal.{self._hint(node.id)}")
        return None

    def _hint(self, name: str) -> str:
        if name in MEMBER_FEATURES:
            return " Nama ini milik anggota; pakai dalam `members` atau `when`."
        if name in HOUSEHOLD_FEATURES or name in RANKING_FEATURES:
            return " Nama ini milik keluarga; pakai dalam `eligibility`."
        return suggestion(name, self.vocabulary.names)

    def _call(self, node: ast.Call) -> ValueType | None:
        for keyword in node.keywords:
            self.report(keyword.value, "not_allowed", "Argumen bernama (x=...) tidak diizinkan.")
        args = node.args
        if not isinstance(node.func, ast.Name):
            self.report(
                node, "not_allowed", "Yang boleh dipanggil hanya " + ", ".join(FUNCTIONS) + "."
            )
            return None
        name = node.func.id
        if name not in FUNCTIONS:
            if name in self.vocabulary.names or name in BOOLEAN_NAMES:
                self.report(node, "not_allowed", f"`{name}` bukan fungsi.")
            else:
                self.report(
                    node,
                    "unknown_function",
                    f"Fungsi `{name}` tidak dikenal.{suggestion(name, FUNCTIONS)} "
                    f"Yang ada: {', '.join(FUNCTIONS)}.",
                )
            for arg in args:
                self.check(arg)
            return None
        if name == "enrolled":
            return self._enrolled(node)
        arity = {"abs": (1, 1), "between": (3, 3)}.get(name, (2, MAX_NUMBER))
        if not arity[0] <= len(args) <= arity[1]:
            count = "tepat " + str(arity[0]) if arity[0] == arity[1] else f"minimal {arity[0]}"
            self.report(node, "wrong_arguments", f"{FUNCTIONS[name]} perlu {count} argumen.")
        for arg in args:
            self._want(arg, N, f"Argumen {name}()")
        return B if name == "between" else N

    def _enrolled(self, node: ast.Call) -> ValueType:
        if not self.vocabulary.allow_enrolled:
            self.report(node, "not_allowed", "enrolled() hanya untuk aturan keluarga.")
            return B
        if len(node.args) != 1:
            message = 'enrolled() perlu satu kode, mis. enrolled("PKH").'
            self.report(node, "wrong_arguments", message)
            return B
        arg = node.args[0]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            self.report(arg, "type_error", 'Kode program ditulis sebagai teks: enrolled("PKH").')
            self.check(arg)
            return B
        code, known = arg.value, self.vocabulary.programs
        if not 2 <= len(code) <= 32 or not set(code) <= PROGRAM_CODE_CHARS:
            self.report(arg, "unknown_program", f"'{code}' bukan kode program (A-Z, 0-9, -).")
        elif known is not None and code not in known:
            self.report(
                arg,
                "unknown_program",
                f"Program '{code}' tidak dikenal.{suggestion(code, sorted(known))}",
            )
        return B


def _word(op: ast.boolop) -> str:
    return "and" if isinstance(op, ast.And) else "or"


def constant_value(node: ast.expr) -> Any:
    """The value of a constant or a negated number constant; None for anything else."""
    if isinstance(node, ast.Constant):
        return node.value
    number = constant_number(node)
    return number


def constant_number(node: ast.expr) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = constant_number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return None if isinstance(node.value, bool) else node.value
    return None
