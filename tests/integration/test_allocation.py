"""Allocation use cases on a real database: one solve at a time, committed units, jobs."""

from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bidding import allocation, bids, rounds
from bidding.allocation import Overrides
from bidding.audit import list_events
from bidding.errors import AllocationNotDone, RoundNotSolved, SolveInProgress
from bidding.models import Allocation, AllocationStatus, Item, Role, Round, RoundState
from bidding.principal import Principal
from solver.problem import parse_problem
from tests import factories as builders


class RecordingQueue:
    """A job queue that runs nothing: it remembers what was enqueued."""

    name = "recording"

    def __init__(self) -> None:
        self.enqueued: list[str] = []

    def enqueue(self, session: Session, *, allocation_id: str, round_id: str) -> None:
        self.enqueued.append(allocation_id)


def closed_round(session: Session, item: Item, bidders: list[tuple[str, str]]) -> Round:
    """A closed round of the period 2026-11 with one bid per (factory id, unit cost)."""
    row = builders.an_open_round(session, item_list=[item])
    for factory_id, unit_cost in bidders:
        bids.submit_bid(
            session=session,
            actor=Principal(key_id=f"key_{factory_id}", role=Role.factory, factory_id=factory_id),
            round_id=row.id,
            item_id=item.id,
            terms=builders.terms(unit_cost=unit_cost, capacity=4000),
        )
    return rounds.close_round(session=session, actor=builders.MANAGER, round_id=row.id)


def solve_now(session: Session, engine: Engine, round_id: str, overrides: Overrides) -> Allocation:
    """Request a solve and run its job here, as a worker would."""
    queue = RecordingQueue()
    requested = allocation.solve_round(
        session=session,
        actor=builders.MANAGER,
        round_id=round_id,
        overrides=overrides,
        jobs=queue,
    )
    assert queue.enqueued == [requested.id]
    allocation.run_solve(engine=engine, allocation_id=requested.id)
    session.rollback()  # a fresh read: the job committed in its own session
    session.expire_all()
    return allocation.get_allocation(session=session, allocation_id=requested.id)


def test_a_second_solve_while_one_is_queued_is_a_409_and_adds_nothing(
    session: Session, engine: Engine
) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session)
    row = closed_round(session, item, [(factory.id, "18.50")])
    queue = RecordingQueue()
    first = allocation.solve_round(
        session=session,
        actor=builders.MANAGER,
        round_id=row.id,
        overrides=Overrides(),
        jobs=queue,
    )
    with pytest.raises(SolveInProgress):
        allocation.solve_round(
            session=session,
            actor=builders.MANAGER,
            round_id=row.id,
            overrides=Overrides(margin_floor=Decimal("0.2")),
            jobs=queue,
        )
    assert queue.enqueued == [first.id]
    listed = allocation.list_allocations(
        session=session, principal=builders.MANAGER, round_id=row.id, after=None, limit=10
    )
    assert [a.id for a in listed] == [first.id]
    allocation.run_solve(engine=engine, allocation_id=first.id)
    allocation.run_solve(engine=engine, allocation_id=first.id)  # a duplicate job: no-op
    session.rollback()  # a fresh read: the workers committed in their own sessions
    session.expire_all()
    done = allocation.get_allocation(session=session, allocation_id=first.id)
    assert done.status == AllocationStatus.done
    assert done.attempts == 1


def test_units_published_in_the_period_count_as_committed_in_the_next_solve(
    session: Session, engine: Engine
) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session, capacity=20000)
    first = closed_round(session, item, [(factory.id, "18.50")])
    solved = solve_now(session, engine, first.id, Overrides())
    allocation.publish_allocation(session=session, actor=builders.MANAGER, allocation_id=solved.id)
    awarded = sum(
        a.units
        for a in allocation.list_awards(
            session=session, principal=builders.MANAGER, round_id=first.id, after=None, limit=10
        )
    )
    assert awarded > 0
    second = closed_round(session, item, [(factory.id, "18.00")])
    next_solve = solve_now(session, engine, second.id, Overrides())
    problem = parse_problem(next_solve.problem)
    assert [(f.id, f.committed_units) for f in problem.factories] == [(factory.id, awarded)]
    assert next_solve.status == AllocationStatus.done, next_solve.error
    result = allocation.presented_result(session=session, row=next_solve)
    assert result is not None
    assert sum(a.units for a in result.allocations) <= 20000 * Decimal("0.2") - awarded
    reloaded = session.get(Round, second.id)
    assert reloaded is not None
    assert reloaded.state == RoundState.solved


def test_a_solve_that_crashes_is_stored_as_failed_and_the_round_can_be_solved_again(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session)
    row = closed_round(session, item, [(factory.id, "18.50")])

    def broken_solver(*_args: object) -> None:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(allocation, "solve", broken_solver)
    failed = solve_now(session, engine, row.id, Overrides())
    assert failed.status == AllocationStatus.failed
    assert failed.result is None
    assert "solver exploded" in (failed.error or "")
    with pytest.raises(AllocationNotDone):
        allocation.compare_allocations(session=session, allocation_id=failed.id, other_id=failed.id)
    with pytest.raises(RoundNotSolved):
        allocation.publish_allocation(
            session=session, actor=builders.MANAGER, allocation_id=failed.id
        )
    still = session.get(Round, row.id)
    assert still is not None
    assert still.state == RoundState.closed
    monkeypatch.undo()
    retried = solve_now(session, engine, row.id, Overrides())
    assert retried.status == AllocationStatus.done
    actions = [e.action for e in list_events(session, limit=500)]
    assert "allocation.fail" in actions
    assert "allocation.done" in actions
