"""Admission: rate limits, a fair bounded queue, the key checked first, bodies bounded.

Every HTTP request passes here before anything reads its body or takes a database
connection for the route:

1. Rate limits (the `limits` library): per API key (the sha256 of the bearer secret, the
   same as the stored key hash, so no lookup is needed to count), per browser session
   (once its cookie is found to name a live session, cached a few seconds), and per
   client address for requests without a valid key or session. Over the limit: 429
   problem+json with Retry-After, paced: a caller with many requests refused at once
   gets at most `rate_limit_refusals_per_s` refusals a second, the others held first.
2. A place among `concurrency_limit` running requests, at most `key_concurrency_limit`
   of them from one key or client. Others wait in a queue (at most `queue_limit`, for at
   most `queue_timeout_s`) served round robin across keys, so a burst from one key queues
   behind itself, not in front of everyone else. A full queue or a wait past the timeout
   is a 503 problem+json with Retry-After. Since a request holds at most one connection
   and only while it runs, a pool of `concurrency_limit` plus spares is never exhausted.
3. The bearer key, looked up before the body is read (api/key_cache.py: one lookup per
   key at a time, believed `key_cache_ttl_s`): an unknown or revoked key is a 401 at
   once, whatever it sends. The principal is handed to
   the routes (`scope["state"]["principal"]`), which do not look it up again.
4. The body, counted while it streams in: past the route's limit a 413 problem+json (at
   once when Content-Length already says so).

The counts and the queue are this process's own: see docs/reliability.md for several.
"""

import asyncio
import logging
import math
import re
import threading
import time
import weakref
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from limits import RateLimitItem, parse_many, storage, strategies
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.db_errors import fault_response, internal_error_response
from api.key_cache import KeyCache
from api.problems import PROBLEM_MEDIA_TYPE, bidding_error_response, problem_response
from bidding import keys, web_sessions
from bidding.errors import NotAuthenticated
from bidding.principal import Principal
from bidding.settings import Settings
from bidding.web_sessions import SESSION_COOKIE

PUBLIC_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
"""Paths that need no key: a bearer header on them is not checked here."""
STATIC_PREFIX = "/static/"
"""The workspace's scripts, styles and fonts: files, served without a key or the database."""
SHEET_ROUTES = re.compile(r"^/v1/rounds/[^/]+/bids/import/?$")
"""Routes that take a bid sheet (multipart), with the larger body limit."""
OVERLOAD_RETRY_AFTER_S = 2
PACED_CALLERS = 10_000
"""Callers whose next refusal time is remembered before the past ones are dropped."""
PRINCIPAL = "principal"
"""The key in scope["state"] where the admitted request's principal is handed on."""
_log = logging.getLogger("supplybid.api")


class BodyTooLarge(HTTPException):
    """A request body past its route's limit (raised while it is read)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the request body is over {limit} bytes")
        self.limit = limit


def principal_of(scope: Scope) -> Principal | None:
    """The principal the admission step found for this request, if it had a valid key."""
    state = scope.get("state")
    found = state.get(PRINCIPAL) if isinstance(state, dict) else None
    return found if isinstance(found, Principal) else None


class FairQueue:
    """Places for running requests; when all are taken, granted round robin across groups
    of callers (staff keys, factory keys, callers without a key), and within a group
    round robin across callers, so a crowd in one group never starves the others.

    Lives on the event loop (no locks): `acquire` and `release` are only called there.
    """

    def __init__(self, capacity: int, per_caller: int, queue_limit: int) -> None:
        self.capacity = capacity
        self.per_caller = min(per_caller, capacity)
        self.queue_limit = queue_limit
        self.running = 0
        self.queued = 0
        self._running_by: Counter[str] = Counter()
        self._waiting: OrderedDict[str, OrderedDict[str, deque[asyncio.Future[None]]]] = (
            OrderedDict()
        )

    def _take(self, caller: str) -> None:
        self.running += 1
        self._running_by[caller] += 1

    async def acquire(self, group: str, caller: str, timeout_s: float) -> bool:
        """Take a place, waiting up to `timeout_s`; False if the queue is full or time ran out."""
        eligible = self.running < self.capacity and self._running_by[caller] < self.per_caller
        if eligible and caller not in self._waiting.get(group, ()):
            self._take(caller)
            return True
        if self.queued >= self.queue_limit:
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(group, OrderedDict()).setdefault(caller, deque()).append(waiter)
        self.queued += 1
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
            return True
        except TimeoutError:
            if self._granted(waiter):
                return True  # the place came as the time ran out: keep it
            self._forget(group, caller, waiter)
            return False
        except BaseException:
            if self._granted(waiter):
                self.release(caller)
            else:
                self._forget(group, caller, waiter)
            raise

    @staticmethod
    def _granted(waiter: asyncio.Future[None]) -> bool:
        return waiter.done() and not waiter.cancelled()

    def _forget(self, group: str, caller: str, waiter: asyncio.Future[None]) -> None:
        callers = self._waiting.get(group)
        line = callers.get(caller) if callers is not None else None
        if callers is None or line is None or waiter not in line:
            return
        line.remove(waiter)
        self.queued -= 1
        if not line:
            del callers[caller]
            if not callers:
                del self._waiting[group]

    def release(self, caller: str) -> None:
        """Give a place back and hand free places to waiters, taking turns."""
        self.running -= 1
        self._running_by[caller] -= 1
        if self._running_by[caller] <= 0:
            del self._running_by[caller]
        self._dispatch()

    def _next(self) -> tuple[str, str] | None:
        for group, callers in self._waiting.items():
            for caller in callers:
                if self._running_by[caller] < self.per_caller:
                    return group, caller
        return None  # every waiting caller already runs its share

    def _dispatch(self) -> None:
        while self.running < self.capacity and self._waiting:
            found = self._next()
            if found is None:
                return
            group, caller = found
            callers = self._waiting[group]
            line = callers[caller]
            waiter = line.popleft()
            self.queued -= 1
            if line:
                callers.move_to_end(caller)  # its next request waits for the others' turn
            else:
                del callers[caller]
            if callers:
                self._waiting.move_to_end(group)  # the next place goes to another group
            else:
                del self._waiting[group]
            if waiter.done():
                continue  # its request was cancelled while it waited
            self._take(caller)
            waiter.set_result(None)


class SweptMemoryStorage(storage.MemoryStorage):
    """The `limits` library's memory storage, its expired entries swept by one thread.

    The library's own starts a new 10 ms timer thread on the next hit whenever the last
    one has ended: under load, a thread start on the event loop for most requests, each
    waiting for the GIL the route threads hold (in the load bench's profile, 1.8 s of
    the loop's 21). Here one daemon thread sweeps every `SWEEP_EVERY_S`; the window is
    checked against each entry's time on every hit, so the sweep only frees memory.
    """

    SWEEP_EVERY_S = 1.0

    def __init__(self) -> None:
        super().__init__()
        threading.Thread(
            target=SweptMemoryStorage._sweep, args=(weakref.ref(self),), daemon=True
        ).start()

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (the library's name)
        """No timer per hit: the sweeping thread does the library's expiry."""

    @staticmethod
    def _sweep(ref: "weakref.ref[SweptMemoryStorage]") -> None:
        while True:
            time.sleep(SweptMemoryStorage.SWEEP_EVERY_S)
            swept = ref()
            if swept is None:
                return  # the app that limited with it is gone
            swept._MemoryStorage__expire_events()  # type: ignore[attr-defined]
            del swept


class RateLimits:
    """Per-key and per-client request limits on the `limits` library's moving window."""

    def __init__(self, settings: Settings) -> None:
        uri = settings.rate_limit_storage_uri
        self._limiter = strategies.MovingWindowRateLimiter(
            SweptMemoryStorage() if uri == "memory://" else storage.storage_from_string(uri)
        )
        self.per_key = parse_many(settings.rate_limit_per_key)
        self.per_client = parse_many(settings.rate_limit_per_client)

    def hit(self, items: list[RateLimitItem], caller: str) -> float | None:
        """Count one request; None if allowed, else the seconds until it would be."""
        for item in items:
            if not self._limiter.hit(item, caller):
                return self._wait(item, caller)
        return None

    def exhausted(self, items: list[RateLimitItem], caller: str) -> float | None:
        """Whether a limit is already used up (without counting); seconds to wait if so."""
        for item in items:
            if not self._limiter.test(item, caller):
                return self._wait(item, caller)
        return None

    def _wait(self, item: RateLimitItem, caller: str) -> float:
        reset = self._limiter.get_window_stats(item, caller).reset_time
        return max(1.0, reset - time.time())


def _session_is_live(engine: Engine, session_id: str) -> bool:
    with Session(engine) as session:
        return web_sessions.is_live(session=session, session_id=session_id)


class LiveSessions:
    """Whether a session cookie names a live session, looked up once per `TTL_S` per cookie.

    Only the rate limiter asks (to count a signed-in person as a key, and anyone else as an
    anonymous client); the pages check the session themselves on every request, so an
    answer a few seconds old never lets anyone in. At most `SIZE` cookies are remembered.
    """

    TTL_S = 5.0
    SIZE = 10_000

    def __init__(self, lookups: asyncio.Semaphore, timeout_s: float) -> None:
        self._lookups = lookups
        self._timeout_s = timeout_s
        self._known: OrderedDict[str, tuple[float, bool]] = OrderedDict()

    async def is_live(self, engine: Engine, session_id: str) -> bool:
        """The cached answer if fresh, else a lookup in its own short session."""
        now = time.monotonic()
        cached = self._known.get(session_id)
        if cached is not None and now - cached[0] < self.TTL_S:
            return cached[1]
        async with asyncio.timeout(self._timeout_s), self._lookups:
            live = await run_in_threadpool(_session_is_live, engine, session_id)
        self._known[session_id] = (time.monotonic(), live)
        self._known.move_to_end(session_id)
        while len(self._known) > self.SIZE:
            self._known.popitem(last=False)
        return live


class AdmissionMiddleware:
    """Rate limits, the key, the fair queue and the body limit, before the app runs."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.limits = RateLimits(settings)
        self.queue = FairQueue(
            settings.concurrency_limit, settings.key_concurrency_limit, settings.queue_limit
        )
        self._lookups = asyncio.Semaphore(settings.key_lookup_concurrency)
        self.sessions = LiveSessions(self._lookups, settings.queue_timeout_s)
        self.keys = KeyCache(self._lookups, settings.queue_timeout_s, settings.key_cache_ttl_s)
        self._paced = 0
        self._next_refusal: dict[str, float] = {}
        self._held: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        if path.startswith(STATIC_PREFIX):
            await self.app(scope, receive, send)  # the pages' own files: no key, no database
            return
        secret = _bearer_secret(headers) if path not in PUBLIC_PATHS else None
        client = f"client:{scope['client'][0] if scope.get('client') else '?'}"
        signed_in = None if secret else cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        caller = f"key:{keys.hash_key(secret)}" if secret else client
        if secret:
            # A client whose wrong keys used up its limit is refused before any lookup.
            wait = self.limits.exhausted(self.limits.per_client, client)
            wait = wait or self.limits.hit(self.limits.per_key, caller)
        elif signed_in:
            # A person in the workspace is limited as a key is, if the cookie names a live
            # session; any other cookie is anonymous, limited per client, so rotating
            # made-up cookies gains nothing. A client whose limit is used up is refused
            # before the lookup.
            wait = self.limits.exhausted(self.limits.per_client, client)
            if wait is None:
                try:
                    live = await self.sessions.is_live(scope["app"].state.engine, signed_in)
                except Exception as exc:
                    await _fault(exc)(scope, receive, send)
                    return
                if live:
                    caller = f"session:{keys.hash_key(signed_in)}"
                    wait = self.limits.hit(self.limits.per_key, caller)
                else:
                    wait = self.limits.hit(self.limits.per_client, client)
        else:
            wait = self.limits.hit(self.limits.per_client, client)
        if wait is not None:
            await self._refuse(wait, caller, secret is not None, scope, receive, send)
            return
        group = "anonymous"
        if secret:
            try:
                principal = await self.keys.principal(scope["app"].state.engine, secret)
            except Exception as exc:
                await _fault(exc)(scope, receive, send)
                return
            if principal is None:
                self.limits.hit(self.limits.per_client, client)  # wrong keys count per client
                refusal = NotAuthenticated("unknown or revoked API key")
                await bidding_error_response(refusal)(scope, receive, send)  # body unread
                return
            scope.setdefault("state", {})[PRINCIPAL] = principal
            group = str(principal.role)
        if not await self.queue.acquire(group, caller, self.settings.queue_timeout_s):
            await _overloaded(self.queue.queued >= self.queue.queue_limit)(scope, receive, send)
            return
        try:
            await self._bounded(scope, receive, send, path, headers)
        finally:
            self.queue.release(caller)

    async def _refuse(
        self, wait_s: float, caller: str, keyed: bool, scope: Scope, receive: Receive, send: Send
    ) -> None:
        # Paced: while one of a caller's refusals is held, its next ones go out at most
        # `rate_limit_refusals_per_s` a second, held (a timer, no thread) up to
        # `rate_limit_pace_max_s`. A client that resends at once on many connections,
        # ignoring Retry-After, used to be refused as often as the event loop could answer,
        # on the core the other keys' requests need. One request at a time is never held.
        now = time.monotonic()
        delay = 0.0
        if self._held[caller]:
            slot = max(now, self._next_refusal.get(caller, now))
            delay = min(slot - now, self.settings.rate_limit_pace_max_s)
        self._next_refusal[caller] = now + delay + 1 / self.settings.rate_limit_refusals_per_s
        if len(self._next_refusal) > PACED_CALLERS:
            self._next_refusal = {c: t for c, t in self._next_refusal.items() if t > now}
        if self._paced < self.settings.rate_limit_paced_max:
            self._paced += 1
            self._held[caller] += 1
            try:
                await asyncio.sleep(delay)
            finally:
                self._paced -= 1
                self._held[caller] -= 1
                if self._held[caller] <= 0:
                    del self._held[caller]
            wait_s -= delay
        await _rate_limited(wait_s, keyed)(scope, receive, send)

    async def _bounded(
        self, scope: Scope, receive: Receive, send: Send, path: str, headers: Headers
    ) -> None:
        limit = (
            self.settings.max_sheet_body_bytes
            if SHEET_ROUTES.match(path)
            else self.settings.max_body_bytes
        )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, _limited(receive, limit), sending)
        except BodyTooLarge as exc:
            # Raised outside the routes' handlers (the idempotency middleware reads bodies).
            if started:
                raise
            await _too_large(exc.limit)(scope, receive, send)


def _fault(exc: Exception) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    if isinstance(exc, TimeoutError):
        return _overloaded(False)
    response = fault_response(exc)
    if response is None:
        _log.exception("key lookup failed")
        return internal_error_response()
    return response


def _bearer_secret(headers: Headers) -> str | None:
    scheme, _, secret = headers.get("authorization", "").partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return counted


def _too_large(limit: int) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    return problem_response(
        status=413,
        code="payload_too_large",
        title="The request body is too large",
        detail=f"this route takes at most {limit} bytes of body",
        headers={"Connection": "close"},
        extra={"limit": limit},
    )


def _rate_limited(wait_s: float, keyed: bool) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    per = "API key" if keyed else "client"
    return problem_response(
        status=429,
        code="rate_limited",
        title="Too many requests",
        detail=f"this {per} sent more requests than its limit; retry after the wait",
        headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
    )


def _overloaded(queue_full: bool) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    why = "the queue of waiting requests is full" if queue_full else "no place came free in time"
    return problem_response(
        status=503,
        code="overloaded",
        title="The service is overloaded",
        detail=f"{why}; nothing was done. Retry after the wait.",
        headers={"Retry-After": str(OVERLOAD_RETRY_AFTER_S)},
    )


def document_admission(schema: dict[str, Any]) -> dict[str, Any]:
    """Say in the OpenAPI document what admission may answer: 429, 503 and (with a body) 413."""
    problem = {"$ref": "#/components/schemas/ProblemDetails"}
    retry_after = {
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "integer"},
        }
    }
    answers = {
        "429": ("Too many requests from this key or client", retry_after),
        "503": ("Overloaded, or the database is busy or unavailable", retry_after),
    }
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            extra = dict(answers) if path not in PUBLIC_PATHS else {"503": answers["503"]}
            if "requestBody" in operation:
                extra["413"] = ("The request body is over this route's limit", {})
            for status, (description, headers) in extra.items():
                entry: dict[str, Any] = {
                    "description": description,
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": problem}},
                }
                if headers:
                    entry["headers"] = headers
                responses.setdefault(status, entry)
    return schema
