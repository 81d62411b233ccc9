"""Long work as jobs: an import of uploaded files, a release, a PMT scoring, a cycle run. A
POST answers 202 with the job at once; `GET /jobs/{id}` follows it; an import's reject file is
downloaded from `GET /jobs/{id}/rejects`. A job of someone else is answered as one that does
not exist (national admins and auditors see every job)."""

from __future__ import annotations

import shutil
from datetime import date
from typing import Annotated, Literal

from fastapi import File, Form, Path, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from lumbung.api.deps import Paging, Read, Write, routes
from lumbung.api.schemas import LABEL
from lumbung.jobs import service as jobs
from lumbung.jobs import uploads
from lumbung.jobs.queue import JobQueue
from lumbung.paging import Page

router = routes(tags=["jobs"])

JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The job's id.")]
Engine = Literal["duckdb", "spark"]


def queue_of(request: Request) -> JobQueue:
    """The application's queue (its settings' data folder), made on first use."""
    state = request.app.state
    if getattr(state, "queue", None) is None:
        state.queue = JobQueue(state.settings, engine=state.database.engine)
    queue: JobQueue = state.queue
    return queue


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewRelease(Strict):
    label: LABEL
    decree: str | None = None


class NewScoring(Strict):
    release: LABEL
    engine: Engine = "duckdb"


class NewCycle(Strict):
    program: LABEL
    release: LABEL
    label: LABEL
    engine: Engine = "duckdb"
    as_of: date | None = None
    model: str | None = None
    replace: bool = Field(
        default=False,
        description="Replace the draft cycle of this label; without it a taken label is a 409.",
    )


class NewLetters(Strict):
    """PT Pos invitation letters for an approved pos batch's vouchers not yet redeemed."""

    place: Annotated[str, Field(min_length=1, max_length=120, description="Collection point.")]
    collect_on: date = Field(description="The collection day printed on the letters.")
    hours: Annotated[str | None, Field(max_length=120, description="Opening hours.")] = None
    stage: Annotated[str | None, Field(max_length=120, description="Stage printed.")] = None


def _submit(ctx: Write, request: Request, kind: str, params: dict[str, object]) -> jobs.JobView:
    queue = queue_of(request)
    job = jobs.submit(ctx.session, ctx.actor, kind=kind, params=params, channel="api", queue=queue)
    return jobs.get(ctx.session, ctx.actor, job_id=job.id, queue=queue)


@router.post("/imports", status_code=202, summary="Import uploaded batch files (a job)")
def import_batch(
    ctx: Write,
    request: Request,
    files: Annotated[
        list[UploadFile], File(min_length=1, description="The batch files (CSV or XLSX).")
    ],
    status: Annotated[Literal["proposed", "verified", "approved"], Form()] = "proposed",
    dry_run: Annotated[bool, Form()] = False,
    allow_duplicates: Annotated[bool, Form()] = False,
    link: Annotated[
        bool,
        Form(
            description="Link the batch against the latest release first: probable "
            "duplicates become `probable_duplicate` warnings and go to the review queue."
        ),
    ] = False,
) -> jobs.JobView:
    data_dir = ctx.settings.data_dir
    saved = []
    try:
        for upload in files:
            saved.append(
                uploads.save(
                    data_dir,
                    upload.filename or "batch.csv",
                    upload.file,
                    max_bytes=ctx.settings.upload_max_bytes,
                )
            )
        return _submit(
            ctx,
            request,
            "import",
            {
                "files": [str(p) for p in saved],
                "status": status,
                "dry_run": dry_run,
                "allow_duplicates": allow_duplicates,
                "link": link,
            },
        )
    except BaseException:
        for path in saved:  # a refused job keeps no file of the asker's
            shutil.rmtree(path.parent, ignore_errors=True)
        raise


@router.post("/releases", tags=["releases"], status_code=202, summary="Create a release (a job)")
def create_release(ctx: Write, request: Request, body: NewRelease) -> jobs.JobView:
    return _submit(ctx, request, "release", body.model_dump())


@router.post("/scorings", tags=["cycles"], status_code=202, summary="Score a release (a job)")
def create_scoring(ctx: Write, request: Request, body: NewScoring) -> jobs.JobView:
    return _submit(ctx, request, "score", body.model_dump())


@router.post("/cycles", tags=["cycles"], status_code=202, summary="Run a cycle (a job)")
def run_cycle(ctx: Write, request: Request, body: NewCycle) -> jobs.JobView:
    params = body.model_dump()
    params["as_of"] = body.as_of.isoformat() if body.as_of else None
    return _submit(ctx, request, "cycle_run", params)


@router.post(
    "/delivery/batches/{batch_id}/letters",
    tags=["delivery"],
    status_code=202,
    summary="Write a pos batch's invitation letters, one PDF per village (a job)",
)
def write_letters(
    ctx: Write, request: Request, batch_id: Annotated[int, Path(ge=1)], body: NewLetters
) -> jobs.JobView:
    params: dict[str, object] = {
        "batch": batch_id,
        "place": body.place,
        "date": body.collect_on.isoformat(),
        "hours": body.hours,
        "stage": body.stage,
    }
    return _submit(ctx, request, "letters", params)


@router.get("/jobs", summary="Your jobs, newest first")
def list_jobs(ctx: Read, request: Request, page: Paging) -> Page[jobs.JobView]:
    return jobs.list_jobs(
        ctx.session, ctx.actor, limit=page.limit, offset=page.offset, queue=queue_of(request)
    )


@router.get("/jobs/{job_id}", summary="One job: state, progress, result")
def get_job(ctx: Read, request: Request, job_id: JobId) -> jobs.JobView:
    return jobs.get(ctx.session, ctx.actor, job_id=job_id, queue=queue_of(request))


@router.get(
    "/jobs/{job_id}/rejects",
    summary="An import job's reject file (CSV)",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The reject file."}},
)
def rejects(ctx: Read, job_id: JobId) -> FileResponse:
    path = jobs.reject_file(ctx.session, ctx.actor, job_id=job_id, data_dir=ctx.settings.data_dir)
    return FileResponse(path, media_type="text/csv", filename=path.name)


@router.get(
    "/jobs/{job_id}/letters",
    summary="A letters job's PDFs as one ZIP",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The letters."}},
)
def letters(ctx: Read, job_id: JobId) -> FileResponse:
    path = jobs.letters_archive(
        ctx.session, ctx.actor, job_id=job_id, data_dir=ctx.settings.data_dir
    )
    return FileResponse(path, media_type="application/zip", filename=path.name)
