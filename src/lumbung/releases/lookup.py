"""Finding a release: by its label (as a command names it) or by the id a run recorded."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.errors import NotFound
from lumbung.releases.models import Release


def get_release(session: Session, label: str) -> Release:
    """The release called `label`; `NotFound` when no release has that label."""
    release = session.execute(select(Release).where(Release.label == label)).scalar_one_or_none()
    if release is None:
        raise NotFound(f"Rilis {label} tidak tercatat di database.")
    return release


def release_label_by_id(session: Session, release_id: int) -> str:
    """The label of the release a run recorded by id."""
    return session.execute(select(Release.label).where(Release.id == release_id)).scalar_one()


def reference_date(release: Release) -> date:
    """Ages for scoring are taken at the day the release was created."""
    return release.created_at.date()
