"""Round deadlines (SPEC 2, `closes_at`): bids refused from the deadline by the database's
clock, the round closed by the system, deadlines moved only forward and only before they pass.

"Time passing" is a deadline written straight into the row (as the owner, behind the use
cases, which refuse past deadlines): the checks read the database's clock, so the row is
all that must change.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bidding import bids, deadlines, rounds
from bidding.errors import InvalidInput, RoundNotDraft, RoundNotOpen
from bidding.lifecycle import database_now
from bidding.models import AuditEvent, Factory, Item, Role, Round, RoundState
from tests.factories import (
    MANAGER,
    a_draft_round,
    a_factory,
    an_item,
    an_open_round,
    as_factory,
    terms,
)


def _set_deadline_behind_the_use_cases(engine: Engine, round_id: str, moment: datetime) -> None:
    with Session(engine) as session:
        row = session.get(Round, round_id)
        assert row is not None
        row.closes_at = moment
        session.add(row)
        session.commit()


def _events(session: Session, action: str) -> list[AuditEvent]:
    session.rollback()  # a fresh read
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.seq))
        ).all()
    )


def _now(session: Session) -> datetime:
    moment = database_now(session)
    session.rollback()
    return moment


def test_the_database_clock_is_read_as_utc_near_the_hosts(session: Session) -> None:
    moment = _now(session)
    assert moment.tzinfo is not None
    assert abs(moment - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_round_is_created_with_a_future_deadline_and_refused_a_past_one(
    session: Session,
) -> None:
    ahead = _now(session) + timedelta(hours=2)
    row = rounds.create_round(
        session=session,
        actor=MANAGER,
        name="Toys",
        category="toys",
        period="2026-11",
        currency="CNY",
        margin_floor=Decimal("0.10"),
        capacity_share=Decimal("0.20"),
        budget=None,
        closes_at=ahead,
    )
    session.rollback()  # a fresh read (the refresh of `row.id` began a transaction)
    stored = session.get(Round, row.id)
    assert stored is not None
    assert stored.closes_at is not None
    assert stored.closes_at.astimezone(UTC) == ahead.astimezone(UTC)
    with pytest.raises(InvalidInput) as refused:
        rounds.create_round(
            session=session,
            actor=MANAGER,
            name="Late",
            category="toys",
            period="2026-11",
            currency="CNY",
            margin_floor=Decimal("0.10"),
            capacity_share=Decimal("0.20"),
            budget=None,
            closes_at=_now(session) - timedelta(seconds=1),
        )
    assert [field for field, _ in refused.value.errors] == ["body.closes_at"]
    assert session.exec(select(Round).where(Round.name == "Late")).first() is None


def _open_round_with_a_bid(session: Session) -> tuple[Round, Item, str, str]:
    item, other = an_item(session, name="A"), an_item(session, name="B")
    row = an_open_round(session, item_list=[item, other])
    factory = a_factory(session, name="Bidder")
    bid, _ = bids.submit_bid(
        session=session, actor=as_factory(factory), round_id=row.id, item_id=item.id, terms=terms()
    )
    _second, _ = bids.submit_bid(
        session=session,
        actor=as_factory(factory),
        round_id=row.id,
        item_id=other.id,
        terms=terms(unit_cost="17.00"),
    )
    return row, other, bid.id, factory.id


def test_from_the_deadline_submit_amend_and_withdraw_are_refused_before_any_job_runs(
    engine: Engine, session: Session
) -> None:
    row, other, bid_id, factory_id = _open_round_with_a_bid(session)
    actor = as_factory(a_factory(session, name="Latecomer"))
    owner = as_factory(session.get_one(Factory, factory_id))
    _set_deadline_behind_the_use_cases(engine, row.id, _now(session) - timedelta(seconds=1))

    attempts: dict[str, Callable[[], object]] = {
        "submit": lambda: bids.submit_bid(
            session=session, actor=actor, round_id=row.id, item_id=other.id, terms=terms()
        ),
        "amend": lambda: bids.amend_bid(
            session=session,
            actor=owner,
            round_id=row.id,
            bid_id=bid_id,
            terms=terms(unit_cost="12.00"),
        ),
        "withdraw": lambda: bids.withdraw_bid(
            session=session, actor=owner, round_id=row.id, bid_id=bid_id
        ),
    }
    for name, attempt in attempts.items():
        with pytest.raises(RoundNotOpen) as refused:
            attempt()
        assert "deadline" in refused.value.detail, name
        assert refused.value.extra["state"] == "open"
    session.rollback()  # a fresh read (the refresh of `row.id` began a transaction)
    still = session.get(Round, row.id)
    assert still is not None
    assert still.state == RoundState.open
    assert _events(session, "bid.amend") == []
    assert _events(session, "bid.withdraw") == []
    assert len(_events(session, "bid.submit")) == 2


def test_the_job_closes_a_due_round_as_the_system_and_freezes_its_bids(
    engine: Engine, session: Session
) -> None:
    row, _, bid_id, _ = _open_round_with_a_bid(session)
    later = an_open_round(session, item_list=[an_item(session, name="C")])
    ahead = _now(session) + timedelta(hours=1)
    rounds.update_round(
        session=session, actor=MANAGER, round_id=later.id, changes={"closes_at": ahead}
    )
    assert deadlines.close_due_rounds(engine) == []  # nothing is due yet
    passed = _now(session) - timedelta(milliseconds=5)
    _set_deadline_behind_the_use_cases(engine, row.id, passed)

    assert deadlines.close_due_rounds(engine) == [row.id]
    assert deadlines.close_due_rounds(engine) == []  # closed once
    session.rollback()  # a fresh read (the refresh of `row.id` began a transaction)
    closed = session.get(Round, row.id)
    assert closed is not None
    assert closed.state == RoundState.closed
    assert closed.snapshot is not None
    assert bid_id in {b["id"] for b in json.loads(closed.snapshot)["bids"]}
    untouched = session.get(Round, later.id)
    assert untouched is not None
    assert untouched.state == RoundState.open
    (event,) = _events(session, "round.close")
    assert event.actor_role == Role.system
    assert event.actor_key_id is None
    assert event.entity_id == row.id
    after = json.loads(event.after or "{}")
    assert after["state"] == "closed"
    assert datetime.fromisoformat(after["deadline"]) == passed.astimezone(UTC)
    assert after["input_hash"] == closed.input_hash


def test_a_manager_close_or_a_moved_deadline_leaves_the_job_nothing_to_do(
    engine: Engine, session: Session
) -> None:
    row, _, _, _ = _open_round_with_a_bid(session)
    rounds.close_round(session=session, actor=MANAGER, round_id=row.id)
    _set_deadline_behind_the_use_cases(engine, row.id, _now(session) - timedelta(seconds=1))
    assert deadlines.close_at_deadline(session=session, round_id=row.id) is None
    moved = an_open_round(session, item_list=[an_item(session, name="D")])
    rounds.update_round(
        session=session,
        actor=MANAGER,
        round_id=moved.id,
        changes={"closes_at": _now(session) + timedelta(hours=1)},
    )
    assert deadlines.close_at_deadline(session=session, round_id=moved.id) is None
    assert [e.actor_role for e in _events(session, "round.close")] == [Role.manager]


def test_an_open_rounds_deadline_moves_forward_until_it_passes_and_each_move_is_audited(
    engine: Engine, session: Session
) -> None:
    row = an_open_round(session, item_list=[an_item(session)])
    first = _now(session) + timedelta(hours=1)
    second = first + timedelta(days=1)
    for moment in (first, second):
        rounds.update_round(
            session=session, actor=MANAGER, round_id=row.id, changes={"closes_at": moment}
        )
    moves = _events(session, "round.deadline.move")
    assert [json.loads(e.before or "{}")["closes_at"] for e in moves] == [
        None,
        first.astimezone(UTC).isoformat(),
    ]
    assert [json.loads(e.after or "{}")["closes_at"] for e in moves] == [
        first.astimezone(UTC).isoformat(),
        second.astimezone(UTC).isoformat(),
    ]
    assert all(e.actor_role == Role.manager for e in moves)

    for refused_change in (
        {"closes_at": _now(session) - timedelta(minutes=1)},
        {"closes_at": None},
    ):
        with pytest.raises(InvalidInput) as invalid:
            rounds.update_round(
                session=session, actor=MANAGER, round_id=row.id, changes=refused_change
            )
        assert [field for field, _ in invalid.value.errors] == ["body.closes_at"]
    with pytest.raises(RoundNotDraft):  # the other terms stay draft-only
        rounds.update_round(
            session=session,
            actor=MANAGER,
            round_id=row.id,
            changes={"closes_at": second + timedelta(days=1), "name": "Renamed"},
        )

    _set_deadline_behind_the_use_cases(engine, row.id, _now(session) - timedelta(seconds=1))
    with pytest.raises(RoundNotOpen) as passed:
        rounds.update_round(
            session=session,
            actor=MANAGER,
            round_id=row.id,
            changes={"closes_at": _now(session) + timedelta(hours=1)},
        )
    assert "passed" in passed.value.detail
    assert len(_events(session, "round.deadline.move")) == 2


def test_a_deadline_on_a_round_past_open_is_refused_naming_its_state(session: Session) -> None:
    row = an_open_round(session, item_list=[an_item(session)])
    rounds.close_round(session=session, actor=MANAGER, round_id=row.id)
    with pytest.raises(RoundNotOpen) as refused:
        rounds.update_round(
            session=session,
            actor=MANAGER,
            round_id=row.id,
            changes={"closes_at": _now(session) + timedelta(hours=1)},
        )
    assert refused.value.status == 409
    assert refused.value.extra["state"] == "closed"
    assert "closed" in refused.value.detail


def test_a_draft_rounds_deadline_is_set_freely_but_a_passed_one_keeps_it_from_opening(
    engine: Engine, session: Session
) -> None:
    row = a_draft_round(session, item_list=[an_item(session)])
    rounds.update_round(
        session=session,
        actor=MANAGER,
        round_id=row.id,
        changes={"closes_at": _now(session) + timedelta(hours=1)},
    )
    rounds.update_round(
        session=session, actor=MANAGER, round_id=row.id, changes={"closes_at": None}
    )
    assert [e.action for e in _events(session, "round.update")] == ["round.update"] * 2
    _set_deadline_behind_the_use_cases(engine, row.id, _now(session) - timedelta(seconds=1))
    with pytest.raises(InvalidInput) as refused:
        rounds.open_round(session=session, actor=MANAGER, round_id=row.id)
    assert [field for field, _ in refused.value.errors] == ["closes_at"]
    ahead = _now(session) + timedelta(hours=1)
    rounds.update_round(
        session=session, actor=MANAGER, round_id=row.id, changes={"closes_at": ahead}
    )
    opened = rounds.open_round(session=session, actor=MANAGER, round_id=row.id)
    assert opened.state == RoundState.open
