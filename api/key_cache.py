"""API keys as the admission step finds them: looked up once per key at a time, believed
for a short while.

A burst of 100 requests from one key used to make 100 lookups, each a trip to a worker
thread and the database, on the same core the other keys' requests need. Here the
requests of one key that arrive while its lookup runs wait for that one lookup
(coalesced), and its answer (found or not) is kept for `ttl_s`.

Revocation: a revocation committed in this process empties the cache at once (the
principal of a lookup that raced it is not kept). One committed by another process (a
second server worker, the CLI) is seen within `ttl_s`. A ttl of 0 asks every time.
"""

import asyncio
import time
from collections import OrderedDict

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from bidding import keys
from bidding.principal import Principal


class KeyCache:
    """Principals by key hash: one lookup at a time per key, answers kept `ttl_s`."""

    SIZE = 10_000
    """Keys remembered at most (the oldest answers go first)."""

    def __init__(self, lookups: asyncio.Semaphore, timeout_s: float, ttl_s: float) -> None:
        self._lookups = lookups
        self._timeout_s = timeout_s
        self.ttl_s = ttl_s
        self._known: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}
        self._revocations = keys.revocations()
        self.lookups_made = 0
        """Lookups that reached the database (tests and the bench read it)."""

    def _fresh(self, digest: str) -> tuple[bool, Principal | None]:
        if keys.revocations() != self._revocations:
            self._known.clear()  # a key was revoked here: believe nothing looked up before
            self._revocations = keys.revocations()
        cached = self._known.get(digest)
        if cached is None or time.monotonic() - cached[0] >= self.ttl_s:
            return False, None
        return True, cached[1]

    async def principal(self, engine: Engine, secret: str) -> Principal | None:
        """The key's principal (None: unknown or revoked), from the cache or one lookup."""
        digest = keys.hash_key(secret)
        fresh, found = self._fresh(digest)
        if fresh:
            return found
        pending = self._pending.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)  # one waiter's cancel leaves the others
        future: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._pending[digest] = future
        try:
            found = await self._lookup(engine, secret)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(found)
        finally:
            del self._pending[digest]
        return found

    async def _lookup(self, engine: Engine, secret: str) -> Principal | None:
        revocations = keys.revocations()
        started = time.monotonic()
        async with asyncio.timeout(self._timeout_s), self._lookups:
            self.lookups_made += 1
            found = await run_in_threadpool(keys.active_principal, engine, secret)
        if self.ttl_s > 0 and revocations == keys.revocations():
            # Kept only if no revocation committed here while it ran (it may predate it).
            self._known[keys.hash_key(secret)] = (started, found)
            self._known.move_to_end(keys.hash_key(secret))
            while len(self._known) > self.SIZE:
                self._known.popitem(last=False)
        return found
