"""The batch engines by name (kept apart from the engines, so naming one loads none)."""

from __future__ import annotations

from enum import StrEnum


class EngineName(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"
