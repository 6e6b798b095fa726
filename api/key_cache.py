"""API keys as the admission step finds them: asked of the database in batches, believed
for a short while.

A burst of 100 requests from one key used to make 100 lookups, each a trip to a worker
thread and the database, on the same core the other keys' requests need. Here the
requests of one key that arrive while its lookup is asked wait for that one answer
(coalesced), and its answer (found or not) is kept for `ttl_s`.

A crowd of different keys is asked in batches: each lookup turn (at most
`key_lookup_concurrency` at once) asks for every key that arrived before it in one
query. In a race of 200 factories, each lookup used to be a turn of its own, so a
manager's first request could wait behind every factory's; now it waits for at most the
turns already running and one more.

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
    """Principals by key hash: asked in batches, one question per key at a time, answers
    kept `ttl_s`."""

    SIZE = 10_000
    """Keys remembered at most (the oldest answers go first)."""
    BATCH = 500
    """Keys asked in one query at most."""

    def __init__(self, lookups: asyncio.Semaphore, timeout_s: float, ttl_s: float) -> None:
        self._lookups = lookups
        self._timeout_s = timeout_s
        self.ttl_s = ttl_s
        self._known: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}
        """Every key asked about and not yet answered, with the future of its answer."""
        self._unasked: dict[str, None] = {}
        """The pending keys no lookup turn has taken yet, in arrival order."""
        self._turns: set[asyncio.Task[None]] = set()
        self._revocations = keys.revocations()
        self.lookups_made = 0
        """Keys asked of the database (tests and the bench read it)."""
        self.queries_made = 0
        """Queries those keys took."""

    def _fresh(self, digest: str) -> tuple[bool, Principal | None]:
        if keys.revocations() != self._revocations:
            self._known.clear()  # a key was revoked here: believe nothing looked up before
            self._revocations = keys.revocations()
        cached = self._known.get(digest)
        if cached is None or time.monotonic() - cached[0] >= self.ttl_s:
            return False, None
        return True, cached[1]

    async def principal(self, engine: Engine, secret: str) -> Principal | None:
        """The key's principal (None: unknown or revoked), from the cache or a lookup.

        TimeoutError if no answer came within the queue's timeout (the caller answers 503).
        """
        digest = keys.hash_key(secret)
        fresh, found = self._fresh(digest)
        if fresh:
            return found
        answer = self._pending.get(digest)
        if answer is None:
            answer = asyncio.get_running_loop().create_future()
            self._pending[digest] = answer
            self._unasked[digest] = None
            turn = asyncio.create_task(self._lookup_turn(engine))
            self._turns.add(turn)  # held until done: the loop keeps only weak references
            turn.add_done_callback(self._turns.discard)
        async with asyncio.timeout(self._timeout_s):
            return await asyncio.shield(answer)  # one waiter's cancel leaves the others

    async def _lookup_turn(self, engine: Engine) -> None:
        """Wait for a lookup place, then ask for every key not yet taken, in one query."""
        async with self._lookups:
            if not self._unasked:
                return  # an earlier turn took this key along with its own
            batch = list(self._unasked)[: self.BATCH]
            for digest in batch:
                del self._unasked[digest]
            revocations = keys.revocations()
            started = time.monotonic()
            self.lookups_made += len(batch)
            self.queries_made += 1
            try:
                found = await run_in_threadpool(keys.active_principals, engine, batch)
            except BaseException as exc:
                for digest in batch:
                    answer = self._pending.pop(digest)
                    answer.set_exception(exc)
                    answer.exception()  # retrieved: no "never retrieved" warning unwaited
                if not isinstance(exc, Exception):
                    raise  # cancelled (the server stops): the waiters were told
                return
        # Kept only if no revocation committed here while it ran (it may predate it).
        keep = self.ttl_s > 0 and revocations == keys.revocations()
        for digest in batch:
            principal = found.get(digest)
            self._pending.pop(digest).set_result(principal)
            if keep:
                self._known[digest] = (started, principal)
                self._known.move_to_end(digest)
        while len(self._known) > self.SIZE:
            self._known.popitem(last=False)
