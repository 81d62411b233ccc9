"""Compiling a checked rule to Ibis, the same expression on every backend.

Only a tree `checker.Checker` accepted reaches `compile_rule`, which therefore meets nothing
but the allowed forms. Ibis loads with this module, which `lumbung.programs.language` imports
only when a rule is first turned into an expression.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from functools import reduce
from typing import Any

import ibis

from lumbung.programs.checker import (
    ARITHMETIC,
    BOOLEAN_NAMES,
    B,
    constant_number,
    constant_value,
)
from lumbung.targeting.vocabulary import Comparison, ValueType

_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}
# A comparison as `name OP constant`, the operator as written the other way round when the
# constant stands on the left (`6 <= age` is `age >= 6`).
_SYMBOLS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def compile_rule(
    node: ast.expr,
    expect: ValueType,
    column: Callable[[str], Any],
    enrolled: Callable[[str], Any] | None,
    compare: Comparison | None = None,
    *,
    condition: bool = False,
) -> Any:
    """The Ibis value of a checked rule; a boolean's NULL (unknown) becomes false, unless the
    value is only ever used as a `condition` (a filter, a CASE), where unknown is not true."""
    value = _Compiler(column, enrolled, compare).compile(node)
    return value.fill_null(False) if expect is B and not condition else value


class _Compiler:
    def __init__(
        self,
        column: Callable[[str], Any],
        enrolled: Callable[[str], Any] | None,
        compare: Comparison | None = None,
    ):
        self.column = column
        self.enrolled = enrolled
        self.compare = compare

    def compile(self, node: ast.expr) -> Any:
        if isinstance(node, ast.BoolOp):
            values = [self.compile(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return reduce(lambda a, b: a & b, values)
            return reduce(lambda a, b: a | b, values)
        if isinstance(node, ast.UnaryOp):
            operand = self.compile(node.operand)
            if isinstance(node.op, ast.Not):
                return ~operand
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            return ARITHMETIC[type(node.op)](self.compile(node.left), self.compile(node.right))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            test, body, orelse = (self.compile(n) for n in (node.test, node.body, node.orelse))
            return ibis.ifelse(test, body, orelse)  # an unknown test takes the `else` branch
        if isinstance(node, ast.Constant):
            return _literal(node.value)
        if isinstance(node, ast.Name):
            if node.id in BOOLEAN_NAMES:
                return _literal(BOOLEAN_NAMES[node.id])
            return self.column(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self._call(node.func.id, node.args)
        raise TypeError(f"not a checked rule: {ast.dump(node)[:80]}")  # pragma: no cover

    def _compare(self, node: ast.Compare) -> Any:
        left = self.compile(node.left)
        op = node.ops[0]
        if isinstance(op, ast.In | ast.NotIn):
            assert isinstance(node.comparators[0], ast.List | ast.Tuple)
            values = [_literal(constant_value(e)) for e in node.comparators[0].elts]
            return left.isin(values) if isinstance(op, ast.In) else left.notin(values)
        terms = []
        left_node = node.left
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.compile(comparator)
            special = self._special(left_node, _SYMBOLS[type(op)], comparator)
            terms.append(_COMPARISONS[type(op)](left, right) if special is None else special)
            left, left_node = right, comparator
        return reduce(lambda a, b: a & b, terms)

    def _special(self, left: ast.expr, symbol: str, right: ast.expr) -> Any:
        """`compare`'s form of `name OP whole number` (either way round), or None."""
        if self.compare is None:
            return None
        if isinstance(right, ast.Name) and not isinstance(left, ast.Name):
            left, right, symbol = right, left, _FLIPPED[symbol]
        number = constant_number(right)
        if not isinstance(left, ast.Name) or not isinstance(number, int):
            return None
        return self.compare(left.id, symbol, number)

    def _call(self, name: str, args: list[ast.expr]) -> Any:
        if name == "enrolled":
            if self.enrolled is None:
                raise ValueError("the rule uses enrolled(); give to_ibis an `enrolled` callback")
            assert isinstance(args[0], ast.Constant)
            return self.enrolled(str(args[0].value))
        if name == "between":  # inclusive
            low, high = (
                self._special(args[0], op, a) for op, a in ((">=", args[1]), ("<=", args[2]))
            )
            if low is not None and high is not None:
                return low & high
        values = [self.compile(a) for a in args]
        if name == "min":
            return ibis.least(*values)
        if name == "max":
            return ibis.greatest(*values)
        if name == "abs":
            return values[0].abs()
        return values[0].between(values[1], values[2])  # between: inclusive


def _literal(value: Any) -> Any:
    # Explicit wide types: a bare 100 would be int8 and overflow in int8 arithmetic.
    if isinstance(value, bool):
        return ibis.literal(value, type="boolean")
    if isinstance(value, int):
        return ibis.literal(value, type="int64")
    if isinstance(value, float):
        return ibis.literal(value, type="float64")
    return ibis.literal(value, type="string")
