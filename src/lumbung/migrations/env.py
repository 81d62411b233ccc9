"""Alembic environment: runs migrations on the connection or URL handed in by lumbung.db_migrate."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from lumbung.db import create_engine
from lumbung.models import Base
from lumbung.partitions import PARTITION_NAME

config = context.config
target_metadata = Base.metadata


def include_object(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    return not (kind == "table" and name and PARTITION_NAME.fullmatch(name))


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run(conn)
        conn.commit()
