"""Running services the way a command does: one committed transaction each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from conftest import user
from lumbung.db import session_scope
from lumbung.registry.import_run import ImportRequest, ImportSummary
from lumbung.registry.importer import import_batch
from lumbung.registry.models import Household, Member


def run_import(
    engine: Engine, paths: list[Path], *, actor: str = "admin", **options: Any
) -> ImportSummary:
    rejects = paths[0].parent / "rejects"
    with session_scope(engine) as session:
        summary = import_batch(
            session,
            actor=user(session, actor),
            request=ImportRequest(paths=paths, rejects_dir=rejects, **options),
        )
        if options.get("dry_run"):
            session.rollback()
    return summary


def counts(engine: Engine) -> tuple[int, int]:
    with session_scope(engine) as session:
        households = session.execute(select(func.count()).select_from(Household)).scalar_one()
        members = session.execute(select(func.count()).select_from(Member)).scalar_one()
    return households, members


def codes(summary: ImportSummary) -> set[tuple[str, int, str, str]]:
    return {(e["file"], e["row"], e["column"], e["code"]) for e in summary.errors}


def edit_directly(engine: Engine, sql: str, params: dict[str, Any] | None = None) -> None:
    """A shortcut of a test's set-up, not an intrusion: a direct edit, sealed again afterwards
    as if Lumbung had written it, and the counts by status taken as the chain's balance."""
    from sqlalchemy import text, true

    from lumbung.audit import integrity
    from lumbung.audit import service as audit
    from lumbung.audit.seal import reseal

    with engine.begin() as conn:
        conn.execute(text(sql), params or {})
        for table in ("household", "member"):
            reseal(conn, table, true())
    # The counts by status as they now are, recorded as an opening balance (`audit seal` does
    # the same), so that the chain adds up to the rows the shortcut left.
    with session_scope(engine) as session:
        audit.record(
            session,
            actor="test",
            action="test.edit_directly",
            entity="registry",
            entity_id="*",
            diff={"tally_reset": integrity.counts(session)},
        )
