"""Pending thresholds on PostgreSQL: publication defers the job on the solves' procrastinate
queue in its own transaction, and a `supplybid worker` (as the app's role, with only the
rights `supplybid db upgrade` granted) works them out and stores them."""

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bidding import bids, publication, rounds, solves, thresholds
from bidding.jobs import SOLVE_TASK, THRESHOLDS_TASK, ProcrastinateQueue, solve_waiting
from bidding.models import ThresholdJobStatus
from bidding.snapshot import Overrides
from bidding.values import from_cents
from solver.problem import parse_problem
from solver.solve import solve
from tests import factories as builders
from tests.integration.test_pending_thresholds import BIDDERS
from tests.integration.test_worker_sigkill import (  # noqa: F401  (fixtures)
    app_url,
    migrated,
    wait_for,
    worker,
)

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def published(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A round solved above the explained size and published: its allocation and problem."""
    monkeypatch.setenv("SUPPLYBID_EXPLAIN_UP_TO", "1")
    with Session(engine, expire_on_commit=False) as session:
        item = builders.an_item(session)
        row = builders.an_open_round(session, item_list=[item])
        for n, (cost, capacity) in enumerate(BIDDERS):
            factory = builders.a_factory(session, name=f"Factory {n}")
            bids.submit_bid(
                session=session,
                actor=builders.as_factory(factory),
                round_id=row.id,
                item_id=item.id,
                terms=builders.terms(unit_cost=cost, capacity=capacity),
            )
        rounds.close_round(session=session, actor=builders.MANAGER, round_id=row.id)
        requested = solves.solve_round(
            session=session,
            actor=builders.MANAGER,
            round_id=row.id,
            overrides=Overrides(),
            jobs=ProcrastinateQueue(),
        )
    solves.run_solve(engine=engine, allocation_id=requested.id)  # the solve, here
    with Session(engine, expire_on_commit=False) as session:
        publication.publish_allocation(
            session=session,
            actor=builders.MANAGER,
            allocation_id=requested.id,
            jobs=ProcrastinateQueue(),
        )
        problem = solves.get_allocation(session=session, allocation_id=requested.id).problem
        job = thresholds.threshold_job(session=session, allocation_id=requested.id)
        assert job is not None
        assert job.pending > 0
    return requested.id, problem


def test_a_worker_works_out_the_thresholds_a_publication_queued(
    app_url: str,  # noqa: F811
    migrated: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allocation_id, problem = published(migrated, monkeypatch)
    with migrated.connect() as connection:
        deferred = connection.execute(
            text("SELECT args FROM procrastinate_jobs WHERE task_name = :task"),
            {"task": THRESHOLDS_TASK},
        ).scalars()
        assert list(deferred) == [{"allocation_id": allocation_id}]

    monkeypatch.setenv("SUPPLYBID_EXPLAIN_UP_TO", "1000")
    expected = {a.bid: a.cost_to_win_more for a in solve(parse_problem(problem)).allocations}

    def done() -> bool:
        with Session(migrated) as session:
            found = thresholds.threshold_job(session=session, allocation_id=allocation_id)
            return found is not None and found.status == ThresholdJobStatus.done

    with worker(app_url):
        wait_for(done, 60, "the worker to store the thresholds")
    with Session(migrated) as session:
        stored = thresholds.stored_thresholds(session=session, allocation_id=allocation_id)
        state = thresholds.threshold_state(session=session, allocation_id=allocation_id)
    assert state is not None
    assert len(stored) == state.pending == state.stored
    for bid, cents in stored.items():
        value: Decimal | None = None if cents is None else from_cents(cents)
        assert value == expected[bid]


def test_a_threshold_job_gives_way_to_a_waiting_solve_and_is_deferred_again(
    migrated: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allocation_id, _ = published(migrated, monkeypatch)
    with migrated.begin() as connection:  # the solve ran here: its job is not waiting
        connection.execute(
            text("DELETE FROM procrastinate_jobs WHERE task_name = :task"), {"task": SOLVE_TASK}
        )
    assert not solve_waiting(migrated)
    with Session(migrated) as session:  # a solve waits (for no worker: none runs here)
        ProcrastinateQueue().enqueue(session, allocation_id="alc_waiting", round_id="rnd_x")
        session.commit()
    assert solve_waiting(migrated)
    monkeypatch.setattr(thresholds, "BATCH_BIDS", 1)
    thresholds.run_thresholds(
        engine=migrated,
        allocation_id=allocation_id,
        give_way=lambda: solve_waiting(migrated),
        jobs=ProcrastinateQueue(),
    )
    with Session(migrated) as session:
        job = thresholds.threshold_job(session=session, allocation_id=allocation_id)
        assert job is not None
        assert job.status == ThresholdJobStatus.queued
        assert len(thresholds.stored_thresholds(session=session, allocation_id=allocation_id)) == 1
    with migrated.connect() as connection:
        deferred = connection.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :task"),
            {"task": THRESHOLDS_TASK},
        ).scalar()
    assert deferred == 2  # the publication's, and the one deferred when it gave way
