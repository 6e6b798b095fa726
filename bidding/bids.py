"""Bids: submit, amend (a new version), withdraw, read; sealed until the round closes.

Each write re-reads its round under `lock_round` and checks it is open, and its deadline
not reached by the database's clock, in the same transaction as the write, so no bid is
accepted, changed or withdrawn after the close or the deadline (SPEC 2, 4), however they
race. While the round is open, a bid's audit event holds its id, its round and a salted
commitment to its factory, item, version and content, never those themselves.
"""

import hashlib
import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from sqlmodel import Session, col, select

from bidding import bid_rows
from bidding.changes import record_change
from bidding.db import use_case
from bidding.errors import (
    BidExists,
    BidNotFound,
    BidWithdrawn,
    Forbidden,
    InvalidInput,
    PreconditionFailed,
    RoundNotFound,
    version_tag,
)
from bidding.lifecycle import lock_round, require_bidding
from bidding.models import Bid, BidStatus, BidVersion, Role, Round, RoundItem, utcnow
from bidding.principal import Principal
from bidding.rounds import can_see_round
from bidding.values import from_cents, new_id, to_cents


@dataclass(frozen=True)
class BidTerms:
    """A bid's content: what a version holds."""

    unit_cost: Decimal
    capacity: int
    ask_price: Decimal | None = None
    min_lot: int = 0
    setup_cost: Decimal = Decimal(0)


def terms_of(version: BidVersion) -> BidTerms:
    """The content of a stored version."""
    ask = version.ask_price_cents
    return BidTerms(
        unit_cost=from_cents(version.unit_cost_cents),
        capacity=version.capacity,
        ask_price=None if ask is None else from_cents(ask),
        min_lot=version.min_lot,
        setup_cost=from_cents(version.setup_cost_cents),
    )


def _money(amount: Decimal) -> str:
    # As stored and as the versions endpoint shows it ("18.50"), whatever the input's spelling.
    return str(from_cents(to_cents(amount)))


def commitment(bid: Bid, version: int, terms: BidTerms, nonce: str) -> str:
    """sha256 over a random nonce and the canonical content: binds the bid, reveals nothing.

    Money is spelled with two decimals, as the versions endpoint shows it, so finance can
    recompute the commitment from what the API reveals after the close.
    """
    content = json.dumps(
        {
            "bid": bid.id,
            "round": bid.round_id,
            "factory": bid.factory_id,
            "item": bid.item_id,
            "version": version,
            "unit_cost": _money(terms.unit_cost),
            "capacity": terms.capacity,
            "ask_price": None if terms.ask_price is None else _money(terms.ask_price),
            "min_lot": terms.min_lot,
            "setup_cost": _money(terms.setup_cost),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(f"{nonce}\n{content}".encode()).hexdigest()


def _check_terms(terms: BidTerms) -> None:
    if terms.min_lot > terms.capacity:
        raise InvalidInput([("body.min_lot", "must be at most the bid's capacity")])


def _add_version(session: Session, bid: Bid, version: int, terms: BidTerms) -> BidVersion:
    row = _new_version(bid, version, terms)
    session.add(row)
    session.flush()
    return row


def _new_version(bid: Bid, version: int, terms: BidTerms) -> BidVersion:
    nonce = secrets.token_hex(16)
    return BidVersion(
        bid_id=bid.id,
        version=version,
        unit_cost_cents=to_cents(terms.unit_cost),
        capacity=terms.capacity,
        ask_price_cents=None if terms.ask_price is None else to_cents(terms.ask_price),
        min_lot=terms.min_lot,
        setup_cost_cents=to_cents(terms.setup_cost),
        nonce=nonce,
        commitment=commitment(bid, version, terms, nonce),
        created_at=utcnow(),
    )


def _sealed_state(bid: Bid, version: BidVersion) -> dict[str, Any]:
    # All the audit log may hold while the round is open: finance reads the log then, and
    # the factory, item or version would tell who bids on what and how often they amend.
    # The commitment covers them and the content; the nonces are revealed after the close.
    # The events leave out the actor's key too (record_event's conceal_actor_key): it
    # belongs to one factory. After the close the bid id leads to the factory.
    return _sealed(bid, version.commitment)


def _sealed(bid: Bid, commitment: str) -> dict[str, Any]:
    return {"bid": bid.id, "round": bid.round_id, "commitment": commitment}


def _open_round_for(session: Session, actor: Principal, round_id: str) -> Round:
    row = lock_round(session, round_id)
    if not can_see_round(session, actor, row):
        raise RoundNotFound(f"no round {round_id!r}")
    return require_bidding(session, row)


@use_case
def submit_bid(
    *, session: Session, actor: Principal, round_id: str, item_id: str, terms: BidTerms
) -> tuple[Bid, BidVersion]:
    """Submit a factory's bid on one item of an open round (one live bid per item)."""
    row = bid_rows.open_round(session, actor, round_id)  # as _open_round_for, in plain SQL
    _check_row(session, row, item_id, terms, where="body")
    live = _live_bid_on(session, row, actor, item_id)
    if live is not None:
        raise BidExists(live.id, item_id)
    bid, version = _submit(session, actor, row, item_id, terms)
    session.commit()
    return bid, version


def _check_row(
    session: Session, row: Round, item_id: str, terms: BidTerms, *, where: str
) -> list[tuple[str, str]]:
    """The rules a bid breaks against its round: raised where `where` is the body."""
    errors = []
    if session.get(RoundItem, (row.id, item_id)) is None:
        errors.append((f"{where}.item", f"{item_id!r} is not an item of this round"))
    if terms.min_lot > terms.capacity:
        errors.append((f"{where}.min_lot", "must be at most the bid's capacity"))
    if errors and where == "body":
        raise InvalidInput(errors)
    return errors


def _slot(row: Round, actor: Principal, item_id: str) -> str:
    return f"{row.id}/{actor.factory_id}/{item_id}"


def _live_bid_on(session: Session, row: Round, actor: Principal, item_id: str) -> Bid | None:
    return session.exec(select(Bid).where(Bid.live_slot == _slot(row, actor, item_id))).first()


def _submit(
    session: Session, actor: Principal, row: Round, item_id: str, terms: BidTerms
) -> tuple[Bid, BidVersion]:
    if actor.factory_id is None:
        raise Forbidden("only a factory submits bids")
    bid = Bid(
        id=new_id("bid"),
        round_id=row.id,
        factory_id=actor.factory_id,
        item_id=item_id,
        live_slot=_slot(row, actor, item_id),
    )
    session.add(bid)
    session.flush()
    version = _add_version(session, bid, 1, terms)
    record_change(
        session,
        actor=actor,
        action="bid.submit",
        entity_id=bid.id,
        conceal_actor_key=True,
        after=_sealed_state(bid, version),
    )
    return bid, version


BidChangeKind = Literal["submit", "amend", "withdraw"]
LiveBids = dict[str, tuple[Bid, BidVersion]]
"""A factory's live bids in a round at their latest versions, by item id."""


@dataclass(frozen=True)
class BidChange:
    """One write of a batch: submit or amend `terms` on an item, or withdraw its live bid."""

    item_id: str
    kind: BidChangeKind
    terms: BidTerms | None = None


def live_bids_of(session: Session, row: Round, factory_id: str) -> LiveBids:
    """A factory's live bids in a round at their latest versions, by item id."""
    found = session.exec(
        select(Bid, BidVersion)
        .join(BidVersion, (col(BidVersion.bid_id) == Bid.id) & (BidVersion.version == Bid.version))
        .where(
            Bid.round_id == row.id,
            Bid.factory_id == factory_id,
            Bid.status == BidStatus.live,
        )
    ).all()
    return {bid.item_id: (bid, version) for bid, version in found}


@use_case
def apply_bid_changes(
    *,
    session: Session,
    actor: Principal,
    round_id: str,
    plan: Callable[[Round, LiveBids], Sequence[BidChange]],
) -> list[tuple[Bid, BidVersion]]:
    """A factory's bid writes as one transaction, planned against its round under the lock.

    `plan` sees the open round and the factory's live bids as they stand under the round's
    lock, and returns the changes or raises to refuse them all; each change is then written
    and audited as its single submit, amend or withdraw would be, and committed together.
    """
    row = _open_round_for(session, actor, round_id)
    if actor.factory_id is None:
        raise Forbidden("only a factory submits bids")
    live = live_bids_of(session, row, actor.factory_id)
    in_round = set(
        session.exec(select(RoundItem.item_id).where(RoundItem.round_id == row.id)).all()
    )
    done = []
    for change in plan(row, live):
        current = live.get(change.item_id)
        if change.kind == "withdraw":
            if current is None:
                raise BidNotFound(f"no live bid on item {change.item_id!r} to withdraw")
            done.append(_withdraw(session, actor, current[0]))
            continue
        if change.terms is None:
            raise ValueError("a submit or an amendment needs terms")
        if change.item_id not in in_round:
            raise InvalidInput([("item", f"{change.item_id!r} is not an item of this round")])
        _check_terms(change.terms)
        if change.kind == "submit":
            if current is not None:
                raise BidExists(current[0].id, change.item_id)
            done.append(_submit(session, actor, row, change.item_id, change.terms))
        else:
            if current is None:
                raise BidNotFound(f"no live bid on item {change.item_id!r} to amend")
            done.append(_amend(session, actor, current[0], change.terms))
    session.commit()
    return done


def _own_live_bid(session: Session, actor: Principal, row: Round, bid_id: str) -> Bid:
    bid = session.get(Bid, bid_id)
    if bid is None or bid.round_id != row.id or bid.factory_id != actor.factory_id:
        raise BidNotFound(f"no bid {bid_id!r} in round {row.id!r}")
    if bid.status != BidStatus.live:
        raise BidWithdrawn()
    return bid


def _latest(session: Session, bid: Bid) -> BidVersion:
    version = session.exec(
        select(BidVersion).where(BidVersion.bid_id == bid.id, BidVersion.version == bid.version)
    ).one()
    return version


def etag(bid: Bid) -> str:
    """The bid's entity tag: its version, as `If-Match` names it back (`"3"`)."""
    return version_tag(bid.version)


def _amendable(
    session: Session,
    actor: Principal,
    round_id: str,
    bid_id: str,
    if_match: Collection[int] | None,
) -> Bid:
    """The actor's live bid of an open round, at one of the versions If-Match names (if any).

    Checked under the round's lock, so of two amendments made against one version the
    second sees the first's and is refused (412), whatever their order on the wire.
    """
    row = _open_round_for(session, actor, round_id)
    bid = _own_live_bid(session, actor, row, bid_id)
    if if_match is not None and bid.version not in if_match:
        raise PreconditionFailed(bid.version)
    return bid


@use_case
def amend_bid(
    *,
    session: Session,
    actor: Principal,
    round_id: str,
    bid_id: str,
    terms: BidTerms,
    if_match: Collection[int] | None = None,
) -> tuple[Bid, BidVersion]:
    """Amend a live bid of an open round: a new version; the old ones are kept.

    `if_match`: the versions the caller's change was made against (None: any). The
    busiest write: its statements are plain SQL (bid_rows), the rules and event the same
    as every other change's.
    """
    row = bid_rows.open_round(session, actor, round_id)
    bid, latest = bid_rows.live_bid(session, actor, row, bid_id)
    if if_match is not None and bid.version not in if_match:
        raise PreconditionFailed(bid.version)
    _check_terms(terms)
    version = _new_version(bid, bid.version + 1, terms)
    before = _sealed(bid, latest)
    bid_rows.write_amendment(session, bid, version)
    record_change(
        session,
        actor=actor,
        action="bid.amend",
        entity_id=bid.id,
        conceal_actor_key=True,
        before=before,
        after=_sealed_state(bid, version),
    )
    session.commit()
    return bid, version


PATCHABLE = frozenset({"unit_cost", "capacity", "ask_price", "min_lot", "setup_cost"})


@use_case
def patch_bid(
    *,
    session: Session,
    actor: Principal,
    round_id: str,
    bid_id: str,
    changes: Mapping[str, Any],
    if_match: Collection[int] | None,
) -> tuple[Bid, BidVersion]:
    """Change some terms of a live bid; the others stay as its latest version has them.

    A change that leaves every term as it is makes no version (and no event).
    """
    unknown = set(changes) - PATCHABLE
    if unknown:
        raise ValueError(f"not terms of a bid: {sorted(unknown)}")
    bid = _amendable(session, actor, round_id, bid_id, if_match)
    current = _latest(session, bid)
    terms = replace(terms_of(current), **changes)
    if terms == terms_of(current):
        session.rollback()
        return bid, current
    _check_terms(terms)
    result = _amend(session, actor, bid, terms)
    session.commit()
    return result


def _amend(session: Session, actor: Principal, bid: Bid, terms: BidTerms) -> tuple[Bid, BidVersion]:
    before = _sealed_state(bid, _latest(session, bid))
    bid.version += 1
    bid.updated_at = utcnow()
    session.add(bid)
    version = _add_version(session, bid, bid.version, terms)
    record_change(
        session,
        actor=actor,
        action="bid.amend",
        entity_id=bid.id,
        conceal_actor_key=True,
        before=before,
        after=_sealed_state(bid, version),
    )
    return bid, version


@use_case
def withdraw_bid(
    *,
    session: Session,
    actor: Principal,
    round_id: str,
    bid_id: str,
    if_match: Collection[int] | None = None,
) -> tuple[Bid, BidVersion]:
    """Withdraw a live bid of an open round; the factory may then submit afresh."""
    bid = _amendable(session, actor, round_id, bid_id, if_match)
    result = _withdraw(session, actor, bid)
    session.commit()
    return result


def _withdraw(session: Session, actor: Principal, bid: Bid) -> tuple[Bid, BidVersion]:
    version = _latest(session, bid)
    before = _sealed_state(bid, version)
    bid.status = BidStatus.withdrawn
    bid.live_slot = None
    bid.updated_at = utcnow()
    session.add(bid)
    record_change(
        session,
        actor=actor,
        action="bid.withdraw",
        entity_id=bid.id,
        conceal_actor_key=True,
        before=before,
        after=_sealed_state(bid, version),
    )
    return bid, version


def get_bid(
    *, session: Session, principal: Principal, round_id: str, bid_id: str
) -> tuple[Bid, BidVersion]:
    """One bid, latest version: its factory's, or anyone's to staff once the round closed.

    Read in plain SQL (bid_rows): detached rows, the same rules."""
    return bid_rows.read_bid(session, principal, round_id, bid_id)


def list_bids(
    *, session: Session, principal: Principal, round_id: str, after: str | None, limit: int
) -> list[tuple[Bid, BidVersion]]:
    """Bids with their latest versions in id order: a factory's own, or all once closed."""
    row = bid_rows.readable_round(session, principal, round_id)
    query = (
        select(Bid, BidVersion)
        .join(BidVersion, (col(BidVersion.bid_id) == Bid.id) & (BidVersion.version == Bid.version))
        .where(Bid.round_id == row.id)
        .order_by(col(Bid.id))
        .limit(limit)
    )
    if principal.role == Role.factory:
        query = query.where(Bid.factory_id == principal.factory_id)
    if after is not None:
        query = query.where(col(Bid.id) > after)
    return [(bid, version) for bid, version in session.exec(query).all()]


def list_versions(
    *,
    session: Session,
    principal: Principal,
    round_id: str,
    bid_id: str,
    after: int = 0,
    limit: int = 100,
) -> Sequence[BidVersion]:
    """A bid's amendment history, oldest first, from the version after `after`."""
    bid, _ = get_bid(session=session, principal=principal, round_id=round_id, bid_id=bid_id)
    return session.exec(
        select(BidVersion)
        .where(BidVersion.bid_id == bid.id, col(BidVersion.version) > after)
        .order_by(col(BidVersion.version))
        .limit(limit)
    ).all()
