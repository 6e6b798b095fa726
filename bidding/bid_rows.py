"""A bid's amendment and reads in plain SQL (SQLAlchemy Core): the busiest paths, no ORM.

Amendments were a third of the load bench's requests, and the ORM (building and
flushing Bid and BidVersion objects, identity map, unit of work) about a third of their
CPU. Here the same statements run on the session's connection, in the use case's
transaction: the round locked (FOR UPDATE on PostgreSQL; on SQLite the use case holds the
write lock from BEGIN IMMEDIATE), its visibility and state checked by the same rules
(`can_see_round`, `require_bidding`), the bid and its latest version read in one query,
the bid updated only from the version read, the new version inserted; bids.amend_bid
records the audit event through `record_change` as before and commits. Reads (a bid, a
factory's list) take the round the same way, unlocked, and the bid with its latest
version in one query; the rows are handed on as detached Bid and BidVersion objects.
"""

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from bidding.errors import (
    BidNotFound,
    BidWithdrawn,
    PreconditionFailed,
    RoundNotClosed,
    RoundNotFound,
)
from bidding.lifecycle import require_bidding
from bidding.models import Bid, BidStatus, BidVersion, Role, Round, RoundState
from bidding.principal import Principal
from bidding.rounds import can_see_round

_ROUND_TABLE = Round.__table__  # type: ignore[attr-defined]
_ROUND = select(*(c for c in _ROUND_TABLE.c if c.name != "snapshot"))
"""The round's row but its snapshot (none while open, and large after)."""
_BID = Bid.__table__  # type: ignore[attr-defined]
_VERSION = BidVersion.__table__  # type: ignore[attr-defined]
# Built once with bound parameters: SQLAlchemy's compiled cache then skips the building.
_LOCK_ROUND = _ROUND.where(_ROUND_TABLE.c.id == bindparam("round_id")).with_for_update()
_LIVE_BID = (
    select(_BID, _VERSION.c.commitment)
    .join(_VERSION, (_VERSION.c.bid_id == _BID.c.id) & (_VERSION.c.version == _BID.c.version))
    .where(_BID.c.id == bindparam("bid_id"))
)
_MOVE_BID = (
    update(_BID)
    .where(_BID.c.id == bindparam("bid_id"), _BID.c.version == bindparam("from_version"))
    .values(version=bindparam("to_version"), updated_at=bindparam("at"))
)
_READ_ROUND = _ROUND.where(_ROUND_TABLE.c.id == bindparam("round_id"))
_READ_BID = (
    select(_BID, *(c.label(f"v_{c.name}") for c in _VERSION.c))
    .join(_VERSION, (_VERSION.c.bid_id == _BID.c.id) & (_VERSION.c.version == _BID.c.version))
    .where(_BID.c.id == bindparam("bid_id"))
)
_ADD_VERSION = insert(_VERSION)
_VERSION_COLUMNS = tuple(c.name for c in _VERSION.c if c.name != "id")


def open_round(session: Session, actor: Principal, round_id: str) -> Round:
    """The round locked, if the actor may see it and it takes bids now (as `_open_round_for`).

    A detached Round (no snapshot): the rules read its state and deadline.
    """
    found = session.connection().execute(_LOCK_ROUND, {"round_id": round_id}).first()
    if found is None:
        raise RoundNotFound(f"no round {round_id!r}")
    row = Round(**{**found._mapping, "state": RoundState(found.state)})
    if not can_see_round(session, actor, row):
        raise RoundNotFound(f"no round {round_id!r}")
    return require_bidding(session, row)


def readable_round(session: Session, principal: Principal, round_id: str) -> Round:
    """The round whose bids the caller may read (as `bids._readable_round`), detached."""
    found = session.connection().execute(_READ_ROUND, {"round_id": round_id}).first()
    row = None if found is None else Round(**{**found._mapping, "state": RoundState(found.state)})
    if principal.role == Role.factory:
        # A round the factory cannot bid in has no bids of its: answer as for a bid.
        if row is None or not can_see_round(session, principal, row):
            raise BidNotFound(f"no bids of yours in round {round_id!r}")
        return row
    if row is None:
        raise RoundNotFound(f"no round {round_id!r}")
    if row.closed_at is None:  # sealed until the close (forever, if cancelled before it)
        raise RoundNotClosed(row.state)
    return row


def read_bid(
    session: Session, principal: Principal, round_id: str, bid_id: str
) -> tuple[Bid, BidVersion]:
    """One bid at its latest version, if the caller may read it (as `bids.get_bid`)."""
    row = readable_round(session, principal, round_id)
    found = session.connection().execute(_READ_BID, {"bid_id": bid_id}).first()
    if found is None or found.round_id != row.id:
        raise BidNotFound(f"no bid {bid_id!r} in round {round_id!r}")
    if principal.role == Role.factory and found.factory_id != principal.factory_id:
        raise BidNotFound(f"no bid {bid_id!r} in round {round_id!r}")
    columns = found._mapping
    bid = Bid(**{c.name: columns[c.name] for c in _BID.c})
    version = BidVersion(**{c.name: columns[f"v_{c.name}"] for c in _VERSION.c})
    return bid, version


def live_bid(session: Session, actor: Principal, row: Round, bid_id: str) -> tuple[Bid, str]:
    """The actor's live bid in the round (detached) and its latest version's commitment."""
    found = session.connection().execute(_LIVE_BID, {"bid_id": bid_id}).first()
    if found is None or found.round_id != row.id or found.factory_id != actor.factory_id:
        raise BidNotFound(f"no bid {bid_id!r} in round {row.id!r}")
    if found.status != BidStatus.live:
        raise BidWithdrawn()
    columns = dict(found._mapping)
    commitment = columns.pop("commitment")
    return Bid(**columns), commitment


def write_amendment(session: Session, bid: Bid, new: BidVersion) -> None:
    """The bid moved to its new version (only from the one before) and the version added."""
    connection = session.connection()
    changed = connection.execute(
        _MOVE_BID,
        {
            "bid_id": bid.id,
            "from_version": new.version - 1,
            "to_version": new.version,
            "at": new.created_at,
        },
    )
    if changed.rowcount != 1:  # cannot happen under the round's lock: refuse, never guess
        raise PreconditionFailed(new.version - 1)
    connection.execute(_ADD_VERSION, {name: getattr(new, name) for name in _VERSION_COLUMNS})
    bid.version = new.version
    bid.updated_at = new.created_at
