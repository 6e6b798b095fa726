"""A round's lifecycle (SPEC 2) as data, and the one way a round changes state.

`LIFECYCLE` is SPEC 2's table: for each action, the states it is allowed from, the state
it moves the round to (None: it leaves the state as it is), and the refusal (a 409 naming
the state) otherwise. `require` checks an action; `transition` checks it, makes the move
and writes its audit event, in the caller's transaction. Every change of a round's state
goes through `transition`.

Every use case re-reads the round under a lock (`lock_round`) before it checks, so an
action and a close racing each other are ordered by the database: whichever locks first
wins, and the other sees the state it left.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlmodel import Session, select

from bidding.changes import audited
from bidding.errors import (
    RoundAlreadySettled,
    RoundNotCancellable,
    RoundNotDraft,
    RoundNotFound,
    RoundNotOpen,
    RoundNotPublished,
    RoundNotSettled,
    RoundNotSolvable,
    RoundNotSolved,
    WrongRoundState,
)
from bidding.models import Round, RoundState, as_utc, utcnow
from bidding.principal import Principal
from bidding.values import from_cents, from_ppb, plain

Action = Literal[
    "edit",
    "set_deadline",
    "open",
    "bid",
    "close",
    "solve",
    "what_if",
    "publish",
    "read_awards",
    "settle",
    "correct",
    "cancel",
]
"""What is done to (or read of) a round; a moving action's audit event is `round.<action>`."""

S = RoundState


@dataclass(frozen=True)
class Move:
    """One row of SPEC 2's table: allowed from `sources`, to `target` (None: unchanged)."""

    sources: frozenset[RoundState]
    target: RoundState | None
    refusal: type[WrongRoundState]
    refusal_from: Mapping[RoundState, type[WrongRoundState]] = field(default_factory=dict)
    """A more telling refusal from particular states (settling a settled round)."""
    stamp: Literal["opened_at", "closed_at", "cancelled_at"] | None = None
    """The round's time column the move sets."""


PUBLISHED = frozenset({S.published, S.settled})
"""States whose awards are binding and visible."""

LIFECYCLE: Mapping[Action, Move] = {
    "edit": Move(frozenset({S.draft}), None, RoundNotDraft),
    "set_deadline": Move(frozenset({S.draft, S.open}), None, RoundNotOpen),
    "open": Move(frozenset({S.draft}), S.open, RoundNotDraft, stamp="opened_at"),
    "bid": Move(frozenset({S.open}), None, RoundNotOpen),
    "close": Move(frozenset({S.open}), S.closed, RoundNotOpen, stamp="closed_at"),
    "solve": Move(frozenset({S.closed, S.solved}), S.solved, RoundNotSolvable),
    "what_if": Move(frozenset({S.closed, S.solved}), None, RoundNotSolvable),
    "publish": Move(frozenset({S.solved}), S.published, RoundNotSolved),
    "read_awards": Move(PUBLISHED, None, RoundNotPublished),
    "settle": Move(
        frozenset({S.published}),
        S.settled,
        RoundNotPublished,
        refusal_from={S.settled: RoundAlreadySettled},
    ),
    "correct": Move(frozenset({S.settled}), None, RoundNotSettled),
    "cancel": Move(
        frozenset({S.draft, S.open, S.closed, S.solved}),
        S.cancelled,
        RoundNotCancellable,
        stamp="cancelled_at",
    ),
}


def lock_round(session: Session, round_id: str) -> Round:
    """The round, re-read under a row lock held to the end of the transaction.

    PostgreSQL: SELECT ... FOR UPDATE. SQLite: a use case's transaction holds the
    database's write lock from its first statement (BEGIN IMMEDIATE, see bidding.db).
    """
    row = session.exec(
        select(Round)
        .where(Round.id == round_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise RoundNotFound(f"no round {round_id!r}")
    return row


def database_now(session: Session) -> datetime:
    """The database's clock, now (not the transaction's start): what deadlines are read by.

    PostgreSQL: clock_timestamp(), so a transaction that waited for a lock reads the time
    it got it. SQLite: its own 'now' (the host's clock, to the millisecond).
    """
    if session.get_bind().dialect.name == "postgresql":
        moment: datetime = session.execute(text("SELECT clock_timestamp()")).scalar_one()
        return as_utc(moment)
    spelled = session.execute(text("SELECT strftime('%Y-%m-%dT%H:%M:%f', 'now')")).scalar_one()
    return as_utc(datetime.fromisoformat(spelled))


def deadline_passed(session: Session, row: Round) -> bool:
    """Whether the round has a deadline and the database's clock has reached it."""
    return row.closes_at is not None and as_utc(row.closes_at) <= database_now(session)


def require_bidding(session: Session, row: Round) -> Round:
    """The round, if it takes bids now: open, and its deadline (if any) not reached.

    From the deadline on, a bid is refused as after a close (`round_not_open`) whether or
    not the job that closes the round has run yet. The caller holds the round's lock.
    """
    require(row, "bid")
    if row.closes_at is not None and as_utc(row.closes_at) <= database_now(session):
        deadline = as_utc(row.closes_at).isoformat()
        refusal = RoundNotOpen(
            str(row.state), detail=f"The round is not open for bids: its deadline {deadline} passed"
        )
        refusal.extra["closes_at"] = deadline
        raise refusal
    return row


def round_state(row: Round) -> dict[str, Any]:
    """The round's terms and state as the audit log records them."""
    return {
        "name": row.name,
        "category": row.category,
        "period": row.period,
        "currency": row.currency,
        "margin_floor": plain(from_ppb(row.margin_floor_ppb)),
        "capacity_share": plain(from_ppb(row.capacity_share_ppb)),
        "budget": None if row.budget_cents is None else str(from_cents(row.budget_cents)),
        "closes_at": None if row.closes_at is None else as_utc(row.closes_at).isoformat(),
        "state": str(row.state),
    }


def allows(state: RoundState, action: Action) -> bool:
    """Whether SPEC 2 allows the action in this state."""
    return state in LIFECYCLE[action].sources


def require(row: Round, action: Action) -> Round:
    """The round, if SPEC 2 allows the action in its state; else the action's 409."""
    move = LIFECYCLE[action]
    if row.state not in move.sources:
        raise move.refusal_from.get(row.state, move.refusal)(row.state)
    return row


def transition(
    session: Session,
    *,
    actor: Principal,
    row: Round,
    action: Action,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> Round:
    """Check the action, move the round and record `round.<action>` (never commits).

    `details` join the event's `after` (the snapshot's hash, the allocation published).
    The caller holds the round's lock (`lock_round`).
    """
    require(row, action)
    move = LIFECYCLE[action]
    if move.target is None:
        raise ValueError(f"{action!r} does not move a round")
    with audited(
        session, actor=actor, action=f"round.{action}", row=row, state=round_state
    ) as after:
        row.state = move.target
        if move.stamp is not None:
            setattr(row, move.stamp, at or utcnow())
        after.update(details or {})
    return row
