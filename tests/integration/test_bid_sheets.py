"""Bid sheets on a real database: one transaction, audited as single bids are, all or nothing."""

import json

import pytest
from sqlmodel import Session, col, func, select

from bidding import bid_sheet_import, bids, rounds
from bidding.errors import BidExists, BidNotFound, BidSheetInvalid, RoundNotOpen
from bidding.models import AuditEvent, Bid, BidStatus, BidVersion
from tests.factories import MANAGER, a_factory, an_item, an_open_round, as_factory, terms


def _counts(session: Session) -> tuple[int, int, int]:
    return (
        session.exec(select(func.count()).select_from(Bid)).one(),
        session.exec(select(func.count()).select_from(BidVersion)).one(),
        session.exec(select(func.count()).select_from(AuditEvent)).one(),
    )


def test_a_sheet_applies_in_one_transaction_audited_as_single_bids_are(session: Session) -> None:
    jar, lid, cup = (an_item(session, name=name) for name in ("Jar", "Lid", "Cup"))
    row = an_open_round(session, item_list=[jar, lid, cup])
    factory = as_factory(a_factory(session))
    lid_bid, _ = bids.submit_bid(
        session=session, actor=factory, round_id=row.id, item_id=lid.id, terms=terms()
    )
    cup_bid, _ = bids.submit_bid(
        session=session, actor=factory, round_id=row.id, item_id=cup.id, terms=terms()
    )
    last = session.exec(select(func.max(AuditEvent.seq))).one()
    sheet = (
        f"item,unit_cost,capacity,withdraw\nJar,9.99,100,\n{lid.id},17.25,8000,\n{cup.id},,,yes\n"
    ).encode()
    _, done = bid_sheet_import.import_bid_sheet(
        session=session, actor=factory, round_id=row.id, filename="s.csv", content=sheet
    )
    assert [(o.item_id, o.action) for o in done] == [
        (jar.id, "submitted"),
        (lid.id, "amended"),
        (cup.id, "withdrawn"),
    ]
    events = session.exec(
        select(AuditEvent).where(col(AuditEvent.seq) > last).order_by(col(AuditEvent.seq))
    ).all()
    assert [e.action for e in events] == ["bid.submit", "bid.amend", "bid.withdraw"]
    for event in events:  # sealed as single bids' events are: no factory, item or terms
        assert event.actor_key_id is None
        assert set(json.loads(event.after or "{}")) == {"bid", "round", "commitment"}
    session.refresh(lid_bid)
    session.refresh(cup_bid)
    assert (lid_bid.version, cup_bid.status) == (2, BidStatus.withdrawn)


def test_one_fault_anywhere_stores_nothing_of_the_sheet(session: Session) -> None:
    jar, lid = an_item(session, name="Jar"), an_item(session, name="Lid")
    row = an_open_round(session, item_list=[jar, lid])
    factory = as_factory(a_factory(session))
    before = _counts(session)
    sheet = f"item,unit_cost,capacity\n{jar.id},9.99,100\n{lid.id},7.5,0\n".encode()
    with pytest.raises(BidSheetInvalid) as refused:
        bid_sheet_import.import_bid_sheet(
            session=session, actor=factory, round_id=row.id, filename="s.csv", content=sheet
        )
    assert [field for field, _ in refused.value.errors] == ["rows[3].capacity"]
    assert refused.value.places == [(3, "C3")]
    assert _counts(session) == before


def test_a_sheet_after_the_close_is_refused_and_changes_nothing(session: Session) -> None:
    jar = an_item(session, name="Jar")
    row = an_open_round(session, item_list=[jar])
    factory = as_factory(a_factory(session))
    rounds.close_round(session=session, actor=MANAGER, round_id=row.id)
    before = _counts(session)
    with pytest.raises(RoundNotOpen):
        bid_sheet_import.import_bid_sheet(
            session=session,
            actor=factory,
            round_id=row.id,
            filename="s.csv",
            content=f"item,unit_cost,capacity\n{jar.id},9.99,100\n".encode(),
        )
    assert _counts(session) == before


def test_a_batch_whose_plan_misreads_the_live_bids_writes_nothing(session: Session) -> None:
    jar, lid = an_item(session, name="Jar"), an_item(session, name="Lid")
    row = an_open_round(session, item_list=[jar, lid])
    factory = as_factory(a_factory(session))
    bids.submit_bid(session=session, actor=factory, round_id=row.id, item_id=lid.id, terms=terms())
    before = _counts(session)
    changes = [
        bids.BidChange(jar.id, "submit", terms()),
        bids.BidChange(lid.id, "submit", terms()),  # live already: an amendment was due
    ]
    with pytest.raises(BidExists):
        bids.apply_bid_changes(
            session=session, actor=factory, round_id=row.id, plan=lambda _row, _live: changes
        )
    assert _counts(session) == before
    with pytest.raises(BidNotFound):
        bids.apply_bid_changes(
            session=session,
            actor=factory,
            round_id=row.id,
            plan=lambda _row, _live: [bids.BidChange(jar.id, "withdraw")],
        )
    assert _counts(session) == before
