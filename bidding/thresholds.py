"""Pending thresholds: the `cost_to_win_more` a solve above the size explained with it left
"pending" (SPEC 3), worked out by a job after publication and stored apart from the awards.

Published award rows never change (their digest is in the publish event): the job writes
`award_threshold` rows, one per pending award, each once, and reads put them in place of
"pending" (`bidding.award_figures`). The job is queued in the publication's transaction on
the queue the solves use (`bidding.jobs`); it is idempotent and goes on where a crashed run
stopped: it works out only the thresholds not stored yet, stores them in batches, each
batch with its audit event (`allocation.thresholds`), and is done when all are stored.
"""

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from bidding.audit import canonical_json
from bidding.award_text import PENDING, Threshold
from bidding.changes import record_change
from bidding.db import use_case
from bidding.documents import problem_of, result_of
from bidding.models import (
    Allocation,
    Award,
    AwardThreshold,
    ThresholdJob,
    ThresholdJobStatus,
    utcnow,
)
from bidding.principal import SYSTEM
from bidding.values import from_cents, to_cents
from solver.pending import pending_thresholds_of
from solver.problem import Problem
from solver.result import Result
from solver.solve import SolveOptions
from solver.version import ALLOCATOR_VERSION, recorded_version

log = logging.getLogger(__name__)

BATCH_BIDS = 200
"""Thresholds stored per transaction at most: a crash loses at most one batch's work."""
BATCH_S = 30.0
"""Seconds of work after which what was found is stored, whatever the batch's size."""
ACTIVE = (ThresholdJobStatus.queued, ThresholdJobStatus.running)


class ThresholdQueue(Protocol):
    """Where a threshold job goes: enqueued in the caller's transaction, run by a worker."""

    def enqueue_thresholds(self, session: Session, *, allocation_id: str) -> None:
        """Add the job to the caller's open transaction (it exists only if that commits)."""


def pending_bids(result: Result) -> list[str]:
    """The bids whose `cost_to_win_more` the result states "pending", in bid order."""
    return sorted(a.bid for a in result.allocations if a.cost_to_win_more == PENDING)


def queue_thresholds(
    session: Session, *, allocation_id: str, result: Result, jobs: ThresholdQueue | None
) -> ThresholdJob | None:
    """At publication: the job for the result's pending thresholds, if it has any.

    The row is the job of the embedded queue; `jobs` (the deployment's queue) also defers
    it where workers are separate processes. None given (a caller with no queue): the row
    waits for the embedded worker or `run_thresholds`.
    """
    pending = pending_bids(result)
    if not pending:
        return None
    job = ThresholdJob(allocation_id=allocation_id, pending=len(pending))
    session.add(job)
    session.flush()
    if jobs is not None:
        jobs.enqueue_thresholds(session, allocation_id=allocation_id)
    return job


@dataclass(frozen=True)
class Work:
    """What a run of the job works out: the stored problem, the options it was solved
    with, the published units and the pending bids whose threshold is not stored yet."""

    problem: Problem
    options: SolveOptions
    units: Mapping[str, int]
    todo: list[str]
    allocator_version: str
    """The version the result was solved under: the job works out the same version's
    figures or none (run_thresholds)."""


@use_case
def start_thresholds(*, session: Session, allocation_id: str, only_queued: bool) -> Work | None:
    """Mark the job running and hand back its work; None if there is nothing to do.

    A retried job (its worker died) finds it running and goes on; `only_queued` claims
    queued ones only (the embedded worker, which requeues its own leftovers).
    """
    job = _lock_job(session, allocation_id)
    wanted = (ThresholdJobStatus.queued,) if only_queued else ACTIVE
    if job is None or job.status not in wanted:
        session.rollback()
        return None
    problem_text, result_text = session.exec(
        select(Allocation.problem, Allocation.result).where(Allocation.id == allocation_id)
    ).one()
    assert result_text is not None  # a published allocation has its result
    result = result_of(result_text)
    units = dict(
        session.exec(
            select(Award.bid_id, Award.units).where(Award.allocation_id == allocation_id)
        ).all()
    )
    stored = set(
        session.exec(
            select(AwardThreshold.bid_id).where(AwardThreshold.allocation_id == allocation_id)
        ).all()
    )
    job.status = ThresholdJobStatus.running
    job.attempts += 1
    job.started_at = utcnow()
    session.add(job)
    session.commit()
    return Work(
        problem=problem_of(problem_text),
        options=SolveOptions.as_recorded(result.solver),
        units=units,
        todo=[b for b in pending_bids(result) if b not in stored],
        allocator_version=recorded_version(result.solver.options),
    )


@use_case
def store_thresholds(
    *, session: Session, allocation_id: str, found: Mapping[str, Decimal | None]
) -> ThresholdJob | None:
    """Store thresholds found (a bid stored already keeps its row) with their audit event;
    the job is done once every pending threshold is stored. None: no such job."""
    job = _lock_job(session, allocation_id)
    if job is None:
        session.rollback()
        return None
    already = stored_thresholds(session=session, allocation_id=allocation_id, bid_ids=found)
    cents = {
        bid: None if value is None else to_cents(value)
        for bid, value in found.items()
        if bid not in already
    }
    now = utcnow()
    rows = [
        {
            "allocation_id": allocation_id,
            "bid_id": bid,
            "cost_to_win_more_cents": value,
            "computed_at": now,
        }
        for bid, value in sorted(cents.items())
    ]
    if rows:  # the row lock makes this the only writer; the conflict clause, a last guard
        insert: Any = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        session.execute(insert(AwardThreshold).values(rows).on_conflict_do_nothing())
    stored = session.exec(
        select(func.count()).where(col(AwardThreshold.allocation_id) == allocation_id)
    ).one()
    done = stored >= job.pending
    if not rows and (not done or job.status == ThresholdJobStatus.done):
        session.rollback()
        return job
    before = _state(job)
    if done and job.status != ThresholdJobStatus.done:
        job.status = ThresholdJobStatus.done
        job.finished_at = utcnow()
        job.error = None
        session.add(job)
    record_change(
        session,
        actor=SYSTEM,
        action="allocation.thresholds",
        entity_id=allocation_id,
        before=before,
        after=_state(job)
        | {
            "stored": stored,
            "batch": len(rows),
            "batch_hash": thresholds_digest(cents.items()),
        },
    )
    session.commit()
    return job


@use_case
def fail_thresholds(*, session: Session, allocation_id: str, message: str) -> None:
    """Store that the job broke (what it stored so far stays; a requeue goes on from it)."""
    job = _lock_job(session, allocation_id)
    if job is None or job.status not in ACTIVE:
        session.rollback()
        return
    before = _state(job)
    job.status = ThresholdJobStatus.failed
    job.error = message[:2000]
    job.finished_at = utcnow()
    session.add(job)
    record_change(
        session,
        actor=SYSTEM,
        action="allocation.thresholds_fail",
        entity_id=allocation_id,
        before=before,
        after=_state(job) | {"error": job.error},
    )
    session.commit()


class _GiveWayError(Exception):
    """The worker has something more urgent (a solve): the job stops after a stored batch."""


def run_thresholds(
    *,
    engine: Engine,
    allocation_id: str,
    only_queued: bool = False,
    give_way: Callable[[], bool] | None = None,
    jobs: ThresholdQueue | None = None,
) -> None:
    """The job: claim it, work out the thresholds not stored yet outside any transaction,
    store them in batches. Killed anywhere, it leaves rows stored once and a job queued
    or running; the retried job goes on from what is stored.

    `give_way` is asked after each stored batch: True puts the job back in the queue
    (deferred again on `jobs`, where workers are separate processes): a worker runs one
    job at a time (by default), and a solve must not wait hours behind a large round's
    thresholds."""
    with Session(engine, expire_on_commit=False) as session:
        work = start_thresholds(
            session=session, allocation_id=allocation_id, only_queued=only_queued
        )
    if work is None:
        return
    if work.allocator_version != ALLOCATOR_VERSION:
        # another version's re-solves could state figures the published solve would not
        message = (
            f"solved under allocator version {work.allocator_version}, this worker runs "
            f"version {ALLOCATOR_VERSION}: its thresholds would not be the solve's"
        )
        with Session(engine, expire_on_commit=False) as session:
            fail_thresholds(session=session, allocation_id=allocation_id, message=message)
        return
    found: dict[str, Decimal | None] = {}
    since = time.monotonic()

    def keep(bid: str, value: Decimal | None) -> None:
        nonlocal since
        found[bid] = value
        if len(found) >= BATCH_BIDS or time.monotonic() - since >= BATCH_S:
            _store(engine, allocation_id, found)
            found.clear()
            since = time.monotonic()
            if give_way is not None and give_way():
                raise _GiveWayError

    try:
        pending_thresholds_of(work.problem, work.options, work.units, work.todo, keep)
    except _GiveWayError:
        with Session(engine, expire_on_commit=False) as session:
            requeue_thresholds(session=session, allocation_id=allocation_id, jobs=jobs)
        return
    except Exception as exc:  # the job's boundary: a crash of the solver is stored
        log.exception("thresholds of allocation %s failed", allocation_id)
        if found:
            try:  # keep what was found; a store that fails too must not skip the failure
                _store(engine, allocation_id, found)
            except Exception:
                log.exception("thresholds of allocation %s: storing a batch failed", allocation_id)
        with Session(engine, expire_on_commit=False) as session:
            fail_thresholds(session=session, allocation_id=allocation_id, message=repr(exc))
        return
    _store(engine, allocation_id, found)


def _store(engine: Engine, allocation_id: str, found: Mapping[str, Decimal | None]) -> None:
    with Session(engine, expire_on_commit=False) as session:
        store_thresholds(session=session, allocation_id=allocation_id, found=dict(found))


@use_case
def requeue_thresholds(
    *, session: Session, allocation_id: str, jobs: ThresholdQueue | None = None
) -> None:
    """Put a running threshold job back in the queue, deferred again on `jobs` in the same
    transaction (it gave way; what it stored stays)."""
    job = _lock_job(session, allocation_id)
    if job is None or job.status != ThresholdJobStatus.running:
        session.rollback()
        return
    job.status = ThresholdJobStatus.queued
    session.add(job)
    if jobs is not None:
        jobs.enqueue_thresholds(session, allocation_id=allocation_id)
    session.commit()


@use_case
def requeue_abandoned_thresholds(*, session: Session) -> list[str]:
    """Put threshold jobs left running by a process that died back in the queue (embedded)."""
    jobs = session.exec(
        select(ThresholdJob)
        .where(ThresholdJob.status == ThresholdJobStatus.running)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for job in jobs:
        job.status = ThresholdJobStatus.queued
        session.add(job)
    session.commit()
    return [job.allocation_id for job in jobs]


def next_queued_thresholds(*, session: Session) -> str | None:
    """The oldest queued threshold job's allocation id, if any."""
    found = session.exec(
        select(ThresholdJob.allocation_id)
        .where(ThresholdJob.status == ThresholdJobStatus.queued)
        .order_by(col(ThresholdJob.created_at), col(ThresholdJob.allocation_id))
        .limit(1)
    ).first()
    session.rollback()
    return found


# Reads


def threshold_job(*, session: Session, allocation_id: str) -> ThresholdJob | None:
    """The allocation's threshold job, if its publication queued one."""
    return session.get(ThresholdJob, allocation_id)


def stored_thresholds(
    *, session: Session, allocation_id: str, bid_ids: Iterable[str] | None = None
) -> dict[str, int | None]:
    """The thresholds the job stored (cents, or None), by bid; `bid_ids` narrows them."""
    query = select(AwardThreshold.bid_id, AwardThreshold.cost_to_win_more_cents).where(
        AwardThreshold.allocation_id == allocation_id
    )
    if bid_ids is None:
        return dict(session.exec(query).all())
    wanted = set(bid_ids)
    if not wanted:
        return {}
    if len(wanted) <= 1000:  # else read them all: a long IN list costs more than it saves
        query = query.where(col(AwardThreshold.bid_id).in_(sorted(wanted)))
    return {bid: cents for bid, cents in session.exec(query).all() if bid in wanted}


def thresholds_digest(rows: Iterable[tuple[str, int | None]]) -> str:
    """sha256 of (bid, cents) pairs in bid order: what an `allocation.thresholds` event
    records of the rows it stored."""
    text = canonical_json(sorted([bid, cents] for bid, cents in rows))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _lock_job(session: Session, allocation_id: str) -> ThresholdJob | None:
    return session.exec(
        select(ThresholdJob)
        .where(ThresholdJob.allocation_id == allocation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _state(job: ThresholdJob) -> dict[str, Any]:
    return {
        "thresholds": str(job.status),
        "pending": job.pending,
        "attempts": job.attempts,
    }


def shown_thresholds(
    *, session: Session, allocation_id: str, bid_ids: Iterable[str]
) -> dict[str, Threshold]:
    """What to show for bids the result states "pending": the stored threshold once the
    job stored it (a Decimal, or None), "pending" until then."""
    wanted = set(bid_ids)
    if not wanted:
        return {}
    stored = stored_thresholds(session=session, allocation_id=allocation_id, bid_ids=wanted)
    out: dict[str, Threshold] = {}
    for bid in sorted(wanted):
        out[bid] = _decimal(stored[bid]) if bid in stored else "pending"
    return out


def with_stored_thresholds(*, session: Session, allocation_id: str, result: Result) -> Result:
    """The result with each "pending" threshold the job stored in its place."""
    pending = [a.bid for a in result.allocations if a.cost_to_win_more == PENDING]
    if not pending:
        return result
    shown = shown_thresholds(session=session, allocation_id=allocation_id, bid_ids=pending)
    if all(value == PENDING for value in shown.values()):
        return result
    rows = tuple(
        a.model_copy(update={"cost_to_win_more": shown[a.bid]}) if a.bid in shown else a
        for a in result.allocations
    )
    return result.model_copy(update={"allocations": rows})


@dataclass(frozen=True)
class ThresholdState:
    """Where a published allocation's pending thresholds are (GET /v1/allocations/{id})."""

    status: str
    """queued, running, done or failed."""
    pending: int
    """Awards published with `cost_to_win_more` "pending"."""
    stored: int
    """Of those, how many the job has stored."""


def threshold_state(*, session: Session, allocation_id: str) -> ThresholdState | None:
    """The allocation's threshold job and its progress; None where there is none."""
    job = session.get(ThresholdJob, allocation_id)
    if job is None:
        return None
    stored = session.exec(
        select(func.count()).where(col(AwardThreshold.allocation_id) == allocation_id)
    ).one()
    return ThresholdState(status=str(job.status), pending=job.pending, stored=stored)


def _decimal(cents: int | None) -> Decimal | None:
    return None if cents is None else from_cents(cents)
