"""The app as `supplybid serve` runs it, under pyinstrument, for bench.load's --profile.

pyinstrument samples one thread. The event loop's thread (admission, middlewares,
encoding) gets one profiler for the whole run; each call the app hands to its
threadpool (the sync routes, the key lookups) gets its own, started and stopped in that
thread. At the end (SIGINT) the sessions are combined into a text and an HTML report.
"""

import argparse
import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
from pyinstrument import Profiler
from pyinstrument.renderers import ConsoleRenderer
from pyinstrument.session import Session

from api.app import served_app
from bidding.settings import get_settings

INTERVAL_S = 0.001


class ThreadCalls:
    """The threadpool's calls, each profiled in its own thread, merged as they end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.session: Session | None = None

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def profiled(*args: Any) -> Any:
            profiler = Profiler(interval=INTERVAL_S, async_mode="disabled")
            profiler.start()
            try:
                return function(*args)
            finally:
                profiler.stop()
                if profiler.last_session is not None:
                    with self._lock:
                        self.session = (
                            profiler.last_session
                            if self.session is None
                            else Session.combine(self.session, profiler.last_session)
                        )

        return profiled


def main() -> None:
    """Serve with the profilers on; write the reports when stopped."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="output stem")
    args = parser.parse_args()
    calls = ThreadCalls()
    original = anyio.to_thread.run_sync

    async def run_sync(function: Callable[..., Any], *fargs: Any, **kwargs: Any) -> Any:
        return await original(calls.wrap(function), *fargs, **kwargs)

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]
    loop_profiler = Profiler(interval=INTERVAL_S, async_mode="disabled")
    loop_profiler.start()
    try:
        uvicorn.run(
            served_app(),
            host=args.host,
            port=args.port,
            server_header=False,
            timeout_keep_alive=max(1, round(get_settings().keep_alive_s)),
        )
    finally:
        loop_profiler.stop()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        parts = {"loop": loop_profiler.last_session, "threads": calls.session}
        for name, session in parts.items():
            if session is None:
                continue
            session.save(f"{args.out}-{name}.pyisession")
            text = ConsoleRenderer(unicode=True, color=False, show_all=False).render(session)
            Path(f"{args.out}-{name}.txt").write_text(text)
            flat = ConsoleRenderer(color=False, flat=True, flat_time="self").render(session)
            Path(f"{args.out}-{name}-flat.txt").write_text(flat)
            total = ConsoleRenderer(color=False, flat=True, flat_time="total").render(session)
            Path(f"{args.out}-{name}-flat-total.txt").write_text(total)


if __name__ == "__main__":
    main()
