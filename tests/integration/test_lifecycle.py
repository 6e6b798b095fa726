"""The one lifecycle on a database: each move audited once; results and figures stored once."""

import json
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bidding import publication, rounds, settlement, snapshot, solves
from bidding.audit import list_events
from bidding.errors import RoundNotOpen
from bidding.lifecycle import lock_round, transition
from bidding.models import Allocation, AllocationStatus, AuditEvent, Award, RoundState
from bidding.snapshot import Overrides
from solver.solve import PHASES
from tests import factories as builders
from tests.integration.test_allocation import closed_round, solve_now


def _events(session: Session, entity_id: str) -> list[AuditEvent]:
    return [e for e in list_events(session, limit=1000) if e.entity_id == entity_id]


def test_a_transition_moves_the_round_and_records_one_event_with_before_and_after(
    session: Session,
) -> None:
    row = builders.an_open_round(session, item_list=[builders.an_item(session)])
    seen = len(_events(session, row.id))
    session.rollback()
    locked = lock_round(session, row.id)
    transition(session, actor=builders.MANAGER, row=locked, action="cancel", details={"why": "x"})
    session.commit()
    events = _events(session, row.id)
    assert len(events) == seen + 1
    last = events[-1]
    assert (last.action, last.entity_type) == ("round.cancel", "round")
    assert json.loads(last.before or "{}")["state"] == "open"
    assert json.loads(last.after or "{}")["state"] == "cancelled"
    assert json.loads(last.after or "{}")["why"] == "x"
    assert locked.cancelled_at is not None


def test_a_refused_transition_changes_nothing_and_records_nothing(session: Session) -> None:
    row = builders.a_draft_round(session, item_list=[builders.an_item(session)])
    seen = len(_events(session, row.id))
    with pytest.raises(RoundNotOpen):
        rounds.close_round(session=session, actor=builders.MANAGER, round_id=row.id)
    session.expire_all()
    assert lock_round(session, row.id).state == RoundState.draft
    session.rollback()
    assert len(_events(session, row.id)) == seen


def test_a_what_ifs_presented_result_and_items_are_stored_when_the_solve_finishes(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = builders.an_item(session, name="Plush bear")
    cheap = builders.a_factory(session, name="Cheap Co")
    dear = builders.a_factory(session, name="Dear Co")
    row = closed_round(session, item, [(cheap.id, "18.50"), (dear.id, "19.00")])
    plain = solve_now(session, engine, row.id, Overrides())
    assert plain.presented is None  # nothing excluded: the result is what is shown
    done = solve_now(session, engine, row.id, Overrides(exclude_factories=(cheap.id,)))
    assert done.status == AllocationStatus.done
    assert done.presented is not None
    stored = json.loads(done.items or "[]")
    assert [(i["id"], i["name"]) for i in stored] == [(item.id, "Plush bear")]

    def no_parsing(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("parsed a problem or a snapshot again")

    monkeypatch.setattr(solves, "parse_problem", no_parsing)
    monkeypatch.setattr(snapshot, "parse_problem", no_parsing)
    shown = solves.presented_result(session=session, row=done)
    assert shown is not None
    excluded = [a for a in shown.allocations if a.reason == "excluded"]
    assert [a.factory for a in excluded] == [cheap.id]
    assert excluded[0].units == 0
    items = snapshot.solved_items(done)
    assert items[0].retail_price == Decimal("39.90")
    assert items[0].demand[1] == (12000, Decimal("0.5"))


def test_published_awards_hold_declared_costs_and_names_and_statements_read_only_them(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = builders.an_item(session, name="Plush bear")
    factory = builders.a_factory(session, name="Bear Works")
    row = closed_round(session, item, [(factory.id, "18.50")])
    done = solve_now(session, engine, row.id, Overrides())
    publication.publish_allocation(session=session, actor=builders.MANAGER, allocation_id=done.id)
    award = session.exec(select(Award).where(Award.allocation_id == done.id)).one()
    assert (award.unit_cost_cents, award.setup_cost_cents) == (1850, 0)
    assert (award.factory_name, award.item_name) == ("Bear Works", "Plush bear")

    def no_parsing(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("parsed the problem again")

    monkeypatch.setattr(settlement, "problem_of", no_parsing)  # not even a kept one
    monkeypatch.setattr(snapshot, "parse_problem", no_parsing)
    report = settlement.round_statements(
        session=session, principal=builders.FINANCE, round_id=row.id
    )
    (line,) = report.lines
    assert line.cost == Decimal("18.50") * award.units
    assert line.units == award.units > 0


def test_an_award_published_before_costs_were_stored_reads_them_from_the_problem(
    session: Session, engine: Engine
) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session)
    row = closed_round(session, item, [(factory.id, "18.50")])
    done = solve_now(session, engine, row.id, Overrides())
    publication.publish_allocation(session=session, actor=builders.MANAGER, allocation_id=done.id)
    stored = session.exec(select(Award).where(Award.allocation_id == done.id)).one()
    stored.unit_cost_cents = None
    stored.setup_cost_cents = None
    session.add(stored)
    allocation = session.get(Allocation, done.id)
    assert allocation is not None
    allocation.items = None
    session.add(allocation)
    session.commit()
    published = settlement.published_round(session=session, row=lock_round(session, row.id))
    session.rollback()
    assert published.awards[0].unit_cost == Decimal("18.50")
    assert published.items[0].retail_price == Decimal("39.90")


def test_a_running_solve_records_its_phase_and_only_then(session: Session, engine: Engine) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session)
    row = closed_round(session, item, [(factory.id, "18.50")])
    queued = solves.solve_round(
        session=session,
        actor=builders.MANAGER,
        round_id=row.id,
        overrides=Overrides(),
        jobs=_NoQueue(),
    )
    solves.record_phase(engine=engine, allocation_id=queued.id, phase="solving")
    assert _phase(engine, queued.id) is None  # queued: not running, nothing recorded
    assert solves.start_solve(session=session, allocation_id=queued.id, only_queued=True)
    assert _phase(engine, queued.id) == "building"
    solves.record_phase(engine=engine, allocation_id=queued.id, phase="whole_units")
    assert _phase(engine, queued.id) == "whole_units"
    with pytest.raises(ValueError, match="unknown phase"):
        solves.record_phase(engine=engine, allocation_id=queued.id, phase="dreaming")
    solves.fail_solve(session=session, allocation_id=queued.id, message="stopped")
    assert _phase(engine, queued.id) is None


def test_the_solve_job_records_each_phase_the_solver_reports_in_order(
    session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session)
    row = closed_round(session, item, [(factory.id, "18.50")])
    queued = solves.solve_round(
        session=session,
        actor=builders.MANAGER,
        round_id=row.id,
        overrides=Overrides(),
        jobs=_NoQueue(),
    )
    seen: list[str | None] = []
    record = solves.record_phase

    def recording(*, engine: Engine, allocation_id: str, phase: str) -> None:
        record(engine=engine, allocation_id=allocation_id, phase=phase)
        seen.append(_phase(engine, allocation_id))  # as GET /v1/allocations/{id} reads it

    monkeypatch.setattr(solves, "record_phase", recording)
    solves.run_solve(engine=engine, allocation_id=queued.id, only_queued=True)
    assert seen == list(PHASES)
    assert _phase(engine, queued.id) is None  # done: no phase shown


class _NoQueue:
    name = "none"

    def enqueue(self, session: Session, *, allocation_id: str, round_id: str) -> None:
        """Run nothing: the test starts the solve itself."""


def _phase(engine: Engine, allocation_id: str) -> str | None:
    with Session(engine) as fresh:
        found = fresh.get(Allocation, allocation_id)
        assert found is not None
        return found.phase
