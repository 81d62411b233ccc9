"""A proxy means test model as data, and its prediction as one engine expression.

predicted log per-capita consumption = intercept
    + Σ coefficient × numeric feature (booleans count as 0/1)
    + Σ effect of the household's level of each categorical feature (the base level: 0)
    + effect of its area (province or regency), when the model has them.

The file is YAML or JSON; `version` and the fit report travel with it. Prediction is a
sum of double products in a fixed order, so DuckDB and Spark compute the same bits.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lumbung.errors import ValidationFailed
from lumbung.targeting.vocabulary import HOUSEHOLD_FEATURES, TEXT_VALUES, ValueType

NAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"
VERSION = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"


class AreaEffects(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["province", "regency"]
    effects: dict[str, float]


class PmtModel(BaseModel):
    """A fitted PMT: the coefficients, and how well they did on held-out households."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    # Part of the scores file name: letters, digits, dot, dash, underscore only.
    version: str = Field(pattern=VERSION)
    description: str = ""
    target: Literal["log_consumption_per_capita"] = "log_consumption_per_capita"
    intercept: float
    numeric: dict[str, float] = {}
    categorical: dict[str, dict[str, float]] = {}
    area: AreaEffects | None = None
    fit: dict[str, Any] = {}

    @model_validator(mode="after")
    def _known_features(self) -> PmtModel:
        problems = []
        for name in self.numeric:
            kind = HOUSEHOLD_FEATURES.get(name)
            if kind not in (ValueType.NUMBER, ValueType.BOOLEAN):
                problems.append(f"numeric: '{name}' bukan fitur angka/ya-tidak")
        for name, levels in self.categorical.items():
            if HOUSEHOLD_FEATURES.get(name) is not ValueType.TEXT:
                problems.append(f"categorical: '{name}' bukan fitur kategori")
                continue
            allowed = TEXT_VALUES.get(name)
            unknown = sorted(set(levels) - set(allowed)) if allowed else []
            if unknown:
                problems.append(f"categorical.{name}: kode tidak dikenal {', '.join(unknown)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def sha256(self) -> str:
        return hashlib.sha256(canonical_json(self)).hexdigest()

    def terms(self, features: ir.Table) -> dict[str, ir.FloatingValue]:
        """Each term's contribution to the prediction, by name (for the score and explain)."""
        terms: dict[str, ir.FloatingValue] = {}
        for name, coefficient in self.numeric.items():
            value = features[name].cast("float64").fill_null(0.0)
            terms[name] = value * ibis.literal(coefficient, type="float64")
        for name, levels in self.categorical.items():
            column = features[name]
            cases = [
                (column == level, ibis.literal(effect, "float64"))
                for level, effect in sorted(levels.items())
            ]
            terms[name] = ibis.cases(*cases, else_=ibis.literal(0.0, "float64"))
        if self.area is not None:
            column = features["province_code" if self.area.level == "province" else "regency_code"]
            cases = [
                (column == code, ibis.literal(effect, "float64"))
                for code, effect in sorted(self.area.effects.items())
            ]
            terms[f"area_{self.area.level}"] = (
                ibis.cases(*cases, else_=ibis.literal(0.0, "float64"))
                if cases
                else ibis.literal(0.0, "float64")
            )
        return terms

    def predict(self, features: ir.Table) -> ir.FloatingValue:
        total: ir.FloatingValue = ibis.literal(self.intercept, "float64")
        for term in self.terms(features).values():
            total = total + term
        return total


def canonical_json(model: PmtModel) -> bytes:
    return json.dumps(model.model_dump(mode="json"), sort_keys=True).encode()


def load_model(path: Path) -> PmtModel:
    """A PMT model file (YAML or JSON), checked; every problem in one message."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValidationFailed(f"Berkas model PMT {path} tidak ada.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"Berkas model PMT {path} tidak bisa dibaca: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{path}: bukan YAML/JSON yang sah: {exc}") from exc
    try:
        return PmtModel.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(model)'}: {e['msg']}" for e in exc.errors()
        )
        raise ValidationFailed(f"{path}: model PMT tidak sah: {details}") from exc


def check_name(name: str, version: str) -> None:
    """Refuse a model name or version that a model file could not carry (before any work)."""
    for option, value, pattern in (("--name", name, NAME), ("--version", version, VERSION)):
        if not re.fullmatch(pattern, value):
            raise ValidationFailed(
                f"{option} {value!r} tidak sah: huruf kecil/angka, titik, strip, garis bawah "
                f"(pola {pattern})."
            )


def save_model(model: PmtModel, path: Path) -> None:
    body = model.model_dump(mode="json")
    if path.suffix == ".json":
        path.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8")


def default_model_path() -> Path:
    """The illustrative model shipped with Lumbung (fitted on a synthetic survey)."""
    return Path(__file__).with_name("models") / "lumbung-synthetic.yaml"
