"""Rounds on a real database: the lifecycle, wrong-state refusals, and the frozen snapshot."""

from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlmodel import Session, func, select

from bidding import bids, rounds
from bidding.errors import RoundEmpty, RoundNotCancellable, RoundNotDraft, RoundNotOpen
from bidding.models import AuditEvent, Round
from solver.problem import parse_problem
from tests.factories import (
    MANAGER,
    a_draft_round,
    a_factory,
    an_item,
    as_factory,
    terms,
)


def _events(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AuditEvent)).one()


def test_closing_freezes_the_round_as_a_problem_with_live_bids_at_their_latest_version(
    session: Session,
) -> None:
    item = an_item(session)
    newcomer = a_factory(session, name="New", capacity=10000, is_new=True)
    veteran = a_factory(session, name="Old", capacity=90000)
    row = a_draft_round(session, item_list=[item])
    rounds.put_round_item(
        session=session,
        actor=MANAGER,
        round_id=row.id,
        item_id=item.id,
        min_fill=1000,
        max_factory_share=Decimal("0.6"),
    )
    for factory, share, guaranteed in ((newcomer, Decimal("0.5"), 500), (veteran, None, 0)):
        rounds.invite_factory(
            session=session,
            actor=MANAGER,
            round_id=row.id,
            factory_id=factory.id,
            capacity_share=share,
            guaranteed_units=guaranteed,
        )
    rounds.open_round(session=session, actor=MANAGER, round_id=row.id)
    kept, _ = bids.submit_bid(
        session=session, actor=as_factory(newcomer), round_id=row.id, item_id=item.id, terms=terms()
    )
    bids.amend_bid(
        session=session,
        actor=as_factory(newcomer),
        round_id=row.id,
        bid_id=kept.id,
        terms=terms("17.10", 900, min_lot=100, setup_cost=Decimal("250")),
    )
    gone, _ = bids.submit_bid(
        session=session, actor=as_factory(veteran), round_id=row.id, item_id=item.id, terms=terms()
    )
    bids.withdraw_bid(session=session, actor=as_factory(veteran), round_id=row.id, bid_id=gone.id)
    closed = rounds.close_round(session=session, actor=MANAGER, round_id=row.id)
    assert closed.snapshot is not None
    problem = parse_problem(closed.snapshot)
    assert problem.input_hash == closed.input_hash
    assert [b.id for b in problem.bids] == [kept.id]
    bid = problem.bids[0]
    assert (bid.unit_cost, bid.capacity, bid.min_lot, bid.setup_cost) == (
        Decimal("17.10"),
        900,
        100,
        Decimal("250"),
    )
    factories = {f.id: f for f in problem.factories}
    assert factories[newcomer.id].is_new
    assert factories[newcomer.id].capacity_share == Decimal("0.5")
    assert factories[newcomer.id].guaranteed_units == 500
    assert factories[veteran.id].capacity_share is None
    assert problem.items[0].min_fill == 1000
    assert problem.items[0].max_factory_share == Decimal("0.6")
    assert problem.round.margin_floor == Decimal("0.10")


def test_an_action_in_the_wrong_state_is_refused_and_changes_nothing(session: Session) -> None:
    item = an_item(session)
    empty = a_draft_round(session)
    with pytest.raises(RoundEmpty):
        rounds.open_round(session=session, actor=MANAGER, round_id=empty.id)
    row = a_draft_round(session, item_list=[item])
    with pytest.raises(RoundNotOpen):
        rounds.close_round(session=session, actor=MANAGER, round_id=row.id)
    rounds.open_round(session=session, actor=MANAGER, round_id=row.id)
    events = _events(session)
    refused: list[Callable[[], object]] = [
        lambda: rounds.update_round(
            session=session, actor=MANAGER, round_id=row.id, changes={"name": "Late"}
        ),
        lambda: rounds.open_round(session=session, actor=MANAGER, round_id=row.id),
        lambda: rounds.remove_round_item(
            session=session, actor=MANAGER, round_id=row.id, item_id=item.id
        ),
        lambda: rounds.invite_factory(
            session=session,
            actor=MANAGER,
            round_id=row.id,
            factory_id="fac_x",
            capacity_share=None,
            guaranteed_units=0,
        ),
    ]
    for attempt in refused:
        with pytest.raises(RoundNotDraft):
            attempt()
    stored = session.get(Round, row.id)
    assert stored is not None
    assert (stored.name, stored.state) == ("Toys, November", "open")
    assert _events(session) == events
    rounds.cancel_round(session=session, actor=MANAGER, round_id=row.id)
    with pytest.raises(RoundNotCancellable):
        rounds.cancel_round(session=session, actor=MANAGER, round_id=row.id)
