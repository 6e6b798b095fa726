"""Solve jobs on PostgreSQL: a `supplybid worker` killed with SIGKILL mid-solve loses nothing.

The first worker marks the allocation running and is held in the solve by the test hook
SUPPLYBID_SOLVE_DELAY_S; it is killed there. A second worker's periodic stalled-job check
(heartbeat window shortened for the test) retries the job, which ends with the result a
clean solve of the stored problem gives. Bounded: every wait has a deadline (about 15 s in all).
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bidding import bids, rounds, solves
from bidding.db import make_engine
from bidding.jobs import ProcrastinateQueue, apply_procrastinate_schema
from bidding.models import Allocation, AllocationStatus, Round, RoundState
from bidding.snapshot import Overrides
from solver.problem import parse_problem
from solver.result import parse_result
from solver.solve import SolveOptions, solve
from tests import factories as builders
from tests.conftest import postgres_roles, report_figures
from tests.served import SERVED_AUDIT_KEY

SUPPLYBID = str(Path(sys.executable).parent / "supplybid")
pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def app_url(database_url: str) -> Iterator[str]:
    """The app role's URL on a schema `supplybid db upgrade` migrated as its owner.

    Procrastinate's tables included; workers and the test's writes run as the app's role,
    with only the rights the upgrade granted it.
    """
    with postgres_roles() as roles:
        subprocess.run(
            [SUPPLYBID, "db", "upgrade"],
            env={
                **os.environ,
                "SUPPLYBID_OWNER_DATABASE_URL": roles.owner_url,
                "SUPPLYBID_DATABASE_URL": roles.app_url,
            },
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield roles.app_url


@pytest.fixture
def migrated(app_url: str) -> Iterator[Engine]:
    """An engine as the app's role."""
    engine = make_engine(app_url, pool_size=2)
    assert not apply_procrastinate_schema(engine)  # made by the owner's upgrade
    yield engine
    engine.dispose()


def closed_round(session: Session, *, bid_count: int) -> Round:
    """A closed round with `bid_count` factories bidding on two items."""
    item_list = [builders.an_item(session, name=f"Item {n}") for n in range(2)]
    row = builders.an_open_round(session, item_list=item_list)
    for n in range(bid_count):
        factory = builders.a_factory(session, name=f"Factory {n}", capacity=20000 + 97 * n)
        bids.submit_bid(
            session=session,
            actor=builders.as_factory(factory),
            round_id=row.id,
            item_id=item_list[n % 2].id,
            terms=builders.terms(unit_cost=str(Decimal("15.00") + Decimal(n % 13)), capacity=900),
        )
    return rounds.close_round(session=session, actor=builders.MANAGER, round_id=row.id)


@contextmanager
def worker(database_url: str, **settings: str) -> Iterator[subprocess.Popen[bytes]]:
    """A `supplybid worker` process on the test's database, stopped (SIGTERM) at the end."""
    env = {
        **os.environ,
        "SUPPLYBID_DATABASE_URL": database_url,
        "SUPPLYBID_JOB_QUEUE": "procrastinate",
        "SUPPLYBID_WORKER_HEARTBEAT_S": "0.5",
        "SUPPLYBID_STALLED_AFTER_S": "2",
        "SUPPLYBID_STALLED_CHECK_CRON": "* * * * * *",
        "SUPPLYBID_AUDIT_KEY": os.environ.get("SUPPLYBID_AUDIT_KEY", SERVED_AUDIT_KEY),
        **{f"SUPPLYBID_{k.upper()}": v for k, v in settings.items()},
    }
    process = subprocess.Popen(
        [SUPPLYBID, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` until it holds, or fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _allocation(engine: Engine, allocation_id: str) -> Allocation:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Allocation, allocation_id)
        assert row is not None
        return row


def test_a_worker_killed_mid_solve_leaves_nothing_partial_and_another_finishes_the_same(
    app_url: str, migrated: Engine
) -> None:
    with Session(migrated, expire_on_commit=False) as session:
        row = closed_round(session, bid_count=60)
        requested = solves.solve_round(
            session=session,
            actor=builders.MANAGER,
            round_id=row.id,
            overrides=Overrides(),
            jobs=ProcrastinateQueue(),
        )
    with migrated.connect() as connection:
        jobs = connection.execute(text("SELECT count(*) FROM procrastinate_jobs")).scalar()
    assert jobs == 1  # committed with the allocation row, in the same transaction

    with worker(app_url, solve_delay_s="60") as doomed:
        wait_for(
            lambda: _allocation(migrated, requested.id).status == AllocationStatus.running,
            20,
            "the first worker to start the solve",
        )
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        killed_at = time.monotonic()
    killed = _allocation(migrated, requested.id)
    assert killed.status == AllocationStatus.running
    assert killed.result is None
    assert killed.finished_at is None

    with worker(app_url):
        wait_for(
            lambda: _allocation(migrated, requested.id).status == AllocationStatus.done,
            45,
            "the second worker to retry the stalled job and finish it",
        )
    report_figures(
        "worker_sigkill",
        {
            "bids": 60,
            "kill_to_done_s": round(time.monotonic() - killed_at, 2),
            "stalled_after_s": 2,
        },
    )
    finished = _allocation(migrated, requested.id)
    assert finished.attempts == 2
    assert finished.result is not None
    clean = solve(parse_problem(finished.problem), SolveOptions())
    assert parse_result(finished.result).identity() == clean.identity()
    with Session(migrated) as session:
        solved = session.get(Round, row.id)
        assert solved is not None
        assert solved.state == RoundState.solved


def test_a_solve_job_is_enqueued_in_the_callers_transaction(migrated: Engine) -> None:
    with Session(migrated) as session:
        ProcrastinateQueue().enqueue(session, allocation_id="alc_gone", round_id="rnd_x")
        session.rollback()
        ProcrastinateQueue().enqueue(session, allocation_id="alc_kept", round_id="rnd_x")
        session.commit()
    with migrated.connect() as connection:
        args = connection.execute(text("SELECT args FROM procrastinate_jobs")).scalars().all()
    assert args == [{"allocation_id": "alc_kept"}]
