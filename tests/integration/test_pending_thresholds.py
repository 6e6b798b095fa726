"""Thresholds left "pending" by a solve above the size explained with it: the job after
publication works them out, stores them apart from the awards, and every read shows them.

The round is solved with SUPPLYBID_EXPLAIN_UP_TO lowered, so its thresholds are pending;
the figures the job stores must be those the solve states for the same problem with the
limit high, and each must be a fact (the bid wins more at it, not a cent above).
"""

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.schemas.allocations import AwardPublic
from bench.explain_check import units_of, with_cost
from bidding import audit, award_exports, bids, publication, rounds, thresholds
from bidding.award_figures import award_context
from bidding.finance import verify_published_allocations
from bidding.models import Allocation, AuditEvent, Award, AwardThreshold, ThresholdJobStatus
from bidding.principal import Principal
from bidding.snapshot import Overrides
from bidding.values import from_cents
from solver.pending import pending_thresholds_of
from solver.problem import Problem, parse_problem
from solver.solve import SolveOptions, solve
from tests import factories as builders
from tests.integration.test_allocation import RecordingQueue, solve_now

CENT = Decimal("0.01")
BIDDERS = (("15.00", 6000), ("18.50", 7000), ("22.00", 8000), ("26.00", 9000))


class ThresholdRecorder(RecordingQueue):
    """A queue that runs nothing and remembers the threshold jobs it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.thresholds: list[str] = []

    def enqueue_thresholds(self, session: Session, *, allocation_id: str) -> None:
        self.thresholds.append(allocation_id)


def published_round(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str, ThresholdRecorder]:
    """A round of four bids on one item, solved above the explained size and published."""
    monkeypatch.setenv("SUPPLYBID_EXPLAIN_UP_TO", "1")
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
    solved = solve_now(session, engine, row.id, Overrides())
    queue = ThresholdRecorder()
    publication.publish_allocation(
        session=session, actor=builders.MANAGER, allocation_id=solved.id, jobs=queue
    )
    return row.id, solved.id, queue


def awards_shown(session: Session, round_id: str) -> dict[str, AwardPublic]:
    rows = publication.list_awards(
        session=session, principal=builders.MANAGER, round_id=round_id, after=None, limit=None
    )
    context = award_context(session=session, allocation_id=rows[0].allocation_id)
    return {r.bid_id: AwardPublic.of(r, context) for r in rows}


def csv_thresholds(session: Session, principal: Principal, round_id: str) -> dict[str, str]:
    awards = award_exports.published_awards(session=session, principal=principal, round_id=round_id)
    text = "".join(award_exports.award_csv(awards, "bid")).lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    at = next(n for n, h in enumerate(header) if h.startswith("Cost to win more"))
    return {r[2]: r[at] for r in reader}


def events(session: Session) -> int:
    return len(session.exec(select(AuditEvent.seq)).all())


def award_rows(session: Session, allocation_id: str) -> list[tuple[object, ...]]:
    rows = session.exec(
        select(Award).where(Award.allocation_id == allocation_id).order_by(col(Award.bid_id))
    ).all()
    return [tuple(r.model_dump().items()) for r in rows]


def test_pending_thresholds_are_worked_out_after_publication_and_shown_everywhere(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    round_id, allocation_id, queue = published_round(session, engine, monkeypatch)
    assert queue.thresholds == [allocation_id]
    problem_text = session.exec(
        select(Allocation.problem).where(Allocation.id == allocation_id)
    ).one()

    # the same round solved with the limit high: what the job must find
    monkeypatch.setenv("SUPPLYBID_EXPLAIN_UP_TO", "1000")
    reference = {a.bid: a.cost_to_win_more for a in solve(parse_problem(problem_text)).allocations}
    assert "pending" not in reference.values()

    shown = awards_shown(session, round_id)
    pending = sorted(b for b, a in shown.items() if a.cost_to_win_more == "pending")
    assert pending, "the round must have pending thresholds to test anything"
    for bid in pending:
        assert "is being worked out" in shown[bid].explanation
    exported = csv_thresholds(session, builders.MANAGER, round_id)
    assert {b for b, v in exported.items() if v == "pending"} == set(pending)
    state = thresholds.threshold_state(session=session, allocation_id=allocation_id)
    assert state is not None
    assert (state.status, state.pending, state.stored) == ("queued", len(pending), 0)
    published = award_rows(session, allocation_id)
    assert verify_published_allocations(session=session) == []
    assert audit.verify_chain(session).ok

    thresholds.run_thresholds(engine=engine, allocation_id=allocation_id)
    session.rollback()
    session.expire_all()

    stored = thresholds.stored_thresholds(session=session, allocation_id=allocation_id)
    assert sorted(stored) == pending
    assert {b: None if c is None else from_cents(c) for b, c in stored.items()} == {
        b: reference[b] for b in pending
    }
    shown = awards_shown(session, round_id)
    for bid in pending:
        assert shown[bid].cost_to_win_more == reference[bid]
        assert "being worked out" not in shown[bid].explanation
        if reference[bid] is not None:
            assert f"{reference[bid]:,.2f} CNY or less" in shown[bid].explanation
    exported = csv_thresholds(session, builders.MANAGER, round_id)
    assert "pending" not in exported.values()
    for bid in pending:
        assert exported[bid] == ("" if reference[bid] is None else f"{reference[bid]}")
    state = thresholds.threshold_state(session=session, allocation_id=allocation_id)
    assert state is not None
    assert (state.status, state.stored) == ("done", len(pending))

    # awards unchanged; their publication hash and the audit chain still verify
    assert award_rows(session, allocation_id) == published
    assert verify_published_allocations(session=session) == []
    assert audit.verify_chain(session).ok
    stored_events = session.exec(
        select(AuditEvent).where(AuditEvent.action == "allocation.thresholds")
    ).all()
    assert [e.entity_id for e in stored_events] == [allocation_id]
    assert json.loads(stored_events[0].after or "{}")["stored"] == len(pending)

    # an independent check: each threshold c wins more units, c + 0.01 does not
    data = json.loads(problem_text)
    units = {a.bid: a.units for a in shown.values()}
    checked = 0
    for bid in pending:
        c = reference[bid]
        if not isinstance(c, Decimal):
            continue
        at = units_of(with_cost(data, bid, c))
        above = units_of(with_cost(data, bid, c + CENT))
        assert at is not None
        assert at[bid] > units[bid]
        assert above is None or above[bid] <= units[bid]
        checked += 1
    assert checked > 0


def test_a_retried_threshold_job_writes_nothing_twice(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, allocation_id, _ = published_round(session, engine, monkeypatch)
    # a worker that died after storing one threshold: the job left running, one row there
    work = thresholds.start_thresholds(
        session=session, allocation_id=allocation_id, only_queued=True
    )
    assert work is not None
    assert len(work.todo) >= 2
    first = work.todo[0]
    monkeypatch.setattr(thresholds, "BATCH_BIDS", 1)
    calls: list[str] = []

    def dies_after_one(
        problem: Problem,
        options: SolveOptions,
        units: Mapping[str, int],
        bids: Iterable[str],
        on_threshold: Callable[[str, Decimal | None], None],
    ) -> None:
        todo = list(bids)
        calls.append(",".join(todo))
        if len(calls) == 1:
            pending_thresholds_of(problem, options, units, todo[:1], on_threshold)
            raise KeyboardInterrupt  # the process is gone: nothing after this runs
        pending_thresholds_of(problem, options, units, todo, on_threshold)

    monkeypatch.setattr(thresholds, "pending_thresholds_of", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        thresholds.run_thresholds(engine=engine, allocation_id=allocation_id)
    session.rollback()
    session.expire_all()
    assert set(thresholds.stored_thresholds(session=session, allocation_id=allocation_id)) == {
        first
    }
    job = thresholds.threshold_job(session=session, allocation_id=allocation_id)
    assert job is not None
    assert job.status == ThresholdJobStatus.running

    # the embedded worker at its start requeues it; the retry goes on from what is stored
    assert thresholds.requeue_abandoned_thresholds(session=session) == [allocation_id]
    thresholds.run_thresholds(engine=engine, allocation_id=allocation_id, only_queued=True)
    assert first not in calls[1].split(",")
    before = events(session)
    rows = session.exec(
        select(AwardThreshold).where(AwardThreshold.allocation_id == allocation_id)
    ).all()
    # a duplicate job, and a store of the same figures again: nothing written
    thresholds.run_thresholds(engine=engine, allocation_id=allocation_id)
    thresholds.store_thresholds(
        session=session,
        allocation_id=allocation_id,
        found={r.bid_id: Decimal("0.01") for r in rows},
    )
    session.rollback()
    session.expire_all()
    again = session.exec(
        select(AwardThreshold).where(AwardThreshold.allocation_id == allocation_id)
    ).all()
    assert [(r.bid_id, r.cost_to_win_more_cents) for r in again] == [
        (r.bid_id, r.cost_to_win_more_cents) for r in rows
    ]
    assert len(again) == len(work.todo)
    assert events(session) == before
    job = thresholds.threshold_job(session=session, allocation_id=allocation_id)
    assert job is not None
    assert job.status == ThresholdJobStatus.done
    assert audit.verify_chain(session).ok


def test_a_threshold_job_gives_way_to_a_solve_and_goes_on_after(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, allocation_id, _ = published_round(session, engine, monkeypatch)
    monkeypatch.setattr(thresholds, "BATCH_BIDS", 1)
    asked: list[int] = []

    def a_solve_is_waiting() -> bool:
        asked.append(1)
        return True

    thresholds.run_thresholds(
        engine=engine, allocation_id=allocation_id, give_way=a_solve_is_waiting
    )
    session.rollback()
    session.expire_all()
    assert asked == [1]
    assert len(thresholds.stored_thresholds(session=session, allocation_id=allocation_id)) == 1
    job = thresholds.threshold_job(session=session, allocation_id=allocation_id)
    assert job is not None
    assert job.status == ThresholdJobStatus.queued  # back in the queue, after the solve
    assert thresholds.next_queued_thresholds(session=session) == allocation_id

    thresholds.run_thresholds(engine=engine, allocation_id=allocation_id, only_queued=True)
    session.rollback()
    session.expire_all()
    state = thresholds.threshold_state(session=session, allocation_id=allocation_id)
    assert state is not None
    assert (state.status, state.stored) == ("done", state.pending)


def test_a_threshold_job_under_another_allocator_version_stores_nothing(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker upgraded between publication and the job would state figures of other
    rules than the published solve's: the job fails, saying why, and stores none."""
    _round_id, allocation_id, _queue = published_round(session, engine, monkeypatch)
    monkeypatch.setattr(thresholds, "ALLOCATOR_VERSION", "999")
    thresholds.run_thresholds(engine=engine, allocation_id=allocation_id)
    session.rollback()
    session.expire_all()
    assert thresholds.stored_thresholds(session=session, allocation_id=allocation_id) == {}
    state = thresholds.threshold_state(session=session, allocation_id=allocation_id)
    assert state is not None
    assert state.status == ThresholdJobStatus.failed
    assert audit.verify_chain(session).ok
