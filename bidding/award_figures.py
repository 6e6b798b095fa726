"""The figures an award's sentence is built from, read once per request from what the
allocation stored: its problem (shares, monthly capacities, committed units, the item's
share cap, the budget, the bid's terms) and its result (each factory's units, and each
bid's `cost_ceiling` once the allocator states it).

`bidding.award_text` turns one award's figures into words; this module only gathers them.
Both stored documents are decoded by msgspec into the few fields read, so a request costs
one pass over each, whatever the page size.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
from sqlmodel import Session, select

from bidding.award_text import PENDING, AwardInWords, Threshold, explanation
from bidding.models import Allocation, Award, Round
from bidding.thresholds import shown_thresholds
from bidding.values import from_cents
from solver.result import BidAllocation


class _RoundTerms(msgspec.Struct):
    capacity_share: Decimal | None = None
    budget: Decimal | None = None


class _FactoryTerms(msgspec.Struct):
    id: str
    monthly_capacity: int | None = None
    capacity_share: Decimal | None = None
    committed_units: int | None = 0


class _ItemTerms(msgspec.Struct):
    id: str
    max_factory_share: Decimal | None = None


class _BidTerms(msgspec.Struct):
    id: str
    capacity: int | None = None
    min_lot: int | None = 0
    ask_price: Decimal | None = None


class _Problem(msgspec.Struct):
    round: _RoundTerms
    factories: list[_FactoryTerms] = []
    items: list[_ItemTerms] = []
    bids: list[_BidTerms] = []


class _Row(msgspec.Struct):
    bid: str
    factory: str
    units: int
    cost_ceiling: Any = None
    """However the result spells it (a string, a number, absent): `stated_cost_ceiling`."""
    cost_to_win_more: Any = None
    """Read only to find the "pending" ones."""


class _Result(msgspec.Struct):
    allocations: list[_Row] = []


def stated_cost_ceiling(row: Any) -> Decimal | None:
    """A result row's `cost_ceiling` (SPEC 3), or None where the allocator states none.

    The one place that reads it: a row of a result written before the allocator stated
    ceilings has no such field, and reads as None.
    """
    value = (
        row.get("cost_ceiling") if isinstance(row, Mapping) else getattr(row, "cost_ceiling", None)
    )
    if value is None or (isinstance(value, str) and value == "pending"):
        return None
    return Decimal(str(value))


@dataclass(frozen=True)
class AwardContext:
    """What every award of one allocation is explained with (see `award_context`)."""

    period: str
    currency: str
    budget: Decimal | None
    round_share: Decimal | None
    factories: Mapping[str, _FactoryTerms]
    item_shares: Mapping[str, Decimal | None]
    bids: Mapping[str, _BidTerms]
    factory_units: Mapping[str, int]
    ceilings: Mapping[str, Decimal | None] = field(default_factory=dict)
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    """The bids the result states "pending": the job's figure once stored, else "pending"."""
    _per_factory: dict[str, tuple[Decimal | None, int | None, int, int]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """`_factory_figures` by factory, filled as awards are explained."""

    @classmethod
    def empty(cls) -> "AwardContext":
        """The context of no award at all."""
        return cls("", "", None, None, {}, {}, {}, {})

    def figures(
        self,
        *,
        bid: str,
        factory: str,
        item: str,
        item_name: str | None,
        units: int,
        supply_price: Decimal,
        reason: str,
        cost_to_win_more: Threshold,
    ) -> AwardInWords:
        """One award's figures: its own, its factory's and its item's, and the round's."""
        terms = self.bids.get(bid)
        per_factory = self._per_factory.get(factory)
        if per_factory is None:
            per_factory = self._per_factory[factory] = self._factory_figures(factory)
        share, monthly_capacity, committed, factory_units = per_factory
        if terms is None:
            capacity, min_lot, ask_price = None, 0, None
        else:
            capacity, min_lot, ask_price = (
                terms.capacity,
                terms.min_lot or 0,
                terms.ask_price or None,
            )
        return AwardInWords(
            reason=reason,
            units=units,
            item_name=item_name or item,
            period=self.period,
            currency=self.currency,
            supply_price=supply_price,
            capacity=capacity,
            min_lot=min_lot,
            ask_price=ask_price,
            share=share,
            monthly_capacity=monthly_capacity,
            committed=committed,
            factory_units=factory_units,
            item_share=self.item_shares.get(item) or None,
            budget=self.budget,
            cost_to_win_more=cost_to_win_more,
            cost_ceiling=self.ceilings.get(bid),
        )

    def _factory_figures(self, factory: str) -> tuple[Decimal | None, int | None, int, int]:
        """A factory's share, monthly capacity, committed units and units in the round:
        the same for each of its awards, so worked out once per factory."""
        f = self.factories.get(factory)
        units = self.factory_units.get(factory, 0)
        if f is None:
            return None, None, 0, units
        return (
            f.capacity_share or self.round_share,
            f.monthly_capacity,
            f.committed_units or 0,
            units,
        )

    def cost_to_win_more(self, bid: str, cents: int | None) -> Threshold:
        """A published award's `cost_to_win_more`: its row's, or where the solve left it
        "pending", the figure the job after publication stored, "pending" until then."""
        if bid in self.thresholds:
            return self.thresholds[bid]
        return None if cents is None else from_cents(cents)

    def explain_award(self, row: Award, item_name: str | None) -> str:
        """A published award row in plain words."""
        return self.explain_stored(
            bid=row.bid_id,
            factory=row.factory_id,
            item=row.item_id,
            item_name=item_name,
            units=row.units,
            supply_price_cents=row.supply_price_cents,
            reason=row.reason,
            cost_to_win_more_cents=row.cost_to_win_more_cents,
        )

    def explain_stored(
        self,
        *,
        bid: str,
        factory: str,
        item: str,
        item_name: str | None,
        units: int,
        supply_price_cents: int,
        reason: str,
        cost_to_win_more_cents: int | None,
    ) -> str:
        """An award in plain words from its stored figures (an award row, or the plain
        columns the awards export reads)."""
        return explanation(
            self.figures(
                bid=bid,
                factory=factory,
                item=item,
                item_name=item_name,
                units=units,
                supply_price=from_cents(supply_price_cents),
                reason=reason,
                cost_to_win_more=self.cost_to_win_more(bid, cost_to_win_more_cents),
            )
        )

    def explain_row(self, row: BidAllocation, item_name: str | None) -> str:
        """A result's row (an allocation not yet published, or its export) in plain words."""
        return explanation(
            self.figures(
                bid=row.bid,
                factory=row.factory,
                item=row.item,
                item_name=item_name,
                units=row.units,
                supply_price=row.supply_price,
                reason=row.reason,
                cost_to_win_more=self.thresholds.get(row.bid, row.cost_to_win_more)
                if row.cost_to_win_more == PENDING
                else row.cost_to_win_more,
            )
        )


def award_context(
    *, session: Session, allocation_id: str, bid_ids: Iterable[str] | None = None
) -> AwardContext:
    """The figures of an allocation's awards, read once; `bid_ids` narrows the per-bid ones.

    With the thresholds the solve left "pending" as the job after publication stored them.
    """
    problem_text, result_text, round_id = session.exec(
        select(Allocation.problem, Allocation.result, Allocation.round_id).where(
            Allocation.id == allocation_id
        )
    ).one()
    period, currency = session.exec(
        select(Round.period, Round.currency).where(Round.id == round_id)
    ).one()
    problem = msgspec.json.decode(problem_text, type=_Problem)
    result = _Result() if result_text is None else msgspec.json.decode(result_text, type=_Result)
    wanted = None if bid_ids is None else set(bid_ids)
    factory_units: dict[str, int] = defaultdict(int)
    ceilings: dict[str, Decimal | None] = {}
    pending: list[str] = []
    for row in result.allocations:
        factory_units[row.factory] += row.units
        if wanted is None or row.bid in wanted:
            ceilings[row.bid] = stated_cost_ceiling(row)
            if row.cost_to_win_more == PENDING:
                pending.append(row.bid)
    thresholds = shown_thresholds(session=session, allocation_id=allocation_id, bid_ids=pending)
    return _context(period, currency, problem, factory_units, ceilings, wanted, thresholds)


def context_of_documents(
    *,
    period: str,
    currency: str,
    problem: Mapping[str, Any],
    result: Mapping[str, Any],
    bid_ids: Iterable[str],
) -> AwardContext:
    """`award_context` from an allocation's problem and result already read as plain JSON
    (a page that shows them): only the rows of `bid_ids` are converted."""
    wanted = set(bid_ids)
    terms = msgspec.convert(
        {
            "round": problem.get("round", {}),
            "factories": problem.get("factories", []),
            "items": problem.get("items", []),
            "bids": [b for b in problem.get("bids", []) if b.get("id") in wanted],
        },
        type=_Problem,
        strict=False,
    )
    factory_units: dict[str, int] = defaultdict(int)
    ceilings: dict[str, Decimal | None] = {}
    for r in result.get("allocations", []):
        factory_units[r["factory"]] += int(r["units"])
        if r["bid"] in wanted:
            ceilings[r["bid"]] = stated_cost_ceiling(r)
    return _context(period, currency, terms, factory_units, ceilings, wanted)


def _context(
    period: str,
    currency: str,
    problem: _Problem,
    factory_units: Mapping[str, int],
    ceilings: Mapping[str, Decimal | None],
    wanted: set[str] | None,
    thresholds: Mapping[str, Threshold] | None = None,
) -> AwardContext:
    return AwardContext(
        period=period,
        currency=currency,
        budget=problem.round.budget,
        round_share=problem.round.capacity_share,
        factories={f.id: f for f in problem.factories},
        item_shares={i.id: i.max_factory_share for i in problem.items},
        bids={b.id: b for b in problem.bids if wanted is None or b.id in wanted},
        factory_units=dict(factory_units),
        ceilings=dict(ceilings),
        thresholds=dict(thresholds or {}),
    )
