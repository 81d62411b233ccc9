"""The matching engine: train, score pairs, cluster, write a run's files (linkage/pairs.py).

`dedupe(records)` finds the same person twice in one source (a release); `link(left, right)`
finds each record of one source in another (a batch or another registry against a release).
Both take comparison tables written by `records.write_records` and write, in the run folder,
`pairs.parquet`, `clusters.parquet` and `model.json` (the contract in pairs.py).

The model is trained on the run's own records unless a trained one is given (`model=`, a
model.json of an earlier run): a release trains, a batch is linked with the release's model.
DuckDB by default; Spark (`backend="spark"`, a SparkSession of Lumbung's own) with the same
settings and, given the same model, the same pairs and clusters.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import resource
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lumbung.driver_errors import splink_prior_degenerate, splink_probability_underflow
from lumbung.errors import Conflict
from lumbung.linkage.pairs import (
    CLUSTERS_FILE,
    LEVEL_PREFIX,
    MODEL_FILE,
    PAIRS_FILE,
    WEIGHT_PREFIX,
)
from lumbung.linkage.records import RECORD_COLUMNS
from lumbung.linkage.settings import (
    LinkageSettings,
    Parameters,
    load_settings,
    splink_settings,
    trained_parameters,
)

MODEL_FORMAT = "lumbung-linkage-model/1"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    folder: Path
    records: int
    pairs: int  # pairs at or above the review threshold
    matches: int  # of which at or above the match threshold (before `never_merge`)
    clusters: int  # clusters of two records or more
    clustered_records: int  # records in them
    review: float
    match: float
    trained: bool  # the model was trained in this run (not given)
    # each stage's wall and CPU seconds (this process's CPU: DuckDB's threads, not Spark's JVM)
    stages: dict[str, tuple[float, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "records": self.records,
            "pairs": self.pairs,
            "matches": self.matches,
            "clusters": self.clusters,
            "clustered_records": self.clustered_records,
            "review": self.review,
            "match": self.match,
            "trained": self.trained,
        }


class _Stages:
    """Wall and CPU seconds per stage of a run (CPU: user + system of this process)."""

    def __init__(self) -> None:
        self.seconds: dict[str, tuple[float, float]] = {}

    @staticmethod
    def _cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), self._cpu()
        try:
            yield
        finally:
            before = self.seconds.get(name, (0.0, 0.0))
            self.seconds[name] = (
                round(before[0] + time.perf_counter() - wall, 2),
                round(before[1] + self._cpu() - cpu, 2),
            )
            logger.info("%s: %.1f s wall, %.1f s CPU", name, *self.seconds[name])


class _Backend:
    """Where the SQL runs: a DuckDB connection, or a SparkSession (the same SQL text)."""

    def __init__(
        self, *, spark: Any = None, threads: int | None = None, memory: str = "", scratch: Path
    ) -> None:
        self.spark = spark
        if spark is None:
            import duckdb
            from splink import DuckDBAPI

            self.con = duckdb.connect()
            self.con.execute("SET enable_progress_bar = false")
            if threads:
                self.con.execute(f"SET threads = {int(threads)}")
            if memory:
                self.con.execute("SET memory_limit = $1", [memory])
            self.db_api: Any = DuckDBAPI(self.con)
        else:
            from splink.backends.spark import SparkAPI

            _with_similarity_functions(spark)
            # Splink breaks long query plans with checkpoints, which need a folder.
            if spark.sparkContext.getCheckpointDir() is None:
                scratch.mkdir(parents=True, exist_ok=True)
                spark.sparkContext.setCheckpointDir(str(scratch))
            self.db_api = SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]

    def table(self, name: str, sql: str) -> None:
        """`sql`'s result as a table (DuckDB) or a cached view (Spark) named `name`."""
        if self.spark is None:
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")
        else:
            frame = self.spark.sql(sql).localCheckpoint()
            frame.createOrReplaceTempView(name)

    def parquet(self, name: str, path: Path) -> None:
        if self.spark is None:
            self.con.execute(
                f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM read_parquet($1)", [str(path)]
            )
        else:
            self.spark.read.parquet(str(path)).createOrReplaceTempView(name)

    def arrow(self, sql: str) -> pa.Table:
        if self.spark is None:
            return self.con.sql(sql).to_arrow_table()
        return self.spark.sql(sql).toArrow()

    def scalar(self, sql: str) -> Any:
        if self.spark is None:
            row = self.con.execute(sql).fetchone()
            return row[0] if row else None
        return self.spark.sql(sql).collect()[0][0]

    def close(self) -> None:
        if self.spark is None:
            self.con.close()


def _with_similarity_functions(spark: Any) -> None:
    """Splink's Jaro-Winkler and Damerau-Levenshtein for Spark: its jar, added to the session."""
    from splink.backends.spark import similarity_jar_location

    jar = similarity_jar_location()
    loaded = spark.sparkContext.getConf().get("spark.jars", "") or ""
    if jar not in loaded:
        spark.sql(f"ADD JAR '{jar}'")


def _as_settings(settings: LinkageSettings | Path | str | None) -> LinkageSettings:
    if isinstance(settings, LinkageSettings):
        return settings
    return load_settings(settings if settings is not None else "registry")


def read_model(path: Path) -> Parameters:
    """The trained parameters of a model.json written by a run."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: bukan model pencocokan Lumbung ({MODEL_FORMAT})")
    return Parameters.from_dict(data["parameters"])


def dedupe(
    records: Path,
    *,
    folder: Path,
    settings: LinkageSettings | Path | str | None = None,
    model: Path | None = None,
    spark: Any = None,
    threads: int | None = None,
    memory: str = "",
) -> RunSummary:
    """The same person twice among `records` (a comparison table's Parquet)."""
    return _run(
        [records], folder, _as_settings(settings), model, "dedupe_only", spark, threads, memory
    )


def link(
    left: Path,
    right: Path,
    *,
    folder: Path,
    settings: LinkageSettings | Path | str | None = None,
    model: Path | None = None,
    spark: Any = None,
    threads: int | None = None,
    memory: str = "",
) -> RunSummary:
    """Each record of `right` found in `left` (two comparison tables of different sources)."""
    return _run(
        [left, right], folder, _as_settings(settings), model, "link_only", spark, threads, memory
    )


def _run(
    inputs: Sequence[Path],
    folder: Path,
    settings: LinkageSettings,
    model: Path | None,
    link_type: str,
    spark: Any,
    threads: int | None,
    memory: str,
) -> RunSummary:
    from splink import Linker

    logging.getLogger("splink").setLevel(logging.ERROR)
    folder.mkdir(parents=True, exist_ok=True)
    stages = _Stages()
    backend = _Backend(spark=spark, threads=threads, memory=memory, scratch=folder / ".spark")
    run = uuid.uuid4().hex[:8]
    try:
        names = []
        with stages.stage("load"):
            for index, path in enumerate(inputs):
                name = f"lumbung_records_{run}_{index}"
                backend.parquet(name, path)
                names.append(name)
            frames = [backend.db_api.register(name) for name in names]
        parameters = read_model(model) if model is not None else None

        def new_linker(given: Parameters | None) -> Any:
            return Linker(
                frames if len(frames) > 1 else frames[0],
                splink_settings(settings, link_type=link_type, parameters=given),
                log_level=None,
            )

        trained = parameters is None
        if parameters is None:
            linker, parameters = _train(new_linker, settings, stages)
        else:
            linker = new_linker(parameters)
        _write_model(folder / MODEL_FILE, settings, parameters, linker)

        with stages.stage("predict"):
            predicted = linker.inference.predict(threshold_match_weight=settings.thresholds.review)
            scored = f"lumbung_scored_{run}"
            backend.table(scored, f"SELECT * FROM {predicted.physical_name}")
        with stages.stage("pairs"):
            pairs_sql = _pairs_sql(scored, settings, parameters)
            pairs = backend.arrow(
                f"SELECT * FROM ({pairs_sql}) AS p "
                "ORDER BY record_id_l, source_l, record_id_r, source_r"
            )
            _write(pairs, folder / PAIRS_FILE)

        with stages.stage("clusters"):
            clusters = _clusters(backend, names, scored, settings, run, stages)
            _write(clusters, folder / CLUSTERS_FILE)
            sizes = _cluster_sizes(clusters)
        return RunSummary(
            folder=folder,
            records=clusters.num_rows,
            pairs=pairs.num_rows,
            matches=sum(
                1
                for w in pairs.column("match_weight").to_pylist()
                if w >= settings.thresholds.match
            ),
            clusters=len(sizes),
            clustered_records=sum(sizes),
            review=settings.thresholds.review,
            match=settings.thresholds.match,
            trained=trained,
            stages=stages.seconds,
        )
    finally:
        backend.close()


def _train(
    new_linker: Callable[[Parameters | None], Any], settings: LinkageSettings, stages: _Stages
) -> tuple[Any, Parameters]:
    """The prior from deterministic rules, u by random sampling, m by EM per blocking rule; a
    trained linker and its parameters.

    An EM session whose maximisation drives a level's m below what a float holds (a level seen
    only among the non-matches of its sample: a small release) is refused by Splink part-way,
    after the session has begun changing the linker's model; training then starts again, from
    a copy of the linker taken before the first session (its prior and u kept), without that
    session, whose comparisons the other sessions train."""
    from splink import block_on

    training = settings.training
    rules = [list(rule) for rule in training.em_blocking]
    linker = new_linker(None)
    with stages.stage("prior"):
        linker.training.estimate_probability_two_random_records_match(
            list(training.deterministic_rules), recall=training.recall
        )
    with stages.stage("u"):
        linker.training.estimate_u_using_random_sampling(
            max_pairs=training.u_max_pairs, seed=training.seed
        )
    # The prior and u do not depend on the EM sessions (u is seeded): a new start after a
    # refused session begins from a copy of this linker instead of sampling u again.
    before_em = copy.deepcopy(linker)
    while True:
        failed = None
        for rule in rules:
            try:
                with stages.stage(f"em {'+'.join(rule)}"):
                    linker.training.estimate_parameters_using_expectation_maximisation(
                        block_on(*rule), max_pairs=training.em_max_pairs
                    )
            except ValueError as refused:
                if not (splink_probability_underflow(refused) or splink_prior_degenerate(refused)):
                    raise
                failed = rule
                logger.info("EM session %s refused; training again without it", "+".join(rule))
                break
        if failed is None:
            return linker, trained_parameters(linker.misc.save_model_to_json())
        rules.remove(failed)
        linker = copy.deepcopy(before_em)
        if not rules:
            raise Conflict(
                "Model pencocokan tidak bisa dilatih pada data ini: tidak satu pun sesi "
                "pelatihan (EM) menemukan pasangan yang mirip untuk dipelajari: data ini tampak "
                "tanpa orang yang tercatat dua kali, sehingga tidak ada yang bisa dipelajari "
                "model (biasanya perlu ribuan anggota dengan sebagian duplikat).",
                cause="linkage_training_failed",
            )


def _write_model(
    path: Path, settings: LinkageSettings, parameters: Parameters, linker: Any
) -> None:
    """model.json: the settings' name and version, the trained parameters, Splink's model."""
    body = {
        "format": MODEL_FORMAT,
        "settings": {"name": settings.name, "version": settings.version, "file": settings.source},
        "thresholds": {"review": settings.thresholds.review, "match": settings.thresholds.match},
        "prior_weight": parameters.prior_weight,
        "parameters": parameters.as_dict(),
        "splink": linker.misc.save_model_to_json(),
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(body, indent=2, sort_keys=True, default=str), encoding="utf-8")
    temporary.replace(path)


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _level_labels(settings: LinkageSettings, parameters: Parameters) -> dict[str, dict[int, str]]:
    """Each comparison's levels by Splink's comparison vector value: null -1, then n-1 … 0."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in settings.comparisons:
        trained = parameters.levels.get(comparison.name, [])
        non_null = [i for i, lv in enumerate(comparison.levels) if "missing" not in lv]
        values: dict[int, str] = {}
        for index, level in enumerate(comparison.levels):
            label = level.get("label") or (
                trained[index].get("label") if index < len(trained) else None
            )
            label = str(label or f"level {index}")
            if "missing" in level:
                values[-1] = label
            else:
                values[len(non_null) - 1 - non_null.index(index)] = label
        labels[comparison.name] = values
    return labels


def _pairs_sql(scored: str, settings: LinkageSettings, parameters: Parameters) -> str:
    """pairs.parquet's columns from Splink's scored pairs (the same SQL on DuckDB and Spark)."""
    swap = "(record_id_l > record_id_r OR (record_id_l = record_id_r AND source_l > source_r))"
    columns = []
    for side, other in (("l", "r"), ("r", "l")):
        columns.append(
            f"CASE WHEN {swap} THEN record_id_{other} ELSE record_id_{side} END AS record_id_{side}"
        )
        columns.append(
            f"CASE WHEN {swap} THEN source_{other} ELSE source_{side} END AS source_{side}"
        )
    columns += [
        "CAST(match_weight AS DOUBLE) AS match_weight",
        "CAST(match_probability AS DOUBLE) AS match_probability",
        f"CAST({parameters.prior_weight!r} AS DOUBLE) AS prior_weight",
    ]
    tf_columns = {c.name for c in settings.comparisons if any(lv.get("tf") for lv in c.levels)}
    for name, values in _level_labels(settings, parameters).items():
        cases = " ".join(f"WHEN {value} THEN {_sql_text(label)}" for value, label in values.items())
        columns.append(f"CAST(CASE gamma_{name} {cases} END AS STRING) AS {LEVEL_PREFIX}{name}")
        weight = f"mw_{name}"
        if name in tf_columns:
            weight = f"({weight} + coalesce(mw_tf_adj_{name}, 0.0))"
        columns.append(f"CAST({weight} AS DOUBLE) AS {WEIGHT_PREFIX}{name}")
    return f"SELECT {', '.join(columns)} FROM {scored}"


def _clusters(
    backend: _Backend,
    inputs: list[str],
    scored: str,
    settings: LinkageSettings,
    run: str,
    stages: _Stages,
) -> pa.Table:
    """Connected components of the pairs at or above the match threshold, `never_merge` out."""
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    nodes, edges = f"lumbung_nodes_{run}", f"lumbung_edges_{run}"
    node = "concat(source, '-', CAST(record_id AS STRING))"
    backend.table(
        nodes,
        " UNION ALL ".join(
            f"SELECT {node} AS node_id, record_id, source FROM {name}" for name in inputs
        ),
    )
    keep = f"match_weight >= {float(settings.thresholds.match)!r}"
    for condition in settings.never_merge:
        keep += f" AND NOT coalesce(({' '.join(condition.split())}), false)"
    backend.table(
        edges,
        f"SELECT concat(source_l, '-', CAST(record_id_l AS STRING)) AS node_l, "
        f"concat(source_r, '-', CAST(record_id_r AS STRING)) AS node_r "
        f"FROM {scored} WHERE {keep}",
    )
    solved = cluster_pairwise_predictions_at_threshold(
        backend.db_api.table_to_splink_dataframe(nodes, nodes),
        backend.db_api.table_to_splink_dataframe(edges, edges),
        db_api=backend.db_api,
        node_id_column_name="node_id",
        edge_id_column_name_left="node_l",
        edge_id_column_name_right="node_r",
    )
    components = f"lumbung_components_{run}"
    backend.table(
        components,
        f"SELECT n.node_id, n.record_id, n.source, c.cluster_id "
        f"FROM {nodes} AS n JOIN {solved.physical_name} AS c ON c.node_id = n.node_id",
    )
    with stages.stage("never_merge"):
        split = _split_forbidden(backend, inputs, scored, edges, components, settings)
    clusters = backend.arrow(
        f"""
SELECT record_id, source, node_id, cluster_id FROM {components} ORDER BY source, record_id
"""
    )
    return _cluster_keys(clusters, split)


def _split_forbidden(
    backend: _Backend,
    inputs: list[str],
    scored: str,
    edges: str,
    components: str,
    settings: LinkageSettings,
) -> dict[str, str]:
    """Components that joined two records `never_merge` forbids (twins, linked each to a third
    record: the rule is kept on every edge, but a chain of edges can still join them), cut
    again: their edges added strongest first, an edge left out when it would put a forbidden
    pair in one cluster. Node → the node naming its new cluster, for those nodes only."""
    if not settings.never_merge:
        return {}
    columns = [c for c in RECORD_COLUMNS if c not in ("record_id", "source")]
    records = " UNION ALL ".join(f"SELECT * FROM {name}" for name in inputs)
    sides = ", ".join(f"l.{c} AS {c}_l, r.{c} AS {c}_r" for c in columns)
    forbidden = " OR ".join(
        f"coalesce(({' '.join(c.split())}), false)" for c in settings.never_merge
    )
    pairs = backend.arrow(
        f"""
SELECT node_l, node_r FROM (
    SELECT a.node_id AS node_l, b.node_id AS node_r, {sides}
    FROM {components} AS a
    JOIN {components} AS b ON b.cluster_id = a.cluster_id AND b.node_id > a.node_id
    JOIN ({records}) AS l ON l.record_id = a.record_id AND l.source = a.source
    JOIN ({records}) AS r ON r.record_id = b.record_id AND r.source = b.source
    WHERE a.cluster_id IN (
        SELECT cluster_id FROM {components} GROUP BY cluster_id HAVING count(*) > 2
    )
) AS p WHERE {forbidden}
"""
    ).to_pylist()
    if not pairs:
        return {}
    apart: dict[str, set[str]] = {}
    for pair in pairs:
        apart.setdefault(pair["node_l"], set()).add(pair["node_r"])
        apart.setdefault(pair["node_r"], set()).add(pair["node_l"])
    touched = sorted(apart)
    listed = ", ".join(_sql_text(node) for node in touched)
    weighted = backend.arrow(
        f"""
SELECT e.node_l, e.node_r, s.match_weight
FROM {edges} AS e
JOIN {components} AS c ON c.node_id = e.node_l
JOIN {scored} AS s
    ON concat(s.source_l, '-', CAST(s.record_id_l AS STRING)) = e.node_l
    AND concat(s.source_r, '-', CAST(s.record_id_r AS STRING)) = e.node_r
WHERE c.cluster_id IN (SELECT cluster_id FROM {components} WHERE node_id IN ({listed}))
ORDER BY s.match_weight DESC, e.node_l, e.node_r
"""
    ).to_pylist()
    return _constrained_components(weighted, apart)


def _constrained_components(
    weighted: list[dict[str, Any]], apart: dict[str, set[str]]
) -> dict[str, str]:
    """Union-find over edges in the order given (strongest first), refusing an edge that would
    join two groups holding a pair in `apart`; each node → the least node of its group."""
    parent: dict[str, str] = {}
    members: dict[str, set[str]] = {}

    def root(node: str) -> str:
        parent.setdefault(node, node)
        members.setdefault(node, {node})
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for edge in weighted:
        a, b = root(edge["node_l"]), root(edge["node_r"])
        if a == b or any(apart.get(n, set()) & members[b] for n in members[a]):
            continue
        parent[b] = a
        members[a] |= members.pop(b)
    named: dict[str, str] = {}
    for node in parent:
        group = members[root(node)]
        named[node] = min(group)
    return named


def _cluster_keys(clusters: pa.Table, split: dict[str, str]) -> pa.Table:
    """The clusters file's rows: record_id, cluster_id (the least record id of its cluster),
    source, cluster_key (the least node id), with the components `split` cut again."""
    nodes = clusters.column("node_id").to_pylist()
    groups = clusters.column("cluster_id").to_pylist()
    keys = [split.get(n, f"c{g}") for n, g in zip(nodes, groups, strict=True)]
    least_node: dict[str, str] = {}
    least_id: dict[str, int] = {}
    for node, record_id, key in zip(
        nodes, clusters.column("record_id").to_pylist(), keys, strict=True
    ):
        least_node[key] = min(least_node.get(key, node), node)
        least_id[key] = min(least_id.get(key, record_id), record_id)
    return pa.table(
        {
            "record_id": clusters.column("record_id"),
            "cluster_id": pa.array([least_id[k] for k in keys], pa.int64()),
            "source": clusters.column("source"),
            "cluster_key": pa.array([least_node[k] for k in keys], pa.string()),
        }
    )


def _cluster_sizes(clusters: pa.Table) -> list[int]:
    """The sizes of the clusters of two records or more."""
    import pyarrow.compute as pc

    counts = pc.value_counts(clusters.column("cluster_key"))
    return [n for n in (int(item["counts"].as_py()) for item in counts) if n > 1]


def _write(table: pa.Table, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    pq.write_table(table, temporary, compression="zstd")
    temporary.replace(path)
