"""Program definitions: programs as configuration, one YAML file each (docs/PROGRAMS.md).

A file is composed into YAML nodes that keep their positions, turned into plain data, checked
against the pydantic schema, by the rules that span several keys, and every rule by the rule
language; every problem comes back at once as FILE:LINE:COLUMN. Money is integer rupiah: an
amount that does not divide exactly into a payment cycle is a problem, never rounded.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from lokal.rupiah import format_rupiah
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from lumbung.errors import ValidationFailed
from lumbung.numbers import grouped
from lumbung.programs.checker import suggestion
from lumbung.programs.language import (
    Rule,
    Vocabulary,
    check_rule,
    household_vocabulary,
    member_vocabulary,
    parse_rule,
)
from lumbung.programs.source import Key, Problem, YamlSource

DEFINITIONS = Path(__file__).resolve().parent / "definitions"
MAX_FILE_BYTES = 1_000_000
# code → English gloss; a rule's problems keep the rule language's codes (PROBLEM_CODES)
DEFINITION_CODES: dict[str, str] = {
    "file_unreadable": "the file is missing, too large or not UTF-8",
    "yaml_error": "the text is not YAML (or not one document)",
    "wrong_type": "a value of the wrong kind (text for a number, a list for a mapping)",
    "missing": "a required key is absent or empty",
    "unknown_key": "a key the schema does not define",
    "duplicate_key": "the same key twice in one mapping",
    "invalid_value": "a value outside what the key allows (codes, ranges, patterns)",
    "not_allowed": "a key or YAML feature not allowed here (members for households, aliases)",
    "duplicate_name": "two components or items with the same name",
    "inexact_amount": "an annual amount that does not divide exactly into one cycle",
    # Checked where programs run (cycles/programs.py), reported by `program validate` too:
    "code_taken": "the code of a shipped program, with content other than the shipped one",
    "version_taken": "a code and version that already ran with other content",
}
REGION_CODE = {"regency": re.compile(r"^\d{2}\.?\d{2}$"), "province": re.compile(r"^\d{2}$")}

Money = Annotated[int, Field(gt=0)]
Count = Annotated[int, Field(gt=0)]
ItemName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Component(_Strict):
    name: ItemName
    label: Text
    when: str  # member rule
    amount_idr: Money
    max_persons: Count | None = None


class InKindItem(_Strict):
    name: ItemName
    label: Text
    when: str  # member rule
    unit_value_idr: Money


class FlatBenefit(_Strict):
    kind: Literal["flat"]
    monthly_idr: Money


class PerPersonBenefit(_Strict):
    kind: Literal["per_person"]
    monthly_idr: Money
    max_persons: Count | None = None


class ComponentsBenefit(_Strict):
    kind: Literal["components"]
    annual: bool = False
    max_persons: Count | None = None
    components: list[Component] = Field(min_length=1)


class InKindBenefit(_Strict):
    kind: Literal["in_kind"]
    items: list[InKindItem] = Field(min_length=1)


Benefit = Annotated[
    FlatBenefit | PerPersonBenefit | ComponentsBenefit | InKindBenefit,
    Field(discriminator="kind"),
]


class Schedule(_Strict):
    kind: Literal["monthly", "quarterly", "tranches"]
    months: Count | None = None  # tranches: months the whole programme covers
    tranches: Count | None = None

    @property
    def months_per_cycle(self) -> int:
        if self.kind == "monthly":
            return 1
        if self.kind == "quarterly":
            return 3
        return (self.months or 0) // (self.tranches or 1)


class Quota(_Strict):
    level: Literal["regency", "province"]
    default: Annotated[int, Field(ge=0)] | None = None  # None: regions not listed are unlimited
    counts: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)

    @field_validator("counts")
    @classmethod
    def _dotted(cls, counts: dict[str, int]) -> dict[str, int]:
        """Regency codes as the registry stores them: "3171" and "31.71" are both 31.71."""
        return {
            f"{code[:2]}.{code[2:]}" if re.fullmatch(r"\d{4}", code) else code: n
            for code, n in counts.items()
        }


class ProgramDefinition(_Strict):
    code: Annotated[str, Field(pattern=r"^[A-Z0-9-]{2,32}$")]
    name: Text
    version: Annotated[str, Field(min_length=1, max_length=32)]
    description: str | None = None
    unit: Literal["household", "person"]
    eligibility: str  # household rule
    members: str | None = None  # member rule, unit person only; None: every active member
    benefit: Benefit
    schedule: Schedule
    channel: Literal["bank", "pos", "bpjs"]
    quota: Quota | None = None
    _rules: dict[str, Rule] = PrivateAttr(default_factory=dict)

    @property
    def months_per_cycle(self) -> int:
        return self.schedule.months_per_cycle

    def amount_per_cycle(self, amount_idr: int, *, annual: bool = False) -> int:
        """A monthly (or annual) amount as paid in one cycle, exactly; ValueError if inexact."""
        return per_cycle(amount_idr, months=self.months_per_cycle, annual=annual)

    def amounts_per_cycle(self) -> dict[str, int]:
        """Rupiah per cycle: per component or in-kind item by name, else under the kind
        ("flat": per household or person, "per_person": per counted person)."""
        benefit = self.benefit
        if isinstance(benefit, ComponentsBenefit):
            return {
                c.name: self.amount_per_cycle(c.amount_idr, annual=benefit.annual)
                for c in benefit.components
            }
        if isinstance(benefit, InKindBenefit):
            return {item.name: item.unit_value_idr for item in benefit.items}
        return {benefit.kind: self.amount_per_cycle(benefit.monthly_idr)}

    @property
    def eligibility_rule(self) -> Rule:
        return self._rule("eligibility", self.eligibility, household_vocabulary())

    @property
    def members_rule(self) -> Rule | None:
        if self.members is None:
            return None
        return self._rule("members", self.members, member_vocabulary())

    def condition(self, name: str) -> Rule:
        """The member rule (`when`) of a component or in-kind item."""
        benefit = self.benefit
        parts: list[Component | InKindItem] = []
        if isinstance(benefit, ComponentsBenefit):
            parts.extend(benefit.components)
        elif isinstance(benefit, InKindBenefit):
            parts.extend(benefit.items)
        for part in parts:
            if part.name == name:
                return self._rule(f"when:{name}", part.when, member_vocabulary())
        raise KeyError(name)

    def _rule(self, key: str, text: str, vocabulary: Vocabulary) -> Rule:
        if key not in self._rules:
            self._rules[key] = parse_rule(text, vocabulary)
        return self._rules[key]


def per_cycle(amount_idr: int, *, months: int, annual: bool) -> int:
    """`amount_idr` a month (or a year) for a cycle of `months` months, exactly."""
    total = amount_idr * months
    if annual and total % 12:
        raise ValueError(
            f"{format_rupiah(amount_idr)} setahun tidak terbagi rata untuk {months} bulan"
        )
    return total // 12 if annual else total


class ProgramDefinitionError(ValidationFailed):
    """A definition file with problems: all of them."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(
            f"Definisi program {file} tidak sah: {len(problems)} masalah: "
            + "; ".join(str(p) for p in problems[:5])
            + (" …" if len(problems) > 5 else ""),
            details=[p.as_dict() for p in problems],
        )


def parse_program(
    text: str, *, file: str = "<teks>", programs: frozenset[str] | None = None
) -> ProgramDefinition:
    """The definition in `text`; raises ProgramDefinitionError with every problem."""
    problems, definition = _load(text, file, programs)
    if definition is None:
        raise ProgramDefinitionError(file, problems)
    return definition


def check_program(
    text: str, *, file: str = "<teks>", programs: frozenset[str] | None = None
) -> list[Problem]:
    return _load(text, file, programs)[0]


def load_program(path: Path, *, programs: frozenset[str] | None = None) -> ProgramDefinition:
    """The definition in a file; raises ProgramDefinitionError with every problem."""
    text, problems = _read(path)
    if text is None:
        raise ProgramDefinitionError(str(path), problems)
    return parse_program(text, file=str(path), programs=programs)


def validate_program_file(path: Path, *, programs: frozenset[str] | None = None) -> list[Problem]:
    """Every problem of a definition file (empty when it is sound)."""
    text, problems = _read(path)
    return problems if text is None else check_program(text, file=str(path), programs=programs)


def shipped_programs() -> dict[str, Path]:
    """The programs that come with Lumbung: code → definition file."""
    return {path.stem: path for path in sorted(DEFINITIONS.glob("*.yaml"))}


def load_shipped_programs() -> dict[str, ProgramDefinition]:
    files = shipped_programs()
    codes = frozenset(files)
    return {code: load_program(path, programs=codes) for code, path in files.items()}


def _read(path: Path) -> tuple[str | None, list[Problem]]:
    def fail(message: str) -> tuple[None, list[Problem]]:
        return None, [Problem(str(path), 1, 1, "file_unreadable", message)]

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return fail(f"Berkas lebih dari {grouped(MAX_FILE_BYTES)} byte.")
        return path.read_bytes().decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return fail("Berkas bukan teks UTF-8.")
    except OSError as exc:
        return fail(f"Berkas tidak dapat dibaca: {exc.strerror or exc}.")


RULES: tuple[tuple[str | None, ...], ...] = (
    ("eligibility",),
    ("members",),
    ("benefit", "components", None, "when"),
    ("benefit", "items", None, "when"),
)
KNOWN_KEYS = sorted(
    {
        name
        for model in (ProgramDefinition, Component, InKindItem, Schedule, Quota)
        for name in model.model_fields
    }
    | {n for m in (FlatBenefit, PerPersonBenefit, ComponentsBenefit) for n in m.model_fields}
)


def is_rule(path: Key) -> bool:
    return any(
        len(path) == len(r) and all(p is None or p == k for p, k in zip(r, path, strict=True))
        for r in RULES
    )


def _load(
    text: str, file: str, programs: frozenset[str] | None
) -> tuple[list[Problem], ProgramDefinition | None]:
    document = YamlSource(text, file, raw_text=is_rule)
    if document.data is None:
        return document.problems, None
    definition: ProgramDefinition | None = None
    try:
        definition = ProgramDefinition.model_validate(document.data)
    except ValidationError as exc:
        for error in exc.errors():
            _schema_problem(document, error)
    _cross_checks(document)
    for path in [p for p in document.values if is_rule(p)]:
        value = document.get(path)
        if isinstance(value, str):
            household = path == ("eligibility",)
            vocabulary = household_vocabulary(programs) if household else member_vocabulary()
            position = document.rule_position(document.values[path])
            for p in check_rule(value, vocabulary, position=position):
                document.problem(p.line, p.column, p.code, p.message)
    if document.problems or definition is None:
        return sorted(document.problems, key=lambda p: (p.line, p.column)), None
    return [], definition


def _schema_problem(document: YamlSource, error: Any) -> None:
    """One pydantic error as a problem at the node it is about."""
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx") or {}
    path: Key = ()
    tag_skipped: Key | None = None
    for part in loc:
        here = document.get(path)
        if isinstance(here, dict) and here.get("kind") == part and tag_skipped != path:
            tag_skipped = path  # the tag of a discriminated union, not a key
        elif (*path, part) in document.values:
            path = (*path, part)
    name = str(next((p for p in reversed(loc) if isinstance(p, str) and p != "[key]"), ""))
    if kind.startswith("union_tag") and (*path, "kind") in document.values:
        path = (*path, "kind")
    node = document.values.get(path)
    if kind == "extra_forbidden" or loc[-1] == "[key]" or kind == "missing":
        node = document.keys.get(path, node)
    code, message = _schema_message(kind, name, ctx, error.get("input"), loc[-1] == "[key]")
    document.at(node, code, message)


def _schema_message(
    kind: str, name: str, ctx: dict[str, Any], given: Any, is_key: bool
) -> tuple[str, str]:
    money = name.endswith("_idr")
    if kind == "string_type" and is_key:
        return "wrong_type", f'Kode harus teks; beri tanda kutip, mis. "{given}".'
    if kind == "missing" or (given is None and kind.endswith("_type")):
        return "missing", f"`{name}` wajib diisi."
    if kind == "extra_forbidden":
        return "unknown_key", f"Kunci `{name}` tidak dikenal.{suggestion(name, KNOWN_KEYS)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        hint = (
            " rupiah, tanpa desimal atau titik ribuan (mis. 200000, bukan 200.000,50)"
            if money
            else ""
        )
        return "wrong_type", f"`{name}` harus bilangan bulat{hint}."
    if kind in ("greater_than", "greater_than_equal"):
        limit = "lebih dari 0" if kind == "greater_than" else "0 atau lebih"
        return "invalid_value", f"`{name}` harus {limit}."
    if kind == "string_type":
        return "wrong_type", f'`{name}` harus teks; beri tanda kutip, mis. "{given}".'
    if kind == "bool_type":
        return "wrong_type", f"`{name}` harus true atau false."
    if kind in ("string_too_short", "too_short"):
        return "invalid_value", f"`{name}` tidak boleh kosong."
    if kind == "string_too_long":
        return "invalid_value", f"`{name}` terlalu panjang (paling banyak {ctx['max_length']})."
    if kind == "string_pattern_mismatch":
        if name == "code":
            return "invalid_value", "Kode program: 2-32 huruf besar, angka atau tanda -."
        return "invalid_value", f"`{name}`: huruf kecil, angka dan _, diawali huruf."
    if kind == "literal_error":
        expected = str(ctx["expected"]).replace(" or ", " atau ")
        return "invalid_value", f"`{name}` harus salah satu dari: {expected}."
    if kind == "union_tag_invalid":
        return "invalid_value", f"`kind` harus salah satu dari: {ctx['expected_tags']}."
    if kind == "union_tag_not_found":
        return "missing", "`kind` wajib diisi: flat, per_person, components atau in_kind."
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "wrong_type", f"`{name}` harus berupa pemetaan (kunci: nilai)."
    if kind == "list_type":
        return "wrong_type", f"`{name}` harus berupa daftar (baris diawali -)."
    return "invalid_value", f"`{name}`: {kind}."


def _cross_checks(document: YamlSource) -> None:
    """What the schema alone cannot say: rules that relate several keys."""
    data, at = document.data, document.at
    if data.get("unit") == "household" and "members" in data:
        at(document.keys[("members",)], "not_allowed", "`members` hanya untuk unit: person.")
    for list_key in ("components", "items"):
        seen: set[str] = set()
        for i, part in enumerate(_list(document.get(("benefit", list_key)))):
            name = _dict(part).get("name")
            if isinstance(name, str) and name in seen:
                node = document.values[("benefit", list_key, i, "name")]
                at(node, "duplicate_name", f"Nama `{name}` sudah dipakai.")
            seen.add(str(name))
    schedule = _dict(data.get("schedule"))
    kind = schedule.get("kind")
    months, tranches = _count(schedule.get("months")), _count(schedule.get("tranches"))
    cycle = {"monthly": 1, "quarterly": 3}.get(str(kind))
    if kind == "tranches":
        for key in ("months", "tranches"):
            if key not in schedule:
                at(document.values[("schedule",)], "missing", f"`{key}` wajib untuk `tranches`.")
        if months and tranches and months % tranches:
            message = f"{months} bulan tidak terbagi rata menjadi {tranches} tahap."
            at(document.values[("schedule", "tranches")], "invalid_value", message)
        elif months and tranches:
            cycle = months // tranches
    elif kind in ("monthly", "quarterly"):
        for key in ("months", "tranches"):
            if key in schedule:
                message = f"`{key}` hanya untuk jadwal `tranches`."
                at(document.keys[("schedule", key)], "not_allowed", message)
    benefit = _dict(data.get("benefit"))
    if cycle is not None and benefit.get("kind") == "components" and benefit.get("annual") is True:
        for i, _ in enumerate(_list(benefit.get("components"))):
            path: Key = ("benefit", "components", i, "amount_idr")
            amount = _count(document.get(path))
            if amount and amount * cycle % 12:
                exact = format_rupiah(Decimal(amount * cycle) / 12, decimals=True)
                message = (
                    f"{format_rupiah(amount)} setahun untuk {cycle} bulan = {exact}; "
                    "uang tidak dibulatkan. Ubah jumlahnya atau jadwalnya."
                )
                at(document.values[path], "inexact_amount", message)
    quota = _dict(data.get("quota"))
    pattern = REGION_CODE.get(str(quota.get("level")))
    for code in _dict(quota.get("counts")) if pattern else {}:
        if isinstance(code, str) and pattern and not pattern.match(code):
            shape = "4 angka, mis. 3171" if quota["level"] == "regency" else "2 angka, mis. 31"
            at(document.keys[("quota", "counts", code)], "invalid_value", f"Kode wilayah: {shape}.")


def _dict(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _count(value: Any) -> int | None:
    """A positive whole number, else None (the schema reports what is wrong with it)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if ok else None


def declared_code(path: Path) -> str | None:
    """The `code` a definition file declares, if it can be read at all."""
    text, _ = _read(path)
    code = YamlSource(text, str(path), raw_text=is_rule).get(("code",)) if text else None
    return code if isinstance(code, str) else None
