"""What each kind of job is: who may ask for it, what it is asked with, and the service it runs.

Each kind checks its parameters and the asker's right at submission, with the same rule its
service applies (the service checks again when the job runs), and runs by calling the very
service function its command calls, inside one transaction of its own: a job that fails or
whose worker is killed leaves what the command would leave, which is nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lumbung.auth.models import User
from lumbung.auth.roles import Action
from lumbung.auth.service import authorize, reading_area, require_national
from lumbung.config import Settings
from lumbung.engine.names import EngineName
from lumbung.errors import ValidationFailed
from lumbung.jobs.uploads import inside_uploads

# The steps an import reports (importer.import_batch), in order; the job counts them.
IMPORT_STEPS = (
    "membaca berkas",
    "mengambil data registry",
    "memeriksa",
    "memuat keluarga",
    "memuat anggota",
    "mencatat",
)
# civil/service.STEPS (not imported here: the job kinds load their services when they run).
CIVIL_STEPS = (
    "membaca ekstrak",
    "mengambil data registry",
    "mencocokkan",
    "mengusulkan",
    "mencatat",
)
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MODEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}@[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(slots=True)
class Context:
    """What a running job's kind is given: its transaction, the asker, its parameters, the
    settings of the worker, and `step` to say what is under way."""

    session: Session
    actor: User
    params: dict[str, Any]
    settings: Settings
    step: Callable[[str], None]
    # Set by a kind whose work must not be kept (an import's dry run): the runner rolls back.
    discard: bool = False


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    # Checks the parameters and the asker's right; gives the parameters as they will be stored.
    check: Callable[[User, dict[str, Any], Settings], dict[str, Any]]
    run: Callable[[Context], dict[str, Any]]
    steps: tuple[str, ...]
    # Checks against the database, at submission (the checked parameters): what the asker
    # would otherwise learn only when the job fails (a cycle label already taken).
    vet: Callable[[Session, User, dict[str, Any]], None] | None = None


def _only(params: dict[str, Any], allowed: set[str], kind: str) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValidationFailed(
            f"Parameter job {kind} tidak dikenal: {', '.join(unknown)} "
            f"(yang dikenal: {', '.join(sorted(allowed))})."
        )


def _text(params: dict[str, Any], name: str, kind: str, *, pattern: re.Pattern[str]) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValidationFailed(f"Job {kind}: '{name}' wajib diisi dengan kode yang sah.")
    return value


def _flag(params: dict[str, Any], name: str, kind: str) -> bool:
    value = params.get(name, False)
    if not isinstance(value, bool):
        raise ValidationFailed(f"Job {kind}: '{name}' harus true atau false.")
    return value


def _engine(params: dict[str, Any], kind: str) -> str:
    value = params.get("engine", EngineName.DUCKDB.value)
    if value not in {e.value for e in EngineName}:
        raise ValidationFailed(
            f"Job {kind}: engine '{value}' tidak dikenal; pilihan: "
            f"{', '.join(e.value for e in EngineName)}."
        )
    return str(value)


def plain_json(value: Any) -> dict[str, Any]:
    """`value` as JSON would give it back (dates and paths as text)."""
    result: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return result


def relative(path: str | None, data_dir: Path) -> str | None:
    """A path inside the data folder as seen from it (the folder may move; the web offers
    files by this path); a path elsewhere as it is."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(data_dir.resolve()))
    except ValueError:
        return path


# --- import --------------------------------------------------------------------------------


def _check_import(actor: User, params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    from lumbung.registry.importer import ENTRY_STATUSES

    _only(params, {"files", "status", "dry_run", "allow_duplicates", "link"}, "import")
    status = params.get("status", "proposed")
    if status not in ENTRY_STATUSES:
        raise ValidationFailed(
            f"Status masuk '{status}' tidak dikenal; pilihan: {', '.join(ENTRY_STATUSES)}."
        )
    # The import's own rule: importing needs IMPORT, and straight into verified/approved
    # MIGRATE; rows outside the asker's region are rejected row by row when it runs.
    authorize(actor, Action.IMPORT if status == "proposed" else Action.MIGRATE)
    files = params.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise ValidationFailed("Job import: 'files' wajib berisi berkas yang diunggah.")
    kept: list[str] = []
    for name in files:
        path = Path(name)
        full = path if path.is_absolute() else settings.data_dir / path
        # Only files saved by `uploads.save` in this data folder: a job never reads a path
        # of the asker's choosing elsewhere on the server.
        if not inside_uploads(settings.data_dir, full):
            raise ValidationFailed(f"Berkas {name} bukan unggahan yang tersimpan.")
        kept.append(str(full.resolve().relative_to(settings.data_dir.resolve())))
    return {
        "files": kept,
        "status": status,
        "dry_run": _flag(params, "dry_run", "import"),
        "allow_duplicates": _flag(params, "allow_duplicates", "import"),
        "link": _flag(params, "link", "import"),
    }


def _run_import(ctx: Context) -> dict[str, Any]:
    from lumbung.linkage.batch import ReleaseLinker
    from lumbung.registry.import_run import ImportRequest
    from lumbung.registry.importer import import_batch

    data_dir = ctx.settings.data_dir
    params = ctx.params
    request = ImportRequest(
        paths=[data_dir / f for f in params["files"]],
        rejects_dir=ctx.settings.rejects_dir,
        status=params["status"],
        dry_run=params["dry_run"],
        allow_duplicates=params["allow_duplicates"],
        # Jobs stored before `link` existed have none: not linked.
        link=ReleaseLinker(data_dir, ctx.settings.releases_dir) if params.get("link") else None,
    )
    summary = import_batch(ctx.session, actor=ctx.actor, request=request, progress=ctx.step)
    ctx.discard = request.dry_run
    result = plain_json(summary.as_dict())
    # The rejected rows are `errors` (the first 1,000); all of them are in the reject file.
    result["reject_file"] = relative(summary.reject_file, data_dir)
    return result


# --- civil_import --------------------------------------------------------------------------

REGION = re.compile(r"\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?")


def _check_civil(actor: User, params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    from lumbung.civil.service import may_import

    _only(params, {"files", "region", "force", "confirm_removals"}, "civil_import")
    may_import(actor)  # the import's own rule; the region is checked against the scope there
    files = params.get("files")
    if not isinstance(files, list) or len(files) != 1 or not isinstance(files[0], str):
        raise ValidationFailed("Job civil_import: 'files' wajib berisi satu ekstrak yang diunggah.")
    full = Path(files[0]) if Path(files[0]).is_absolute() else settings.data_dir / files[0]
    if not inside_uploads(settings.data_dir, full):
        raise ValidationFailed(f"Berkas {files[0]} bukan unggahan yang tersimpan.")
    region = params.get("region")
    if region is not None and (not isinstance(region, str) or not REGION.fullmatch(region)):
        raise ValidationFailed("Job civil_import: 'region' harus kode wilayah seperti 31.71.")
    reading_area(actor, region)  # a region outside the asker's refused now, not when it runs
    return {
        "files": [str(full.resolve().relative_to(settings.data_dir.resolve()))],
        "region": region,
        "force": _flag(params, "force", "civil_import"),
        "confirm_removals": _count(params, "confirm_removals", "civil_import"),
    }


def _count(params: dict[str, Any], name: str, kind: str) -> int | None:
    value = params.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValidationFailed(f"Job {kind}: '{name}' harus bilangan bulat 0 atau lebih.")
    return value


def _run_civil(ctx: Context) -> dict[str, Any]:
    from lumbung.civil.service import import_extract

    data_dir = ctx.settings.data_dir
    path = data_dir / ctx.params["files"][0]
    summary = import_extract(
        ctx.session,
        actor=ctx.actor,
        path=path,
        file_name=path.name,
        rejects_dir=ctx.settings.rejects_dir,
        region=ctx.params["region"],
        force=ctx.params["force"],
        confirm_removals=ctx.params.get("confirm_removals"),  # a job queued before: None
        progress=ctx.step,
    )
    result = plain_json(summary.as_dict())
    result["reject_file"] = relative(summary.reject_file, data_dir)
    return result


# --- release -------------------------------------------------------------------------------


def _check_release(actor: User, params: dict[str, Any], _settings: Settings) -> dict[str, Any]:
    _only(params, {"label", "decree"}, "release")
    authorize(actor, Action.RELEASE)
    require_national(actor, "rilis registry nasional dibuat")
    decree = params.get("decree")
    if decree is not None and not isinstance(decree, str):
        raise ValidationFailed("Job release: 'decree' harus teks.")
    return {"label": _text(params, "label", "release", pattern=CODE), "decree": decree}


def _run_release(ctx: Context) -> dict[str, Any]:
    from lumbung.releases.service import create_release

    ctx.step("menulis rilis")
    result = create_release(
        ctx.session,
        actor=ctx.actor,
        label=ctx.params["label"],
        decree=ctx.params["decree"],
        releases_dir=ctx.settings.releases_dir,
    )
    payload = plain_json(result.as_dict())
    for key in ("manifest", "path"):
        payload[key] = relative(payload.get(key), ctx.settings.data_dir)
    return payload


# --- score ---------------------------------------------------------------------------------


def _check_score(actor: User, params: dict[str, Any], _settings: Settings) -> dict[str, Any]:
    # The shipped model only: a model file named by the asker would be a path on the server.
    _only(params, {"release", "engine"}, "score")
    authorize(actor, Action.SCORE)
    require_national(actor, "skor PMT sebuah rilis")
    return {
        "release": _text(params, "release", "score", pattern=CODE),
        "engine": _engine(params, "score"),
    }


def _run_score(ctx: Context) -> dict[str, Any]:
    from lumbung.targeting.pmt import default_model_path, load_model
    from lumbung.targeting.service import score_release

    ctx.step("menghitung skor")
    result = score_release(
        ctx.session,
        actor=ctx.actor,
        release_label=ctx.params["release"],
        model=load_model(default_model_path()),
        data_dir=ctx.settings.data_dir,
        engine=EngineName(ctx.params["engine"]),
    )
    payload = plain_json(result.as_dict())
    if "scores_file" in payload:
        payload["scores_file"] = relative(payload["scores_file"], ctx.settings.data_dir)
    return payload


# --- cycle_run -----------------------------------------------------------------------------


def _check_cycle(actor: User, params: dict[str, Any], _settings: Settings) -> dict[str, Any]:
    # A program by its code (shipped, or run before): a definition file would be a path on
    # the server of the asker's choosing.
    _only(
        params, {"program", "release", "label", "engine", "as_of", "model", "replace"}, "cycle_run"
    )
    authorize(actor, Action.RUN_CYCLE)
    require_national(actor, "menghitung siklus")
    as_of = params.get("as_of")
    if as_of is not None:
        try:
            as_of = date.fromisoformat(str(as_of)).isoformat()
        except ValueError:
            raise ValidationFailed(
                f"Job cycle_run: as_of {as_of!r} bukan tanggal YYYY-MM-DD."
            ) from None
    model = params.get("model")
    if model is not None:
        model = _text(params, "model", "cycle_run", pattern=MODEL_KEY)
    return {
        "program": _text(params, "program", "cycle_run", pattern=CODE),
        "release": _text(params, "release", "cycle_run", pattern=CODE),
        "label": _text(params, "label", "cycle_run", pattern=CODE),
        "engine": _engine(params, "cycle_run"),
        "as_of": as_of,
        "model": model,
        "replace": _flag(params, "replace", "cycle_run"),
    }


def _vet_cycle(session: Session, actor: User, params: dict[str, Any]) -> None:
    from lumbung.cycles.service import check_label

    check_label(session, actor, label=params["label"], replace=params["replace"])


def _run_cycle(ctx: Context) -> dict[str, Any]:
    from lumbung.cycles.service import run_cycle

    params = ctx.params
    ctx.step("menghitung siklus")
    result = run_cycle(
        ctx.session,
        actor=ctx.actor,
        program=params["program"],
        release_label=params["release"],
        label=params["label"],
        data_dir=ctx.settings.data_dir,
        engine=EngineName(params["engine"]),
        as_of=date.fromisoformat(params["as_of"]) if params["as_of"] else None,
        model=params["model"],
        replace=bool(params.get("replace", False)),  # a job queued before the option: False
    )
    return plain_json(result.as_dict())


# --- link (record linkage, issue 17) -------------------------------------------------------


def _review_weight(params: dict[str, Any]) -> float:
    from lumbung.linkage.service import DEFAULT_REVIEW_WEIGHT

    value = params.get("review_weight", DEFAULT_REVIEW_WEIGHT)
    if value is None:
        return DEFAULT_REVIEW_WEIGHT
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed("Job link: 'review_weight' harus angka (log2 odds).")
    return float(value)


def _check_link(actor: User, params: dict[str, Any], _settings: Settings) -> dict[str, Any]:
    from lumbung.linkage.service import check_run_request

    _only(params, {"release", "review_weight"}, "link")
    weight = _review_weight(params)
    check_run_request(actor, weight)
    return {"release": _text(params, "release", "link", pattern=CODE), "review_weight": weight}


def _run_link(ctx: Context) -> dict[str, Any]:
    from lumbung.linkage.service import run_link

    ctx.step("mencocokkan data")
    result = run_link(
        ctx.session,
        actor=ctx.actor,
        release_label=ctx.params["release"],
        data_dir=ctx.settings.data_dir,
        releases_dir=ctx.settings.releases_dir,
        review_weight=ctx.params["review_weight"],
    )
    return plain_json(result.as_dict())


# --- link_merge (another registry merged, issue 17 item 4) --------------------------------

# linkage/merge.STEPS (not imported here: the job kinds load their services when they run).
MERGE_STEPS = ("membaca ekspor", "mencocokkan", "mengusulkan", "mencatat")


def _check_merge(actor: User, params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    from lumbung.linkage.merge import check_source_name, may_merge

    _only(params, {"files", "source"}, "link_merge")
    may_merge(actor)  # the merge's own rule, checked again when it runs
    source = params.get("source")
    if not isinstance(source, str):
        raise ValidationFailed("Job link_merge: 'source' wajib diisi dengan nama sumber.")
    check_source_name(source)
    files = params.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise ValidationFailed("Job link_merge: 'files' wajib berisi berkas ekspor yang diunggah.")
    kept: list[str] = []
    for name in files:
        full = Path(name) if Path(name).is_absolute() else settings.data_dir / name
        if not inside_uploads(settings.data_dir, full):
            raise ValidationFailed(f"Berkas {name} bukan unggahan yang tersimpan.")
        kept.append(str(full.resolve().relative_to(settings.data_dir.resolve())))
    return {"files": kept, "source": source}


def _run_merge(ctx: Context) -> dict[str, Any]:
    from lumbung.linkage.merge import merge_source

    data_dir = ctx.settings.data_dir
    summary = merge_source(
        ctx.session,
        actor=ctx.actor,
        paths=[data_dir / f for f in ctx.params["files"]],
        source=ctx.params["source"],
        data_dir=data_dir,
        releases_dir=ctx.settings.releases_dir,
        progress=ctx.step,
    )
    return plain_json(summary.as_dict())


# --- sleep (tests only) --------------------------------------------------------------------


# --- PT Pos invitation letters -----------------------------------------------------------

LETTER_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,120}")
RUN = re.compile(r"[0-9a-f]{32}")


def _check_letters(actor: User, params: dict[str, Any], _settings: Settings) -> dict[str, Any]:
    import uuid

    _only(params, {"batch", "place", "date", "hours", "stage"}, "letters")
    # The service's own rule (delivery.pos.letters.write_letters), checked again when it runs.
    authorize(actor, Action.PREPARE_PAYMENT)
    require_national(actor, "mencetak surat undangan")
    batch = params.get("batch")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValidationFailed("Job letters: 'batch' wajib berisi nomor id batch pos.")
    texts: dict[str, str | None] = {}
    for name, required in (("place", True), ("hours", False), ("stage", False)):
        value = params.get(name)
        if value in (None, "") and not required:
            texts[name] = None
            continue
        if not isinstance(value, str) or not LETTER_TEXT.fullmatch(value.strip()):
            raise ValidationFailed(
                f"Job letters: '{name}' wajib diisi, paling banyak 120 karakter tanpa "
                "karakter kendali."
            )
        texts[name] = value.strip()
    try:
        day = date.fromisoformat(str(params.get("date")))
    except ValueError:
        raise ValidationFailed(
            "Job letters: 'date' (hari pengambilan) bentuknya YYYY-MM-DD."
        ) from None
    # Each job writes into a folder of its own: a job run again never meets the folder of a
    # failed one, and two jobs for one batch never share one.
    return {
        "batch": batch,
        "place": texts["place"],
        "date": day.isoformat(),
        "hours": texts["hours"],
        "stage": texts["stage"],
        "run": uuid.uuid4().hex,
    }


def letters_dir(data_dir: Path, run: str) -> Path:
    """The folder of one letters job's files (its run id, made when the job was asked for)."""
    if not RUN.fullmatch(run):
        raise ValidationFailed("Job letters: id folder tidak sah.")
    return data_dir / "letters" / run


def _run_letters(ctx: Context) -> dict[str, Any]:
    from lumbung.delivery.pos.letters import (
        DEFAULT_HOURS,
        LetterOptions,
        write_letters,
        zip_folder,
    )

    params = ctx.params
    options = LetterOptions(
        place=params["place"],
        collect_on=date.fromisoformat(params["date"]),
        hours=params["hours"] or DEFAULT_HOURS,
        stage=params["stage"],
    )
    out = letters_dir(ctx.settings.data_dir, params["run"])
    out.mkdir(parents=True, exist_ok=True)
    ctx.step("menulis surat")
    written = write_letters(
        ctx.session, actor=ctx.actor, batch_id=params["batch"], out_dir=out, options=options
    )
    archive = zip_folder(Path(written.folder))
    return {
        "batch_id": written.batch_id,
        "cycle": written.cycle,
        "letters": written.letters,
        "home_delivery": written.home_delivery,
        "files": len(written.files),
        "manifest_sha256": written.manifest_sha256,
        "archive": relative(str(archive), ctx.settings.data_dir),
    }


def _check_sleep(_actor: User, params: dict[str, Any], settings: Settings) -> dict[str, Any]:
    if not settings.jobs_test_pause_at:
        raise ValidationFailed("Jenis job 'sleep' hanya untuk pengujian.")
    seconds = params.get("seconds", 0)
    fail = params.get("fail")
    if not isinstance(seconds, int | float) or not 0 <= seconds <= 3600:
        raise ValidationFailed("Job sleep: 'seconds' antara 0 dan 3600.")
    return {"seconds": seconds, "fail": fail if isinstance(fail, str) else None}


def _run_sleep(ctx: Context) -> dict[str, Any]:
    import time

    ctx.step("tidur")
    time.sleep(ctx.params["seconds"])
    if ctx.params["fail"] == "internal":
        raise RuntimeError("a test's failure, not the operator's")
    if ctx.params["fail"]:
        raise ValidationFailed(ctx.params["fail"])
    return {"slept": ctx.params["seconds"]}


# --- simulation_run (policy simulation, issue 18) ------------------------------------------


def _check_simulation(actor: User, params: dict[str, Any], _settings: Settings) -> dict[str, Any]:
    """A scenario of programs named by code only (a definition file would be a path on the
    server of the asker's choosing), checked in shape now and against the programs when the
    job runs."""
    from lumbung.simulation.scenario import scenario_from_data

    kind = "simulation_run"
    _only(params, {"label", "release", "scenario", "engine", "as_of", "model"}, kind)
    authorize(actor, Action.SIMULATE)
    require_national(actor, "menjalankan simulasi")
    scenario = scenario_from_data(params.get("scenario"), "scenario")
    for i, entry in enumerate(scenario.programs):
        if not CODE.fullmatch(entry.program):
            raise ValidationFailed(
                f"Job {kind}: programs[{i}].program: kode program (PKH, SEMBAKO, …), bukan "
                "berkas; definisi berkas hanya dari baris perintah."
            )
    as_of = params.get("as_of")
    if as_of is not None:
        try:
            as_of = date.fromisoformat(str(as_of)).isoformat()
        except ValueError:
            raise ValidationFailed(
                f"Job {kind}: as_of {as_of!r} bukan tanggal YYYY-MM-DD."
            ) from None
    model = params.get("model")
    if model is not None:
        model = _text(params, "model", kind, pattern=MODEL_KEY)
    return {
        "label": _text(params, "label", kind, pattern=CODE),
        "release": _text(params, "release", kind, pattern=CODE),
        "scenario": plain_json(scenario.as_dict()),
        "engine": _engine(params, kind),
        "as_of": as_of,
        "model": model,
    }


def _run_simulation(ctx: Context) -> dict[str, Any]:
    from lumbung.simulation.scenario import scenario_from_data
    from lumbung.simulation.service import run_simulation

    params = ctx.params
    ctx.step("menghitung simulasi")
    result = run_simulation(
        ctx.session,
        actor=ctx.actor,
        label=params["label"],
        scenario=scenario_from_data(params["scenario"], "scenario"),
        release_label=params["release"],
        data_dir=ctx.settings.data_dir,
        engine=EngineName(params["engine"]),
        as_of=date.fromisoformat(params["as_of"]) if params["as_of"] else None,
        model=params["model"],
    )
    return plain_json(
        {
            k: result[k]
            for k in (
                "kind",
                "label",
                "title",
                "release",
                "beneficiaries",
                "total_year_idr",
                "baseline_year_idr",
                "difference_year_idr",
            )
        }
    )


KINDS: dict[str, Kind] = {
    "import": Kind("import", _check_import, _run_import, IMPORT_STEPS),
    "civil_import": Kind("civil_import", _check_civil, _run_civil, CIVIL_STEPS),
    "release": Kind("release", _check_release, _run_release, ("menulis rilis",)),
    "score": Kind("score", _check_score, _run_score, ("menghitung skor",)),
    "cycle_run": Kind(
        "cycle_run", _check_cycle, _run_cycle, ("menghitung siklus",), vet=_vet_cycle
    ),
    "letters": Kind("letters", _check_letters, _run_letters, ("menulis surat",)),
    "link": Kind("link", _check_link, _run_link, ("mencocokkan data",)),
    "link_merge": Kind("link_merge", _check_merge, _run_merge, MERGE_STEPS),
    "simulation_run": Kind(
        "simulation_run", _check_simulation, _run_simulation, ("menghitung simulasi",)
    ),
    "sleep": Kind("sleep", _check_sleep, _run_sleep, ("tidur",)),
}
PUBLIC_KINDS = (
    "import",
    "civil_import",
    "release",
    "score",
    "cycle_run",
    "letters",
    "link",
    "link_merge",
    "simulation_run",
)
# The kinds whose `files` are uploads (removed once old) and whose result lists a file's
# problems (`errors`, masked for readers not entitled to identities) and its reject file.
UPLOAD_KINDS = ("import", "civil_import", "link_merge")
