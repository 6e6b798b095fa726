"""Rounds closed by their deadline: what the job queue runs (SPEC 2, `closes_at`).

Bids are refused from the deadline on by the bid use cases themselves (lifecycle's
`require_bidding`), whether or not this has run; this freezes the snapshot as a manager's
close does, as the system. The job queue calls `close_due_rounds` on a timer: the embedded
queue's own thread on SQLite, a procrastinate periodic task on PostgreSQL (bidding.jobs).
Any number of callers may run it at once: each close locks its round and re-checks it.
"""

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bidding.db import use_case
from bidding.errors import SnapshotInvalid
from bidding.lifecycle import database_now, lock_round
from bidding.models import Round, RoundState, as_utc
from bidding.principal import SYSTEM
from bidding.rounds import freeze

log = logging.getLogger(__name__)
_STUCK: set[str] = set()
"""Rounds this process found past their deadline but unable to close: logged once each."""


def due_rounds(*, session: Session) -> list[str]:
    """Open rounds whose deadline the database's clock has reached, soonest first."""
    now = database_now(session)
    found = session.exec(
        select(Round.id)
        .where(Round.state == RoundState.open, col(Round.closes_at).is_not(None))
        .where(col(Round.closes_at) <= now)
        .order_by(col(Round.closes_at), col(Round.id))
    ).all()
    return list(found)


@use_case
def close_at_deadline(*, session: Session, round_id: str) -> Round | None:
    """Close the round as the system if it is still open and its deadline has come.

    None when there is nothing to do: a manager closed or cancelled it first, or moved
    its deadline, or another worker closed it.
    """
    row = lock_round(session, round_id)
    if row.state != RoundState.open or row.closes_at is None:
        return None
    deadline = as_utc(row.closes_at)
    if deadline > database_now(session):
        return None
    freeze(session, actor=SYSTEM, row=row, details={"deadline": deadline.isoformat()})
    session.commit()
    return row


def close_due_rounds(engine: Engine) -> list[str]:
    """Close every round whose deadline has come; the ids closed.

    A round whose snapshot is invalid stays open (its bids are refused all the same) and is
    logged: a manager must cancel it, as a manager's close of it would be refused too.
    """
    with Session(engine, expire_on_commit=False) as session:
        due = due_rounds(session=session)
        closed = []
        for round_id in due:
            try:
                if close_at_deadline(session=session, round_id=round_id) is not None:
                    closed.append(round_id)
            except SnapshotInvalid as exc:
                if round_id not in _STUCK:
                    _STUCK.add(round_id)
                    log.warning("round %s is past its deadline but cannot close: %s", round_id, exc)
    if closed:
        log.info("closed at their deadline: %s", closed)
    return closed
