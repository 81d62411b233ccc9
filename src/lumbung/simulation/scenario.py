"""A scenario: the program definitions a simulation runs, each a shipped (or run) definition
with changes, or a whole changed file.

A scenario file (YAML)::

    title: PKH, komponen lansia dua kali
    programs:
      - program: PKH            # a shipped code, a program run before, or a definition file
        changes:                # optional; every key optional
          decile: 4             # the `decile <= N` bound of the eligibility rule
          eligibility: "…"      # the whole household rule instead
          amounts: {elderly: 4800000}   # component / item → amount, in the definition's unit
          monthly_idr: 250000   # flat and per-person benefits
          max_persons: 4        # the family's cap (null: none)
          caps: {pregnant: 3}   # a component's cap (null: none)
          quota: {level: province, counts: {"31": 1000}}   # null: no quota
          regions: ["31", "32.01"]      # only families in these provinces / regencies
        baseline_cycle: PKH-2026-T1     # optional: compare with this approved cycle

Each change is checked against the definition it changes, and a changed definition is checked
as a definition file is (the rule language, amounts that divide exactly into a cycle); a
problem names the program, the key and why. `changes_from_options` builds the same from the
command line's `--change KEY=VALUE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lumbung.errors import ValidationFailed
from lumbung.programs.catalog import LoadedProgram, content_sha256
from lumbung.programs.definition import (
    REGION_CODE,
    ProgramDefinition,
    ProgramDefinitionError,
    parse_program,
    per_cycle,
)

CHANGE_KEYS = (
    "decile",
    "eligibility",
    "amounts",
    "monthly_idr",
    "max_persons",
    "caps",
    "quota",
    "regions",
)
PROGRAM_KEYS = ("program", "changes", "baseline_cycle")
SCENARIO_KEYS = ("title", "programs")
DECILE_BOUND = re.compile(r"\bdecile\s*<=\s*(\d+)\b")
MAX_SCENARIO_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class ProgramChange:
    """One program of a scenario: what it names, what changes, and the baseline asked for."""

    program: str
    changes: dict[str, Any] = field(default_factory=dict)
    baseline_cycle: str | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    title: str
    programs: tuple[ProgramChange, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "programs": [
                {"program": p.program, "changes": p.changes, "baseline_cycle": p.baseline_cycle}
                for p in self.programs
            ],
        }


def _fail(where: str, why: str) -> ValidationFailed:
    return ValidationFailed(f"{where}: {why}", details=[{"key": where, "message": why}])


def read_scenario(path: Path) -> Scenario:
    """The scenario in a YAML file (module docstring), its shape checked."""
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise _fail(str(path), "berkas skenario lebih dari 1.000.000 byte")
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise _fail(
            str(path), f"berkas skenario tidak dapat dibaca ({exc.strerror or exc})"
        ) from None
    except yaml.YAMLError as exc:
        raise _fail(str(path), f"bukan YAML: {exc}") from None
    return scenario_from_data(data, str(path), base=path.parent)


def scenario_from_data(data: Any, where: str, *, base: Path | None = None) -> Scenario:
    """A scenario from plain data (a parsed file, or the API's JSON)."""
    if not isinstance(data, dict):
        raise _fail(where, "skenario harus berupa pemetaan dengan `title` dan `programs`")
    for key in data:
        if key not in SCENARIO_KEYS:
            raise _fail(f"{where}: {key}", _unknown(key, SCENARIO_KEYS))
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise _fail(f"{where}: title", "judul skenario wajib, teks 1-200 huruf")
    programs = data.get("programs")
    if not isinstance(programs, list) or not programs:
        raise _fail(f"{where}: programs", "daftar program wajib (baris diawali -), minimal satu")
    found = []
    for i, entry in enumerate(programs):
        at = f"{where}: programs[{i}]"
        if not isinstance(entry, dict):
            raise _fail(at, "setiap program berupa pemetaan dengan `program`")
        for key in entry:
            if key not in PROGRAM_KEYS:
                raise _fail(f"{at}.{key}", _unknown(key, PROGRAM_KEYS))
        name = entry.get("program")
        if not isinstance(name, str) or not name.strip():
            raise _fail(f"{at}.program", "kode program atau jalur berkas definisi wajib")
        if base is not None and name.endswith((".yaml", ".yml")) and not Path(name).is_absolute():
            name = str(base / name)  # a file beside the scenario
        changes = entry.get("changes") or {}
        if not isinstance(changes, dict):
            raise _fail(f"{at}.changes", "perubahan berupa pemetaan (kunci: nilai)")
        cycle = entry.get("baseline_cycle")
        if cycle is not None and not isinstance(cycle, str):
            raise _fail(f"{at}.baseline_cycle", "label siklus berupa teks")
        found.append(ProgramChange(name, dict(changes), cycle))
    return Scenario(title.strip(), tuple(found))


def changes_from_options(options: list[str]) -> dict[str, Any]:
    """`--change KEY=VALUE` options as changes: `decile=4`, `amounts.elderly=4800000`,
    `caps.pregnant=3`, `max_persons=none`, `regions=31,32.01`, `eligibility=…`."""
    changes: dict[str, Any] = {}
    for option in options:
        key, sep, value = option.partition("=")
        key = key.strip()
        if not sep or not key:
            raise _fail(f"--change {option}", "tulis KUNCI=NILAI, mis. amounts.elderly=4800000")
        top, _, sub = key.partition(".")
        parsed: Any = value.strip()
        if top in ("decile", "monthly_idr", "max_persons", "amounts", "caps"):
            parsed = None if parsed.lower() in ("none", "null", "") else _whole(parsed, key)
        elif top == "regions":
            parsed = [code.strip() for code in parsed.split(",") if code.strip()]
        if top in ("amounts", "caps"):
            if not sub:
                raise _fail(f"--change {option}", f"tulis {top}.NAMA=NILAI")
            changes.setdefault(top, {})[sub] = parsed
        elif sub:
            raise _fail(f"--change {option}", f"`{top}` tidak punya bagian `.{sub}`")
        else:
            changes[top] = parsed
    return changes


def _whole(text: str, key: str) -> int:
    cleaned = text.replace("_", "")
    if not re.fullmatch(r"\d+", cleaned):
        raise _fail(f"--change {key}", f"`{text}` bukan bilangan bulat (rupiah tanpa titik)")
    return int(cleaned)


def _unknown(key: Any, known: tuple[str, ...]) -> str:
    return f"kunci `{key}` tidak dikenal; yang dikenal: {', '.join(known)}"


@dataclass(frozen=True, slots=True)
class ChangedProgram:
    """A program as the scenario runs it: the definition with its changes applied."""

    original: LoadedProgram
    definition: ProgramDefinition
    content: dict[str, Any]
    sha256: str
    changes: dict[str, Any]
    regions: tuple[str, ...]  # empty: everywhere


def apply_changes(
    original: LoadedProgram, changes: dict[str, Any], where: str, known: frozenset[str]
) -> ChangedProgram:
    """`original` with `changes` (module docstring); every problem names `where` and the key."""
    definition = original.definition
    content = yaml.safe_load(yaml.safe_dump(original.content))  # a deep copy
    benefit = content["benefit"]
    regions: tuple[str, ...] = ()
    for key, value in changes.items():
        at = f"{where}.changes.{key}"
        if key not in CHANGE_KEYS:
            raise _fail(at, _unknown(key, CHANGE_KEYS))
        if key == "decile":
            content["eligibility"] = with_decile(content["eligibility"], value, at)
        elif key == "eligibility":
            if not isinstance(value, str) or not value.strip():
                raise _fail(at, "aturan kelayakan berupa teks aturan")
            content["eligibility"] = value
        elif key == "amounts":
            _amounts(content, definition, value, at)
        elif key == "monthly_idr":
            if benefit["kind"] not in ("flat", "per_person"):
                raise _fail(
                    at,
                    f"{definition.code} memakai manfaat `{benefit['kind']}`; ubah `amounts` "
                    "per komponen",
                )
            benefit["monthly_idr"] = _money(value, at)
        elif key == "max_persons":
            if benefit["kind"] not in ("components", "per_person"):
                raise _fail(at, f"manfaat `{benefit['kind']}` tidak punya batas orang")
            benefit["max_persons"] = None if value is None else _positive(value, at)
        elif key == "caps":
            _caps(content, definition, value, at)
        elif key == "quota":
            if value is not None and not isinstance(value, dict):
                raise _fail(at, "kuota berupa pemetaan (level, counts, default) atau null")
            content["quota"] = value
        else:
            regions = _regions(value, at)
    text = yaml.safe_dump(_without_none(content), allow_unicode=True, sort_keys=False)
    try:
        changed = parse_program(text, file=f"{where} (setelah perubahan)", programs=known)
    except ProgramDefinitionError as exc:
        reasons = "; ".join(p.message for p in exc.problems[:5])
        raise _fail(where, f"definisi setelah perubahan tidak sah: {reasons}") from None
    dumped = changed.model_dump(mode="json")
    return ChangedProgram(original, changed, dumped, content_sha256(dumped), dict(changes), regions)


def _without_none(value: Any) -> Any:
    """The data without null values (a key left out is its default, as in a file)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def with_decile(rule: str, value: Any, at: str) -> str:
    """The rule with its one `decile <= N` bound set to `value`."""
    bound = _positive(value, at)
    if bound > 10:
        raise _fail(at, "desil 1 sampai 10")
    found = DECILE_BOUND.findall(rule)
    if len(found) != 1:
        raise _fail(
            at,
            "aturan kelayakan harus memuat tepat satu `decile <= N` untuk diubah "
            f"(ditemukan {len(found)}); ubah `eligibility` seluruhnya",
        )
    return DECILE_BOUND.sub(f"decile <= {bound}", rule)


def decile_bound(rule: str) -> int | None:
    found = DECILE_BOUND.findall(rule)
    return int(found[0]) if len(found) == 1 else None


def _parts(content: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    benefit = content["benefit"]
    if benefit["kind"] == "components":
        return benefit["components"], "amount_idr"
    if benefit["kind"] == "in_kind":
        return benefit["items"], "unit_value_idr"
    return [], ""


def _amounts(content: dict[str, Any], definition: ProgramDefinition, value: Any, at: str) -> None:
    parts, amount_key = _parts(content)
    if not parts:
        raise _fail(at, f"{definition.code} tidak berkomponen; ubah `monthly_idr`")
    if not isinstance(value, dict) or not value:
        raise _fail(at, "pemetaan nama komponen → jumlah rupiah")
    names = {p["name"]: p for p in parts}
    annual = bool(content["benefit"].get("annual"))
    for name, amount in value.items():
        if name not in names:
            raise _fail(
                f"{at}.{name}",
                f"{definition.code} tidak punya komponen `{name}` (ada: {', '.join(names)})",
            )
        money = _money(amount, f"{at}.{name}")
        if amount_key == "amount_idr":
            try:
                per_cycle(money, months=definition.months_per_cycle, annual=annual)
            except ValueError as exc:
                raise _fail(f"{at}.{name}", f"{exc}; uang tidak dibulatkan") from None
        names[name][amount_key] = money


def _caps(content: dict[str, Any], definition: ProgramDefinition, value: Any, at: str) -> None:
    if content["benefit"]["kind"] != "components":
        raise _fail(at, "hanya manfaat berkomponen punya batas per komponen")
    if not isinstance(value, dict) or not value:
        raise _fail(at, "pemetaan nama komponen → batas orang (atau null)")
    names = {p["name"]: p for p in content["benefit"]["components"]}
    for name, cap in value.items():
        if name not in names:
            raise _fail(
                f"{at}.{name}",
                f"{definition.code} tidak punya komponen `{name}` (ada: {', '.join(names)})",
            )
        names[name]["max_persons"] = None if cap is None else _positive(cap, f"{at}.{name}")


def _regions(value: Any, at: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(at, 'daftar kode provinsi atau kabupaten/kota, mis. ["31", "32.01"]')
    found = []
    for code in value:
        text = str(code)
        if REGION_CODE["province"].match(text) and len(text) == 2:
            found.append(text)
        elif REGION_CODE["regency"].match(text):
            found.append(f"{text[:2]}.{text[-2:]}")
        else:
            raise _fail(at, f"`{text}` bukan kode provinsi (31) atau kabupaten/kota (31.71)")
    return tuple(sorted(set(found)))


def _positive(value: Any, at: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _fail(at, f"`{value}` harus bilangan bulat lebih dari 0")
    return value


def _money(value: Any, at: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _fail(
            at, f"`{value}` harus rupiah bulat lebih dari 0, tanpa desimal atau titik ribuan"
        )
    return value
