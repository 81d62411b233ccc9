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

    # Sign-in (auth/signin.py, auth/sessions.py, auth/passwords.py).
    session_idle_minutes: int = Field(
        default=30,
        ge=1,
        description="A browser session ends after this many minutes without a request.",
    )
    session_max_hours: int = Field(
        default=12,
        ge=1,
        description="A browser session ends this many hours after sign-in, however active.",
    )
    # argon2id's cost: the defaults are argon2-cffi's (RFC 9106's second recommendation:
    # 3 passes over 64 MiB, 4 lanes), above OWASP's minimum (2 passes over 19 MiB). Tests
    # lower them (tests/conftest.py); a hash made with other costs is redone at the next
    # sign-in (`check_needs_rehash`).
    argon2_time_cost: int = Field(default=3, ge=1, description="argon2id passes.")
    argon2_memory_cost: int = Field(
        default=65_536, ge=8, description="argon2id memory in KiB (65,536 = 64 MiB)."
    )
    argon2_parallelism: int = Field(default=4, ge=1, description="argon2id lanes.")

    @property
    def releases_dir(self) -> Path:
        return self.data_dir / "releases"

    @property
    def rejects_dir(self) -> Path:
        return self.data_dir / "rejects"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
