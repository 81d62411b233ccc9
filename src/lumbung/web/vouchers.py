"""PT Pos on the web: a pos batch's vouchers issued, its invitation letters written as a job
and downloaded as one ZIP, redemptions made offline recorded from a counter's file, and the
counters' tokens (made, shown once, revoked)."""

from __future__ import annotations

from datetime import date

from fastapi.responses import FileResponse, Response
from starlette.datastructures import UploadFile
from starlette.routing import Route

from lumbung.errors import LumbungError, NotFound, PermissionDenied, ValidationFailed
from lumbung.web.context import Page, page

# An offline upload is read whole in memory (a counter's day: thousands of lines, not millions).
OFFLINE_MAX_BYTES = 20 * 1024 * 1024


def _batch(ctx: Page) -> int:
    raw = ctx.request.path_params["batch"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise NotFound(f"Batch {raw[:20]!r} tidak ada.")
    return int(raw)


@page("prepare_payment")
def issue_vouchers(ctx: Page) -> Response:
    """Vouchers for every pending payment of an approved pos batch, then back to its cycle."""
    from lumbung.delivery.pos import vouchers

    expires = ctx.field("expires")
    try:
        expires_on = date.fromisoformat(expires) if expires else None
    except ValueError:
        raise ValidationFailed(ctx.t("pos.bad_date")) from None
    result = vouchers.issue_vouchers(
        ctx.db, actor=ctx.actor, batch_id=_batch(ctx), expires_on=expires_on
    )
    return ctx.redirect(f"/siklus/{result.cycle}/penyaluran?selesai=issued&voucher={result.issued}")


@page("prepare_payment")
def letters_form(ctx: Page) -> Response:
    """The letters' collection point and day, asked once; writing them is a background job
    (a batch of a million letters takes minutes)."""
    from lumbung.delivery.pos.letters import letters_batch
    from lumbung.jobs import service as jobs

    batch = letters_batch(ctx.db, actor=ctx.actor, batch_id=_batch(ctx))
    error = None
    if ctx.form is not None:
        params = {
            "batch": batch,
            "place": ctx.field("place"),
            "date": ctx.field("date"),
            "hours": ctx.field("hours"),
            "stage": ctx.field("stage"),
        }
        try:
            with ctx.db.begin_nested():
                job = jobs.submit(ctx.db, ctx.actor, kind="letters", params=params, channel="web")
            return ctx.redirect(f"/pekerjaan/{job.id}")
        except PermissionDenied:
            raise
        except LumbungError as refused:
            error = refused.message
    return ctx.render(
        "pos_letters.html",
        status=422 if error else 200,
        error=error,
        batch=batch,
        values={k: ctx.field(k) for k in ("place", "date", "hours", "stage")},
    )


@page("prepare_payment")
def letters_archive(ctx: Page) -> Response:
    from lumbung.jobs import service as jobs

    path = jobs.letters_archive(
        ctx.db, ctx.actor, job_id=ctx.request.path_params["job_id"], data_dir=ctx.settings.data_dir
    )
    return FileResponse(path, filename=path.name, media_type="application/zip")


@page("prepare_payment")
def offline_page(ctx: Page) -> Response:
    """A counter's file of redemptions made offline (CSV token,nik,redeemed_at,counter or
    JSON), recorded for its partner: each voucher paid once, a second redemption a conflict."""
    from lumbung.delivery.pos import offline

    result = None
    error = None
    if ctx.form is not None:
        upload = ctx.form.get("file")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise ValidationFailed(ctx.t("pos.offline_missing"))
            data = upload.file.read(OFFLINE_MAX_BYTES + 1)
            if len(data) > OFFLINE_MAX_BYTES:
                raise ValidationFailed(ctx.t("pos.offline_too_big"))
            rows = offline.parse(data)
            with ctx.db.begin_nested():
                result = offline.reconcile_as_user(
                    ctx.db,
                    actor=ctx.actor,
                    partner_code=ctx.field("partner") or "POS",
                    rows=rows,
                )
            return ctx.done("/penyaluran/luring", result=result)
        except PermissionDenied:
            raise
        except LumbungError as refused:
            error = refused.message
    return ctx.render("pos_offline.html", status=422 if error else 200, error=error, result=result)


@page("read")
def counters_page(ctx: Page) -> Response:
    """Counters' tokens: every one with its state (admins and auditors); an admin makes one
    (shown once, on this answer only) or revokes one."""
    from lumbung.delivery.pos import counters

    made: str | None = None
    error: str | None = None
    if ctx.form is not None:
        try:
            with ctx.db.begin_nested():
                if ctx.field("action") == "revoke":
                    token_id = ctx.int_field("token", 0)
                    counters.revoke(
                        ctx.db, actor=ctx.actor, token_id=token_id, reason=ctx.field("reason")
                    )
                    return ctx.redirect("/penyaluran/loket?selesai=revoked")
                made, _ = counters.issue(
                    ctx.db,
                    actor=ctx.actor,
                    partner_code=ctx.field("partner") or "POS",
                    counter=ctx.field("counter"),
                    name=ctx.field("name"),
                    region_code=ctx.field("region") or None,
                    expires_days=ctx.int_field("days", counters.DEFAULT_DAYS, most=100_000),
                )
            # Shown once, after the redirect (Page.done: never stored on the server).
            return ctx.done("/penyaluran/loket", made=made)
        except PermissionDenied:
            raise
        except LumbungError as refused:
            error = refused.message
    tokens = counters.list_tokens(ctx.db, actor=ctx.actor)
    return ctx.render(
        "pos_counters.html",
        status=422 if error else 200,
        error=error,
        made=made,
        done=ctx.query("selesai"),
        tokens=tokens,
        default_days=counters.DEFAULT_DAYS,
    )


ROUTES = [
    Route("/penyaluran/batch/{batch}/voucher", issue_vouchers, methods=["POST"]),
    Route("/penyaluran/batch/{batch}/surat", letters_form, methods=["GET", "POST"]),
    Route("/pekerjaan/{job_id}/surat", letters_archive, methods=["GET"]),
    Route("/penyaluran/luring", offline_page, methods=["GET", "POST"]),
    Route("/penyaluran/loket", counters_page, methods=["GET", "POST"]),
]
