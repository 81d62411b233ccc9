"""Security headers on every response, as a plain ASGI middleware (no per-request task or
body buffering, unlike Starlette's BaseHTTPMiddleware)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What every response carries. The pages (lumbung.web) serve their own scripts and styles, so
# 'self' is all a page needs; nothing may frame a page (clickjacking).
ALWAYS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Two years, subdomains included: sent only on a connection made over HTTPS (a browser ignores
# it on HTTP, and sending it there would promise what the server does not do).
HSTS = "max-age=63072000; includeSubDomains"
API_PREFIX = "/api/"
STATIC_PREFIX = "/static/"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        path = str(scope.get("path", ""))
        api = path.startswith(API_PREFIX)
        static = path.startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if api:
                    # Registry data must not sit in a browser's or a proxy's cache.
                    headers["Cache-Control"] = "no-store"
                elif not static:
                    # Nor a page's, a redirect's or a download's (a reject file holds NIKs):
                    # only the stylesheet and scripts may be kept.
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
