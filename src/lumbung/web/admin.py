"""The audit trail, users and API tokens."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi.responses import Response
from starlette.routing import Route

from lumbung.auth.roles import Role
from lumbung.errors import LumbungError, PermissionDenied, ValidationFailed
from lumbung.web.context import Page, page

PAGE_SIZE = 50


@page("read")
def audit_page(ctx: Page) -> Response:
    from lumbung.audit import service as audit

    offset = ctx.int_query("offset", 0)
    entity = ctx.query("entitas") or None
    entity_id = ctx.query("id") or None
    trail = audit.log(
        ctx.db, ctx.actor, limit=PAGE_SIZE, offset=offset, entity=entity, entity_id=entity_id
    )
    query = urlencode({k: v for k, v in (("entitas", entity), ("id", entity_id)) if v})
    return ctx.render(
        "audit.html",
        trail=trail,
        page=trail,
        query=query,
        entity=entity or "",
        entity_id=entity_id or "",
    )


@page("manage_users")
def users_page(ctx: Page) -> Response:
    """Users: create one (with a first password they must change), set a password, reset a
    second factor (a lost phone), activate or deactivate; and issue or revoke API tokens (a
    new token is shown once)."""
    from lumbung.auth import credentials, service, tokens

    error = None
    if ctx.form is not None:
        action = ctx.field("action")
        username = ctx.field("username")
        try:
            with ctx.db.begin_nested():
                if action == "create":
                    region = ctx.field("region") or None
                    try:
                        role = Role(ctx.field("role"))
                    except ValueError:
                        raise ValidationFailed(ctx.t("users.bad_role")) from None
                    service.create_user(
                        ctx.db,
                        actor=ctx.actor,
                        username=username,
                        full_name=ctx.field("full_name"),
                        role=role,
                        region_code=region,
                    )
                    credentials.set_password(
                        ctx.db,
                        actor=ctx.actor,
                        username=username,
                        new=ctx.field("password"),
                    )
                    notice = ctx.t("users.created", username=username)
                    return ctx.done("/pengguna", notice=notice)
                elif action == "password":
                    credentials.set_password(
                        ctx.db,
                        actor=ctx.actor,
                        username=username,
                        new=ctx.field("password"),
                    )
                    return ctx.done(
                        "/pengguna", notice=ctx.t("users.password_set", username=username)
                    )
                elif action in ("activate", "deactivate"):
                    service.set_active(
                        ctx.db,
                        actor=ctx.actor,
                        username=username,
                        active=action == "activate",
                        reason=ctx.field("reason"),
                    )
                    notice = ctx.t("users." + action + "d", username=username)
                    return ctx.done("/pengguna", notice=notice)
                elif action == "reset_totp":
                    credentials.reset_totp(
                        ctx.db,
                        actor=ctx.actor,
                        username=username,
                        reason=ctx.field("reason"),
                    )
                    notice = ctx.t("users.totp_reset", username=username)
                    return ctx.done("/pengguna", notice=notice)
                elif action == "token":
                    secret, _token = tokens.issue(
                        ctx.db,
                        actor=ctx.actor,
                        username=username,
                        name=ctx.field("name"),
                        expires_days=ctx.int_field("days", 90),
                    )
                    # Shown once, after the redirect (Page.done: never stored on the server).
                    return ctx.done("/pengguna", notice=ctx.t("tokens.issued"), secret=secret)
                elif action == "revoke":
                    revoked = tokens.revoke(
                        ctx.db,
                        actor=ctx.actor,
                        token_id=ctx.int_field("token_id", 0),
                        reason=ctx.field("reason"),
                    )
                    notice = ctx.t("tokens.revoked_named", name=revoked.name)
                    return ctx.done("/pengguna", notice=notice)
        except LumbungError as refused:
            error = refused.message
    users = service.list_users(ctx.db, ctx.actor)
    return ctx.render(
        "users.html",
        status=422 if error else 200,
        error=error,
        notice=None,  # these two from the flash of the form that redirected here (Page.done)
        secret=None,
        users=users,
        tokens=tokens.list_tokens(ctx.db, ctx.actor),
        roles=list(Role),
        regions=ctx.region_names(u.region_code for u in users),
    )


@page("any")
def own_tokens_page(ctx: Page) -> Response:
    """The reader's own API tokens, each with a revoke button (a token leaked or no longer
    used is ended by its holder, without asking an admin)."""
    from lumbung.auth import tokens

    error = None
    if ctx.form is not None:
        try:
            with ctx.db.begin_nested():
                revoked = tokens.revoke(
                    ctx.db,
                    actor=ctx.actor,
                    token_id=ctx.int_field("token_id", 0),
                    reason=ctx.field("reason"),
                )
            return ctx.done("/token", notice=ctx.t("tokens.revoked_named", name=revoked.name))
        except PermissionDenied:
            raise  # another's token: the error page, 403
        except LumbungError as refused:
            error = refused.message
    return ctx.render(
        "tokens.html",
        status=422 if error else 200,
        error=error,
        notice=None,
        tokens=tokens.list_tokens(ctx.db, ctx.actor, username=ctx.actor.username),
    )


ROUTES = [
    Route("/audit", audit_page, methods=["GET"]),
    Route("/token", own_tokens_page, methods=["GET", "POST"]),
    Route("/pengguna", users_page, methods=["GET", "POST"]),
]
