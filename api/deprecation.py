"""Deprecated input still read for one release, and said so in the answer.

Money sent as a JSON number (`18.5`) is read this release, as before, but the answer
carries a `Deprecation` header (RFC 9745: the date it was deprecated) and, in a JSON
object answer, a `warnings` member naming each field; the next release refuses it with
the message of a malformed amount (send `"18.50"`).

The schemas note a deprecated use (`note_deprecated`) while they validate; this pure ASGI
middleware gives each request its own list and writes the notes into the answer. It sits
inside the idempotency middleware, so a replay repeats the answer's `warnings`; a replay
stores only the first answer's body and type, and repeats the header from the body
(`replayed_deprecation`): only this middleware writes a `warnings` member.
"""

import json
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MONEY_AS_NUMBER_DEPRECATED = datetime(2026, 12, 5, tzinfo=UTC)
"""When money as a JSON number was deprecated (this release)."""
DEPRECATION = f"@{int(MONEY_AS_NUMBER_DEPRECATED.timestamp())}"
"""The `Deprecation` header's value: RFC 9745's structured-field date."""
WARNINGS_MEMBER = "warnings"

_notes: ContextVar[list[str] | None] = ContextVar("deprecated_input", default=None)


def money_number_warning(field: str) -> str:
    """The warning for one money field sent as a JSON number."""
    return (
        f"{field}: money as a JSON number is deprecated and will be refused in the next "
        'release: send it as a decimal string, such as "18.50"'
    )


def note_deprecated(warning: str) -> None:
    """Remember a deprecated use for the current request's answer (nothing outside one)."""
    notes = _notes.get()
    if notes is not None and warning not in notes:
        notes.append(warning)


class DeprecationMiddleware:
    """Gives each request a list of deprecated uses, and reports them in its answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        notes: list[str] = []
        token = _notes.set(notes)
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_noted(message: Message) -> None:
            nonlocal start
            if not notes:
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message  # held until the body is whole: its length changes
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = _with_warnings(start, b"".join(chunks), notes)
            headers = MutableHeaders(scope=start)
            headers["Deprecation"] = DEPRECATION
            headers["Content-Length"] = str(len(body))
            await send(start)
            await send({"type": "http.response.body", "body": body})

        try:
            await self.app(scope, receive, send_noted)
        finally:
            _notes.reset(token)


def _with_warnings(start: Message, body: bytes, notes: list[str]) -> bytes:
    """A JSON object answer with the warnings added; any other answer as it is."""
    content_type = MutableHeaders(scope=start).get("content-type", "")
    if "json" not in content_type:
        return body
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if not isinstance(document, dict) or WARNINGS_MEMBER in document:
        return body
    document[WARNINGS_MEMBER] = list(notes)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def replayed_deprecation(content_type: str, body: bytes) -> str | None:
    """The `Deprecation` header a replayed answer repeats: the first answer carried it
    exactly when its JSON object got a `warnings` member here; None otherwise."""
    if "json" not in content_type:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get(WARNINGS_MEMBER), list):
        return DEPRECATION
    return None
