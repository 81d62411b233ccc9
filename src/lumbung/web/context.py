"""What every page needs: the database session of the request, the signed-in user, CSRF,
the language, and rendering a template or an error page.

A page is a plain function `(ctx: Page) -> Response` decorated with `@page(...)`; the decorator
opens one unit of work (committed on success, rolled back on an error), resolves the session
cookie, checks the CSRF token of every POST, and turns domain errors into pages. Pages call
service functions only: no queries here or in the routes.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import json
import logging
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from lumbung.auth.models import User, WebSession
from lumbung.auth.roles import Action, Role, may
from lumbung.config import Settings, get_settings
from lumbung.errors import LumbungError, NotFound, PermissionDenied
from lumbung.web import i18n

log = logging.getLogger("lumbung.web")

SESSION_COOKIE = "lumbung_session"
# Forms shown before a session exists (sign-in) carry a token matched against this cookie.
PRE_CSRF_COOKIE = "lumbung_precsrf"
LANG_COOKIE = "lang"
# What a form's answer shows once after its redirect (POST/redirect/GET): see Page.done.
FLASH_COOKIE = "lumbung_flash"
FLASH_SECONDS = 300  # a flash older than this (a tab left open) is not shown
FLASH_MAX_BYTES = 3_600  # browsers keep cookies up to 4 KB
TEMPLATES = Path(__file__).parent / "templates"

templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class Redirect(Exception):
    """Leave the page for another one (sign-in, TOTP, password change)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class CsrfRefused(Exception):
    pass


def settings_of(app: FastAPI) -> Settings:
    found = getattr(app.state, "settings", None)
    return found if isinstance(found, Settings) else get_settings()


def engine_of(app: FastAPI) -> Any:
    """The app's engine (the app factory's `state.database` when it made one), else one made
    once here for an app without it (tests that build a bare FastAPI app)."""
    database = getattr(app.state, "database", None)
    engine = database.engine if database is not None else None
    if engine is None:
        engine = getattr(app.state, "web_engine", None)
    if engine is None:
        from lumbung.db import create_engine

        engine = create_engine(settings_of(app).database_url)
        app.state.web_engine = engine
    return engine


@dataclass
class Page:
    """One request as a page sees it."""

    request: Request
    db: Any  # the unit of work's Session (typed loosely: front ends do not import sqlalchemy)
    form: FormData | None
    lang: str
    settings: Settings
    user: User | None = None
    web: WebSession | None = None
    cookies: dict[str, str] = field(default_factory=dict)  # to set on the response
    expire: set[str] = field(default_factory=set)  # cookies to remove on the response

    def t(self, key: str, **values: Any) -> str:
        return i18n.translate(self.lang, key, **values)

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        if self.form is None:
            return []
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default).strip()

    def int_query(self, name: str, default: int) -> int:
        return whole_number(self.query(name), default)

    def int_field(self, name: str, default: int, *, most: int = 999_999_999) -> int:
        """A form's whole number; `default` when it is none, at most `most` (a loop bound)."""
        return min(whole_number(self.field(name), default), most)

    @property
    def actor(self) -> User:
        assert self.user is not None
        return self.user

    @property
    def ip(self) -> str | None:
        return self.request.client.host if self.request.client else None

    def may(self, action: str) -> bool:
        return self.user is not None and may(self.user.role, Action(action))

    def region_names(self, codes: Iterable[str | None]) -> dict[str, str]:
        """The names of the regions a page shows (code → name), in one query; with the
        reader's own region, which the header shows."""
        from lumbung.regions.service import region_names

        own = self.user.region_code if self.user is not None else None
        return region_names(self.db, self.actor, codes=[c for c in (*codes, own) if c])

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        # A flash left by the form that redirected here fills what the view left empty.
        for name, value in self.flashed().items():
            if values.get(name) is None:
                values[name] = value
        names = values.get("regions")
        if names is None:  # the header's region, for a page that shows none
            names = self.region_names(()) if self.user and self.user.region_code else {}
            values["regions"] = names
        html = templates.get_template(template).render(
            ctx=self,
            t=self.t,
            lang=self.lang,
            user=self.user,
            csrf=self.web.csrf_token if self.web is not None else "",
            path=self.request.url.path,
            Role=Role,
            region_label=functools.partial(region_label, names),
            **helpers(self.lang),
            **values,
        )
        response = HTMLResponse(html, status_code=status)
        # Pages show personal data: never kept by a shared browser's cache or a proxy.
        response.headers["Cache-Control"] = "no-store"
        for name, value in self.cookies.items():
            set_cookie(response, name, value)
        for name in self.expire:
            response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="lax")
        return response

    def done(self, url: str, **values: Any) -> RedirectResponse:
        """POST/redirect/GET: a form that created or changed something answers with a redirect
        to `url`, so that reloading the page it lands on sends nothing again; what the answer
        shows (a notice, a summary's counts, a token shown once) travels in a cookie, `values`
        as JSON, shown once by the page at `url` and removed there. The cookie is encrypted
        and authenticated (Fernet) with a key drawn from this session's own secret: a token's
        secret is never stored on the server, and another session cannot read or forge it."""
        response = self.redirect(url)
        if values and self.web is not None:
            payload = {"path": urlsplit(url).path, "values": _fitted(values)}
            sealed = _flash_box(self.web.csrf_token).encrypt(json.dumps(payload).encode())
            while len(sealed) > FLASH_MAX_BYTES and _shorten(payload["values"]):
                sealed = _flash_box(self.web.csrf_token).encrypt(json.dumps(payload).encode())
            set_cookie(response, FLASH_COOKIE, sealed.decode("ascii"))
        return response

    def flashed(self) -> dict[str, Any]:
        """The values the last form's redirect left for this page (`done`), once: the cookie
        is removed with this answer (a progress fragment that htmx fetches leaves it)."""
        raw = self.request.cookies.get(FLASH_COOKIE)
        if not raw or self.web is None or self.request.headers.get("HX-Request") == "true":
            return {}
        self.expire.add(FLASH_COOKIE)
        from cryptography.fernet import InvalidToken

        try:
            opened = _flash_box(self.web.csrf_token).decrypt(raw.encode("ascii"), FLASH_SECONDS)
            payload = json.loads(opened)
        except (InvalidToken, UnicodeError, ValueError):
            return {}
        if not isinstance(payload, dict) or payload.get("path") != self.request.url.path:
            return {}
        values = payload.get("values")
        return values if isinstance(values, dict) else {}

    @contextmanager
    def upload(
        self,
        name: str,
        missing: str,
        *,
        accepted: tuple[str, ...] | None = None,
        keep: bool = False,
    ) -> Iterator[Path]:
        """The file posted in form field `name`, saved in a folder of its own under the data
        folder (`jobs.uploads.save`: safe name, size limit, `accepted` suffixes); the message
        `missing` (a key) when none was chosen. The file holds NIKs and names: removed when the
        block ends, or only when it fails if `keep` (a job submitted in it reads the file)."""
        from starlette.datastructures import UploadFile

        from lumbung.errors import ValidationFailed
        from lumbung.jobs import uploads

        posted = self.form.get(name) if self.form is not None else None
        if not isinstance(posted, UploadFile) or not posted.filename:
            raise ValidationFailed(self.t(missing))
        options = {} if accepted is None else {"accepted": accepted}
        saved = uploads.save(
            self.settings.data_dir,
            Path(posted.filename).name,
            posted.file,
            max_bytes=self.settings.upload_max_bytes,
            **options,
        )
        try:
            yield saved
        except BaseException:
            shutil.rmtree(saved.parent, ignore_errors=True)
            raise
        if not keep:
            shutil.rmtree(saved.parent, ignore_errors=True)

    def redirect(self, url: str) -> RedirectResponse:
        response = RedirectResponse(url, status_code=303)
        for name, value in self.cookies.items():
            set_cookie(response, name, value)
        return response


def _flash_box(session_secret: str) -> Any:
    """The Fernet box of a session's flashes: its key, SHA-256 of the session's own secret
    (its CSRF token, kept in the session's row) under a label of its own."""
    from cryptography.fernet import Fernet

    digest = hashlib.sha256(b"lumbung-flash\x00" + session_secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _fitted(values: dict[str, Any]) -> dict[str, Any]:
    """`values` as plain JSON: a service's result as its `as_dict()` (or its dataclass
    fields), at any depth; a date as ISO text. A template reads `summary.rows` of the dict as
    it read the attribute."""
    return json.loads(json.dumps(values, default=_plain))  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _shorten(values: Any) -> bool:
    """Halve the longest list inside `values` (a summary's problems, to fit a cookie); False
    when there is none left to shorten."""
    lists: list[list[Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, list):
            lists.append(value)
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            for child in children:
                walk(child)

    walk(values)
    longest = max(lists, key=len, default=[])
    if not longest:
        return False
    del longest[len(longest) // 2 :]
    return True


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def table_download(
    name: str, kind: str, csv: Callable[[], str | bytes], xlsx: Callable[[], bytes]
) -> Response:
    """A report as a CSV or XLSX attachment called `name`.`kind`, never cached (it may hold
    personal data)."""
    headers = {
        "Content-Disposition": f'attachment; filename="{name}.{kind}"',
        "Cache-Control": "no-store",
    }
    if kind == "csv":
        return Response(csv(), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(xlsx(), media_type=XLSX, headers=headers)


def whole_number(raw: str, default: int) -> int:
    """`raw` as a whole number of at most nine ASCII digits ("²" and "٣" are digits to
    str.isdigit, not to int; a window past a billion rows is no window), else `default`."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 9:
        return int(raw)
    return default


def region_label(names: dict[str, str], code: str | None) -> str:
    """A region as a page shows it: its name with its code beside it, "Gambir (31.71.01.1001)"
    (the code alone when its name is not known)."""
    if not code:
        return ""
    name = names.get(code)
    return code if name is None else f"{name} ({code})"


def helpers(lang: str) -> dict[str, Any]:
    """What templates use to show values in the reader's language: `num` (thousands
    separators), `rp` (amounts), `readable` (a status, a vocabulary code, a flag)."""
    return {
        "num": functools.partial(i18n.number, lang),
        "rp": functools.partial(i18n.rupiah, lang),
        "pct": functools.partial(i18n.percent, lang),
        "readable": functools.partial(i18n.label, lang),
        "key_label": functools.partial(i18n.key_label, lang),
        "feature_label": functools.partial(i18n.feature_label, lang),
        "feature_value": functools.partial(i18n.feature_value, lang),
        "component_label": functools.partial(i18n.component_label, lang),
    }


def set_cookie(response: Response, name: str, value: str) -> None:
    """Every cookie Secure (browsers keep and send Secure cookies to http://127.0.0.1 and
    http://localhost too, so the demo needs no exception), HttpOnly, SameSite=Lax, Path=/."""
    response.set_cookie(
        name,
        value,
        secure=True,
        httponly=True,
        samesite="lax",
        path="/",
        max_age=(
            None
            if name == SESSION_COOKIE
            else FLASH_SECONDS
            if name == FLASH_COOKIE
            else 365 * 24 * 3600
        ),
    )


def language(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "")
    return lang if lang in i18n.LANGUAGES else i18n.DEFAULT


# How long a request waits for SQLite's writer lock before it answers 503 "sedang sibuk".
WRITE_WAIT_MS = 10_000


@contextmanager
def unit_of_work(app: FastAPI, *, reading: bool = False) -> Iterator[Any]:
    """The request's transaction (`db.request_scope`): `reading` for a page opened (GET),
    which on SQLite takes no writer lock and so never waits behind a job that writes."""
    from lumbung.audit.service import set_channel
    from lumbung.db import request_scope

    with request_scope(engine_of(app), reading=reading, wait_ms=WRITE_WAIT_MS) as session:
        set_channel(session, "web")
        yield session


# Who may open a page: "any" signed-in user, or an action from auth.roles.
Access = str | None


def page(
    access: Access = "any", *, allow_unverified: bool = False, fragment: bool = False
) -> Callable[[Callable[[Page], Response]], Callable[[Request], Any]]:
    """Make `view(ctx) -> Response` a Starlette endpoint (see the module docstring).

    `access` None: no session needed (sign-in pages). `allow_unverified`: a session still
    waiting for its second factor or for a new password may open it."""

    def wrap(view: Callable[[Page], Response]) -> Callable[[Request], Any]:
        @functools.wraps(view)
        async def endpoint(request: Request) -> Response:
            form = await request.form() if request.method == "POST" else None
            return await run_in_threadpool(_serve, view, request, form)

        def _serve(view: Callable[[Page], Response], request: Request, form: Any) -> Response:
            lang = language(request)
            settings = settings_of(request.app)
            try:
                with unit_of_work(request.app, reading=form is None) as session:
                    ctx = Page(request, session, form, lang, settings)
                    _authenticate(ctx, access, allow_unverified)
                    if form is not None:
                        _check_csrf(ctx, access)
                    return view(ctx)
            except Redirect as redirect:
                return RedirectResponse(redirect.url, status_code=303)
            except CsrfRefused:
                return _error_page(request, lang, 403, i18n.translate(lang, "error.csrf"))
            except LumbungError as error:
                return _error_page(request, lang, error.status_code, error.message)

        return endpoint

    return wrap


def _identify(ctx: Page) -> None:
    """The session and user of the request's cookie, if it names a live session."""
    from lumbung.auth import sessions

    found = sessions.live(ctx.db, ctx.request.cookies.get(SESSION_COOKIE), reading=ctx.form is None)
    if found is not None:
        ctx.web, ctx.user = found


def _authenticate(ctx: Page, access: Access, allow_unverified: bool) -> None:
    _identify(ctx)
    web = ctx.web
    if access is None:
        return
    if web is None or ctx.user is None:
        nxt = ctx.request.url.path
        raise Redirect("/masuk" + (f"?lanjut={nxt}" if nxt.startswith("/") else ""))
    if not allow_unverified:
        if not web.verified:
            raise Redirect(
                "/masuk/totp" if ctx.user.totp_enabled_at is not None else "/masuk/totp/daftar"
            )
        if ctx.user.must_change_password:
            raise Redirect("/masuk/sandi")
    if access != "any" and not may(ctx.user.role, Action(access)):
        raise PermissionDenied(ctx.t("error.role", role=ctx.user.role.value))


def _check_csrf(ctx: Page, access: Access) -> None:
    from lumbung.auth import sessions

    token = ctx.field("csrf")
    if ctx.web is not None and sessions.csrf_ok(ctx.web, token):
        return
    if ctx.web is not None and (ctx.web.verified or access is not None):
        raise CsrfRefused
    # No session, or one still waiting for its second factor on a page open before sign-in
    # (the sign-in form, opened again: it starts over, and carries the pre-sign-in token).
    cookie = ctx.request.cookies.get(PRE_CSRF_COOKIE, "")
    if not token or not cookie or not secrets.compare_digest(token, cookie):
        raise CsrfRefused


def pre_csrf(ctx: Page) -> str:
    """The token of a form shown before sign-in (double submit: cookie and hidden field)."""
    token = ctx.request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
    ctx.cookies[PRE_CSRF_COOKIE] = token
    return token


def _error_page(request: Request, lang: str, status: int, message: str) -> HTMLResponse:
    return render_error(request, status, message)


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    """An error page in the layout, with the menu and the signed-in user when the request
    carries a live session (read in a unit of work of its own: the page's was rolled back)."""
    lang = language(request)
    title = {403: "error.403", 404: "error.404"}.get(status, "error.other")
    try:
        with unit_of_work(request.app, reading=True) as session:
            ctx = Page(request, session, None, lang, settings_of(request.app))
            _identify(ctx)
            return ctx.render("error.html", status=status, title_key=title, message=message)
    except Exception:  # the database itself failing: the page without the user
        log.exception("could not read the session for an error page on %s", request.url.path)
    html = templates.get_template("error.html").render(
        t=functools.partial(i18n.translate, lang),
        lang=lang,
        user=None,
        csrf="",
        path=request.url.path,
        title_key=title,
        message=message,
        Role=Role,
        ctx=None,
        region_label=functools.partial(region_label, {}),
        regions={},
        **helpers(lang),
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


async def html_error(request: Request, status: int, message: str) -> HTMLResponse:
    """`render_error` for the app's exception handlers (pages outside /api/)."""
    return await run_in_threadpool(render_error, request, status, message)


def not_found(message: str) -> NotFound:
    return NotFound(message)
