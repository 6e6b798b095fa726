"""An award said in plain words to the factory that won it (SPEC 3 "Explanations").

Pure: a sentence or two built from an award's figures, no HTTP and no database. The
figures are the factory's own (its share of its monthly capacity, its units, its bid's
terms) and the round's published rules; no figure of another factory's bids or awards
appears, so the sentence tells a factory nothing its own award does not imply (SPEC 4).
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

PENDING = "pending"
"""`cost_to_win_more` of a round so large that a job after publication works it out."""

Threshold = Decimal | Literal["pending"] | None


@dataclass(slots=True)
class AwardInWords:
    """What an award's sentence is built from: the award, its bid and the rules it met.

    Not frozen: one is made per award of an export (100,000 in a large round), and a
    frozen dataclass's `__init__` (one `object.__setattr__` per field) cost about
    a fifth of the sentence.
    """

    reason: str
    units: int
    item_name: str
    period: str
    currency: str
    supply_price: Decimal
    capacity: int | None = None
    """The bid's capacity as solved (None for a bid a what-if left out)."""
    min_lot: int = 0
    ask_price: Decimal | None = None
    share: Decimal | None = None
    """The factory's share of its monthly capacity (alpha) in the round."""
    monthly_capacity: int | None = None
    committed: int = 0
    """Units awarded to the factory in earlier published rounds of the period."""
    factory_units: int = 0
    """Units awarded to the factory in this round, every item."""
    item_share: Decimal | None = None
    """The item's maximum share per factory (beta); None for none."""
    budget: Decimal | None = None
    cost_to_win_more: Threshold = None
    cost_ceiling: Decimal | None = None


def units(value: int) -> str:
    """Whole units with thousands separators."""
    return f"{value:,}"


def amount(value: Decimal, currency: str) -> str:
    """Money with thousands separators, two decimals and its currency."""
    return f"{value:,.2f} {currency}"


def percent(fraction: Decimal) -> str:
    """A fraction as a percentage without trailing zeros: 0.2 is 20%, 0.125 is 12.5%."""
    shown = (fraction * 100).normalize()
    return f"{shown:f}%"


def share_cap(share: Decimal, monthly_capacity: int) -> int:
    """The factory's cap in a period in whole units: alpha times its monthly capacity, down."""
    return int(share * monthly_capacity)


def _capacity_bound(f: AwardInWords) -> str:
    if f.share is None or f.monthly_capacity is None:
        return f"Your share of your monthly capacity for {f.period} is full"
    cap = share_cap(f.share, f.monthly_capacity)
    head = (
        f"Your share for {f.period} is full: {percent(f.share)} of "
        f"{units(f.monthly_capacity)} units = {units(cap)}"
    )
    room = cap - f.committed - f.factory_units
    if f.committed == 0 and room <= 0:
        return f"{head}, all awarded in this round"
    if room <= 0:
        return (
            f"{head}; {units(f.committed)} were awarded in earlier rounds of {f.period} "
            f"and {units(f.factory_units)} in this round"
        )
    awarded = (
        f"{units(f.committed)} were awarded in earlier rounds and {units(f.factory_units)} "
        "in this round"
        if f.committed
        else f"{units(f.factory_units)} are awarded in this round"
    )
    return (
        f"Your share for {f.period} stopped this bid: {percent(f.share)} of "
        f"{units(f.monthly_capacity)} units = {units(cap)}; {awarded}, and the "
        f"{units(room)} units left are too few for more of this bid"
    )


def _item_share_bound(f: AwardInWords) -> str:
    if f.item_share is None:
        return (
            f"{f.item_name} has a maximum share per factory, and your {units(f.units)} "
            "units reach it"
        )
    return (
        f"One factory may supply at most {percent(f.item_share)} of the {f.item_name} bought "
        f"in this round, and your {units(f.units)} units reach that share"
    )


def _budget_bound(f: AwardInWords) -> str:
    budget = (
        "The round's budget"
        if f.budget is None
        else (f"The round's budget of {amount(f.budget, f.currency)}")
    )
    won = f"won {units(f.units)} units of {f.item_name}" if f.units else "won no units"
    return f"{budget} is spent: you {won}, and buying more of this bid would exceed it"


def _outcome(f: AwardInWords) -> str:
    """The first sentence: what the bid won and which rule stopped it."""
    price = amount(f.supply_price, f.currency)
    if f.reason == "excluded":
        return "This bid was left out of the allocation by a what-if, so it won no units"
    if f.reason == "below_min_lot":
        return (
            f"Your minimum lot of {units(f.min_lot)} units of {f.item_name} is more than "
            f"this round could take from you, so the bid won no units"
        )
    if f.reason == "won_full":
        return (
            f"You won your full capacity: {units(f.units)} units of {f.item_name} at {price} each"
        )
    if f.reason == "capacity_bound":
        return _capacity_bound(f)
    if f.reason == "item_share_bound":
        return _item_share_bound(f)
    if f.reason == "budget_bound":
        return _budget_bound(f)
    if f.reason == "guarantee_bound":
        return (
            "Units of this round are guaranteed to new factories, and that guarantee took "
            f"units of {f.item_name} this bid would otherwise have won"
        )
    if f.reason == "won_partial":
        won = (
            f"{units(f.units)} units of {f.item_name}"
            if f.capacity is None
            else f"{units(f.units)} of the {units(f.capacity)} units of {f.item_name} you offered"
        )
        return (
            f"You won {won}, at {price} each: more would not have paid at that price, given "
            "the expected demand and the other offers"
        )
    if f.reason == "lost_on_price":
        return (
            f"You won no units of {f.item_name}: at your supply price of {price}, no unit "
            "would have paid, given the expected demand and the other offers"
        )
    return f"You won {units(f.units)} units of {f.item_name}"


def _to_win_more(f: AwardInWords) -> str | None:
    """The sentence on `cost_to_win_more`, or None where it has nothing to say."""
    more = "more units" if f.units else "units"
    if f.cost_to_win_more == PENDING:
        return (
            f"The unit cost at which you would have won {more} of {f.item_name} is being "
            "worked out and will be shown here"
        )
    if isinstance(f.cost_to_win_more, Decimal):
        # SPEC 3: the highest cent at which the bid gets more units (a re-solve at it
        # gives more; one cent above does not), so "of ... or less".
        return (
            f"At a unit cost of {amount(f.cost_to_win_more, f.currency)} or less you would "
            f"have won {more} of {f.item_name}"
        )
    # Null otherwise says nothing sure about a lower cost: SPEC 3's null cases (the full
    # capacity, an ask, not even at 0.00) and the allocator's own (where a budget binds,
    # a lot decides), told apart by no figure here. The first sentence names the rule.
    # Only where the ask really sets the price: a null is otherwise no claim at all.
    if f.reason in ("won_full", "excluded") or f.ask_price is None:
        return None
    if f.ask_price < f.supply_price:
        return None
    return (
        f"Your ask price of {amount(f.ask_price, f.currency)} sets your supply price, "
        f"so a lower unit cost alone would not have won you {more}"
    )


def _ceiling(f: AwardInWords) -> str | None:
    """The sentence on `cost_ceiling`, or None where there is none (yet)."""
    if f.cost_ceiling is None or f.reason == "excluded":
        return None
    if f.cost_ceiling == 0:
        return "This bid cannot win a unit at any unit cost, whatever the other factories bid"
    return (
        f"At a unit cost of {amount(f.cost_ceiling, f.currency)} or more this bid cannot win "
        "a unit, whatever the other factories bid"
    )


def explanation(f: AwardInWords) -> str:
    """The award in plain words: what it won and why, then what it would take to win more."""
    text = _outcome(f) + "."
    more = _to_win_more(f)
    if more:
        text += f" {more}."
    ceiling = _ceiling(f)
    if ceiling:
        text += f" {ceiling}."
    return text
