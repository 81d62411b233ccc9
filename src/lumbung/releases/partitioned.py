"""Writing a release's tables as Parquet, one file per province and table.

Layout: `TABLE/province_code=XX/data_0.parquet`, the province in the folder name and not in
the file (as Hive partitioning writes it). Rows are in id order within every file, so the same
registry gives the same bytes every time (for members: in id order within each slice of
families, the slices in family id order). Each slice's rows are sorted by (province, id) on
one integer key, then every province's part is gathered and appended to its file as row
groups, on all cores at once (Arrow releases Python's lock for both). One writer per file,
and a file is written by one task at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PARTITION = "province_code"
FILE_NAME = "data_0.parquet"
ROW_GROUP = 122_880
_ID_BITS = 40  # ids stay below 2**40; the province code goes above them in the sort key


def _province_runs(table: pa.Table) -> tuple[pa.Array, list[tuple[str, int, int]]]:
    """Row positions sorted by (province, id), and each province's (code, offset, length)."""
    province = table.column(PARTITION).combine_chunks()  # dictionary-encoded (export.py)
    # Each code's number, looked up per row (an entry that no row uses need not be a code).
    codes = province.dictionary
    numeric = pc.if_else(pc.utf8_is_digit(codes), codes, None)
    number = numeric.cast(pa.int64()).take(province.indices)
    key = pc.add(pc.shift_left(number, _ID_BITS), table.column("id"))
    order = pc.sort_indices(key)
    runs, offset = [], 0
    for item in pc.value_counts(province.take(order)):  # in order of first appearance
        code, length = item["values"].as_py(), item["counts"].as_py()
        runs.append((code, offset, length))
        offset += length
    return order, runs


class ProvinceFiles:
    """Parquet files by province under `folder`, appended to slice by slice."""

    def __init__(self, folder: Path, schema: pa.Schema) -> None:
        self.folder = folder
        self.schema = schema.remove(schema.get_field_index(PARTITION))
        self.rows: dict[str, int] = {}
        self._writers: dict[str, pq.ParquetWriter] = {}

    def path(self, code: str) -> Path:
        return self.folder / f"{PARTITION}={code}" / FILE_NAME

    def _writer(self, code: str) -> pq.ParquetWriter:
        if code not in self._writers:
            path = self.path(code)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writers[code] = pq.ParquetWriter(
                path,
                self.schema,
                compression="zstd",
                use_dictionary=[f.name for f in self.schema if pa.types.is_dictionary(f.type)],
                store_schema=False,
            )  # without Arrow's schema, readers see the categories as plain text
        return self._writers[code]

    def append(self, table: pa.Table, pool: ThreadPoolExecutor) -> None:
        """Add the rows of `table` (any order) to their provinces' files."""
        if not table.num_rows:
            return
        order, runs = _province_runs(table)
        rows = table.drop_columns([PARTITION])
        writers = {code: self._writer(code) for code, _, _ in runs}

        def write(run: tuple[str, int, int]) -> None:
            code, offset, length = run
            writers[code].write_table(
                rows.take(order.slice(offset, length)), row_group_size=ROW_GROUP
            )

        for _ in pool.map(write, sorted(runs, key=lambda r: -r[2])):  # largest first
            pass
        for code, _, length in runs:
            self.rows[code] = self.rows.get(code, 0) + length

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def __enter__(self) -> ProvinceFiles:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="release")


def files_written(tables: Iterable[ProvinceFiles]) -> dict[Path, int]:
    """Every file written, with its number of rows."""
    return {t.path(code): n for t in tables for code, n in t.rows.items()}
