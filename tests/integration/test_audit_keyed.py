"""The keyed chain and its anchor file: a recomputed chain and a cut tail are caught unaided.

The attacker here has the database owner's rights (drops the append-only guard, edits,
deletes) but not finance's key, and cannot rewrite the append-only anchor file.
"""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bidding import audit
from bidding.models import AuditEvent
from bidding.principal import SYSTEM
from tests.factories import an_item, without_audit_guard

KEY = b"finance-holds-this-key-0123456789abcdef"


@pytest.fixture
def anchor(tmp_path: Path) -> Path:
    """Where the chain's heads are appended (outside the database)."""
    return tmp_path / "audit.anchor"


@pytest.fixture
def keyed(engine: Engine, anchor: Path) -> Iterator[Session]:
    """A session on a database whose chain is keyed and anchored."""
    audit.configure_chain(engine, audit.ChainSettings(key=KEY, anchor_path=anchor))
    with Session(engine, expire_on_commit=False) as session:
        yield session


def _events(session: Session) -> list[AuditEvent]:
    session.rollback()  # a fresh snapshot
    return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


def _anchor_lines(anchor: Path) -> list[tuple[int, str]]:
    lines = anchor.read_text().splitlines()
    return [(int(seq), head) for seq, head in (line.split(" ") for line in lines)]


def _items(session: Session, *names: str) -> None:
    for name in names:
        an_item(session, name=name)


def test_a_keyed_chain_holds_hmacs_and_starts_with_the_switch_event(
    keyed: Session, anchor: Path
) -> None:
    _items(keyed, "One", "Two")
    events = _events(keyed)
    assert [e.action for e in events] == [audit.KEYED_ACTION, "item.create", "item.create"]
    assert all(e.hash.startswith("hmac-sha256:") for e in events)
    chain = audit.ChainSettings(key=KEY)
    assert all(e.hash == audit.event_hash(e, KEY) for e in events)
    assert f'"key_id":"{chain.key_id}"' in (events[0].after or "")
    assert _anchor_lines(anchor) == [(2, events[1].hash), (3, events[2].hash)]
    report = audit.verify_chain(keyed)
    assert (report.ok, report.keyed_from_seq, report.anchored_seq) == (True, 1, 3)


def test_the_switch_from_a_plain_chain_is_an_event_and_the_old_events_still_verify(
    engine: Engine, anchor: Path
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        _items(session, "Before one", "Before two")  # no key yet: plain sha256
        assert all(e.hash.startswith("sha256:") for e in _events(session))
    audit.configure_chain(engine, audit.ChainSettings(key=KEY, anchor_path=anchor))
    with Session(engine, expire_on_commit=False) as session:
        _items(session, "After")
        events = _events(session)
        assert [(e.seq, e.action, e.hash.split(":")[0]) for e in events] == [
            (1, "item.create", "sha256"),
            (2, "item.create", "sha256"),
            (3, audit.KEYED_ACTION, "hmac-sha256"),
            (4, "item.create", "hmac-sha256"),
        ]
        assert events[2].prev_hash == events[1].hash
        report = audit.verify_chain(session)
        assert (report.ok, report.keyed_from_seq, report.head_seq) == (True, 3, 4)


def test_a_chain_recomputed_without_the_key_is_reported(keyed: Session) -> None:
    _items(keyed, "One", "Two", "Three")
    with without_audit_guard(keyed.connection()):
        events = _events_for_update(keyed)
        previous = events[1].hash
        for event in events[2:]:  # from the forged event on, as a rewrite would
            if event.seq == 3:
                event.after = '{"name":"Forged"}'
            event.prev_hash = previous
            event.hash = audit.event_hash(event)  # all the attacker can: plain sha256
            previous = event.hash
            keyed.add(event)
        keyed.flush()
    keyed.commit()
    report = audit.verify_chain(keyed)
    assert (report.ok, report.first_broken_seq) == (False, 3)
    assert "without the key" in (report.reason or "")


def test_a_chain_recomputed_with_another_key_is_reported(keyed: Session) -> None:
    _items(keyed, "One", "Two", "Three")
    with without_audit_guard(keyed.connection()):
        previous = audit.GENESIS_HASH
        for event in _events_for_update(keyed):
            if event.seq == 3:
                event.after = '{"name":"Forged"}'
            event.prev_hash = previous
            event.hash = audit.event_hash(event, b"a guessed key of the same length!!!!!!")
            previous = event.hash
            keyed.add(event)
        keyed.flush()
    keyed.commit()
    report = audit.verify_chain(keyed)
    assert (report.ok, report.first_broken_seq) == (False, 1)
    assert "hash does not match" in (report.reason or "")


def test_a_chain_replaced_by_a_plain_one_without_the_switch_is_caught_by_the_anchor(
    keyed: Session,
) -> None:
    _items(keyed, "One", "Two", "Three")
    with without_audit_guard(keyed.connection()) as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 1"))  # the switch event
        previous = audit.GENESIS_HASH
        for event in _events_for_update(keyed):
            event.seq -= 1
            event.prev_hash = previous
            event.hash = audit.event_hash(event)
            previous = event.hash
        rows = [
            (e.seq, e.occurred_at, e.action, e.entity_id, e.after, e.prev_hash, e.hash)
            for e in _events_for_update(keyed)
        ]
        keyed.expunge_all()
        connection.execute(text("DELETE FROM audit_event"))
        for seq, occurred_at, action, entity_id, after, prev_hash, hash_ in rows:
            forged = AuditEvent(
                seq=seq,
                occurred_at=occurred_at,
                actor_key_id="key_test_manager",
                actor_role="manager",
                action=action,
                entity_type="item",
                entity_id=entity_id,
                after=after,
                prev_hash=prev_hash,
                hash=hash_,
            )
            forged.hash = audit.event_hash(forged)
            keyed.add(forged)
        keyed.flush()
        _relink(keyed)
    keyed.commit()
    report = audit.verify_chain(keyed)
    assert report.ok is False
    assert report.keyed_from_seq is None  # consistent, plain: only the anchor can tell
    assert "anchor file" in (report.reason or "")


def _events_for_update(session: Session) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


def _relink(session: Session) -> None:
    previous = audit.GENESIS_HASH
    for event in _events_for_update(session):
        event.prev_hash = previous
        event.hash = audit.event_hash(event)
        previous = event.hash
    session.flush()


def test_a_cut_tail_is_reported_without_an_anchor_kept_by_hand(keyed: Session) -> None:
    _items(keyed, "One", "Two", "Three", "Four")
    with without_audit_guard(keyed.connection()) as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq > 3"))
    keyed.commit()
    report = audit.verify_chain(keyed)  # no head_seq / head_hash given
    assert (report.ok, report.first_broken_seq, report.head_seq) == (False, 4, 3)
    assert "removed" in (report.reason or "")
    assert report.anchored_seq == 5


def test_a_cut_tail_written_over_by_new_events_is_reported(keyed: Session) -> None:
    _items(keyed, "One", "Two", "Three", "Four")
    with without_audit_guard(keyed.connection()) as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq > 2"))
    keyed.commit()
    _items(keyed, "New three", "New four", "New five", "New six")  # the head is 6 again
    report = audit.verify_chain(keyed)
    assert (report.ok, report.first_broken_seq) == (False, 3)
    assert "rewritten" in (report.reason or "")


def test_a_rolled_back_event_is_not_anchored(keyed: Session, anchor: Path) -> None:
    _items(keyed, "Kept")
    before = anchor.read_text()
    audit.record_event(
        keyed,
        actor=SYSTEM,
        action="test.rolled_back",
        entity_type="test",
        entity_id="x",
    )
    keyed.rollback()
    assert anchor.read_text() == before
    assert audit.verify_chain(keyed).ok


def test_a_keyed_chain_cannot_be_verified_or_extended_without_the_key(
    keyed: Session, engine: Engine
) -> None:
    _items(keyed, "One")
    audit.configure_chain(engine, audit.ChainSettings(key=None))
    with Session(engine) as session:
        report = audit.verify_chain(session)
        assert (report.ok, report.first_broken_seq) == (False, 1)
        assert "SUPPLYBID_AUDIT_KEY" in (report.reason or "")
        with pytest.raises(audit.AuditKeyMissingError):
            an_item(session, name="Two")
    audit.configure_chain(engine, audit.ChainSettings(key=b"another key, also long enough!!!!!"))
    with Session(engine) as session:
        report = audit.verify_chain(session)
        assert report.ok is False
        assert "another key" in (report.reason or "")


def test_an_emptied_anchor_file_is_reported_and_a_fresh_one_is_seeded(
    keyed: Session, anchor: Path
) -> None:
    _items(keyed, "One", "Two")
    anchor.unlink()
    report = audit.verify_chain(keyed)
    assert report.ok is False
    assert "holds no head" in (report.reason or "")
    assert audit.seed_anchor(keyed)
    assert _anchor_lines(anchor) == [(3, _events(keyed)[-1].hash)]
    assert not audit.seed_anchor(keyed)  # only into an empty file
    assert audit.verify_chain(keyed).ok


def test_concurrent_writers_extend_one_chain_and_anchor_every_head(
    engine: Engine, anchor: Path
) -> None:
    audit.configure_chain(engine, audit.ChainSettings(key=KEY, anchor_path=anchor))
    writers, each = 6, 4
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(number: int) -> None:
        try:
            start.wait()
            with Session(engine, expire_on_commit=False) as session:
                for turn in range(each):
                    an_item(session, name=f"Writer {number} item {turn}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(engine) as session:
        events = _events(session)
        assert [e.seq for e in events] == list(range(1, writers * each + 2))  # + the switch
        heads = _anchor_lines(anchor)
        assert sorted(seq for seq, _ in heads) == list(range(2, writers * each + 2))
        assert dict(heads) == {e.seq: e.hash for e in events[1:]}
        report = audit.verify_chain(session)
        assert (report.ok, report.anchored_seq) == (True, writers * each + 1)
