"""Writing the exchange format: column lists, value formatting and the CSV writer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from lumbung.registry import vocab
from lumbung.synth.tables import BoolArr, IntArr

HOUSEHOLD_COLUMNS = vocab.HOUSEHOLD_COLUMNS
MEMBER_COLUMNS = vocab.MEMBER_COLUMNS
CONSUMPTION_COLUMNS = ("kk_number", "consumption_per_capita", "members")
INT_COLUMNS = {"floor_area_m2", "motorbikes", "large_livestock", "consumption_per_capita"}
INT_COLUMNS |= {"members", "row", "person_id"}
_STREETS = (
    "MERDEKA",
    "SUDIRMAN",
    "DIPONEGORO",
    "AHMAD YANI",
    "GATOT SUBROTO",
    "PAHLAWAN",
    "KARTINI",
    "MAWAR",
    "MELATI",
    "ANGGREK",
    "KENANGA",
    "CEMPAKA",
    "FLAMBOYAN",
    "RAYA",
    "MASJID",
    "PASAR",
    "SEKOLAH",
    "HARAPAN",
    "IMAM BONJOL",
)
_DUSUN = ("KRAJAN", "I", "II", "III", "IV", "SUKAMAJU", "SUKAMULYA", "MEKARSARI", "SUMBERSARI")


def arrow_schema(columns: tuple[str, ...]) -> pa.Schema:
    """Integer columns as int64, everything else as text."""
    return pa.schema([(c, pa.int64() if c in INT_COLUMNS else pa.string()) for c in columns])


@contextmanager
def csv_writer(path: Path, columns: tuple[str, ...]) -> Iterator[pcsv.CSVWriter]:
    """A CSV writer that never quotes (no generated value needs it) and always writes a header."""
    schema = arrow_schema(columns)
    options = pcsv.WriteOptions(quoting_style="none", quoting_header="none")
    with pcsv.CSVWriter(str(path), schema, write_options=options) as out:
        out.write_table(schema.empty_table())
        yield out


def coded(labels: tuple[str, ...], codes: IntArr) -> pa.Array:
    """Code labels for integer codes."""
    return pc.take(pa.array(labels, type=pa.string()), pa.array(codes))


def flag(values: BoolArr) -> pa.Array:
    """0/1 for booleans."""
    return pa.array(values.astype(np.int64))


def text(values: IntArr) -> pa.Array:
    """Integers as decimal text."""
    return pc.cast(pa.array(values, type=pa.int64()), pa.string())


def fixed6(micro: IntArr) -> pa.Array:
    """Decimal degrees with exactly six decimals, from millionths of a degree."""
    whole = text(np.abs(micro) // 1_000_000)
    frac = pc.utf8_lpad(text(np.abs(micro) % 1_000_000), width=6, padding="0")
    sign = coded(("", "-"), (micro < 0).astype(np.int64))
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def table(columns: tuple[str, ...], data: dict[str, pa.Array]) -> pa.Table:
    """An Arrow table with exactly these columns in this order."""
    return pa.Table.from_arrays([data[c] for c in columns], schema=arrow_schema(columns))


def address(rng: np.random.Generator, urban: BoolArr) -> pa.Array:
    """A street address in towns, a hamlet (dusun) in villages."""
    n = len(urban)
    street = pa.array(_STREETS, type=pa.string())
    number = text(rng.integers(1, 200, n))
    town = pc.binary_join_element_wise(
        "JL.", pc.take(street, pa.array(rng.integers(0, len(street), n))), "NO.", number, " "
    )
    dusun = pa.array(_DUSUN, type=pa.string())
    village = pc.binary_join_element_wise(
        "DUSUN", pc.take(dusun, pa.array(rng.integers(0, len(dusun), n))), " "
    )
    return pc.if_else(pa.array(urban), town, village)
