"""Bids on a real database: submit, amend, withdraw, sealing, and the close."""

from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlmodel import Session, col, func, select

from bidding import bids, rounds
from bidding.errors import (
    BidExists,
    BidNotFound,
    BidWithdrawn,
    InvalidInput,
    RoundNotClosed,
    RoundNotFound,
    RoundNotOpen,
)
from bidding.models import AuditEvent, Bid, BidVersion
from tests.factories import FINANCE, MANAGER, a_factory, an_item, an_open_round, as_factory, terms


def _count(session: Session, model: type[Bid] | type[BidVersion] | type[AuditEvent]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_a_factory_submits_amends_and_withdraws_a_bid_keeping_its_history(session: Session) -> None:
    item = an_item(session)
    row = an_open_round(session, item_list=[item])
    factory = as_factory(a_factory(session))
    bid, v1 = bids.submit_bid(
        session=session, actor=factory, round_id=row.id, item_id=item.id, terms=terms()
    )
    assert bid.id.startswith("bid_")
    assert v1.unit_cost_cents == 1850
    bid, v2 = bids.amend_bid(
        session=session, actor=factory, round_id=row.id, bid_id=bid.id, terms=terms("17.25")
    )
    assert (bid.version, v2.unit_cost_cents) == (2, 1725)
    history = bids.list_versions(session=session, principal=factory, round_id=row.id, bid_id=bid.id)
    assert [v.unit_cost_cents for v in history] == [1850, 1725]
    bid, _ = bids.withdraw_bid(session=session, actor=factory, round_id=row.id, bid_id=bid.id)
    assert bid.status == "withdrawn"
    with pytest.raises(BidWithdrawn):
        bids.amend_bid(
            session=session, actor=factory, round_id=row.id, bid_id=bid.id, terms=terms()
        )
    fresh, _ = bids.submit_bid(
        session=session, actor=factory, round_id=row.id, item_id=item.id, terms=terms("19.00")
    )
    assert fresh.id != bid.id


def test_a_second_live_bid_on_the_same_item_is_refused(session: Session) -> None:
    item = an_item(session)
    row = an_open_round(session, item_list=[item])
    factory = as_factory(a_factory(session))
    bids.submit_bid(session=session, actor=factory, round_id=row.id, item_id=item.id, terms=terms())
    with pytest.raises(BidExists):
        bids.submit_bid(
            session=session, actor=factory, round_id=row.id, item_id=item.id, terms=terms()
        )
    session.rollback()
    assert _count(session, Bid) == 1


def test_a_bid_on_an_item_outside_the_round_or_with_a_lot_above_capacity_is_refused(
    session: Session,
) -> None:
    item, other = an_item(session), an_item(session, name="Other")
    row = an_open_round(session, item_list=[item])
    factory = as_factory(a_factory(session))
    with pytest.raises(InvalidInput) as refused:
        bids.submit_bid(
            session=session, actor=factory, round_id=row.id, item_id=other.id, terms=terms()
        )
    assert refused.value.errors[0][0] == "body.item"
    session.rollback()
    with pytest.raises(InvalidInput) as refused:
        bids.submit_bid(
            session=session,
            actor=factory,
            round_id=row.id,
            item_id=item.id,
            terms=terms(capacity=100, min_lot=200),
        )
    assert refused.value.errors[0][0] == "body.min_lot"
    session.rollback()
    assert _count(session, Bid) == 0


def test_a_bid_after_close_is_rejected_and_changes_nothing(session: Session) -> None:
    item = an_item(session)
    row = an_open_round(session, item_list=[item])
    factory = as_factory(a_factory(session))
    bid, _ = bids.submit_bid(
        session=session, actor=factory, round_id=row.id, item_id=item.id, terms=terms()
    )
    rounds.close_round(session=session, actor=MANAGER, round_id=row.id)
    events = _count(session, AuditEvent)
    attempts: list[Callable[[], object]] = [
        lambda: bids.submit_bid(
            session=session, actor=factory, round_id=row.id, item_id=item.id, terms=terms()
        ),
        lambda: bids.amend_bid(
            session=session, actor=factory, round_id=row.id, bid_id=bid.id, terms=terms("1.00")
        ),
        lambda: bids.withdraw_bid(session=session, actor=factory, round_id=row.id, bid_id=bid.id),
    ]
    for attempt in attempts:
        with pytest.raises(RoundNotOpen):
            attempt()
        session.rollback()
    assert (_count(session, Bid), _count(session, BidVersion)) == (1, 1)
    assert _count(session, AuditEvent) == events


def test_bids_are_sealed_until_the_close(session: Session) -> None:
    item = an_item(session)
    row = an_open_round(session, item_list=[item])
    owner = as_factory(a_factory(session, name="Owner"))
    rival = as_factory(a_factory(session, name="Rival"))
    bid, _ = bids.submit_bid(
        session=session, actor=owner, round_id=row.id, item_id=item.id, terms=terms()
    )
    with pytest.raises(BidNotFound):
        bids.get_bid(session=session, principal=rival, round_id=row.id, bid_id=bid.id)
    assert (
        bids.list_bids(session=session, principal=rival, round_id=row.id, after=None, limit=10)
        == []
    )
    for staff in (MANAGER, FINANCE):
        with pytest.raises(RoundNotClosed):
            bids.list_bids(session=session, principal=staff, round_id=row.id, after=None, limit=10)
        with pytest.raises(RoundNotClosed):
            bids.get_bid(session=session, principal=staff, round_id=row.id, bid_id=bid.id)
    rounds.close_round(session=session, actor=MANAGER, round_id=row.id)
    listed = bids.list_bids(
        session=session, principal=FINANCE, round_id=row.id, after=None, limit=10
    )
    assert [b.id for b, _ in listed] == [bid.id]


def test_a_round_with_invitations_takes_bids_from_invited_factories_only(session: Session) -> None:
    item = an_item(session)
    invited, outsider = a_factory(session, name="Invited"), a_factory(session, name="Outsider")
    from tests.factories import a_draft_round

    row = a_draft_round(session, item_list=[item])
    rounds.invite_factory(
        session=session,
        actor=MANAGER,
        round_id=row.id,
        factory_id=invited.id,
        capacity_share=Decimal("0.3"),
        guaranteed_units=100,
    )
    rounds.open_round(session=session, actor=MANAGER, round_id=row.id)
    bids.submit_bid(
        session=session, actor=as_factory(invited), round_id=row.id, item_id=item.id, terms=terms()
    )
    with pytest.raises(RoundNotFound):
        bids.submit_bid(
            session=session,
            actor=as_factory(outsider),
            round_id=row.id,
            item_id=item.id,
            terms=terms(),
        )
    session.rollback()
    with pytest.raises(BidNotFound):
        bids.list_bids(
            session=session, principal=as_factory(outsider), round_id=row.id, after=None, limit=5
        )
    assert (
        session.exec(select(func.count()).select_from(Bid).where(col(Bid.round_id) == row.id)).one()
        == 1
    )
