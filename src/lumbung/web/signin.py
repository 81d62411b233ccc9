"""Sign-in, the second factor (and its enrolment), the forced password change, sign-out and
the language switch."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import RedirectResponse, Response
from starlette.requests import Request
from starlette.routing import Route

from lumbung.errors import LumbungError, PermissionDenied
from lumbung.web.context import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Page,
    Redirect,
    page,
    pre_csrf,
    set_cookie,
)
from lumbung.web.i18n import LANGUAGES


def _local(target: str) -> bool:
    """Whether `target` is a path of this site (not `//host` nor `/\\host`, which browsers
    read as another host)."""
    return target.startswith("/") and not target.startswith("//") and "\\" not in target


def _next(ctx: Page) -> str:
    """Where to go once signed in: a path of this site only (never another host)."""
    target = ctx.field("lanjut") or ctx.query("lanjut")
    return target if _local(target) else "/"


def _after_verified(ctx: Page) -> str:
    return "/masuk/sandi" if ctx.actor.must_change_password else _next(ctx)


@page(None)
def sign_in_page(ctx: Page) -> Response:
    if ctx.web is not None and ctx.web.verified and ctx.form is None:
        return ctx.redirect("/")
    error = None
    username = ctx.field("username")
    if ctx.form is not None:
        from lumbung.auth import sessions, signin

        try:
            outcome = signin.sign_in(
                ctx.db,
                username=username,
                password=ctx.field("password"),
                ip=ctx.ip,
                channel="web",
            )
        except PermissionDenied as refused:
            # The attempt stays recorded (the unit of work commits): lockout counts it.
            error = refused.message
        else:
            second = outcome.needs_totp or outcome.must_enrol_totp
            raw, _web = sessions.start(
                ctx.db,
                user=outcome.user,
                ip=ctx.ip,
                user_agent=ctx.request.headers.get("user-agent", "")[:200],
                verified=not second,
            )
            if ctx.web is not None:  # a session already open in this browser ends here
                sessions.end(ctx.db, ctx.web)
            ctx.cookies[SESSION_COOKIE] = raw
            nxt = _next(ctx)
            if outcome.must_enrol_totp:
                return ctx.redirect("/masuk/totp/daftar?lanjut=" + quote(nxt))
            if outcome.needs_totp:
                return ctx.redirect("/masuk/totp?lanjut=" + quote(nxt))
            if outcome.must_change_password:
                return ctx.redirect("/masuk/sandi")
            return ctx.redirect(nxt)
    return ctx.render(
        "signin.html",
        status=401 if error else 200,
        error=error,
        username=username,
        token=pre_csrf(ctx),
        lanjut=_next(ctx),
    )


@page("any", allow_unverified=True)
def totp_page(ctx: Page) -> Response:
    from lumbung.auth import sessions, signin

    assert ctx.web is not None
    if ctx.web.verified:
        return ctx.redirect(_after_verified(ctx))
    if ctx.actor.totp_enabled_at is None:
        return ctx.redirect("/masuk/totp/daftar")
    error = None
    if ctx.form is not None:
        try:
            signin.check_totp(ctx.db, user=ctx.actor, code=ctx.field("code"), ip=ctx.ip)
        except LumbungError as refused:
            error = refused.message
        else:
            sessions.mark_verified(ctx.db, ctx.web)
            return ctx.redirect(_after_verified(ctx))
    return ctx.render("totp.html", status=401 if error else 200, error=error, lanjut=_next(ctx))


@page("any", allow_unverified=True)
def totp_enrol_page(ctx: Page) -> Response:
    import segno

    from lumbung.auth import sessions, signin

    assert ctx.web is not None
    if ctx.actor.totp_enabled_at is not None:
        return ctx.redirect("/masuk/totp")
    error = None
    if ctx.form is not None:
        try:
            signin.confirm_totp(ctx.db, user=ctx.actor, code=ctx.field("code"))
        except LumbungError as refused:
            error = refused.message
        else:
            sessions.mark_verified(ctx.db, ctx.web)
            return ctx.redirect(_after_verified(ctx))
    enrolment = signin.enrol_totp(ctx.db, user=ctx.actor)
    qr = segno.make(enrolment.uri, error="m").svg_inline(scale=4, border=2, omitsize=False)
    return ctx.render(
        "totp_enrol.html",
        status=401 if error else 200,
        error=error,
        secret=enrolment.secret,
        uri=enrolment.uri,
        qr=qr,
        lanjut=_next(ctx),
    )


@page("any", allow_unverified=True)
def password_page(ctx: Page) -> Response:
    from lumbung.auth import signin

    assert ctx.web is not None
    if not ctx.web.verified:
        raise Redirect("/masuk/totp")
    error = None
    done = False
    if ctx.form is not None:
        new = ctx.field("new")
        if new != ctx.field("again"):
            error = ctx.t("password.mismatch")
        else:
            try:
                with ctx.db.begin_nested():
                    # This browser's session stays (every other one of the user ends).
                    signin.change_password(
                        ctx.db,
                        user=ctx.actor,
                        old=ctx.field("old"),
                        new=new,
                        keep=ctx.web,
                        ip=ctx.ip,
                    )
            except LumbungError as refused:
                error = refused.message
            else:
                done = True
    if done:
        return ctx.redirect("/?sandi=baru")
    from lumbung.auth.passwords import MIN_LENGTH

    return ctx.render(
        "password.html",
        status=422 if error else 200,
        error=error,
        forced=ctx.actor.must_change_password,
        min_length=MIN_LENGTH,
    )


@page(None)
def sign_out(ctx: Page) -> Response:
    from lumbung.auth import sessions

    if ctx.web is not None:
        sessions.end(ctx.db, ctx.web)
    response = ctx.redirect("/masuk")
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


def switch_language(request: Request) -> Response:
    lang = request.path_params["lang"]
    back = request.query_params.get("kembali", "/")
    if not _local(back):
        back = "/"
    response = RedirectResponse(back, status_code=303)
    if lang in LANGUAGES:
        set_cookie(response, LANG_COOKIE, lang)
    return response


ROUTES = [
    Route("/masuk", sign_in_page, methods=["GET", "POST"]),
    Route("/masuk/totp", totp_page, methods=["GET", "POST"]),
    Route("/masuk/totp/daftar", totp_enrol_page, methods=["GET", "POST"]),
    Route("/masuk/sandi", password_page, methods=["GET", "POST"]),
    Route("/keluar", sign_out, methods=["POST"]),
    Route("/bahasa/{lang}", switch_language, methods=["GET"]),
]
