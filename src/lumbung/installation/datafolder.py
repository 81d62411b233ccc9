"""A data folder belongs to one registry.

Releases, scores and cycles' files live in the data folder (`LUMBUNG_DATA_DIR`), named by
their labels. Two registries sharing one folder (the README followed on SQLite and then on
PostgreSQL, or a test database pointed at production's folder) would write each other's
releases and delete each other's cycle files. So the folder carries the identity of the
registry it belongs to (`lumbung-registry.json`, the `installation` row's UUID), claimed by the
first command that writes into it, and every command that reads or writes it checks the claim
first: a folder of another registry is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lumbung.db import utcnow
from lumbung.errors import Conflict
from lumbung.installation.models import Installation

MARKER = "lumbung-registry.json"


def registry_id(session: Session) -> str:
    """This database's registry identity (written by `lumbung db upgrade`)."""
    found = session.execute(
        select(Installation.registry_id).where(Installation.id == 1)
    ).scalar_one_or_none()
    if found is None:
        raise Conflict(
            "Database belum punya identitas registri: administrator server perlu menyiapkan "
            "databasenya.",
            command="lumbung db upgrade",
        )
    return found


def _claimed(marker: Path) -> str | None:
    try:
        body = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        raise Conflict(
            f"Penanda pemilik folder data {marker} rusak atau tidak terbaca; periksa folder "
            "itu sebelum dipakai lagi."
        ) from None
    value = body.get("registry_id") if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise Conflict(f"Penanda pemilik folder data {marker} tidak berisi registry_id.")
    return value


def _foreign_content(session: Session, data_dir: Path) -> list[str]:
    """Releases and cycles in an unclaimed folder that this database does not know (a folder
    written before folders were claimed, by another registry)."""
    from lumbung.cycles.models import Cycle
    from lumbung.releases.models import Release

    foreign: list[str] = []
    releases = data_dir / "releases"
    if releases.is_dir():
        query = select(Release.label, Release.manifest_sha256)
        known: dict[str, str] = {row.label: row.manifest_sha256 for row in session.execute(query)}
        for folder in sorted(releases.iterdir()):
            if folder.name.startswith("."):
                continue
            manifest = folder / "manifest.json"
            digest = (
                hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.is_file() else None
            )
            if known.get(folder.name) != digest:
                foreign.append(f"releases/{folder.name}")
    cycles = data_dir / "cycles"
    if cycles.is_dir():
        labels = set(session.execute(select(Cycle.label)).scalars())
        foreign += [
            f"cycles/{folder.name}"
            for folder in sorted(cycles.iterdir())
            if not folder.name.startswith(".") and folder.name not in labels
        ]
    return foreign


def _create_exclusively(path: Path, content: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)


def owned(session: Session, data_dir: Path) -> Path:
    """`data_dir`, once it is known to belong to this registry (claimed now if unclaimed).

    A folder claimed by another registry, or an unclaimed one holding releases or cycles this
    database does not know, is refused (`Conflict`) before anything is written into it."""
    ours = registry_id(session)
    marker = data_dir / MARKER
    theirs = _claimed(marker)
    if theirs is None:
        foreign = _foreign_content(session, data_dir)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" (+{len(foreign) - 5})" if len(foreign) > 5 else "")
            raise Conflict(
                f"Folder data {data_dir} berisi berkas yang tidak dikenal registri ini ({shown}):"
                " folder itu milik registri lain. Pakai LUMBUNG_DATA_DIR lain untuk database "
                "ini."
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        body = {"registry_id": ours, "claimed_at": utcnow().isoformat()}
        # Written aside and linked into place: the marker appears whole or not at all, and
        # of two commands claiming at the same moment exactly one link succeeds.
        aside = data_dir / f".{MARKER}.{os.getpid()}"
        aside.write_text(json.dumps(body), encoding="utf-8")
        try:
            os.link(aside, marker)
        except FileExistsError:
            pass  # claimed at the same moment by another command: read below whose it is
        except OSError:  # a file system without hard links: created exclusively instead
            _create_exclusively(marker, json.dumps(body))
        finally:
            aside.unlink(missing_ok=True)
        theirs = _claimed(marker)
    if theirs != ours:
        raise Conflict(
            f"Folder data {data_dir} milik registri lain ({theirs}), bukan registri database "
            f"ini ({ours}): rilis dan siklusnya tidak boleh tertimpa. Pakai LUMBUNG_DATA_DIR "
            "lain untuk database ini."
        )
    return data_dir
