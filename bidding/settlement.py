"""Settlement: the use cases that settle a published round and read its figures.

A settlement is stored as a version per correction; its figures (takeover, statements,
the platform's result) are reckoned by the pure functions of bidding.takeover from the
award rows.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from bidding.changes import record_change
from bidding.db import use_case
from bidding.documents import problem_of
from bidding.errors import InvalidInput, RoundNotFound, RoundNotPublished, RoundNotSettled
from bidding.lifecycle import PUBLISHED, lock_round, require, transition
from bidding.models import (
    Allocation,
    Award,
    Round,
    Settlement,
    SettlementItem,
    SettlementTakeover,
)
from bidding.names import Names, names_of
from bidding.principal import Principal
from bidding.rounds import get_round
from bidding.snapshot import solved_items
from bidding.takeover import (
    AwardFigures,
    ItemTerms,
    PlatformResult,
    SalesExceedAllocation,
    StatementFigures,
    StatementLine,
    expected_result,
    item_statements,
    realised_result,
    statement_total,
    statements,
    takeover_by_bid,
)
from bidding.values import from_cents, new_id


@dataclass(frozen=True)
class PublishedRound:
    """A published (or settled) round as finance reads it: awards, item terms, demand, sales.

    `sold` and `takeover` are those of the latest settlement version, None before one.
    """

    round: Round
    allocation: Allocation
    awards: tuple[AwardFigures, ...]
    items: tuple[ItemTerms, ...]
    demand: Mapping[str, tuple[tuple[int, Decimal], ...]]
    settlement: Settlement | None
    sold: Mapping[str, int] | None
    takeover: Mapping[str, int] | None
    names: Names
    """Names as published (award rows, the items solved); current ones where none stored."""

    def expected(self) -> PlatformResult:
        """The result expected at publication."""
        return expected_result(self.awards, self.items, self.demand)

    def realised(self) -> PlatformResult | None:
        """The realised result, once settled."""
        if self.sold is None or self.takeover is None:
            return None
        return realised_result(self.awards, self.items, self.sold, self.takeover)


def published_allocation(*, session: Session, round_id: str) -> Allocation | None:
    """The round's published allocation, if any."""
    return session.exec(
        select(Allocation).where(
            Allocation.round_id == round_id, col(Allocation.published_at).is_not(None)
        )
    ).first()


def award_rows(*, session: Session, allocation_id: str) -> list[Award]:
    """The stored award rows of an allocation, in bid order."""
    return list(
        session.exec(
            select(Award).where(Award.allocation_id == allocation_id).order_by(col(Award.bid_id))
        ).all()
    )


def published_round(*, session: Session, row: Round) -> PublishedRound:
    """The round's published allocation with its terms and latest settlement (409 before)."""
    require(row, "read_awards")
    allocation = published_allocation(session=session, round_id=row.id)
    if allocation is None:
        raise RoundNotPublished(row.state)
    items = solved_items(allocation)
    rows = award_rows(session=session, allocation_id=allocation.id)
    awards = tuple(_figures_of(a) for a in rows)
    if any(a.unit_cost_cents is None and a.reason != "excluded" for a in rows):
        awards = _with_declared_costs(awards, allocation)  # published before migration 0005
    latest = session.exec(
        select(Settlement)
        .where(Settlement.round_id == row.id)
        .order_by(col(Settlement.version).desc())
        .limit(1)
    ).first()
    sold = takeover = None
    if latest is not None:
        sold, takeover = _stored_figures(session, latest.id)
    stored = Names(
        factories={a.factory_id: a.factory_name for a in rows if a.factory_name is not None},
        items={i.id: i.name for i in items if i.name is not None}
        | {a.item_id: a.item_name for a in rows if a.item_name is not None},
    )
    names = names_of(
        session=session,
        factory_ids={a.factory_id for a in rows},
        item_ids={i.id for i in items},
        stored=stored,
    )
    return PublishedRound(
        round=row,
        allocation=allocation,
        awards=awards,
        items=tuple(
            ItemTerms(i.id, i.retail_price, i.handling_cost, i.salvage_value) for i in items
        ),
        demand={i.id: i.demand for i in items},
        settlement=latest,
        sold=sold,
        takeover=takeover,
        names=names,
    )


def _figures_of(row: Award) -> AwardFigures:
    """An award row's figures; declared costs as stored at publication (0 where none: a
    what-if's excluded bid, which won nothing)."""
    return AwardFigures(
        bid=row.bid_id,
        factory=row.factory_id,
        item=row.item_id,
        units=row.units,
        supply_price=from_cents(row.supply_price_cents),
        setup_fee=from_cents(row.setup_fee_cents),
        unit_cost=from_cents(row.unit_cost_cents or 0),
        setup_cost=from_cents(row.setup_cost_cents or 0),
    )


def _with_declared_costs(
    awards: tuple[AwardFigures, ...], allocation: Allocation
) -> tuple[AwardFigures, ...]:
    """Declared costs from the problem solved, for award rows that do not hold them."""
    bids = {b.id: b for b in problem_of(allocation.problem).bids}
    return tuple(
        replace(a, unit_cost=bids[a.bid].unit_cost, setup_cost=bids[a.bid].setup_cost)
        if a.bid in bids
        else a
        for a in awards
    )


def _stored_figures(session: Session, settlement_id: str) -> tuple[dict[str, int], dict[str, int]]:
    sold = {
        r.item_id: r.sold
        for r in session.exec(
            select(SettlementItem).where(SettlementItem.settlement_id == settlement_id)
        ).all()
    }
    takeover = {
        r.bid_id: r.units
        for r in session.exec(
            select(SettlementTakeover).where(SettlementTakeover.settlement_id == settlement_id)
        ).all()
    }
    return sold, takeover


@dataclass(frozen=True)
class RecordedSettlement:
    """One settlement version: units ordered, sold and taken over per item."""

    settlement: Settlement
    items: tuple[SettlementItem, ...]
    taken_over: Mapping[str, int]
    """Units taken over per item."""


def _checked_takeover(published: PublishedRound, sold: Mapping[str, int]) -> dict[str, int]:
    """The takeover per bid for these sales; 422 naming every unknown, missing or oversold item."""
    allocated: dict[str, int] = dict.fromkeys((t.item for t in published.items), 0)
    for award in published.awards:
        allocated[award.item] = allocated.get(award.item, 0) + award.units
    errors = [
        (f"sold.{item}", "not an item of this round") for item in sold if item not in allocated
    ]
    errors.extend(
        (f"sold.{item}", "missing: give the units sold of every item of the round, 0 if none")
        for item in sorted(allocated)
        if item not in sold
    )
    errors.extend(
        (f"sold.{item}", str(SalesExceedAllocation(item, n, allocated[item])))
        for item, n in sorted(sold.items())
        if item in allocated and n > allocated[item]
    )
    if errors:
        raise InvalidInput(errors)
    return takeover_by_bid(published.awards, sold)


def _store(
    session: Session,
    published: PublishedRound,
    *,
    actor: Principal,
    version: int,
    sold: Mapping[str, int],
    takeover: Mapping[str, int],
    reason: str | None,
) -> RecordedSettlement:
    settlement = Settlement(
        id=new_id("stl"),
        round_id=published.round.id,
        allocation_id=published.allocation.id,
        version=version,
        reason=reason,
        recorded_by=actor.key_id,
    )
    session.add(settlement)
    session.flush()
    taken: dict[str, int] = defaultdict(int)
    for award in published.awards:
        taken[award.item] += takeover.get(award.bid, 0)
    items = tuple(
        SettlementItem(
            settlement_id=settlement.id,
            item_id=t.item,
            allocated=sum(a.units for a in published.awards if a.item == t.item),
            sold=sold[t.item],
        )
        for t in sorted(published.items, key=lambda t: t.item)
    )
    session.add_all(items)
    session.add_all(
        SettlementTakeover(
            settlement_id=settlement.id,
            bid_id=a.bid,
            factory_id=a.factory,
            item_id=a.item,
            units=takeover.get(a.bid, 0),
        )
        for a in published.awards
    )
    session.flush()
    return RecordedSettlement(settlement=settlement, items=items, taken_over=dict(taken))


def _figures(recorded: RecordedSettlement) -> dict[str, Any]:
    return {
        "version": recorded.settlement.version,
        "allocation": recorded.settlement.allocation_id,
        "sold": {i.item_id: i.sold for i in recorded.items},
        "taken_over": dict(sorted(recorded.taken_over.items())),
    }


@use_case
def settle_round(
    *, session: Session, actor: Principal, round_id: str, sold: Mapping[str, int]
) -> RecordedSettlement:
    """Record the units sold of a published round, take the rest over, and settle it.

    Every item of the round must be given (0 where none sold); sales above an item's
    allocated units are refused. Recorded once: a settled round takes corrections only.
    """
    row = require(lock_round(session, round_id), "settle")
    published = published_round(session=session, row=row)
    takeover = _checked_takeover(published, sold)
    recorded = _store(
        session, published, actor=actor, version=1, sold=sold, takeover=takeover, reason=None
    )
    record_change(
        session,
        actor=actor,
        action="settlement.record",
        entity_id=recorded.settlement.id,
        after=_figures(recorded) | {"round": row.id},
    )
    details = {"settlement": recorded.settlement.id}
    transition(session, actor=actor, row=row, action="settle", details=details)
    session.commit()
    return recorded


@use_case
def correct_settlement(
    *, session: Session, actor: Principal, round_id: str, sold: Mapping[str, int], reason: str
) -> RecordedSettlement:
    """Correct a settled round's units sold: a new version, the earlier ones kept, audited."""
    row = require(lock_round(session, round_id), "correct")
    published = published_round(session=session, row=row)
    assert published.settlement is not None  # a settled round has a settlement
    previous = published.settlement
    takeover = _checked_takeover(published, sold)
    recorded = _store(
        session,
        published,
        actor=actor,
        version=previous.version + 1,
        sold=sold,
        takeover=takeover,
        reason=reason,
    )
    record_change(
        session,
        actor=actor,
        action="settlement.correct",
        entity_id=recorded.settlement.id,
        before={"settlement": previous.id, "version": previous.version, "sold": published.sold},
        after=_figures(recorded) | {"round": row.id, "reason": reason},
    )
    session.commit()
    return recorded


def settlement_history(*, session: Session, round_id: str) -> list[RecordedSettlement]:
    """Every settlement version of a round, oldest first (404 unknown round, 409 unsettled)."""
    row = session.get(Round, round_id)
    if row is None:
        raise RoundNotFound(f"no round {round_id!r}")
    versions = session.exec(
        select(Settlement).where(Settlement.round_id == round_id).order_by(col(Settlement.version))
    ).all()
    if not versions:
        raise RoundNotSettled(row.state)
    history = []
    for settlement in versions:
        items = session.exec(
            select(SettlementItem)
            .where(SettlementItem.settlement_id == settlement.id)
            .order_by(col(SettlementItem.item_id))
        ).all()
        taken: dict[str, int] = defaultdict(int)
        for t in session.exec(
            select(SettlementTakeover).where(SettlementTakeover.settlement_id == settlement.id)
        ).all():
            taken[t.item_id] += t.units
        history.append(RecordedSettlement(settlement, tuple(items), dict(taken)))
    return history


@dataclass(frozen=True)
class RoundStatements:
    """A round's statements: one line per factory with an award (a factory's own only),
    itemised per factory and item, and their total."""

    round: Round
    settlement: Settlement | None
    lines: tuple[StatementLine, ...]
    item_lines: tuple[StatementLine, ...]
    total: StatementFigures
    names: Names


def round_statements(*, session: Session, principal: Principal, round_id: str) -> RoundStatements:
    """Statements of a published or settled round; a factory gets its own lines only.

    Before settlement the amounts due are final (every unit ordered is paid) and the
    takeover is not known yet: `settlement` is None.
    """
    row = get_round(session=session, principal=principal, round_id=round_id)
    published = published_round(session=session, row=row)
    awards = published.awards
    if principal.factory_id is not None:
        awards = tuple(a for a in awards if a.factory == principal.factory_id)
    takeover = published.takeover or {}
    return RoundStatements(
        round=row,
        settlement=published.settlement,
        lines=tuple(statements(awards, takeover)),
        item_lines=tuple(item_statements(awards, takeover)),
        total=statement_total(awards, takeover),
        names=published.names,
    )


def round_result(*, session: Session, principal: Principal, round_id: str) -> PublishedRound:
    """A published or settled round's figures: expected at publication, realised once settled."""
    row = get_round(session=session, principal=principal, round_id=round_id)
    return published_round(session=session, row=row)


def published_rounds(*, session: Session, round_id: str | None = None) -> list[PublishedRound]:
    """Every published or settled round (or the one named), in id order."""
    query = select(Round).where(col(Round.state).in_(list(PUBLISHED)))
    if round_id is not None:
        if session.get(Round, round_id) is None:
            raise RoundNotFound(f"no round {round_id!r}")
        query = query.where(Round.id == round_id)
    rows = session.exec(query.order_by(col(Round.id))).all()
    return [published_round(session=session, row=r) for r in rows]
