"""The audit log: an event per state change, sealed bid content, a verifiable hash chain."""

import itertools
import json
import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from bidding import audit, bids, rounds
from bidding.models import AuditEvent
from tests.factories import (
    MANAGER,
    a_factory,
    an_item,
    an_open_round,
    as_factory,
    terms,
    without_audit_guard,
)


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
    assert version.commitment in logged
    # Hex digests may hold any run of digits: look for the secrets outside them.
    outside = re.sub(r"sha256:[0-9a-f]{64}", "", logged)
    for secret in ("18.37", "1837", "7919", "17.11", "1711", "7907", version.nonce):
        assert secret not in outside
    again = bids.commitment(bid, 1, terms("18.37", 7919), version.nonce)
    assert again == version.commitment
    assert bids.commitment(bid, 1, terms("18.37", 7919), "another nonce") != version.commitment


def _stored(session: Session) -> list[tuple[int, str, str | None, str]]:
    return [(e.seq, e.actor_role, e.after, e.hash) for e in _events(session)]


@pytest.mark.parametrize(
    "statement",
    [
        'UPDATE audit_event SET after = \'{"name":"Forged"}\' WHERE seq = 2',
        "UPDATE audit_event SET actor_role = 'admin'",
        "DELETE FROM audit_event WHERE seq = 2",
        "DELETE FROM audit_event",
    ],
)
def test_the_database_refuses_to_change_or_remove_a_stored_event(
    session: Session, statement: str
) -> None:
    for name in ("One", "Two", "Three"):
        an_item(session, name=name)
    stored = _stored(session)
    session.commit()
    with pytest.raises(DBAPIError, match="audit_event is append-only"):
        session.execute(text(statement))
    session.rollback()
    assert _stored(session) == stored
    assert audit.verify_chain(session).ok


def test_the_database_refuses_an_orm_change_of_a_stored_event(session: Session) -> None:
    an_item(session, name="One")
    stored = _stored(session)
    session.commit()
    event = _events(session)[0]
    event.after = '{"name":"Forged"}'
    with pytest.raises(DBAPIError, match="audit_event is append-only"):
        session.commit()
    session.rollback()
    session.delete(_events(session)[0])
    with pytest.raises(DBAPIError, match="audit_event is append-only"):
        session.commit()
    session.rollback()
    assert _stored(session) == stored


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite has no TRUNCATE
def test_postgresql_refuses_to_truncate_the_log(session: Session) -> None:
    an_item(session, name="One")
    stored = _stored(session)
    session.commit()
    with pytest.raises(DBAPIError, match="audit_event is append-only"):
        session.execute(text("TRUNCATE audit_event"))
    session.rollback()
    assert _stored(session) == stored


def test_appending_still_works_after_the_guard_is_restored(session: Session) -> None:
    an_item(session, name="One")
    with without_audit_guard(session.connection()) as connection:
        connection.execute(text("UPDATE audit_event SET actor_role = 'admin' WHERE seq = 1"))
    session.commit()
    with pytest.raises(DBAPIError, match="audit_event is append-only"):
        session.execute(text("DELETE FROM audit_event"))
    session.rollback()
    an_item(session, name="Two")
    assert [e.seq for e in _events(session)] == [1, 2]


def test_a_tampered_event_is_reported_as_the_first_broken_link(session: Session) -> None:
    an_item(session, name="One")
    an_item(session, name="Two")
    an_item(session, name="Three")
    assert audit.verify_chain(session).ok
    with without_audit_guard(session.connection()) as connection:
        connection.execute(
            text('UPDATE audit_event SET after = \'{"name":"Forged"}\' WHERE seq = 2')
        )
    session.commit()
    report = audit.verify_chain(session)
    assert (report.ok, report.first_broken_seq) == (False, 2)
    assert report.reason is not None
    assert "hash" in report.reason


def test_a_removed_event_is_reported(session: Session) -> None:
    for name in ("One", "Two", "Three"):
        an_item(session, name=name)
    with without_audit_guard(session.connection()) as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    session.commit()
    report = audit.verify_chain(session)
    assert (report.ok, report.first_broken_seq) == (False, 2)


def _five_items_and_the_head(session: Session) -> audit.ChainReport:
    for name in ("One", "Two", "Three", "Four", "Five"):
        an_item(session, name=name)
    report = audit.verify_chain(session)
    assert report.ok
    return report


def test_the_report_gives_the_head_to_record_as_the_next_anchor(session: Session) -> None:
    assert (audit.verify_chain(session).head_seq, audit.verify_chain(session).head_hash) == (
        0,
        audit.GENESIS_HASH,
    )
    report = _five_items_and_the_head(session)
    last = _events(session)[-1]
    assert (report.head_seq, report.head_hash) == (last.seq, last.hash)
    anchored = audit.verify_chain(session, head_seq=report.head_seq, head_hash=report.head_hash)
    assert anchored.ok


def test_events_removed_from_the_end_pass_alone_but_not_against_the_anchor(
    session: Session,
) -> None:
    recorded = _five_items_and_the_head(session)
    an_item(session, name="After the anchor")
    with without_audit_guard(session.connection()) as connection:
        connection.execute(text(f"DELETE FROM audit_event WHERE seq > {recorded.head_seq - 3}"))
    session.commit()
    assert audit.verify_chain(session).ok  # a shorter chain is consistent in itself
    report = audit.verify_chain(session, head_seq=recorded.head_seq, head_hash=recorded.head_hash)
    assert (report.ok, report.first_broken_seq) == (False, recorded.head_seq - 2)
    assert report.reason is not None
    assert "removed" in report.reason


def test_an_anchor_below_the_removed_events_still_verifies(session: Session) -> None:
    recorded = _five_items_and_the_head(session)
    an_item(session, name="After the anchor")
    with without_audit_guard(session.connection()) as connection:
        connection.execute(text(f"DELETE FROM audit_event WHERE seq > {recorded.head_seq}"))
    session.commit()
    report = audit.verify_chain(session, head_seq=recorded.head_seq, head_hash=recorded.head_hash)
    assert report.ok


def test_a_chain_rewritten_with_every_hash_recomputed_is_caught_by_the_anchor(
    session: Session,
) -> None:
    recorded = _five_items_and_the_head(session)
    previous = audit.GENESIS_HASH
    with without_audit_guard(session.connection()):
        for event in _events(session):
            if event.seq == 1:
                event.after = '{"name":"Forged"}'
            event.prev_hash = previous
            event.hash = audit.event_hash(event)
            previous = event.hash
            session.add(event)
        session.flush()
    session.commit()
    assert audit.verify_chain(session).ok  # consistent in itself
    report = audit.verify_chain(session, head_seq=recorded.head_seq, head_hash=recorded.head_hash)
    assert (report.ok, report.first_broken_seq) == (False, recorded.head_seq)
    assert report.reason is not None
    assert "rewritten" in report.reason


def test_an_open_round_bid_event_names_neither_factory_nor_item_nor_content(
    session: Session,
) -> None:
    item = an_item(session)
    row = an_open_round(session, item_list=[item])
    owner = a_factory(session)
    factory = as_factory(owner)
    bid, _ = bids.submit_bid(
        session=session, actor=factory, round_id=row.id, item_id=item.id, terms=terms("18.37", 7919)
    )
    bids.amend_bid(
        session=session, actor=factory, round_id=row.id, bid_id=bid.id, terms=terms("17.11", 7907)
    )
    bids.withdraw_bid(session=session, actor=factory, round_id=row.id, bid_id=bid.id)
    events = [e for e in _events(session) if e.entity_type == "bid"]
    assert [e.action for e in events] == ["bid.submit", "bid.amend", "bid.withdraw"]
    for event in events:
        assert (event.actor_key_id, event.actor_role) == (None, "factory")
        for state in (event.before, event.after):
            if state is None:
                continue
            logged = json.loads(state)
            assert set(logged) == {"bid", "round", "commitment"}, event.action
            assert (logged["bid"], logged["round"]) == (bid.id, row.id)
            assert owner.id not in state
            assert item.id not in state
