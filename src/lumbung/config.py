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

    server_threads: int = Field(
        default=20,
        ge=1,
        le=200,
        description=(
            "Requests one server process works on at once, each on a thread with a database "
            "connection of its own (the pool's size)."
        ),
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
    # Background jobs (lumbung/jobs/; docs/ARCHITECTURE.md, "Jobs").
    redis_url: str | None = Field(
        default=None,
        description=(
            "Redis for the job queue (redis://host:6379/0): several workers on several "
            "machines. Unset: the queue is a SQLite file in the data folder (jobs/queue.db)."
        ),
    )
    worker_threads: int = Field(
        default=1, ge=1, le=64, description="Jobs one worker process runs at once."
    )
    job_heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often a running job's worker says it is alive.",
    )
    job_lost_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "A running job whose worker has not said it is alive for this long is failed "
            "(`worker_lost`) by the next worker that looks; it can be run again."
        ),
    )
    upload_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description="The largest file an import job accepts from an upload (bytes).",
    )
    upload_keep_days: int = Field(
        default=30,
        ge=0,
        description=(
            "Days an import's uploaded files are kept after its job finished (it can be run "
            "again meanwhile); then they are removed (they hold a batch's NIKs and names)."
        ),
    )
    jobs_test_pause_at: str | None = Field(
        default=None,
        description=(
            "Tests only: a job stops for an hour when its progress reaches this step (a "
            "worker killed there shows that nothing is left half done). Never in production."
        ),
    )

    # Bank payment files (delivery/bank): the ministry's account that pays, as the debtor of
    # every pain.001 (docs/CLI.md, "Payment files"). The defaults are PLACEHOLDERS so that a
    # test or a demo can write a file; set the real ones before a file goes to a bank.
    payer_name: str = Field(
        default="KEMENTERIAN SOSIAL RI",
        description="Debtor and initiating party's name in pain.001 files (placeholder).",
    )
    payer_account: str = Field(
        default="0000000000",
        description="The ministry's paying account number (placeholder: not a real account).",
    )
    payer_bic: str = Field(
        default="BRINIDJA",
        description="BIC of the bank holding the paying account (placeholder).",
    )

    @property
    def releases_dir(self) -> Path:
        return self.data_dir / "releases"

    @property
    def rejects_dir(self) -> Path:
        return self.data_dir / "rejects"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
