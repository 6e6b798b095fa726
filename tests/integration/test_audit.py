"""The audit log: an event per state change, sealed bid content, a verifiable hash chain."""

import itertools
import json

from sqlalchemy import text
from sqlmodel import Session, col, select

from bidding import audit, bids, rounds
from bidding.models import AuditEvent
from tests.factories import MANAGER, a_factory, an_item, an_open_round, as_factory, terms


def _events(session: Session) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


def test_every_state_change_writes_a_chained_event_with_who_and_what(session: Session) -> None:
    item = an_item(session)
    row = an_open_round(session, item_list=[item])
    factory = as_factory(a_factory(session))
    bids.submit_bid(session=session, actor=factory, round_id=row.id, item_id=item.id, terms=terms())
    rounds.close_round(session=session, actor=MANAGER, round_id=row.id)
    events = _events(session)
    assert [e.action for e in events] == [
        "item.create",
        "round.create",
        "round.item.put",
        "round.open",
        "factory.create",
        "bid.submit",
        "round.close",
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    close = events[-1]
    assert (close.actor_key_id, close.actor_role) == (MANAGER.key_id, "manager")
    assert json.loads(close.before or "{}")["state"] == "open"
    assert json.loads(close.after or "{}")["state"] == "closed"
    assert audit.verify_chain(session).ok


def test_while_open_the_log_holds_a_salted_commitment_not_the_bid(session: Session) -> None:
    item = an_item(session)
    row = an_open_round(session, item_list=[item])
    factory = as_factory(a_factory(session))
    bid, version = bids.submit_bid(
        session=session, actor=factory, round_id=row.id, item_id=item.id, terms=terms("18.37", 7919)
    )
    bids.amend_bid(
        session=session, actor=factory, round_id=row.id, bid_id=bid.id, terms=terms("17.11", 7907)
    )
    logged = " ".join(f"{e.before} {e.after}" for e in _events(session) if e.entity_type == "bid")
    for secret in ("18.37", "1837", "7919", "17.11", "1711", "7907", version.nonce):
        assert secret not in logged
    assert version.commitment in logged
    again = bids.commitment(bid, 1, terms("18.37", 7919), version.nonce)
    assert again == version.commitment
    assert bids.commitment(bid, 1, terms("18.37", 7919), "another nonce") != version.commitment


def test_a_tampered_event_is_reported_as_the_first_broken_link(session: Session) -> None:
    an_item(session, name="One")
    an_item(session, name="Two")
    an_item(session, name="Three")
    assert audit.verify_chain(session).ok
    session.execute(text('UPDATE audit_event SET after = \'{"name":"Forged"}\' WHERE seq = 2'))
    session.commit()
    report = audit.verify_chain(session)
    assert (report.ok, report.first_broken_seq) == (False, 2)
    assert report.reason is not None
    assert "hash" in report.reason


def test_a_removed_event_is_reported(session: Session) -> None:
    for name in ("One", "Two", "Three"):
        an_item(session, name=name)
    session.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    session.commit()
    report = audit.verify_chain(session)
    assert (report.ok, report.first_broken_seq) == (False, 2)
