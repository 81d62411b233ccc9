"""The matching engine's settings as data: blocking, comparisons, training, thresholds.

A settings file (YAML; the shipped ones in `definitions/`) names its blocking rules as lists
of columns, and each comparison as an ordered list of levels, each level one of:

- `{missing: COLUMN}`: either side missing (no evidence either way);
- `{exact: COLUMN, tf: true|false}`: equal (with term-frequency adjustment: a common value
  such as "siti aminah" weighs less than a rare one);
- `{jaro_winkler: COLUMN, threshold: X}`, `{damerau: COLUMN, distance: N}`,
  `{levenshtein: COLUMN, distance: N}`, `{array_intersect: COLUMN, min: N}`;
- `{sql: CONDITION}`: a DuckDB SQL condition on `COLUMN_l` and `COLUMN_r` (Splink translates it
  for Spark);
- `{else: true}`: everything else.

Any level may carry `label` (what the review queue shows), and `m`, `u` with `fixed: true` for a
rule that is not trained (the twins rule), or `m` with `fixed_m: true` for a level EM cannot
learn (its u still sampled). The same settings build the model for DuckDB and
for Spark (`splink_settings(..., dialect)`), and trained parameters (`Parameters`) are put
back into them level by level, so a model trained on one engine runs on the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFINITIONS = Path(__file__).resolve().parent / "definitions"


class SettingsError(ValueError):
    """A settings file that cannot be used (where and why in the message)."""


@dataclass(frozen=True)
class Thresholds:
    review: float  # lowest match weight kept and offered for review
    match: float  # lowest match weight taken as the same person


@dataclass(frozen=True)
class Training:
    deterministic_rules: tuple[str, ...]
    recall: float
    u_max_pairs: int
    seed: int
    em_blocking: tuple[tuple[str, ...], ...]
    em_max_pairs: int | None


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[dict[str, Any], ...]
    description: str = ""


@dataclass(frozen=True)
class LinkageSettings:
    name: str
    version: int
    blocking: tuple[tuple[str, ...], ...]
    comparisons: tuple[Comparison, ...]
    training: Training
    thresholds: Thresholds
    never_merge: tuple[str, ...] = ()
    source: str = ""  # the file it was read from

    def with_thresholds(self, *, review: float | None, match: float | None) -> LinkageSettings:
        """The same settings with other thresholds (a run's options)."""
        return LinkageSettings(
            name=self.name,
            version=self.version,
            blocking=self.blocking,
            comparisons=self.comparisons,
            training=self.training,
            thresholds=Thresholds(
                review=self.thresholds.review if review is None else review,
                match=self.thresholds.match if match is None else match,
            ),
            never_merge=self.never_merge,
            source=self.source,
        )


@dataclass
class Parameters:
    """A trained model: the prior and each comparison level's m and u (None: not trained)."""

    probability_two_random_records_match: float
    levels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def prior_weight(self) -> float:
        p = self.probability_two_random_records_match
        return math.log2(p / (1 - p))

    def as_dict(self) -> dict[str, Any]:
        return {
            "probability_two_random_records_match": self.probability_two_random_records_match,
            "levels": self.levels,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Parameters:
        return cls(
            probability_two_random_records_match=float(
                data["probability_two_random_records_match"]
            ),
            levels={k: list(v) for k, v in data["levels"].items()},
        )


_KINDS = ("missing", "exact", "jaro_winkler", "damerau", "levenshtein", "array_intersect", "sql")


def shipped(name: str) -> Path:
    """The path of a shipped settings file by name ("registry", "febrl")."""
    return DEFINITIONS / f"{name}.yaml"


def load_settings(path: Path | str) -> LinkageSettings:
    """Read and check a settings file (a path, or the name of a shipped one)."""
    file = Path(path) if str(path).endswith((".yaml", ".yml")) else shipped(str(path))
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{file}: tidak bisa dibaca: {exc}") from exc
    try:
        comparisons = tuple(
            Comparison(
                name=str(c["name"]),
                levels=tuple(_level(file, c["name"], i, lv) for i, lv in enumerate(c["levels"])),
                description=str(c.get("description", "")),
            )
            for c in data["comparisons"]
        )
        training = data["training"]
        thresholds = data["thresholds"]
        settings = LinkageSettings(
            name=str(data["name"]),
            version=int(data["version"]),
            blocking=tuple(tuple(str(c) for c in rule) for rule in data["blocking"]),
            comparisons=comparisons,
            training=Training(
                deterministic_rules=tuple(str(r) for r in training["deterministic_rules"]),
                recall=float(training["recall"]),
                u_max_pairs=int(training["u_max_pairs"]),
                seed=int(training.get("seed", 0)),
                em_blocking=tuple(tuple(str(c) for c in rule) for rule in training["em_blocking"]),
                em_max_pairs=(
                    int(training["em_max_pairs"]) if training.get("em_max_pairs") else None
                ),
            ),
            thresholds=Thresholds(
                review=float(thresholds["review"]), match=float(thresholds["match"])
            ),
            never_merge=tuple(str(c) for c in data.get("never_merge", ())),
            source=str(file),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SettingsError(f"{file}: isian kurang atau salah: {exc!r}") from exc
    if settings.thresholds.match < settings.thresholds.review:
        raise SettingsError(f"{file}: ambang 'match' lebih rendah dari ambang 'review'")
    return settings


def _level(file: Path, comparison: str, index: int, level: Any) -> dict[str, Any]:
    where = f"{file}: perbandingan {comparison!r}, tingkat {index + 1}"
    if not isinstance(level, dict):
        raise SettingsError(f"{where}: harus berupa pemetaan, misalnya {{exact: name}}")
    kinds = [k for k in (*_KINDS, "else") if k in level]
    if len(kinds) != 1:
        raise SettingsError(f"{where}: tepat satu jenis tingkat ({', '.join(_KINDS)}, else)")
    return dict(level)


def _creator(level: dict[str, Any]) -> Any:
    """The Splink comparison level a settings level describes (not yet configured)."""
    import splink.comparison_level_library as cll

    if "missing" in level:
        return cll.NullLevel(level["missing"])
    if "exact" in level:
        return cll.ExactMatchLevel(
            level["exact"], term_frequency_adjustments=bool(level.get("tf", False))
        )
    if "jaro_winkler" in level:
        return cll.JaroWinklerLevel(level["jaro_winkler"], float(level["threshold"]))
    if "damerau" in level:
        return _guarded_damerau(level["damerau"], int(level["distance"]))
    if "levenshtein" in level:
        return cll.LevenshteinLevel(level["levenshtein"], int(level["distance"]))
    if "array_intersect" in level:
        return cll.ArrayIntersectLevel(level["array_intersect"], int(level.get("min", 1)))
    if "sql" in level:
        return cll.CustomLevel(" ".join(str(level["sql"]).split()), base_dialect_str="duckdb")
    return cll.ElseLevel()


def _guarded_damerau(column: str, distance: int) -> Any:
    """Splink's Damerau-Levenshtein level, with a cheap test before the distance.

    The distance costs about 3 µs a pair on 16 digits (DuckDB; twenty Jaro-Winklers), and the
    NIK's and the KK's levels computed it for nearly every scored pair and every pair of the
    u sample. One edit (a changed, inserted or removed character, or two neighbours swapped)
    touches at most two neighbouring positions, so two strings within distance 1 differ in
    length by at most one, and, the shorter being m characters long and k = (m - 1) // 2,
    either their first k or their last k characters are equal (m >= 2k + 1 leaves the edit
    out of one of the two). Pairs failing that cannot be within 1; the distance is computed
    only for the others (a condition's AND is evaluated left to right, on the rows still in
    question), and the level takes exactly the pairs it took before
    (tests/test_linkage_engine.py checks it against the plain distance)."""
    import splink.comparison_level_library as cll

    class GuardedDamerau(cll.DamerauLevenshteinLevel):
        def create_sql(self, sql_dialect: Any) -> str:
            plain = str(super().create_sql(sql_dialect))
            if self.distance_threshold != 1:
                return plain
            left, right = self.col_expression.name_l, self.col_expression.name_r
            half = f"CAST(floor((least(length({left}), length({right})) - 1) / 2) AS INTEGER)"
            guard = (
                f"abs(length({left}) - length({right})) <= 1 "
                f"AND (substr({left}, 1, {half}) = substr({right}, 1, {half}) "
                f"OR substr({left}, -{half}) = substr({right}, -{half}))"
            )
            return f"{guard} AND {plain}"

    return GuardedDamerau(column, distance)


def comparison_creators(
    settings: LinkageSettings, parameters: Parameters | None = None
) -> list[Any]:
    """Splink comparisons for the settings, with trained parameters put back when given."""
    import splink.comparison_library as cl

    comparisons = []
    for comparison in settings.comparisons:
        trained = parameters.levels.get(comparison.name, []) if parameters else []
        if parameters is not None:
            _check_trained(settings, comparison, trained)
        levels = []
        for index, level in enumerate(comparison.levels):
            creator = _creator(level)
            options: dict[str, Any] = {}
            if "label" in level:
                options["label_for_charts"] = str(level["label"])
            if "m" in level:
                options["m_probability"] = float(level["m"])
            if "u" in level:
                options["u_probability"] = float(level["u"])
            if level.get("fixed"):
                options["fix_m_probability"] = True
                options["fix_u_probability"] = True
            if level.get("fixed_m"):
                options["fix_m_probability"] = True
            if index < len(trained) and "missing" not in level and not level.get("fixed"):
                if trained[index].get("m") is not None and not level.get("fixed_m"):
                    options["m_probability"] = float(trained[index]["m"])
                if trained[index].get("u") is not None:
                    options["u_probability"] = float(trained[index]["u"])
            if options:
                creator.configure(**options)
            levels.append(creator)
        comparisons.append(
            cl.CustomComparison(
                comparison_levels=levels,
                output_column_name=comparison.name,
                comparison_description=comparison.description or comparison.name,
            )
        )
    return comparisons


def splink_settings(
    settings: LinkageSettings,
    *,
    link_type: str,
    parameters: Parameters | None = None,
) -> Any:
    """Splink's `SettingsCreator` for a dedupe ("dedupe_only") or a link ("link_only")."""
    from splink import SettingsCreator, block_on

    options: dict[str, Any] = {}
    if parameters is not None:
        options["probability_two_random_records_match"] = (
            parameters.probability_two_random_records_match
        )
    return SettingsCreator(
        link_type=link_type,  # type: ignore[arg-type]
        unique_id_column_name="record_id",
        source_dataset_column_name="source",
        comparisons=comparison_creators(settings, parameters),
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in settings.blocking],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
        # a dedupe's source is not an id column; kept so that every pair names its sources
        additional_columns_to_retain=["source"] if link_type == "dedupe_only" else [],
        max_iterations=25,
        em_convergence=0.0001,
        **options,
    )


def _check_trained(
    settings: LinkageSettings, comparison: Comparison, trained: list[dict[str, Any]]
) -> None:
    """A model trained with other settings (levels added, removed or reordered since) would
    put each level's m and u on another level: refused, never applied."""
    from lumbung.errors import ValidationFailed

    labels = [level.get("label") for level in comparison.levels]
    if len(trained) != len(labels) or any(
        label is not None and str(label) != level.get("label")
        for label, level in zip(labels, trained, strict=True)
    ):
        raise ValidationFailed(
            f"Model pencocokan ini dilatih dengan pengaturan lain: perbandingan "
            f"{comparison.name!r} di pengaturan {settings.name} versi {settings.version} tidak "
            "sama tingkatnya dengan di model. Jalankan pencocokan rilis itu lagi agar modelnya "
            "dilatih ulang.",
            cause="linkage_model_mismatch",
            command="lumbung link run --release LABEL",
        )


def trained_parameters(splink_model: dict[str, Any]) -> Parameters:
    """The prior and each level's m and u, out of Splink's model dictionary."""
    levels: dict[str, list[dict[str, Any]]] = {}
    for comparison in splink_model["comparisons"]:
        levels[comparison["output_column_name"]] = [
            {
                "label": level.get("label_for_charts"),
                "m": level.get("m_probability"),
                "u": level.get("u_probability"),
            }
            for level in comparison["comparison_levels"]
        ]
    return Parameters(
        probability_two_random_records_match=float(
            splink_model["probability_two_random_records_match"]
        ),
        levels=levels,
    )
