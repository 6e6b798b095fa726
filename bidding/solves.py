"""Solves: request, start, finish, fail, requeue; the job queue's protocol; reads of a solve.

A solve is requested in one transaction (the exact problem, its hash and the job), run
outside any transaction by a worker (bidding.jobs), and stored in one more. The stored
`problem` and `result` are what `supplybid solve` reads and writes, so a replay compares
them byte for byte. This is the only module that stores a `Result`. A what-if removes
excluded bids and factories from the problem it solves; they are shown as `excluded` rows
with no units when the result is read.

Locks, always taken in this order so two use cases cannot wait on each other: the round's
row (`lock_round`), the allocation's row (`lock_allocation`), the period's advisory lock
(`lock_period`), then the audit chain's advisory lock (`record_event`, last, as the events
are written at the end). The period lock serialises on PostgreSQL every decision on a
period's committed units (a solve request stores them, a publication checks them and adds
awards), so two rounds of one period cannot both award a factory its remaining share; on
SQLite BEGIN IMMEDIATE already serialises every writer.
"""

import gc
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, cast

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import Session, col, select

from bidding.audit import canonical_json
from bidding.changes import audited, record_change
from bidding.db import use_case
from bidding.documents import problem_of, result_of
from bidding.errors import AllocationNotFound, InvalidCursor, RoundNotSolvable, SolveInProgress
from bidding.lifecycle import lock_round, require, round_state, transition
from bidding.models import Allocation, AllocationStatus, Round, RoundState, utcnow
from bidding.principal import SYSTEM, Principal
from bidding.rounds import get_round
from bidding.settings import get_settings
from bidding.snapshot import (
    Overrides,
    allocation_problem,
    committed_units,
    items_document,
    lock_period,
    overrides_of,
    problem_text,
    with_terms,
)
from bidding.values import new_id
from solver.explain import mark_excluded
from solver.problem import Problem, parse_problem
from solver.result import BidAllocation, Result
from solver.solve import PHASES, SolveOptions, nothing_allocated, solve

log = logging.getLogger(__name__)

ACTIVE = (AllocationStatus.queued, AllocationStatus.running)
DOCUMENT_COLUMNS: tuple[QueryableAttribute[Any], ...] = (
    cast("QueryableAttribute[Any]", Allocation.problem),
    cast("QueryableAttribute[Any]", Allocation.result),
    cast("QueryableAttribute[Any]", Allocation.presented),
    cast("QueryableAttribute[Any]", Allocation.items),
)
"""The allocation's large columns: read only where they are used."""
USABLE_RESULTS = frozenset({"optimal", "feasible"})


class JobQueue(Protocol):
    """Where solve jobs go: enqueued in the caller's transaction, run by a worker."""

    name: str

    def enqueue(self, session: Session, *, allocation_id: str, round_id: str) -> None:
        """Add the job to the caller's open transaction (it exists only if that commits)."""


def lock_allocation(session: Session, allocation_id: str) -> Allocation:
    """The allocation, re-read under a row lock held to the end of the transaction."""
    row = session.exec(
        select(Allocation)
        .where(Allocation.id == allocation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise AllocationNotFound(f"no allocation {allocation_id!r}")
    return row


def allocation_state(row: Allocation) -> dict[str, Any]:
    """The allocation's state as the audit log records it."""
    return {
        "round": row.round_id,
        "status": str(row.status),
        "what_if": row.what_if,
        "input_hash": row.input_hash,
        "attempts": row.attempts,
    }


# Use cases


@use_case
def solve_round(
    *,
    session: Session,
    actor: Principal,
    round_id: str,
    overrides: Overrides,
    jobs: JobQueue,
) -> Allocation:
    """Request a solve (a what-if where anything is overridden): store its problem, enqueue it.

    Under the round's lock, so two requests cannot both pass the one-solve-at-a-time check.
    """
    row = require(lock_round(session, round_id), "what_if" if overrides.is_what_if else "solve")
    if row.snapshot is None:
        raise RoundNotSolvable(row.state)
    busy = session.exec(
        select(Allocation).where(
            Allocation.round_id == row.id, col(Allocation.status).in_(list(ACTIVE))
        )
    ).first()
    if busy is not None:
        raise SolveInProgress(
            f"allocation {busy.id} of this round is {busy.status}", allocation=busy.id
        )
    # No publication of the period can commit between this read and the stored problem.
    lock_period(session, row.period)
    problem = allocation_problem(
        snapshot=row.snapshot,
        overrides=overrides,
        committed=committed_units(session=session, row=row),
    )
    what_if = overrides.is_what_if
    text = problem.to_json() if what_if else problem_text(row.snapshot, problem)
    problem_of.keep(text, problem)  # what the worker and publication read back
    allocation = Allocation(
        id=new_id("alc"),
        round_id=row.id,
        what_if=what_if,
        overrides=canonical_json(overrides.as_data()) if what_if else None,
        problem=text,
        input_hash=problem.input_hash,
        items=items_document(session=session, problem=problem),
        requested_by=actor.key_id,
    )
    session.add(allocation)
    session.flush()
    jobs.enqueue(session, allocation_id=allocation.id, round_id=row.id)
    record_change(
        session,
        actor=actor,
        action="allocation.request",
        entity_id=allocation.id,
        after=allocation_state(allocation)
        | {"overrides": overrides.as_data(), "queue": jobs.name, "round_state": round_state(row)},
    )
    session.commit()
    return allocation


@use_case
def start_solve(*, session: Session, allocation_id: str, only_queued: bool) -> Problem | None:
    """Mark an allocation running and hand back its problem; None if there is nothing to do.

    A retried job (its worker died) finds it running and starts it again; `only_queued`
    claims queued ones only (the embedded worker, which requeues its own leftovers).
    """
    row = lock_allocation(session, allocation_id)
    wanted = (AllocationStatus.queued,) if only_queued else ACTIVE
    if row.status not in wanted:
        session.rollback()
        return None
    with audited(session, actor=SYSTEM, action="allocation.start", row=row, state=allocation_state):
        row.status = AllocationStatus.running
        row.attempts += 1
        row.started_at = utcnow()
        row.phase = PHASES[0]
    stored = row.problem
    session.commit()
    return problem_of(stored)


@use_case
def finish_solve(*, session: Session, allocation_id: str, result: Result) -> Allocation | None:
    """Store a solve's result in one transaction: done (or failed on a solver error).

    A plain solve that found an allocation moves its round from closed to solved; a
    what-if never changes the round. A job finished already (by a retry) is left alone.
    """
    round_id = session.exec(
        select(Allocation.round_id).where(Allocation.id == allocation_id)
    ).first()
    if round_id is None:
        raise AllocationNotFound(f"no allocation {allocation_id!r}")
    row = lock_round(session, round_id)
    allocation = lock_allocation(session, allocation_id)
    if allocation.status not in ACTIVE:
        session.rollback()
        return None
    failed = result.status == "error"
    action = "allocation.fail" if failed else "allocation.done"
    with audited(
        session, actor=SYSTEM, action=action, row=allocation, state=allocation_state
    ) as after:
        allocation.status = AllocationStatus.failed if failed else AllocationStatus.done
        allocation.result = result.to_json()
        result_of.keep(allocation.result, result)  # publication reads it back
        shown = _presentation(session, allocation, result)
        allocation.presented = None if shown is result else shown.to_json()
        allocation.error = result.message if failed else None
        allocation.finished_at = utcnow()
        allocation.solve_s = result.timings.total_s
        allocation.phase = None
        after.update(result_status=result.status, objective=str(result.objective))
    moves_round = (
        not failed
        and not allocation.what_if
        and result.status in USABLE_RESULTS
        and row.state == RoundState.closed
    )
    if moves_round:
        details = {"allocation": allocation.id}
        transition(session, actor=SYSTEM, row=row, action="solve", details=details)
    session.commit()
    return allocation


@use_case
def fail_solve(*, session: Session, allocation_id: str, message: str) -> None:
    """Store that a solve broke (not the solver's verdict: an exception in the job)."""
    allocation = lock_allocation(session, allocation_id)
    if allocation.status not in ACTIVE:
        session.rollback()
        return
    with audited(
        session, actor=SYSTEM, action="allocation.fail", row=allocation, state=allocation_state
    ) as after:
        allocation.status = AllocationStatus.failed
        allocation.error = message[:2000]
        allocation.finished_at = utcnow()
        allocation.phase = None
        after["error"] = allocation.error
    session.commit()


def record_phase(*, engine: Engine, allocation_id: str, phase: str) -> None:
    """Store a running solve's phase, in its own short transaction (progress, not audited).

    Only a running allocation takes it: a phase reported after the solve was stored, or
    by a job whose allocation was requeued, changes nothing.
    """
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}")
    with Session(engine) as session:
        session.execute(
            update(Allocation)
            .where(col(Allocation.id) == allocation_id)
            .where(col(Allocation.status) == AllocationStatus.running)
            .values(phase=phase)
        )
        session.commit()


_paused = 0
_paused_lock = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a solve runs, as `supplybid solve` has it.

    A solve makes objects by the hundred thousand and no cycles worth finding; in a server
    each collection also walks everything the server holds, which made a solve in `serve`
    far slower than alone. Reference counting still frees what the solve drops; the
    collector is back on when the last solve in the process ends.
    """
    global _paused
    with _paused_lock:
        _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0:
                gc.enable()


def run_solve(*, engine: Engine, allocation_id: str, only_queued: bool = False) -> None:
    """The job: mark running, solve outside any transaction, store the result in one.

    A process killed anywhere in here leaves the allocation queued or running with no
    result; the retried job starts it again and, the problem being stored, gets the same.
    """
    with Session(engine, expire_on_commit=False) as session:
        problem = start_solve(session=session, allocation_id=allocation_id, only_queued=only_queued)
    if problem is None:
        return
    delay = get_settings().solve_delay_s
    if delay > 0:
        time.sleep(delay)
    try:
        with collector_paused():
            result = solve(
                problem,
                SolveOptions(),
                on_phase=lambda phase: record_phase(
                    engine=engine, allocation_id=allocation_id, phase=phase
                ),
            )
    except Exception as exc:  # the job's boundary: any crash of the solve is stored
        log.exception("solve of allocation %s failed", allocation_id)
        with Session(engine, expire_on_commit=False) as session:
            fail_solve(session=session, allocation_id=allocation_id, message=repr(exc))
        return
    with Session(engine, expire_on_commit=False) as session:
        finish_solve(session=session, allocation_id=allocation_id, result=result)


@use_case
def requeue_abandoned(*, session: Session) -> list[str]:
    """Put allocations left running by a process that died back in the queue (embedded)."""
    rows = session.exec(
        select(Allocation)
        .where(Allocation.status == AllocationStatus.running)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for row in rows:
        with audited(
            session, actor=SYSTEM, action="allocation.requeue", row=row, state=allocation_state
        ):
            row.status = AllocationStatus.queued
            row.phase = None
    session.commit()
    return [row.id for row in rows]


def next_queued(*, session: Session) -> str | None:
    """The oldest queued allocation's id, if any."""
    found = session.exec(
        select(Allocation.id)
        .where(Allocation.status == AllocationStatus.queued)
        .order_by(col(Allocation.created_at), col(Allocation.id))
        .limit(1)
    ).first()
    session.rollback()
    return found


# Reads


def get_allocation(*, session: Session, allocation_id: str) -> Allocation:
    """One allocation (staff only: the routes check the role)."""
    row = session.get(Allocation, allocation_id)
    if row is None:
        raise AllocationNotFound(f"no allocation {allocation_id!r}")
    return row


def list_allocations(
    *, session: Session, principal: Principal, round_id: str, after: str | None, limit: int
) -> list[Allocation]:
    """A round's allocations, newest first, after the cursor's (the id of the last one read).

    Ordered by request time, then id: the latest solve or what-if heads the list. Without
    their documents (problem, result: tens of megabytes at 100,000 bids), which a list never
    shows: a client polling the list while a solve ran had the server read them ten times a
    second, and the solve ran at half speed beside it.
    """
    get_round(session=session, principal=principal, round_id=round_id, snapshot=False)
    query = (
        select(Allocation)
        .where(Allocation.round_id == round_id)
        .options(*(defer(column, raiseload=True) for column in DOCUMENT_COLUMNS))
    )
    if after is not None:
        anchor = session.exec(
            select(Allocation.created_at).where(
                Allocation.id == after, Allocation.round_id == round_id
            )
        ).first()
        if anchor is None:
            raise InvalidCursor()
        query = query.where(
            or_(
                col(Allocation.created_at) < anchor,
                and_(col(Allocation.created_at) == anchor, col(Allocation.id) < after),
            )
        )
    query = query.order_by(col(Allocation.created_at).desc(), col(Allocation.id).desc())
    return list(session.exec(query.limit(limit)).all())


def presented_result(*, session: Session, row: Allocation) -> Result | None:
    """The result as read and published: a what-if's excluded bids are `excluded` rows (0 units).

    Stored when the solve finished (`presented`, only where it differs from `result`);
    an allocation finished before it was stored has it rebuilt.
    """
    if row.result is None:
        return None
    if row.presented is not None:
        return result_of(row.presented)
    return _presentation(session, row, result_of(row.result))


def presentation_of(*, session: Session, row: Allocation, result: Result) -> Result:
    """`presented_result` for a caller that has parsed the stored `result` already."""
    if row.presented is not None:
        return result_of(row.presented)
    return _presentation(session, row, result)


def _presentation(session: Session, row: Allocation, result: Result) -> Result:
    overrides = overrides_of(row)
    if not overrides.exclude_bids and not overrides.exclude_factories:
        return result
    snapshot = session.exec(select(Round.snapshot).where(Round.id == row.round_id)).one()
    assert snapshot is not None  # an allocation exists only for a closed round
    full = parse_problem(with_terms(json.loads(snapshot), overrides))
    solved = {a.bid for a in result.allocations}
    missing = [a for a in nothing_allocated(full) if a.bid not in solved]
    merged = result.model_copy(
        update={"allocations": tuple(sorted((*result.allocations, *missing), key=_by_bid))}
    )
    return mark_excluded(merged, (a.bid for a in missing))


def _by_bid(row: BidAllocation) -> str:
    return row.bid


def allocation_problem_text(*, session: Session, allocation_id: str) -> str:
    """The problem-format document an allocation solved (overrides applied)."""
    return get_allocation(session=session, allocation_id=allocation_id).problem
