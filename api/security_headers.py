"""Security headers on every answer: CSP by kind, no sniffing, no framing, no caching of data.

Pure ASGI, outermost, so refusals made by other middleware (problem+json, 413, 429) carry
the headers too. The `server` header is dropped here and by uvicorn (`server_header=False`).
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)
"""The web workspace's policy (issue 12): scripts and styles from this app only."""
API_CSP = "default-src 'none'; frame-ancestors 'none'"
"""JSON and files: nothing may run or load in their context."""
STATIC_PREFIX = "/static/"


class SecurityHeadersMiddleware:
    """Adds the headers to each response start; pages get the page CSP, the rest none at all."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "server" in headers:
                    del headers["server"]
                is_page = headers.get("content-type", "").startswith("text/html")
                headers["Content-Security-Policy"] = PAGE_CSP if is_page else API_CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if static:
                    headers.setdefault("Cache-Control", "no-cache")
                else:
                    # Pages and API answers may hold bids, awards or keys: never stored.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
