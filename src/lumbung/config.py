"""Typed settings, read from LUMBUNG_* environment variables (and a `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable; nothing is read or connected at import time."""

    model_config = SettingsConfigDict(env_prefix="LUMBUNG_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///lumbung.db",
        description="SQLAlchemy URL of the operational database (SQLite file or PostgreSQL).",
    )
    data_dir: Path = Field(
        default=Path("lumbung-data"),
        description="Where releases, reject files and other outputs are written.",
    )
    key_file: Path = Field(
        default=Path("lumbung.key"),
        description=(
            "The secret keys that seal the audit chain, the registry's rows and release "
            "manifests: one `ID HEX` per line, the last one current (`lumbung keys rotate`). "
            "Kept outside the database and outside the data folder; readable by Lumbung alone."
        ),
    )
    actor: str | None = Field(
        default=None,
        description="Default username for commands that record who acted (`--as` overrides).",
    )

    spark_master: str = Field(
        default="local[2]",
        description="Spark master for `--engine spark` (local mode by default; a cluster URL).",
    )
    engine_memory: str = Field(
        default="6GB",
        description="Memory the DuckDB engine may use before spilling to disk (data_dir/tmp).",
    )

    @property
    def releases_dir(self) -> Path:
        return self.data_dir / "releases"

    @property
    def rejects_dir(self) -> Path:
        return self.data_dir / "rejects"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
