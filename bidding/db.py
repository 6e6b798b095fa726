"""Engines and sessions for SQLite and PostgreSQL, with the locking each needs.

Races (a bid against the close, two writers of the audit chain) are settled in the
database: on PostgreSQL by row and advisory locks, on SQLite by taking the write lock at
the start of every use case's transaction (BEGIN IMMEDIATE), which serialises writers.
Reads on SQLite begin deferred, so they never hold the write lock.
"""

import fcntl
import functools
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session, create_engine

from bidding.settings import get_settings

_WRITING: ContextVar[bool] = ContextVar("supplybid_writing", default=False)
_CARRIED: ContextVar[bool] = ContextVar("supplybid_carried", default=False)


@contextmanager
def carried_by_next_commit() -> Iterator[None]:
    """Commits in this block return before their write reaches the disk: the next commit
    that does wait for the disk carries it there, since both databases write their log in
    order (SQLite's WAL with synchronous NORMAL, PostgreSQL's with synchronous_commit off).

    For a write that only matters together with a later durable one: an idempotency
    claim, which guards the bid written next. A power cut may lose the claim, but then
    the bid too, and a retry runs as the first request. Every other commit waits.
    """
    token = _CARRIED.set(True)
    try:
        yield
    finally:
        _CARRIED.reset(token)


def use_case[**P, R](function: Callable[P, R]) -> Callable[P, R]:
    """Mark a domain function as one use case: one write transaction, rolled back on refusal.

    It starts its own transaction (ending a read-only one the caller left open, such as
    the key lookup), so on SQLite that transaction takes the write lock first
    (BEGIN IMMEDIATE) and the round it reads cannot change under it. A refusal rolls back
    at once, so no lock outlives the call.
    """

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        session = kwargs.get("session")
        if not isinstance(session, Session):
            raise TypeError(f"{function.__name__} takes its session as the keyword `session`")
        if session.new or session.dirty or session.deleted:
            raise RuntimeError(f"{function.__name__} must start its own transaction")
        if session.in_transaction():
            session.rollback()
        outermost = not _WRITING.get()
        token = _WRITING.set(True)
        try:
            with _writer_turn(session):
                try:
                    return function(*args, **kwargs)
                except BaseException:
                    session.rollback()
                    raise
        finally:
            _WRITING.reset(token)
            if outermost:
                on_disk(session)  # after the turn: the next writer need not wait for it

    return run


class WriterTurn:
    """The writers of one SQLite database take turns: the threads of this process in the
    order they came (a lock handed over first come, first served: a plain lock lets a
    thread that lets go take it again before a waiter wakes), and the processes (several
    server workers, the CLI) on a lock file beside the database (`<db>-writer.lock`,
    flock), taken by the outermost use case of a thread."""

    def __init__(self, lock_path: Path | None) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0  # re-entrant: a use case may call another
        self._waiting: deque[tuple[int, threading.Lock]] = deque()
        self._file = FileLock(lock_path) if lock_path is not None else None

    def _acquire(self) -> bool:
        """Take the turn, waiting for the threads before; True if this is the outermost."""
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return False
            if self._owner is None:
                self._owner, self._depth = me, 1
                return True
            gate = threading.Lock()
            gate.acquire()
            self._waiting.append((me, gate))
        gate.acquire()  # released by the thread before, which made this one the owner
        return True

    def _release(self) -> None:
        with self._mutex:
            self._depth -= 1
            if self._depth:
                return
            if self._waiting:
                self._owner, gate = self._waiting.popleft()
                self._depth = 1
                gate.release()
            else:
                self._owner = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        outermost = self._acquire()
        try:
            if outermost and self._file is not None:
                self._file.acquire()
            try:
                yield
            finally:
                if outermost and self._file is not None:
                    self._file.release()
        finally:
            self._release()


class FileLock:
    """An exclusive flock on a file, opened once and closed with this object (or its engine).

    flock belongs to the open file, so two of these on one path exclude each other even
    in one process; a process that dies lets go of it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        weakref.finalize(self, os.close, self._fd)

    def acquire(self, *, blocking: bool = True) -> bool:
        """Take the lock (waiting for it unless `blocking` is False); False if not taken."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        """Let go of the lock."""
        fcntl.flock(self._fd, fcntl.LOCK_UN)


def sqlite_lock_path(engine: Engine, suffix: str) -> Path | None:
    """`<database file>-<suffix>.lock` for a SQLite file database, else None."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}-{suffix}.lock")


_SQLITE_WRITERS: "weakref.WeakKeyDictionary[Engine, WriterTurn]" = weakref.WeakKeyDictionary()
"""One turn per SQLite engine."""


class WalSync:
    """Group commit for a SQLite file in WAL mode: a use case commits with synchronous
    NORMAL (its frames written to the WAL, no fsync, inside the writer's turn) and then,
    after its turn, waits for an fsync of the WAL that covers its commit. One fsync
    covers every commit written before it began, so writers queued behind one another
    share it instead of each holding the turn for its own (about 4 ms here).

    A use case still returns, and so its request answers, only once its commits are on
    disk, as with FULL. What differs: another connection may read a commit in the few
    milliseconds before its fsync (with FULL it becomes visible after it); a power cut in
    that window loses it, and so the reader saw a write that is gone. A process crash loses
    nothing (the WAL is in the kernel's cache). Checkpoints sync the WAL before they copy
    it (NORMAL does that), so a WAL restarted or deleted since holds nothing left to sync.
    """

    def __init__(self, wal: Path) -> None:
        self.wal = wal.resolve()  # a later chdir must not point the fsync elsewhere
        self.database = self.wal.with_name(self.wal.name.removesuffix("-wal"))
        self._failed: OSError | None = None
        self._mutex = threading.Lock()
        self._syncing = threading.Lock()
        self._written = 0
        self._synced = 0
        self.fsyncs = 0
        """fsyncs made (tests read it)."""

    def wait(self) -> None:
        """Return once every commit this thread made before the call is on disk."""
        with self._mutex:
            self._written += 1
            ticket = self._written
        if self._synced >= ticket:
            return
        with self._syncing:
            if self._synced >= ticket:
                return  # the fsync another thread made while this one waited covered it
            with self._mutex:
                covered = self._written
            if self._failed is not None:
                raise RuntimeError("an earlier fsync failed: writes are refused") from self._failed
            try:
                fd = os.open(self.wal, os.O_RDONLY)
            except FileNotFoundError:
                # checkpointed into the database file and removed: sync that file instead
                fd = os.open(self.database, os.O_RDONLY)
            try:
                os.fsync(fd)
            except OSError as exc:
                # the kernel may have dropped the pages it could not write: a later fsync
                # that succeeds proves nothing, so this process answers no write again
                self._failed = exc
                raise
            finally:
                os.close(fd)
            self.fsyncs += 1
            self._synced = covered


_WAL_SYNCS: "weakref.WeakKeyDictionary[Engine, WalSync]" = weakref.WeakKeyDictionary()
"""The group commit of each SQLite file engine."""
_UNSYNCED: ContextVar[bool] = ContextVar("supplybid_unsynced", default=False)
"""Whether this thread's use case began a transaction that commits without an fsync."""


def on_disk(session: Session) -> None:
    """Wait until this thread's commits are on disk (SQLite's group commit; else at once).

    A use case does it before it returns; the audit anchor before it writes a head.
    """
    if not _UNSYNCED.get():
        return
    _UNSYNCED.set(False)
    sync = _WAL_SYNCS.get(session.get_bind())  # type: ignore[arg-type]
    if sync is not None:
        sync.wait()


@contextmanager
def _writer_turn(session: Session) -> Iterator[None]:
    # SQLite has one writer at a time, and its busy handler only polls (sleeping up to
    # 100 ms between tries), so under many writers one can lose for seconds: the close
    # racing 200 bids took 5 s. Queued on a lock instead (and across processes on the
    # lock file), each waits for the writers before it only. Writes outside use cases
    # (idempotency records, the embedded queue's claims) still meet the busy timeout.
    turn = _SQLITE_WRITERS.get(session.get_bind())  # type: ignore[arg-type]
    if turn is None:
        yield
        return
    with turn():
        yield


def make_engine(url: str | URL, *, pool_size: int = 10, pool_timeout_s: float = 30.0) -> Engine:
    """An engine for `url`; on SQLite with WAL, a busy timeout and BEGIN IMMEDIATE writes.

    The web app sizes the pool to the requests it runs at once (Settings.db_pool_size): a
    request takes a connection only while it works, so a checkout never waits for one held
    by a request that waits for something else. A few overflow connections are slack.
    """
    parsed = make_url(url)
    overflow = max(2, pool_size // 4)
    pooling: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": overflow,
        "pool_timeout": pool_timeout_s,
    }
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: a connection the server dropped (a restart, pg_terminate_backend) is
        # replaced at checkout instead of failing the request that draws it.
        engine = create_engine(parsed, pool_pre_ping=True, **pooling)
        _carry_commits_on_postgres(engine)
        return engine
    timeout = get_settings().sqlite_busy_timeout_s
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": timeout},
        **pooling,
    )
    _use_begin_immediate(engine, timeout)
    _SQLITE_WRITERS[engine] = WriterTurn(sqlite_lock_path(engine, "writer"))
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        _WAL_SYNCS[engine] = WalSync(Path(f"{database}-wal"))
    return engine


def _use_begin_immediate(engine: Engine, timeout: float) -> None:
    # SQLAlchemy's documented recipe: pysqlite's own transaction handling starts
    # transactions late and deferred; turn it off and emit BEGIN ourselves: IMMEDIATE in a
    # use case, so it holds the write lock from its first read (the round it checks).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")  # every commit on disk (see _on_begin)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # The safety level cannot change inside a transaction: set before it begins,
        # when it differs from what this connection's last transaction used. NORMAL for
        # a carried commit, and for a use case's where the group commit (WalSync) syncs
        # it after the writer's turn; FULL for every other.
        synchronous = "FULL"
        if _CARRIED.get():
            synchronous = "NORMAL"
        elif _WRITING.get() and engine in _WAL_SYNCS:
            synchronous = "NORMAL"
            _UNSYNCED.set(True)
        if connection.info.get("synchronous", "FULL") != synchronous:
            connection.exec_driver_sql(f"PRAGMA synchronous={synchronous}")
            connection.info["synchronous"] = synchronous
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _WRITING.get() else "BEGIN")


def _carry_commits_on_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if _CARRIED.get():  # LOCAL: this transaction only
            connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


@lru_cache
def get_engine() -> Engine:
    """The process's engine for the configured database."""
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session for one unit of work outside a request (CLI, scripts); closed at the end."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
