"""The Idempotency-Key middleware for creating POSTs (API.md conventions).

It sits outside the routes because it must see the whole response to replay it; the
records live in bidding.idempotency, in their own short transactions, separate from the
request's session. Only a success (2xx) is kept to replay: a refusal or a failure frees
the key, so the client may fix the request and send it again under the same key.
"""

import asyncio
import hashlib
import json
import logging
import re
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.db_errors import fault_response
from api.deprecation import replayed_deprecation
from api.limits import principal_of
from api.problems import bidding_error_response
from bidding import idempotency, keys
from bidding.errors import BiddingError, InvalidInput
from bidding.models import IdempotencyRecord
from bidding.principal import Principal

HEADER = "idempotency-key"
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,200}$"
"""1 to 200 printable ASCII characters, no spaces: a UUID, a ULID, an ERP's document number."""
MAX_PATH = IdempotencyRecord.__table__.c.path.type.length  # type: ignore[attr-defined]
STORABLE_PATH = re.compile(r"[!-~]+")
"""Paths a key is recorded under: printable ASCII, as every path made of this API's ids is."""
_log = logging.getLogger("supplybid.api")
SETTLE_RETRY_PAUSES_S = (0.05, 0.2, 0.5, None)
"""Pauses between tries to record or free a key (None: the last try)."""


def _claim(
    engine: Engine,
    principal: Principal | None,
    secret: str,
    method: str,
    path: str,
    key: str,
    request_hash: str,
) -> tuple[str | None, idempotency.StoredResponse | None]:
    with Session(engine, expire_on_commit=False) as session:
        if principal is not None and principal.key_id is not None:
            api_key_id = principal.key_id  # looked up by the admission step
        else:
            api_key = keys.find_active_key(session=session, secret=secret)
            if api_key is None:
                return None, None  # the route answers 401; nothing to remember
            api_key_id = api_key.id
            session.commit()
        stored = idempotency.claim(
            session=session,
            api_key_id=api_key_id,
            method=method,
            path=path,
            key=key,
            request_hash=request_hash,
        )
        return api_key_id, stored


def _complete(
    engine: Engine,
    api_key_id: str,
    method: str,
    path: str,
    key: str,
    response: idempotency.StoredResponse | None,
) -> None:
    with Session(engine) as session:
        idempotency.complete(
            session=session,
            api_key_id=api_key_id,
            method=method,
            path=path,
            key=key,
            response=response,
        )


class IdempotencyMiddleware:
    """Replays the first response to a POST sent again with the same Idempotency-Key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        authorization = headers.get("authorization", "")
        scheme, _, secret = authorization.partition(" ")
        if key is None or scheme.lower() != "bearer" or not secret.strip():
            await self.app(scope, receive, send)
            return
        if not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
            error = InvalidInput(
                [("header.idempotency-key", "must be 1 to 200 printable ASCII characters")]
            )
            await bidding_error_response(error)(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if not _matches_a_route(scope):
            await self.app(scope, receive, send)  # a 404 or 405: nothing to remember
            return
        if len(path) > MAX_PATH or not STORABLE_PATH.fullmatch(path):
            error = InvalidInput(
                [("path", f"must be printable ASCII of at most {MAX_PATH} characters")]
            )
            await bidding_error_response(error)(scope, receive, send)
            return
        body = await _read_body(receive)
        fingerprint = await request_hash(headers.get("content-type", ""), body)
        engine: Engine = scope["app"].state.engine
        try:
            api_key_id, stored = await run_in_threadpool(
                _claim, engine, principal_of(scope), secret.strip(), method, path, key, fingerprint
            )
        except BiddingError as exc:
            await bidding_error_response(exc)(scope, receive, send)
            return
        except SQLAlchemyError as exc:
            # Outside the routes, so outside their exception handlers: answer here.
            fault = fault_response(exc)
            if fault is None:
                raise
            await fault(scope, receive, send)
            return
        if stored is not None:
            await _replay(stored, send)
            return
        replay_receive = _replaying(body, receive)
        if api_key_id is None:
            await self.app(scope, replay_receive, send)
            return
        captured = _Captured(send)
        try:
            await self.app(scope, replay_receive, captured.send)
        except BaseException:
            # Free the key (the request failed: a retry must run again), then let the
            # error reach its handler, which answers problem+json.
            await _settle(engine, api_key_id, method, path, key, None)
            raise
        await _settle(engine, api_key_id, method, path, key, captured.stored())


async def _settle(
    engine: Engine,
    api_key_id: str,
    method: str,
    path: str,
    key: str,
    response: idempotency.StoredResponse | None,
) -> None:
    # The response may be on its way already: a failure to record it must not cut it off
    # (the client would not know whether its write happened). The key then stays claimed
    # until it is stale (idempotency_stale_after_s), and a retry meanwhile gets a 409.
    # A dropped connection is replaced at the next checkout, so a second try usually lands.
    for pause_s in SETTLE_RETRY_PAUSES_S:
        try:
            await run_in_threadpool(_complete, engine, api_key_id, method, path, key, response)
            return
        except Exception as exc:
            if pause_s is None or fault_response(exc) is None:
                _log.exception("could not record the outcome of idempotency key %r", key)
                return
        await asyncio.sleep(pause_s)


def _matches_a_route(scope: Scope) -> bool:
    return any(route.matches(scope)[0] == Match.FULL for route in scope["app"].router.routes)


async def request_hash(content_type: str, body: bytes) -> str:
    """The fingerprint a retry must match: of what the body says, not how it is spelled.

    JSON counts by its parsed value (spacing and key order aside), a multipart form by its
    parts (names, file names, file bytes; a fresh boundary aside), anything else byte by
    byte. A body that does not parse counts byte by byte too.
    """
    media_type = content_type.partition(";")[0].strip().lower()
    canonical: str | None = None
    if media_type == "application/json" or media_type.endswith("+json"):
        canonical = _canonical_json(body)
    elif media_type == "multipart/form-data":
        canonical = await _canonical_form(content_type, body)
    if canonical is None:
        return idempotency.body_hash(body)
    return idempotency.body_hash(f"{media_type}\n{canonical}".encode())


class _Number(str):
    """A JSON number kept as written: 18.50 and "18.50" stay different, as do 1 and 1.0."""

    __slots__ = ()


def _canonical_json(body: bytes) -> str | None:
    try:
        value = json.loads(body, parse_float=_Number, parse_int=_Number, parse_constant=_Number)
    except (ValueError, RecursionError):
        return None
    try:
        return _spelled(value)
    except RecursionError:
        return None


def _spelled(value: Any) -> str:
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, dict):
        pairs = sorted(value.items())
        return "{" + ",".join(json.dumps(k) + ":" + _spelled(v) for k, v in pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_spelled(v) for v in value) + "]"
    return json.dumps(value)


async def _canonical_form(content_type: str, body: bytes) -> str | None:
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "headers": [(b"content-type", content_type.encode("latin-1"))],
    }
    request = Request(scope, _replaying(body, _no_more_body))
    try:
        form = await request.form()
    except Exception:
        # Whatever the multipart parser makes of a broken body, the bytes still fingerprint it.
        return None
    try:
        parts: list[list[str | None]] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                parts.append([name, value.filename, hashlib.sha256(content).hexdigest()])
            else:
                parts.append([name, None, value])
        return json.dumps(parts, separators=(",", ":"))
    finally:
        await form.close()


async def _no_more_body() -> Message:
    return {"type": "http.disconnect"}


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _replay(stored: idempotency.StoredResponse, send: Send) -> None:
    body = stored.body.encode("utf-8")
    headers = [
        (b"content-type", stored.content_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    deprecation = replayed_deprecation(stored.content_type, body)
    if deprecation is not None:  # the first answer's header, as its warnings are repeated
        headers.append((b"deprecation", deprecation.encode("latin-1")))
    await send({"type": "http.response.start", "status": stored.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _Captured:
    """Passes a response through while keeping a copy of its status and body."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500
        self.content_type = "application/json"
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for name, value in message.get("headers", []):
                if name.lower() == b"content-type":
                    self.content_type = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
        await self._send(message)

    def stored(self) -> idempotency.StoredResponse | None:
        """What to replay: a success only; None frees the key, so a retry runs again."""
        if not 200 <= self.status < 300:
            return None
        body: Any = b"".join(self.chunks)
        return idempotency.StoredResponse(
            status_code=self.status,
            content_type=self.content_type,
            body=body.decode("utf-8", errors="replace"),
        )
