"""Creating and verifying releases: the approved registry frozen as Parquet plus a manifest.

A release is written to a staging folder, hashed, then renamed into place and recorded in the
database in the caller's transaction. A crash leaves at most a staging folder or an unrecorded
folder, both cleared by the next attempt; a recorded release is never written again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import lumbung
from lumbung import locks
from lumbung.audit import seal
from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.db import utcnow
from lumbung.errors import Conflict, ValidationFailed
from lumbung.installation.datafolder import owned, registry_id
from lumbung.registry.check_sql import plain_text
from lumbung.releases.export import (
    HOUSEHOLD_COLUMNS,
    MEMBER_COLUMNS,
    approved_registry,
    arrow_schema,
)
from lumbung.releases.hashing import sha256_file
from lumbung.releases.lookup import get_release
from lumbung.releases.models import Release
from lumbung.releases.partitioned import ProvinceFiles, files_written, workers
from lumbung.releases.signing import sign, signature_problems

LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
BLOCK = 1 << 22


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    release: str
    households: int
    members: int
    manifest: str
    path: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "households": self.households,
            "members": self.members,
            "manifest": self.manifest,
            "path": self.path,
        }


def create_release(
    session: Session, *, actor: User, label: str, releases_dir: Path, decree: str | None = None
) -> ReleaseResult:
    """Freeze the approved registry as release `label` (refused if the label exists)."""
    authorize(actor, Action.RELEASE)
    require_national(actor, "rilis registry nasional dibuat")  # it freezes every province
    if decree is not None:
        decree = plain_text(decree, "Nomor SK", limit=500)
    if not LABEL.fullmatch(label):
        raise ValidationFailed(
            "Label rilis hanya huruf, angka, titik, garis bawah dan strip "
            "(maks. 64), diawali huruf atau angka."
        )
    owned(session, releases_dir.parent)  # the data folder is this registry's, or nothing
    from lumbung.audit.integrity import refuse_a_tampered_registry

    refuse_a_tampered_registry(session, releases_dir.parent)
    # One creation of a label at a time, before any file is touched, whether the other runs
    # in another process or on another thread of this one (the same pid names its staging).
    locks.hold(session, "release", label, releases_dir.parent)
    if session.execute(select(Release.id).where(Release.label == label)).first():
        raise Conflict(f"Rilis {label} sudah ada dan tidak bisa ditimpa.")
    target = releases_dir / label
    if target.exists():
        # Never written into or removed, whatever the database says: it may be another
        # registry's, or the only copy of a release whose record was lost.
        raise Conflict(
            f"Folder {target} sudah ada, padahal rilis {label} tidak tercatat di database ini "
            "(sisa percobaan yang gagal, atau salinan dari tempat lain). Tidak ditimpa: "
            "periksa isinya, pindahkan atau hapus, lalu ulangi."
        )
    releases_dir.mkdir(parents=True, exist_ok=True)
    for leftover in releases_dir.glob(f".staging-{label}-*"):
        owner = leftover.name.rsplit("-", 1)[-1]
        if owner == str(os.getpid()) or not _alive(owner):
            shutil.rmtree(leftover, ignore_errors=True)  # from attempts that crashed
        else:
            raise Conflict(
                f"Rilis {label} sedang dibuat oleh proses {owner} ({leftover}); tunggu sampai "
                "selesai."
            )
    staging = releases_dir / f".staging-{label}-{os.getpid()}"
    try:
        staging.mkdir()
    except FileExistsError:
        raise Conflict(f"Rilis {label} sedang dibuat oleh perintah lain.") from None
    try:
        counts, files = _write(session, staging)
        created_at = utcnow()
        manifest = {
            "label": label,
            "decree": decree,
            "created_at": created_at.isoformat(),
            "created_by": actor.username,
            "lumbung_version": lumbung.__version__,
            "households": counts["households"],
            "members": counts["members"],
            "by_province": counts["by_province"],
            "registry_id": registry_id(session),
            "audit_head": audit.head(session),
            "audit_events": audit.length(session),
            "schema": {"households": HOUSEHOLD_COLUMNS, "members": MEMBER_COLUMNS},
            "files": files,
        }
        body = json.dumps(manifest, indent=2, sort_keys=True).encode()
        (staging / MANIFEST).write_bytes(body)
        (staging / SIGNATURE).write_text(json.dumps(sign(body), indent=2, sort_keys=True))
        try:
            os.rename(staging, target)  # refused if the folder appeared meanwhile
        except OSError:
            raise Conflict(f"Rilis {label} dibuat bersamaan oleh perintah lain.") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    release = Release(
        label=label,
        decree=decree,
        created_at=created_at,
        created_by=actor.username,
        households=counts["households"],
        members=counts["members"],
        manifest=manifest,
        manifest_sha256=hashlib.sha256(body).hexdigest(),
    )
    session.add(release)
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        action="release.create",
        entity="release",
        entity_id=label,
        diff={
            "households": release.households,
            "members": release.members,
            "manifest_sha256": release.manifest_sha256,
        },
    )
    return ReleaseResult(
        label, release.households, release.members, str(target / MANIFEST), str(target)
    )


def _alive(pid: str) -> bool:
    """Whether the process that named a staging folder still runs (this machine's)."""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write(session: Session, staging: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    households = ProvinceFiles(staging / "households", arrow_schema(HOUSEHOLD_COLUMNS))
    members = ProvinceFiles(staging / "members", arrow_schema(MEMBER_COLUMNS))
    with (
        households,
        members,
        workers() as pool,
        seal.SealChecker() as checker,
        approved_registry(session) as registry,
    ):
        for part in registry:
            # Every row as Lumbung sealed it, or nothing is frozen (a direct edit stops here).
            checker.require("household", part.sealed_households())
            households.append(part.households(), pool)  # while the members are still read
            checker.require("member", part.sealed_members())
            members.append(part.members(), pool)
    rows = files_written((households, members))
    counts = {
        "households": sum(households.rows.values()),
        "members": sum(members.rows.values()),
        "by_province": dict(sorted(households.rows.items())),
    }
    files = [
        {
            "path": str(p.relative_to(staging)),
            "rows": rows[p],
            "bytes": p.stat().st_size,
            "sha256": sha256_file(p),
        }
        for p in sorted(rows)
    ]
    return counts, files


@dataclass(frozen=True, slots=True)
class VerifyReport:
    release: str
    ok: bool
    files: int
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "ok": self.ok,
            "files": self.files,
            "problems": self.problems,
        }


def verify_release(session: Session, *, label: str, releases_dir: Path) -> VerifyReport:
    """Recompute every hash of a release and compare with its manifest and the database."""
    owned(session, releases_dir.parent)
    release = get_release(session, label)
    folder = releases_dir / label
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        return VerifyReport(label, False, 0, [f"{manifest_path} tidak ada"])
    problems = []
    body = manifest_path.read_bytes()
    if hashlib.sha256(body).hexdigest() != release.manifest_sha256:
        problems.append("manifest.json berbeda dari yang dicatat saat rilis dibuat")
    problems += signature_problems(folder, body)
    manifest = json.loads(body)
    listed = {f["path"]: f for f in manifest.get("files", [])}
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {
        MANIFEST,
        SIGNATURE,
    }
    problems += [
        f"{p}: berkas tambahan yang tidak ada di manifest" for p in sorted(present - set(listed))
    ]
    problems += [f"{p}: berkas hilang" for p in sorted(set(listed) - present)]
    for path in sorted(present & set(listed)):
        if sha256_file(folder / path) != listed[path]["sha256"]:
            problems.append(f"{path}: isi berubah (sha256 tidak cocok)")
    return VerifyReport(label, not problems, len(listed), problems)


def checked_release_dir(session: Session, release: Release, releases_dir: Path) -> Path:
    """The release's folder, after every file's hash matched its manifest."""
    report = verify_release(session, label=release.label, releases_dir=releases_dir)
    if not report.ok:
        raise Conflict(
            f"Rilis {release.label} tidak utuh, tidak dipakai: " + "; ".join(report.problems[:5])
        )
    return releases_dir / release.label


@dataclass(frozen=True, slots=True)
class ReleaseRow:
    """A release as `release list` shows it (counts, no people)."""

    release: str
    created_at: datetime
    created_by: str
    households: int
    members: int
    decree: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "households": self.households,
            "members": self.members,
            "decree": self.decree,
        }


def list_releases(session: Session, actor: User) -> list[ReleaseRow]:
    """Every release, oldest first (any role: a release's counts name no one)."""
    authorize(actor, Action.READ)
    return [
        ReleaseRow(r.label, r.created_at, r.created_by, r.households, r.members, r.decree)
        for r in session.execute(select(Release).order_by(Release.created_at)).scalars()
    ]
