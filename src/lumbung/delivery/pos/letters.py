"""Invitation letters for a batch's vouchers: one PDF per village, written by worker processes.

One file per village because that is how PT Pos hands them out: the letters of a village go to
the post office or the community point that serves it, and its staff deliver them door to door
(and take the home deliveries with them); a village's file prints on its own, in the order of
the walk (RW, RT, name). Files are written into a staging folder and moved into place with a
`manifest.json` (each file's village, letters and sha256); the audit chain records the
manifest's sha256. Villages are spread over `workers` processes (one process per group of
villages: reportlab and the QR encoder hold the interpreter, threads would take turns).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import zipfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from lumbung.audit import service as audit
from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, require_national
from lumbung.cycles.models import Cycle
from lumbung.db import release_writer, utcnow
from lumbung.delivery.batches import get_batch
from lumbung.delivery.pos import keys
from lumbung.delivery.pos.models import Voucher
from lumbung.delivery.pos.pdf import Letter, Village, init_worker, render_task
from lumbung.delivery.pos.vouchers import approved_pos_batch
from lumbung.errors import Conflict, ValidationFailed
from lumbung.regions.models import Region
from lumbung.registry.models import Household, Member

TASK_LETTERS = 600  # letters per task handed to a worker (whole villages)


DEFAULT_HOURS = "08.00–15.00 WIB"


@dataclass(frozen=True, slots=True)
class LetterOptions:
    """Where and when families collect (a schedule per village overrides the default)."""

    place: str
    collect_on: date
    hours: str = DEFAULT_HOURS
    stage: str | None = None  # "Tahap I"; the cycle's label when not given
    schedule: dict[str, tuple[str, date]] | None = None  # village code → (place, day)


@dataclass(frozen=True, slots=True)
class LetterFile:
    village_code: str
    village: str
    letters: int
    home_delivery: int
    file: str
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "village_code": self.village_code,
            "village": self.village,
            "letters": self.letters,
            "home_delivery": self.home_delivery,
            "file": self.file,
            "sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True)
class LettersResult:
    batch_id: int
    cycle: str
    folder: str
    letters: int
    home_delivery: int
    files: list[LetterFile]
    manifest_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "cycle": self.cycle,
            "folder": self.folder,
            "letters": self.letters,
            "home_delivery": self.home_delivery,
            "files": [f.as_dict() for f in self.files],
            "manifest_sha256": self.manifest_sha256,
        }


def read_schedule(path: Path) -> dict[str, tuple[str, date]]:
    """A schedule CSV, `village_code,place,date` (ISO date), one line per village."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != ("village_code", "place", "date"):
            raise ValidationFailed("Kepala jadwal harus village_code,place,date.")
        schedule = {}
        for line, row in enumerate(reader, start=2):
            try:
                day = date.fromisoformat(row["date"].strip())
            except ValueError:
                raise ValidationFailed(f"Jadwal baris {line}: tanggal {row['date']!r}.") from None
            schedule[row["village_code"].strip()] = (row["place"].strip(), day)
    return schedule


def _names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(codes))
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 1000):
        rows = session.execute(
            select(Region.code, Region.name).where(Region.code.in_(wanted[start : start + 1000]))
        )
        names.update({str(code): str(name) for code, name in rows})
    return names


def _letters_by_village(session: Session, batch_id: int) -> dict[str, list[Letter]]:
    head = Member
    rows = session.execute(
        select(
            Voucher.id,
            Voucher.key_id,
            Voucher.nik,
            Voucher.amount_idr,
            Voucher.expires_on,
            Voucher.home_delivery,
            Voucher.village_code,
            head.name,
            Household.address,
            Household.rt,
            Household.rw,
        )
        .join(Household, Household.id == Voucher.household_id)
        .join(
            head,
            and_(head.household_id == Voucher.household_id, head.nik == Voucher.nik),
            isouter=True,  # a recipient no longer in the family still gets the letter
        )
        .where(Voucher.batch_id == batch_id, Voucher.state == "issued")
        .order_by(Voucher.village_code, Household.rw, Household.rt, head.name, Voucher.id)
        .execution_options(yield_per=50_000)
    )
    by_village: dict[str, list[Letter]] = {}
    for r in rows:
        by_village.setdefault(r.village_code, []).append(
            Letter(
                r.id,
                r.key_id,
                r.nik,
                int(r.amount_idr),
                r.expires_on,
                r.name or "Penerima",
                r.address or "",
                r.rt or "",
                r.rw or "",
                bool(r.home_delivery),
            )
        )
    return by_village


@dataclass(frozen=True, slots=True)
class Rendered:
    files: dict[str, tuple[int, str]]  # village code → (letters, sha256)
    cpu_seconds: float  # spent by the processes that wrote them


def render_all(
    jobs: list[tuple[str, Village, list[Letter]]], seeds: dict[str, bytes], workers: int
) -> Rendered:
    """Render every (path, village, letters) job, in `workers` processes (1: in this one)."""
    tasks: list[list[tuple[str, Village, list[Letter]]]] = [[]]
    size = 0
    for job in jobs:
        if size >= TASK_LETTERS:
            tasks.append([])
            size = 0
        tasks[-1].append(job)
        size += len(job[2])
    files: dict[str, tuple[int, str]] = {}
    cpu = 0.0
    if workers <= 1 or (len(tasks) == 1 and size < 200):
        init_worker(seeds)
        results = map(render_task, tasks)
        for done, seconds in results:
            files.update((code, (n, sha)) for code, n, sha in done)
            cpu += seconds
        return Rendered(files, cpu)
    # Not `fork` (the caller holds database connections, a server threads); not `spawn`, whose
    # every process imports the command line's whole program first: a fork server that has
    # imported the PDF writer alone, of which each process is a copy.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["lumbung.delivery.pos.pdf"])
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=init_worker, initargs=(seeds,)
    ) as pool:
        for done, seconds in pool.map(render_task, tasks):
            files.update((code, (n, sha)) for code, n, sha in done)
            cpu += seconds
    return Rendered(files, cpu)


def _sweep(out_dir: Path, name: str) -> None:
    """Staging folders of runs of this batch whose process is gone (killed mid-way)."""
    if not out_dir.is_dir():
        return
    for stale in out_dir.glob(f".staging-{name}-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except PermissionError:  # another user's live process
            continue


def letters_batch(session: Session, *, actor: User, batch_id: int) -> int:
    """The batch whose letters the form asks for, as `write_letters` will find it: the
    actor's right first, then NotFound for a batch that does not exist (the form is not
    offered for it). Its channel and state are checked when the letters are written."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "mencetak surat undangan")
    return get_batch(session, batch_id).id


def write_letters(
    session: Session,
    *,
    actor: User,
    batch_id: int,
    out_dir: Path,
    options: LetterOptions,
    workers: int = 2,
) -> LettersResult:
    """The letters of every unredeemed voucher of batch `batch_id`, one PDF per village, in
    `out_dir/<cycle>-B<batch number>/`."""
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "mencetak surat undangan")
    batch = approved_pos_batch(session, batch_id)
    cycle = session.get_one(Cycle, batch.cycle_id)
    folder = out_dir / f"{cycle.label}-B{batch.number}"
    if folder.exists():
        raise Conflict(f"Folder {folder} sudah ada; pilih folder lain atau pindahkan yang lama.")
    by_village = _letters_by_village(session, batch.id)
    if not by_village:
        raise Conflict(f"Batch {batch_id} tidak punya voucher yang belum ditukar; terbitkan dulu.")
    codes: set[str] = set()
    for code in by_village:
        parts = code.split(".")
        codes.update(".".join(parts[:n]) for n in (1, 2, 3, 4))
    names = _names(session, codes)
    program = str(cycle.definition.get("name") or cycle.program_code)
    stage = options.stage or cycle.label
    issued_on = utcnow().date()
    reference = f"{cycle.label}/B{batch.number}"
    staging = out_dir / f".staging-{folder.name}-{os.getpid()}"
    _sweep(out_dir, folder.name)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    jobs = []
    for code, letters in by_village.items():
        parts = code.split(".")
        place, day = (options.schedule or {}).get(code, (options.place, options.collect_on))
        village = Village(
            code,
            names.get(code, code),
            names.get(".".join(parts[:3]), ""),
            names.get(".".join(parts[:2]), ""),
            names.get(parts[0], ""),
            program,
            stage,
            place,
            day,
            options.hours,
            issued_on,
            reference,
        )
        jobs.append((str(staging / f"{code}.pdf"), village, letters))
    try:
        seeds = keys.seeds({x.key_id for xs in by_village.values() for x in xs})
        # Rendering takes minutes for a large batch and writes no row: on SQLite the writer
        # lock is let go meanwhile (others sign in and work); the batch is read again after.
        with release_writer(session):
            rendered = render_all(jobs, seeds, workers).files
        batch = approved_pos_batch(session, batch_id)
        files = [
            LetterFile(
                village.code,
                village.village,
                rendered[village.code][0],
                sum(1 for letter in letters if letter.home_delivery),
                f"{village.code}.pdf",
                rendered[village.code][1],
            )
            for _, village, letters in jobs
        ]
        manifest = json.dumps(
            {
                "cycle": cycle.label,
                "batch": batch.number,
                "batch_id": batch.id,
                "letters": sum(f.letters for f in files),
                "files": [f.as_dict() for f in files],
            },
            indent=1,
            ensure_ascii=False,
        ).encode()
        (staging / "manifest.json").write_bytes(manifest)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    sha = hashlib.sha256(manifest).hexdigest()
    total = sum(f.letters for f in files)
    home = sum(f.home_delivery for f in files)
    audit.record(
        session,
        actor=actor.username,
        action="delivery.voucher_letters",
        entity="cycle",
        entity_id=cycle.label,
        diff={
            "batch": batch.number,
            "letters": total,
            "files": len(files),
            "home_delivery": home,
            "manifest_sha256": sha,
        },
    )
    return LettersResult(batch.id, cycle.label, str(folder), total, home, files, sha)


def zip_folder(folder: Path) -> Path:
    """The letters' folder as one ZIP beside it (`FOLDER.zip`: the PDFs stored as they are,
    they are compressed already, and the manifest), written under another name and renamed:
    a ZIP that exists is whole."""
    archive = folder.with_name(folder.name + ".zip")
    partial = folder.with_name(f".{folder.name}.zip.{os.getpid()}")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as zipped:
            for path in sorted(folder.iterdir()):
                if path.is_file():
                    zipped.write(path, f"{folder.name}/{path.name}")
        partial.replace(archive)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return archive
