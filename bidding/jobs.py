"""Solve jobs: one interface (`JobQueue`), two back ends, chosen by SUPPLYBID_JOB_QUEUE.

- embedded (default on SQLite): the allocation row is the job. A thread started with the
  app claims queued allocations one at a time; at its start it requeues any left running
  by a process that died. One process per database runs it: the one holding the lock
  file `<db>-jobs.lock` (with `supplybid serve --workers N`, the others wait for the lock
  and take over if its holder dies). A second thread, the queue's timer, closes rounds
  whose deadline has come every `deadline_check_s`, in the same process.
- procrastinate (default on PostgreSQL): a procrastinate job, inserted by procrastinate's
  own SQL function on the request's connection, so it commits or rolls back with the
  allocation row. `supplybid worker` processes (any number, on any machine) run it. A
  periodic task retries jobs whose worker's heartbeat is older than `stalled_after_s`;
  another closes rounds whose deadline has come (`deadline_check_cron`).

Either way the job is `bidding.solves.run_solve`: idempotent, so a retry is safe; and
the deadline close is `bidding.deadlines.close_due_rounds`, safe to run from many at once.
A published allocation's pending thresholds are a job on the same queue
(`bidding.thresholds.run_thresholds`, idempotent too), after any queued solve.
"""

import json
import logging
import threading
import time
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bidding.db import FileLock, sqlite_lock_path
from bidding.deadlines import close_due_rounds
from bidding.settings import Settings
from bidding.solves import JobQueue, next_queued, requeue_abandoned, run_solve
from bidding.thresholds import (
    next_queued_thresholds,
    requeue_abandoned_thresholds,
    run_thresholds,
)

log = logging.getLogger(__name__)

QUEUE = "supplybid-solves"
SOLVE_TASK = "supplybid.solve_allocation"
THRESHOLDS_TASK = "supplybid.pending_thresholds"
RETRY_TASK = "supplybid.retry_stalled_jobs"
DEADLINE_TASK = "supplybid.close_due_rounds"
_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, :lock, NULL, "
    "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1])"
)


class Foreground:
    """The HTTP requests this process is serving, counted by `api.app`'s middleware.

    The embedded worker shares the process (and its interpreter lock) with them: it starts
    a threshold job only once requests have left it `calm_s` of calm, so the manager's
    awards export right after publication does not run beside a large round's job."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serving = 0
        self._since = time.monotonic()

    def begin(self) -> None:
        """A request started."""
        with self._lock:
            self._serving += 1

    def end(self) -> None:
        """A request finished (its whole body sent)."""
        with self._lock:
            self._serving -= 1
            self._since = time.monotonic()

    def calm_for(self) -> float:
        """Seconds since the last request finished; 0 while one is being served."""
        with self._lock:
            return 0.0 if self._serving else time.monotonic() - self._since


class EmbeddedQueue:
    """Solves in a thread of this process, claiming queued allocations from the database."""

    name = "embedded"

    def __init__(
        self,
        engine: Engine,
        *,
        poll_s: float = 1.0,
        deadline_check_s: float = 1.0,
        foreground: Foreground | None = None,
        calm_s: float = 1.0,
        defer_max_s: float = 30.0,
    ) -> None:
        self._engine = engine
        self._foreground = foreground
        self._calm_s = calm_s
        self._defer_max_s = defer_max_s
        self._deferred_since: float | None = None
        self._poll_s = poll_s
        self._deadline_check_s = deadline_check_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._timer: threading.Thread | None = None
        self._lock_path = sqlite_lock_path(engine, "jobs")
        self._lock: FileLock | None = None
        self.running = threading.Event()
        """Set while this process is the database's job worker (holds the jobs lock)."""

    def enqueue(self, session: Session, *, allocation_id: str, round_id: str) -> None:
        """Nothing to insert (the queued row is the job): wake the worker once it commits."""
        event.listen(session, "after_commit", lambda _s: self._wake.set(), once=True)

    def enqueue_thresholds(self, session: Session, *, allocation_id: str) -> None:
        """Nothing to insert (the queued threshold_job row is the job): wake the worker."""
        event.listen(session, "after_commit", lambda _s: self._wake.set(), once=True)

    def start(self) -> None:
        """Start the worker thread (it first requeues what a dead process left running) and
        the timer that closes rounds at their deadline (a long solve does not delay it)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="supplybid-solver", daemon=True)
        self._thread.start()
        self._timer = threading.Thread(
            target=self._close_at_deadlines, name="supplybid-deadlines", daemon=True
        )
        self._timer.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the threads to stop after their current work (a restart requeues a solve)."""
        self._stop.set()
        self._wake.set()
        for thread in (self._thread, self._timer):
            if thread is not None:
                thread.join(timeout)
        if self._lock is not None and self.running.is_set():
            self._lock.release()
        self.running.clear()

    def _take_turn(self) -> bool:
        # One job worker per database: the holder of the jobs lock file (a dead holder's
        # lock is freed by the kernel, and the next to take it requeues its solve).
        if self.running.is_set():
            return True
        if self._lock_path is None:
            self.running.set()
            return True
        if self._lock is None:
            self._lock = FileLock(self._lock_path)
        if self._lock.acquire(blocking=False):
            self.running.set()
            log.info("this process runs the embedded job worker (%s)", self._lock_path)
        return self.running.is_set()

    def _solve_waiting(self) -> bool:
        """Whether a running threshold job should give way: a solve is queued, or the
        worker is stopping."""
        if self._stop.is_set():
            return True
        with Session(self._engine) as session:
            return next_queued(session=session) is not None

    def _thresholds_may_start(self) -> bool:
        """Whether a threshold job may start now: requests have been calm for `calm_s`,
        or it has waited `defer_max_s` (a server never calm still gets its thresholds)."""
        if self._foreground is None or self._foreground.calm_for() >= self._calm_s:
            self._deferred_since = None
            return True
        now = time.monotonic()
        if self._deferred_since is None:
            self._deferred_since = now
        if now - self._deferred_since >= self._defer_max_s:
            self._deferred_since = None
            return True
        return False

    def _close_at_deadlines(self) -> None:
        while not self._stop.wait(self._deadline_check_s):
            if not self.running.is_set():
                continue  # another process is the job worker
            try:
                close_due_rounds(self._engine)
            except OperationalError as error:  # the database went away: the next tick retries
                log.warning("deadline timer: database unavailable: %s", type(error).__name__)
            except Exception:  # keep the timer alive; the next tick tries again
                log.exception("embedded deadline timer")

    def _run(self) -> None:
        recovered = False
        while not self._stop.is_set():
            try:
                if not self._take_turn():
                    self._stop.wait(self._poll_s)
                    continue
                with Session(self._engine, expire_on_commit=False) as session:
                    if not recovered:
                        requeued = requeue_abandoned(session=session)
                        if requeued:
                            log.warning("requeued allocations left running: %s", requeued)
                        requeued = requeue_abandoned_thresholds(session=session)
                        if requeued:
                            log.warning("requeued threshold jobs left running: %s", requeued)
                        recovered = True
                    allocation_id = next_queued(session=session)
                    pending = None if allocation_id else next_queued_thresholds(session=session)
                if allocation_id is not None:
                    run_solve(engine=self._engine, allocation_id=allocation_id, only_queued=True)
                    continue
                if pending is not None and not self._thresholds_may_start():
                    self._stop.wait(min(self._poll_s, self._calm_s / 4))
                    continue
                if pending is not None:
                    run_thresholds(
                        engine=self._engine,
                        allocation_id=pending,
                        only_queued=True,
                        give_way=self._solve_waiting,
                    )
                    continue
            except Exception:  # keep the worker alive; the allocation stays queued or failed
                log.exception("embedded solve worker")
            self._wake.wait(self._poll_s)
            self._wake.clear()


class ProcrastinateQueue:
    """Solves by `supplybid worker` processes: procrastinate jobs on PostgreSQL itself."""

    name = "procrastinate"

    def enqueue(self, session: Session, *, allocation_id: str, round_id: str) -> None:
        """Defer the job through the session's connection: same transaction as the row."""
        session.execute(
            _DEFER,
            {
                "queue": QUEUE,
                "task": SOLVE_TASK,
                "lock": f"round:{round_id}",
                "args": json.dumps({"allocation_id": allocation_id}),
            },
        )

    def enqueue_thresholds(self, session: Session, *, allocation_id: str) -> None:
        """Defer the threshold job through the session's connection, as a solve's."""
        session.execute(
            _DEFER,
            {
                "queue": QUEUE,
                "task": THRESHOLDS_TASK,
                "lock": f"thresholds:{allocation_id}",
                "args": json.dumps({"allocation_id": allocation_id}),
            },
        )

    def start(self) -> None:
        """Nothing runs here: workers are separate processes."""

    def stop(self, timeout: float = 5.0) -> None:
        """Nothing runs here."""


_SOLVE_WAITING = text(
    "SELECT 1 FROM procrastinate_jobs WHERE task_name = :task AND status = 'todo' LIMIT 1"
)


def solve_waiting(engine: Engine) -> bool:
    """Whether a solve job waits in procrastinate's queue: a threshold job gives way to it."""
    with engine.connect() as connection:
        return connection.execute(_SOLVE_WAITING, {"task": SOLVE_TASK}).first() is not None


def backend_name(settings: Settings) -> str:
    """The back end the settings choose: auto is embedded on SQLite, procrastinate else."""
    if settings.job_queue != "auto":
        return settings.job_queue
    sqlite = make_url(settings.database_url).get_backend_name() == "sqlite"
    return "embedded" if sqlite else "procrastinate"


def make_queue(
    settings: Settings, engine: Engine, foreground: Foreground | None = None
) -> EmbeddedQueue | ProcrastinateQueue:
    """The job queue the settings choose, on this engine (`foreground`: the requests an
    embedded worker gives way to)."""
    if backend_name(settings) == "embedded":
        return EmbeddedQueue(
            engine, deadline_check_s=settings.deadline_check_s, foreground=foreground
        )
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        raise ValueError("SUPPLYBID_JOB_QUEUE=procrastinate needs PostgreSQL")
    return ProcrastinateQueue()


def _conninfo(database_url: str) -> str:
    # psycopg takes a libpq URL: the SQLAlchemy one without its driver name.
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def apply_procrastinate_schema(engine: Engine) -> bool:
    """Create procrastinate's tables and functions unless there; True if it created them."""
    from procrastinate.schema import SchemaManager

    with engine.begin() as connection:
        present = connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
        if present is not None:
            return False
        connection.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))
    return True


def procrastinate_app(settings: Settings, engine: Engine) -> Any:
    """The procrastinate app of `supplybid worker`: the solve task, stalled-job recovery and
    the periodic close of rounds whose deadline has come."""
    import procrastinate

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=_conninfo(settings.database_url))
    )

    # Retried on an exception (the database gone for a moment): the job is idempotent, and
    # a crash of the solve itself is stored as `failed` by run_solve, not raised.
    @app.task(
        name=SOLVE_TASK,
        queue=QUEUE,
        retry=procrastinate.RetryStrategy(max_attempts=5, linear_wait=5),
    )
    def solve_allocation(allocation_id: str) -> None:
        run_solve(engine=engine, allocation_id=allocation_id)

    # Likewise: stored thresholds are kept, and a retry goes on from them.
    @app.task(
        name=THRESHOLDS_TASK,
        queue=QUEUE,
        retry=procrastinate.RetryStrategy(max_attempts=5, linear_wait=5),
    )
    def pending_thresholds(allocation_id: str) -> None:
        run_thresholds(
            engine=engine,
            allocation_id=allocation_id,
            give_way=lambda: solve_waiting(engine),
            jobs=ProcrastinateQueue(),
        )

    @app.periodic(cron=settings.stalled_check_cron, periodic_id="retry-stalled")
    @app.task(name=RETRY_TASK, queue=QUEUE, queueing_lock=RETRY_TASK, pass_context=True)
    async def retry_stalled_jobs(context: Any, timestamp: int) -> None:
        manager = context.app.job_manager
        stalled = [
            job
            for task in (SOLVE_TASK, THRESHOLDS_TASK)
            for job in await manager.get_stalled_jobs(
                task_name=task, seconds_since_heartbeat=settings.stalled_after_s
            )
        ]
        for job in stalled:
            log.warning("retrying stalled job %s (%s)", job.id, job.task_kwargs)
            await manager.retry_job(job)

    # Periodic: every worker defers it, procrastinate runs one per tick; the close itself
    # locks the round, so two runs at once cannot both close it.
    @app.periodic(cron=settings.deadline_check_cron, periodic_id="close-due-rounds")
    @app.task(name=DEADLINE_TASK, queue=QUEUE, queueing_lock=DEADLINE_TASK)
    def close_rounds_at_deadline(timestamp: int) -> None:
        close_due_rounds(engine)

    return app


def run_worker(settings: Settings, engine: Engine, *, concurrency: int) -> None:
    """Run solve jobs until SIGINT or SIGTERM (a SIGKILL leaves its job to the others)."""
    app = procrastinate_app(settings, engine)
    app.run_worker(
        queues=[QUEUE],
        concurrency=concurrency,
        update_heartbeat_interval=settings.worker_heartbeat_s,
        stalled_worker_timeout=settings.stalled_after_s,
    )


__all__ = [
    "EmbeddedQueue",
    "Foreground",
    "JobQueue",
    "ProcrastinateQueue",
    "make_queue",
    "run_worker",
]
