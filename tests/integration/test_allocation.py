"""Allocation use cases on a real database: one solve at a time, committed units, jobs."""

import contextlib
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bidding import bids, comparison, publication, rounds, snapshot, solves
from bidding.audit import list_events
from bidding.errors import (
    AllocationNotDone,
    PublicationRefused,
    RoundNotSolved,
    SolveInProgress,
)
from bidding.models import Allocation, AllocationStatus, Award, Item, Role, Round, RoundState
from bidding.principal import Principal
from bidding.snapshot import Overrides
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
    requested = solves.solve_round(
        session=session,
        actor=builders.MANAGER,
        round_id=round_id,
        overrides=overrides,
        jobs=queue,
    )
    assert queue.enqueued == [requested.id]
    solves.run_solve(engine=engine, allocation_id=requested.id)
    session.rollback()  # a fresh read: the job committed in its own session
    session.expire_all()
    return solves.get_allocation(session=session, allocation_id=requested.id)


def test_a_second_solve_while_one_is_queued_is_a_409_and_adds_nothing(
    session: Session, engine: Engine
) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session)
    row = closed_round(session, item, [(factory.id, "18.50")])
    queue = RecordingQueue()
    first = solves.solve_round(
        session=session,
        actor=builders.MANAGER,
        round_id=row.id,
        overrides=Overrides(),
        jobs=queue,
    )
    with pytest.raises(SolveInProgress):
        solves.solve_round(
            session=session,
            actor=builders.MANAGER,
            round_id=row.id,
            overrides=Overrides(margin_floor=Decimal("0.2")),
            jobs=queue,
        )
    assert queue.enqueued == [first.id]
    listed = solves.list_allocations(
        session=session, principal=builders.MANAGER, round_id=row.id, after=None, limit=10
    )
    assert [a.id for a in listed] == [first.id]
    solves.run_solve(engine=engine, allocation_id=first.id)
    solves.run_solve(engine=engine, allocation_id=first.id)  # a duplicate job: no-op
    session.rollback()  # a fresh read: the workers committed in their own sessions
    session.expire_all()
    done = solves.get_allocation(session=session, allocation_id=first.id)
    assert done.status == AllocationStatus.done
    assert done.attempts == 1


def test_units_published_in_the_period_count_as_committed_in_the_next_solve(
    session: Session, engine: Engine
) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session, capacity=20000)
    first = closed_round(session, item, [(factory.id, "18.50")])
    solved = solve_now(session, engine, first.id, Overrides())
    publication.publish_allocation(session=session, actor=builders.MANAGER, allocation_id=solved.id)
    awarded = sum(
        a.units
        for a in publication.list_awards(
            session=session, principal=builders.MANAGER, round_id=first.id, after=None, limit=10
        )
    )
    assert awarded > 0
    second = closed_round(session, item, [(factory.id, "18.00")])
    next_solve = solve_now(session, engine, second.id, Overrides())
    problem = parse_problem(next_solve.problem)
    assert [(f.id, f.committed_units) for f in problem.factories] == [(factory.id, awarded)]
    assert next_solve.status == AllocationStatus.done, next_solve.error
    result = solves.presented_result(session=session, row=next_solve)
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

    def broken_solver(*_args: object, **_options: object) -> None:
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(solves, "solve", broken_solver)
    failed = solve_now(session, engine, row.id, Overrides())
    assert failed.status == AllocationStatus.failed
    assert failed.result is None
    assert "solver exploded" in (failed.error or "")
    with pytest.raises(AllocationNotDone):
        comparison.compare_allocations(session=session, allocation_id=failed.id, other_id=failed.id)
    with pytest.raises(RoundNotSolved):
        publication.publish_allocation(
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


def _publish_or_refusal(engine: Engine, allocation_id: str) -> PublicationRefused | None:
    with Session(engine, expire_on_commit=False) as session:
        try:
            publication.publish_allocation(
                session=session, actor=builders.MANAGER, allocation_id=allocation_id
            )
        except PublicationRefused as exc:
            return exc
    return None


def test_two_rounds_of_a_period_published_at_once_award_a_factory_its_share_once(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session, capacity=20000)  # share 0.2: 4000 units a month
    solved = []
    for _ in range(2):
        row = closed_round(session, item, [(factory.id, "18.50")])  # 4000 units each
        solved.append(solve_now(session, engine, row.id, Overrides()))
    # Both publications hold their own round's lock before either takes the period's
    # (where SQLite's write lock keeps the second out, the wait times out and goes on);
    # each then lingers between reading the committed units and writing its awards.
    both_started = threading.Barrier(2)
    real_lock, real_committed = snapshot.lock_period, snapshot.committed_units

    def lock_when_both_started(session: Session, period: str) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            both_started.wait(timeout=3)
        real_lock(session, period)

    def slow_committed(*, session: Session, row: Round) -> dict[str, int]:
        found = real_committed(session=session, row=row)
        time.sleep(0.5)
        return found

    monkeypatch.setattr(publication, "lock_period", lock_when_both_started)
    monkeypatch.setattr(publication, "committed_units", slow_committed)
    outcomes: dict[str, PublicationRefused | None] = {}
    threads = [
        threading.Thread(
            target=lambda a=a: outcomes.__setitem__(a.id, _publish_or_refusal(engine, a.id))
        )
        for a in solved
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 2
    refusals = [r for r in outcomes.values() if r is not None]
    assert len(refusals) == 1
    assert any(f.startswith("committed_units_changed") for f in refusals[0].findings)
    session.rollback()
    session.expire_all()
    awarded = sum(a.units for a in session.exec(select(Award)).all())
    assert 0 < awarded <= 20000 * Decimal("0.2")
    states = sorted(str(r.state) for r in session.exec(select(Round)).all())
    assert states == ["published", "solved"]


def _refusal(session: Session, allocation_id: str) -> list[str]:
    with pytest.raises(PublicationRefused) as refused:
        publication.publish_allocation(
            session=session, actor=builders.MANAGER, allocation_id=allocation_id
        )
    return refused.value.findings


def test_a_what_if_that_drops_a_new_factorys_guarantee_or_a_minimum_fill_cannot_be_published(
    session: Session, engine: Engine
) -> None:
    item = builders.an_item(session)
    newcomer = builders.a_factory(session, name="Newcomer", is_new=True)
    incumbent = builders.a_factory(session, name="Incumbent")
    draft = builders.a_draft_round(session, item_list=[item])
    rounds.put_round_item(
        session=session,
        actor=builders.MANAGER,
        round_id=draft.id,
        item_id=item.id,
        min_fill=100,
        max_factory_share=None,
    )
    for factory, guaranteed in ((newcomer, 500), (incumbent, 0)):
        rounds.invite_factory(
            session=session,
            actor=builders.MANAGER,
            round_id=draft.id,
            factory_id=factory.id,
            capacity_share=None,
            guaranteed_units=guaranteed,
        )
    rounds.open_round(session=session, actor=builders.MANAGER, round_id=draft.id)
    placed = {}
    for factory, unit_cost in ((newcomer, "25.00"), (incumbent, "18.50")):
        bid, _ = bids.submit_bid(
            session=session,
            actor=builders.as_factory(factory),
            round_id=draft.id,
            item_id=item.id,
            terms=builders.terms(unit_cost=unit_cost, capacity=4000),
        )
        placed[factory.id] = bid.id
    rounds.close_round(session=session, actor=builders.MANAGER, round_id=draft.id)
    plain = solve_now(session, engine, draft.id, Overrides())
    assert plain.status == AllocationStatus.done, plain.error

    loosening = {
        f"guarantee_lowered (factory {newcomer.id})": [
            Overrides(exclude_factories=(newcomer.id,)),
            Overrides(exclude_bids=(placed[newcomer.id],)),
            Overrides(capacity_share=Decimal("0.0004")),  # room 20 units: g_f 500 -> 20
        ],
        f"min_fill_lowered (item {item.id})": [Overrides(min_fill={item.id: 10})],
    }
    for rule, what_ifs in loosening.items():
        for overrides in what_ifs:
            what_if = solve_now(session, engine, draft.id, overrides)
            assert what_if.status == AllocationStatus.done, what_if.error
            findings = _refusal(session, what_if.id)
            assert any(f.startswith(rule) for f in findings), (overrides, findings)

    # Excluding a factory that holds no guarantee, and removing the budget, loosen no
    # promise: such a what-if is published.
    kept = solve_now(
        session, engine, draft.id, Overrides(exclude_factories=(incumbent.id,), no_budget=True)
    )
    publication.publish_allocation(session=session, actor=builders.MANAGER, allocation_id=kept.id)
    published = session.get(Round, draft.id)
    assert published is not None
    assert published.state == RoundState.published
    awards = publication.list_awards(
        session=session, principal=builders.MANAGER, round_id=draft.id, after=None, limit=10
    )
    assert {(a.factory_id, a.reason) for a in awards if a.units == 0} >= {
        (incumbent.id, "excluded")
    }
    assert sum(a.units for a in awards if a.factory_id == newcomer.id) >= 500


def test_a_what_if_may_remove_the_budget_or_set_it_to_zero(
    session: Session, engine: Engine
) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session)
    draft = builders.a_draft_round(session, item_list=[item])
    rounds.update_round(
        session=session,
        actor=builders.MANAGER,
        round_id=draft.id,
        changes={"budget": Decimal("1000.00")},
    )
    rounds.open_round(session=session, actor=builders.MANAGER, round_id=draft.id)
    bids.submit_bid(
        session=session,
        actor=builders.as_factory(factory),
        round_id=draft.id,
        item_id=item.id,
        terms=builders.terms(unit_cost="18.50", capacity=4000),
    )
    rounds.close_round(session=session, actor=builders.MANAGER, round_id=draft.id)
    expected: list[tuple[Overrides, Decimal | None]] = [
        (Overrides(), Decimal("1000.00")),
        (Overrides(no_budget=True), None),
        (Overrides(budget=Decimal("0")), Decimal("0")),
    ]
    for overrides, budget in expected:
        solved = solve_now(session, engine, draft.id, overrides)
        assert solved.status == AllocationStatus.done, solved.error
        assert parse_problem(solved.problem).round.budget == budget
        assert solved.what_if is overrides.is_what_if
        stored = solves.presented_result(session=session, row=solved)
        assert stored is not None
        units = sum(a.units for a in stored.allocations)
        if budget is None:
            assert solved.overrides == '{"budget":null}'
            assert units > 48  # what the round's budget buys at 20.56 a unit
        elif budget == 0:
            assert units == 0
