"""A cycle's delivery: its check (where every rupiah stands), its payment batches with their
approval, the collective account openings of a bank cycle and the banks' answers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from starlette.routing import Route

from lumbung.delivery.account_answers import AnswerSummary
from lumbung.delivery.outcomes import OutcomeSummary
from lumbung.downloads import private_file
from lumbung.errors import LumbungError, NotFound, PermissionDenied, ValidationFailed
from lumbung.web.context import Page, page

Outcome = tuple[str | None, str | None, AnswerSummary | OutcomeSummary | None]


def _act(ctx: Page, label: str) -> Outcome:
    """The form's action on the cycle's delivery: (done message key, error, a bank's answer)."""
    from lumbung.delivery import accounts, batches

    action = ctx.field("action")
    try:
        with ctx.db.begin_nested():
            if action == "create":
                plan = batches.create_batches(ctx.db, actor=ctx.actor, label=label)
                return ("delivery.created" if plan.batches else "delivery.nothing"), None, None
            if action == "open":
                made = accounts.open_accounts(ctx.db, actor=ctx.actor, label=label)
                return ("delivery.opened" if made else "delivery.nothing_to_open"), None, None
            if action == "approve":
                batches.approve_batch(ctx.db, actor=ctx.actor, batch_id=_batch_id(ctx))
                return "delivery.approved", None, None
            if action == "cancel":
                batches.cancel_batch(
                    ctx.db, actor=ctx.actor, batch_id=_batch_id(ctx), reason=ctx.field("reason")
                )
                return "delivery.cancelled", None, None
            if action == "answer":
                return None, None, _answer(ctx)
            if action == "status":
                return None, None, _status(ctx)
    except PermissionDenied:
        raise  # the error page, 403: nothing on this page is the reader's to do
    except LumbungError as refused:
        return None, refused.message, None
    raise ValidationFailed(ctx.t("delivery.unknown_action"))


def _batch_id(ctx: Page) -> int:
    value = ctx.field("batch")
    if not value.isdigit():
        raise ValidationFailed(ctx.t("delivery.unknown_action"))
    return int(value)


def _answer(ctx: Page) -> AnswerSummary:
    """Record an uploaded bank answer; its summary goes to the page's flash."""
    from lumbung.delivery import account_answers

    opening = ctx.field("opening")
    if not opening.isdigit():
        raise ValidationFailed(ctx.t("delivery.answer_missing"))
    with ctx.upload("file", "delivery.answer_missing") as saved:
        return account_answers.record_answers(
            ctx.db, actor=ctx.actor, opening_id=int(opening), path=saved, name=saved.name
        )


def _status(ctx: Page) -> OutcomeSummary:
    """Record an uploaded status file (a bank's pain.002 or CSV statement)."""
    from lumbung.delivery.statuses import import_status_file

    with ctx.upload("file", "delivery.status_missing", accepted=(".xml", ".csv")) as saved:
        return import_status_file(ctx.db, actor=ctx.actor, path=saved, name=saved.name)


@page("prepare_payment")
def payment_file(ctx: Page) -> Response:
    """An approved bank batch written as its bank's file and downloaded (a POST: writing it
    is recorded in the audit trail)."""
    from lumbung.delivery.bank.service import write_payment_file

    batch = ctx.request.path_params["batch"]
    if ctx.form is None or not batch.isdigit():
        raise NotFound(f"Batch {batch[:20]!r} tidak ada.")
    folder = ctx.settings.data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    written = write_payment_file(ctx.db, actor=ctx.actor, batch_id=int(batch), out=folder)
    path = Path(written.path)
    media = "application/xml" if written.format == "pain.001" else "text/csv"
    return FileResponse(
        path, media_type=media, filename=path.name, background=BackgroundTask(os.unlink, path)
    )


@page("read")
def delivery_page(ctx: Page) -> Response:
    from lumbung.delivery import accounts, batches, ledger

    label = ctx.request.path_params["label"]
    done: str | None = None
    error: str | None = None
    answer = None
    if ctx.form is not None:
        done, error, answer = _act(ctx, label)
        if done is not None:
            return ctx.redirect(f"/siklus/{label}/penyaluran?selesai={done.split('.')[-1]}")
        if answer is not None:  # POST/redirect/GET, the summary shown once after it
            kind = "answer" if isinstance(answer, AnswerSummary) else "recorded"
            return ctx.done(f"/siklus/{label}/penyaluran", **{kind: answer})
    check = ledger.check_cycle(ctx.db, actor=ctx.actor, label=label)
    cycle = ledger.get_cycle(ctx.db, label)
    channel = str(cycle.definition.get("channel"))
    return ctx.render(
        "delivery.html",
        status=422 if error else 200,
        error=error,
        done=ctx.query("selesai"),
        issued=ctx.int_query("voucher", -1) if ctx.query("voucher") else None,
        label=label,
        cycle_state=cycle.state,
        channel=channel,
        check=check,
        batches=batches.list_batches(ctx.db, actor=ctx.actor, label=label),
        openings=(
            accounts.list_openings(ctx.db, actor=ctx.actor, label=label)
            if channel == "bank"
            else []
        ),
        answer=answer if isinstance(answer, AnswerSummary) else None,
        recorded=answer if isinstance(answer, OutcomeSummary) else None,
    )


def _download(ctx: Page, lines: Iterator[str], name: str) -> Response:
    """The lines as a CSV download (a private file, removed once sent)."""
    path = private_file(lines, ctx.settings.data_dir)
    return FileResponse(
        path, media_type="text/csv", filename=name, background=BackgroundTask(os.unlink, path)
    )


@page("prepare_payment")
def opening_file(ctx: Page) -> Response:
    from lumbung.delivery import accounts

    opening = ctx.request.path_params["opening"]
    if not opening.isdigit():
        raise NotFound(f"Pembukaan rekening {opening[:20]!r} tidak ada.")
    lines = accounts.opening_file(ctx.db, actor=ctx.actor, opening_id=int(opening))
    return _download(ctx, lines, f"pembukaan-rekening-{opening}.csv")


@page("prepare_payment")
def bpjs_list(ctx: Page) -> Response:
    from lumbung.delivery import bpjs

    batch = ctx.request.path_params["batch"]
    if not batch.isdigit():
        raise NotFound(f"Batch {batch[:20]!r} tidak ada.")
    lines = bpjs.bpjs_list(ctx.db, actor=ctx.actor, batch_id=int(batch))
    return _download(ctx, lines, f"pbi-jkn-batch-{batch}.csv")


@page("read")
def family_delivery(ctx: Page) -> Response:
    """A family's payments and bank accounts: a page of its own, and the part of the family's
    page that htmx loads after it (the family page itself stays as quick as it was)."""
    from lumbung.delivery.accounts import family_accounts
    from lumbung.delivery.family import family_payments

    kk = ctx.request.path_params["kk"]
    payments = family_payments(ctx.db, actor=ctx.actor, kk=kk)
    accounts = family_accounts(ctx.db, actor=ctx.actor, kk=kk)
    fragment = ctx.request.headers.get("HX-Request") == "true"
    return ctx.render(
        "partials/family_delivery.html" if fragment else "family_delivery.html",
        kk=kk,
        payments=payments,
        accounts=accounts,
    )


ROUTES = [
    Route("/siklus/{label}/penyaluran", delivery_page, methods=["GET", "POST"]),
    Route("/keluarga/{kk}/pembayaran", family_delivery, methods=["GET"]),
    Route("/penyaluran/rekening/{opening}/berkas", opening_file, methods=["GET"]),
    Route("/penyaluran/bpjs/{batch}/daftar", bpjs_list, methods=["GET"]),
    Route("/penyaluran/batch/{batch}/berkas", payment_file, methods=["POST"]),
]
