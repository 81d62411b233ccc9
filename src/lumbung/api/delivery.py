"""Delivery: payment partners, account openings and answers, batches, the BPJS list, and a
cycle's check (entitled = paid + failed + returned + pending + cancelled)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import File, Form, Query, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from lumbung.api.deps import Read, Write, routes
from lumbung.api.schemas import KK, LABEL
from lumbung.delivery import account_answers, accounts, batches, bpjs, family, ledger, partners
from lumbung.delivery.bank.service import write_payment_file
from lumbung.delivery.outcomes import OutcomeSummary
from lumbung.delivery.statuses import import_status_file
from lumbung.downloads import private_file
from lumbung.jobs import uploads

router = routes(tags=["delivery"])
STATUS_FILES = (".xml", ".csv")  # a pain.002 report, a CSV statement


class NewBatches(BaseModel):
    cycle: LABEL
    retry_unchanged: bool = Field(
        False, description="Also retry failed or returned bank payments to an unchanged account."
    )


class Cancellation(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class NewOpening(BaseModel):
    cycle: LABEL


@router.get("/delivery/partners", summary="Payment partners and the regions they serve")
def list_partners(ctx: Read) -> list[partners.PartnerRow]:
    return partners.list_partners(ctx.session, ctx.actor)


@router.get("/cycles/{label}/check", summary="Whether a cycle's money adds up, with its ledger")
def check(ctx: Read, label: LABEL) -> ledger.CycleCheck:
    return ledger.check_cycle(ctx.session, actor=ctx.actor, label=label)


@router.get("/delivery/batches", summary="Payment batches, newest first")
def list_batches(
    ctx: Read, cycle: Annotated[LABEL | None, Query(description="One cycle's only.")] = None
) -> list[batches.BatchRow]:
    return batches.list_batches(ctx.session, actor=ctx.actor, label=cycle)


@router.post("/delivery/batches", status_code=201, summary="Batch an approved cycle (determiner)")
def create_batches(ctx: Write, body: NewBatches) -> batches.BatchPlan:
    return batches.create_batches(
        ctx.session, actor=ctx.actor, label=body.cycle, retry_unchanged=body.retry_unchanged
    )


@router.get("/delivery/batches/{batch_id}", summary="One payment batch")
def show_batch(ctx: Read, batch_id: int) -> batches.BatchRow:
    return batches.show_batch(ctx.session, actor=ctx.actor, batch_id=batch_id)


@router.post("/delivery/batches/{batch_id}/approve", summary="Approve a draft batch (four eyes)")
def approve_batch(ctx: Write, batch_id: int) -> batches.BatchRow:
    return batches.approve_batch(ctx.session, actor=ctx.actor, batch_id=batch_id)


@router.post("/delivery/batches/{batch_id}/cancel", summary="Cancel a draft batch")
def cancel_batch(ctx: Write, batch_id: int, body: Cancellation) -> batches.BatchRow:
    return batches.cancel_batch(ctx.session, actor=ctx.actor, batch_id=batch_id, reason=body.reason)


@router.post(
    "/delivery/batches/{batch_id}/file",
    summary="Write an approved bank batch as its bank's file (pain.001 or CSV), downloaded",
    response_class=FileResponse,
)
def payment_file(ctx: Write, batch_id: int) -> FileResponse:
    folder = ctx.settings.data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    written = write_payment_file(ctx.session, actor=ctx.actor, batch_id=batch_id, out=folder)
    path = Path(written.path)
    media = "application/xml" if written.format == "pain.001" else "text/csv"
    return FileResponse(
        path, media_type=media, filename=path.name, background=BackgroundTask(os.unlink, path)
    )


@router.post("/delivery/statuses", summary="Record a partner's status file (pain.002 or CSV)")
def import_status(
    ctx: Write,
    file: Annotated[UploadFile, File(description="A pain.002 report or a CSV statement.")],
    partner: Annotated[str | None, Form(description="Refuse another partner's rows.")] = None,
) -> OutcomeSummary:
    name = file.filename or "status.csv"
    saved = uploads.save(
        ctx.settings.data_dir,
        name,
        file.file,
        max_bytes=ctx.settings.upload_max_bytes,
        accepted=STATUS_FILES,
    )
    try:
        return import_status_file(
            ctx.session, actor=ctx.actor, path=saved, name=saved.name, partner_code=partner
        )
    finally:
        shutil.rmtree(saved.parent, ignore_errors=True)


@router.get("/delivery/openings", summary="Collective account openings, newest first")
def list_openings(
    ctx: Read, cycle: Annotated[LABEL | None, Query(description="One cycle's only.")] = None
) -> list[accounts.OpeningRow]:
    return accounts.list_openings(ctx.session, actor=ctx.actor, label=cycle)


@router.post("/delivery/openings", status_code=201, summary="Ask the banks to open accounts")
def open_accounts(ctx: Write, body: NewOpening) -> list[accounts.OpeningRow]:
    return accounts.open_accounts(ctx.session, actor=ctx.actor, label=body.cycle)


def _download(lines: Iterator[str], data_dir: Path, name: str) -> FileResponse:
    """The lines as a CSV download (a private file, removed once sent)."""
    path = private_file(lines, data_dir)
    return FileResponse(
        path, media_type="text/csv", filename=name, background=BackgroundTask(os.unlink, path)
    )


@router.get(
    "/delivery/openings/{opening_id}/file",
    summary="An opening's CSV for its bank",
    response_class=FileResponse,
)
def opening_file(ctx: Read, opening_id: int) -> FileResponse:
    lines = accounts.opening_file(ctx.session, actor=ctx.actor, opening_id=opening_id)
    return _download(lines, ctx.settings.data_dir, f"pembukaan-rekening-{opening_id}.csv")


@router.post("/delivery/openings/{opening_id}/answers", summary="Record a bank's answer (CSV)")
def record_answers(
    ctx: Write,
    opening_id: int,
    file: Annotated[
        UploadFile, File(description="kk,nik,account_number,card_number,status,reason")
    ],
) -> account_answers.AnswerSummary:
    saved = uploads.save(
        ctx.settings.data_dir,
        file.filename or "jawaban.csv",
        file.file,
        max_bytes=ctx.settings.upload_max_bytes,
    )
    try:
        return account_answers.record_answers(
            ctx.session,
            actor=ctx.actor,
            opening_id=opening_id,
            path=saved,
            name=uploads.safe_name(file.filename or "jawaban.csv"),
        )
    finally:
        shutil.rmtree(saved.parent, ignore_errors=True)


@router.get("/families/{kk}/accounts", summary="A family's accounts (masked), with history")
def family_accounts(ctx: Read, kk: KK) -> list[accounts.AccountView]:
    return accounts.family_accounts(ctx.session, actor=ctx.actor, kk=kk)


@router.get("/families/{kk}/payments", summary="Every attempt at paying a family")
def family_payments(ctx: Read, kk: KK) -> list[family.FamilyPayment]:
    return family.family_payments(ctx.session, actor=ctx.actor, kk=kk)


@router.get("/delivery/bpjs/{batch_id}", summary="A PBI-JKN month: persons, contribution, changes")
def bpjs_summary(ctx: Read, batch_id: int) -> bpjs.BpjsSummary:
    return bpjs.bpjs_summary(ctx.session, actor=ctx.actor, batch_id=batch_id)


@router.get(
    "/delivery/bpjs/{batch_id}/list",
    summary="The month's list of the insured (CSV)",
    response_class=FileResponse,
)
def bpjs_list(ctx: Read, batch_id: int) -> FileResponse:
    lines = bpjs.bpjs_list(ctx.session, actor=ctx.actor, batch_id=batch_id)
    return _download(lines, ctx.settings.data_dir, f"pbi-jkn-batch-{batch_id}.csv")
