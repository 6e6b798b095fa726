"""The Idempotency-Key middleware for creating POSTs (API.md conventions).

It sits outside the routes because it must see the whole response to replay it; the
records live in bidding.idempotency, in their own short transactions, separate from the
request's session.
"""

import re
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import bidding_error_response
from bidding import idempotency, keys
from bidding.errors import BiddingError, InvalidInput

HEADER = "idempotency-key"
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,200}$"
"""1 to 200 printable ASCII characters, no spaces: a UUID, a ULID, an ERP's document number."""


def _claim(
    engine: Engine, secret: str, method: str, path: str, key: str, body: bytes
) -> tuple[str | None, idempotency.StoredResponse | None]:
    with Session(engine, expire_on_commit=False) as session:
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
            request_hash=idempotency.body_hash(body),
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
        body = await _read_body(receive)
        engine: Engine = scope["app"].state.engine
        method, path = scope["method"], scope["path"]
        try:
            api_key_id, stored = await run_in_threadpool(
                _claim, engine, secret.strip(), method, path, key, body
            )
        except BiddingError as exc:
            await bidding_error_response(exc)(scope, receive, send)
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
            await run_in_threadpool(_complete, engine, api_key_id, method, path, key, None)
            raise
        await run_in_threadpool(_complete, engine, api_key_id, method, path, key, captured.stored())


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
    await send(
        {
            "type": "http.response.start",
            "status": stored.status_code,
            "headers": [
                (b"content-type", stored.content_type.encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
                (b"idempotent-replayed", b"true"),
            ],
        }
    )
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
        """What to replay; None for a server error, so a retry runs again."""
        if self.status >= 500:
            return None
        body: Any = b"".join(self.chunks)
        return idempotency.StoredResponse(
            status_code=self.status,
            content_type=self.content_type,
            body=body.decode("utf-8", errors="replace"),
        )
