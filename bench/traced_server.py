"""The app as `supplybid serve` runs it, with each request's time split by phase, for
bench.load's --trace: where a slow request waited, not only where the CPU went.

Each request gets a list of spans (name, start, end; seconds from its arrival), appended
to by wrappers around the phases a request may wait in: its key's lookup, a place in the
fair queue, a worker thread (from the hand-over to the thread's start), SQLite's writer
turn, the idempotency claim and record, and the answer's start. One JSON line per request
goes to the output file; `summarise` prints the phases' means and p95 by kind.
"""

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import api.idempotency
import api.key_cache
import api.limits
import bidding.db
from api.app import served_app
from bidding.settings import get_settings

_spans: ContextVar[list[tuple[str, float, float]] | None] = ContextVar("spans", default=None)


def _add(name: str, start: float, end: float) -> None:
    spans = _spans.get()
    if spans is not None:
        spans.append((name, start, end))


def _timed_sync(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _add(name, start, time.perf_counter())

    return timed


def _timed_async(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            _add(name, start, time.perf_counter())

    return timed


class Traced:
    """Outermost: gives the request its span list and writes it when the request ends."""

    def __init__(self, app: ASGIApp, out: Path) -> None:
        self.app = app
        self.out = out.open("a", buffering=1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        spans: list[tuple[str, float, float]] = []
        token = _spans.set(spans)
        arrived = time.perf_counter()
        answered = [0.0]
        status = [0]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered[0] = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _spans.reset(token)
            ended = time.perf_counter()
            record = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status[0],
                "answered": round((answered[0] or ended) - arrived, 6),
                "ended": round(ended - arrived, 6),
                "spans": [(n, round(s - arrived, 6), round(e - arrived, 6)) for n, s, e in spans],
            }
            self.out.write(json.dumps(record) + "\n")


def instrument() -> None:
    """Wrap the phases a request may wait in."""
    api.key_cache.KeyCache.principal = _timed_async(  # type: ignore[method-assign]
        "key", api.key_cache.KeyCache.principal
    )
    api.limits.FairQueue.acquire = _timed_async(  # type: ignore[method-assign]
        "place", api.limits.FairQueue.acquire
    )
    api.idempotency._claim = _timed_sync("claim", api.idempotency._claim)
    api.idempotency._complete = _timed_sync("record", api.idempotency._complete)
    turn_acquire = bidding.db.WriterTurn._acquire

    def acquire(self: bidding.db.WriterTurn) -> bool:
        start = time.perf_counter()
        outermost = turn_acquire(self)
        _add("turn_wait", start, time.perf_counter())
        return outermost

    bidding.db.WriterTurn._acquire = acquire  # type: ignore[method-assign]
    turn_call = bidding.db.WriterTurn.__call__

    @contextmanager
    def held(self: bidding.db.WriterTurn) -> Iterator[None]:
        with turn_call(self):
            start = time.perf_counter()
            try:
                yield
            finally:
                _add("turn_hold", start, time.perf_counter())

    bidding.db.WriterTurn.__call__ = held  # type: ignore[method-assign]
    sync_wait = bidding.db.WalSync.wait
    bidding.db.WalSync.wait = _timed_sync("wal_sync", sync_wait)  # type: ignore[method-assign]
    original = anyio.to_thread.run_sync

    async def run_sync(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        handed = time.perf_counter()
        name = getattr(getattr(function, "func", function), "__name__", "call")

        def started(*fargs: Any) -> Any:
            _add("thread_wait", handed, time.perf_counter())
            begun = time.perf_counter()
            try:
                return function(*fargs)
            finally:
                _add(f"thread:{name}", begun, time.perf_counter())

        return await original(started, *args, **kwargs)

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]


def kind(record: dict[str, Any]) -> str:
    """The bench's kind of a request, from its method and path."""
    method, path = record["method"], record["path"]
    if method == "POST":
        return "submit"
    if method == "PUT":
        return "amend"
    if "/bids/" in path:
        return "get_bid"
    if path.endswith("/bids"):
        return "list_bids"
    return "get_round" if "/rounds/" in path else "other"


def summarise(path: Path) -> None:
    """Per kind: count, answered p50/p95, and each phase's mean and p95 (ms, summed per request)."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        by_kind.setdefault(kind(record), []).append(record)
    for name, records in sorted(by_kind.items()):
        answered = sorted(r["answered"] for r in records)
        p95 = answered[int(0.95 * (len(answered) - 1))]
        print(
            f"{name}: {len(records)} answered p50 {statistics.median(answered) * 1000:.1f} "
            f"p95 {p95 * 1000:.1f} ms"
        )
        phases: dict[str, list[float]] = {}
        for record in records:
            totals: dict[str, float] = {}
            for span, start, end in record["spans"]:
                totals[span] = totals.get(span, 0.0) + end - start
            for span, total in totals.items():
                phases.setdefault(span, []).append(total)
        slow = [r for r in records if r["answered"] >= p95]
        for span, values in sorted(phases.items()):
            values.sort()
            slow_mean = statistics.mean(
                sum(e - s for n, s, e in r["spans"] if n == span) for r in slow
            )
            print(
                f"   {span:28s} n {len(values):5d} mean {statistics.mean(values) * 1000:7.1f} "
                f"p95 {values[int(0.95 * (len(values) - 1))] * 1000:7.1f}  "
                f"in the slowest 5%: {slow_mean * 1000:7.1f} ms"
            )


def main() -> None:
    """Serve with the tracing on (or, with --summarise, read a trace)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="trace file (JSON lines)")
    parser.add_argument("--summarise", action="store_true")
    args = parser.parse_args()
    if args.summarise:
        summarise(args.out)
        return
    instrument()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        Traced(served_app(), args.out),
        host=args.host,
        port=args.port,
        server_header=False,
        timeout_keep_alive=max(1, round(get_settings().keep_alive_s)),
    )


if __name__ == "__main__":
    main()
