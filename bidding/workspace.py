"""What the web workspace shows, read from the same tables and documents as the API.

Plain read functions: a round's bid tabulation from its close snapshot, an allocation's
award matrix and each bid's award in words, each a page at a time, so a page of a round of
100,000 bids stays small.
"""

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from bidding.award_figures import context_of_documents
from bidding.award_text import PENDING
from bidding.comparison import Comparison, comparison_of
from bidding.errors import AllocationNotDone, AllocationsOfDifferentRounds, RoundNotClosed
from bidding.models import Allocation, AllocationStatus, AuditEvent, Round, as_utc
from bidding.names import factory_names, item_names
from bidding.snapshot import overrides_of
from bidding.solves import get_allocation, presented_result
from bidding.thresholds import shown_thresholds
from solver.pricing import floor_price_cents
from solver.result import BidAllocation, Result, parse_result

PAGE_ROWS = 100
"""Rows of a table page: a 100,000-bid round is read a hundred rows at a time."""
MATRIX_ITEMS = 25
"""Items per page of an award matrix."""


@dataclass(frozen=True)
class AllocationListed:
    """An allocation as a list shows it, read without its problem and result texts."""

    id: str
    what_if: bool
    status: AllocationStatus
    created_at: datetime
    published_at: datetime | None


def listed_allocations(
    *, session: Session, round_id: str, limit: int = 100
) -> list[AllocationListed]:
    """A round's allocations in id order: five columns, not the megabytes of each row."""
    table = Allocation.__table__.c  # type: ignore[attr-defined]
    rows = session.connection().execute(
        sql_select(table.id, table.what_if, table.status, table.created_at, table.published_at)
        .where(table.round_id == round_id)
        .order_by(table.id)
        .limit(limit)
    )
    return [
        AllocationListed(
            r.id, r.what_if, AllocationStatus(r.status), as_utc(r.created_at), _utc(r.published_at)
        )
        for r in rows
    ]


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


def round_currency(*, session: Session, round_id: str) -> str:
    """The currency a round's money is in, read without the round's snapshot."""
    return session.exec(select(Round.currency).where(Round.id == round_id)).one()


@dataclass(frozen=True)
class TabulatedBid:
    """One bid in the tabulation: its terms and the supply price the round's floor gives it."""

    bid: str
    factory: str
    factory_name: str
    unit_cost: Decimal
    ask_price: Decimal | None
    supply_price: Decimal
    capacity: int
    min_lot: int
    setup_cost: Decimal
    cumulative: int


@dataclass(frozen=True)
class TabulatedItem:
    """An item of a closed round: its demand, its bid count, and (when chosen) its bids by
    supply price with their cumulative capacity."""

    item: str
    name: str
    demand: list[tuple[int, Decimal]]
    bid_count: int
    bids: list[TabulatedBid]


def snapshot_of(row: Round) -> dict[str, Any]:
    """The round's problem as frozen at its close (409 before the close)."""
    if row.snapshot is None:
        raise RoundNotClosed(row.state, f"round {row.id} is {row.state}: no bids are shown yet")
    return decode_document(row.snapshot)


def tabulation(
    *, session: Session, row: Round, item: str | None = None
) -> tuple[list[TabulatedItem], TabulatedItem | None]:
    """The tabulation of a closed round's snapshot (see `tabulation_of`)."""
    return tabulation_of(session=session, problem=snapshot_of(row), item=item)


def tabulation_of(
    *, session: Session, problem: dict[str, Any], item: str | None = None
) -> tuple[list[TabulatedItem], TabulatedItem | None]:
    """Every item with its bid count, and the chosen item (or the first) with its bids by
    supply price: `max(ask, cost / (1 - m))` rounded up to the cent, as SPEC 3 prices them.

    Only the chosen item's bids are priced and named, so a round of 100,000 bids costs
    one pass over its parsed document, not 100,000 rows.
    """
    items = sorted(problem.get("items", []), key=lambda i: str(i["id"]))
    if not items:
        return [], None
    chosen_id = item if any(i["id"] == item for i in items) else items[0]["id"]
    counts: dict[str, int] = defaultdict(int)
    chosen_bids = []
    for bid in problem.get("bids", []):
        counts[bid["item"]] += 1
        if bid["item"] == chosen_id:
            chosen_bids.append(bid)
    floor = Decimal(str(problem["round"].get("margin_floor", "0.1")))
    names = factory_names(session=session, factory_ids={b["factory"] for b in chosen_bids})
    priced = []
    for bid in chosen_bids:
        cost = Decimal(str(bid["unit_cost"]))
        ask = Decimal(str(bid["ask_price"])) if bid.get("ask_price") is not None else None
        cents = floor_price_cents(cost, floor)
        if ask is not None:
            cents = max(cents, int(ask * 100))
        priced.append(
            TabulatedBid(
                bid=bid["id"],
                factory=bid["factory"],
                factory_name=names.get(bid["factory"], bid["factory"]),
                unit_cost=cost,
                ask_price=ask,
                supply_price=Decimal(cents).scaleb(-2),
                capacity=int(bid["capacity"]),
                min_lot=int(bid.get("min_lot") or 0),
                setup_cost=Decimal(str(bid.get("setup_cost") or "0")),
                cumulative=0,
            )
        )
    total = 0
    ranked = []
    for b in sorted(priced, key=lambda b: (b.supply_price, b.bid)):
        total += b.capacity
        ranked.append(replace(b, cumulative=total))
    labels = {i["id"]: i["name"] for i in items if i.get("name")} or item_names(
        session=session, item_ids={i["id"] for i in items}
    )
    out = [
        TabulatedItem(
            item=i["id"],
            name=labels.get(i["id"], i["id"]),
            demand=[(int(s["units"]), Decimal(str(s["probability"]))) for s in i["demand"]],
            bid_count=counts.get(i["id"], 0),
            bids=ranked if i["id"] == chosen_id else [],
        )
        for i in items
    ]
    return out, next(t for t in out if t.item == chosen_id)


def result_document(*, session: Session, row: Allocation) -> dict[str, Any] | None:
    """The allocation's result as read and published, as plain JSON (no model per row).

    The stored `presented` text where there is one; else the result as solved, unless a
    what-if left bids out and the presented rows must be rebuilt (`presented_result`).
    """
    if row.result is None:
        return None
    text = row.presented
    if text is None:
        overrides = overrides_of(row)
        if overrides.exclude_bids or overrides.exclude_factories:
            presented = presented_result(session=session, row=row)
            assert presented is not None
            text = presented.to_json()
        else:
            text = row.result
    return decode_document(text)


def decode_document(text: str) -> dict[str, Any]:
    """A stored JSON document (problem, snapshot, result) as plain values, read by msgspec
    in C: at 100,000 bids in a fraction of the json module's time."""
    document: dict[str, Any] = msgspec.json.decode(text)
    return document


def awarded_result(document: dict[str, Any]) -> Result:
    """The result with only its rows that award units, validated as a result.

    What the figures, the award matrix and factory use read: a row of 0 units adds
    nothing to them, and at 100,000 bids most rows are such rows.
    """
    rows = [a for a in document.get("allocations", []) if int(a["units"]) > 0]
    return parse_result({**document, "allocations": rows})


def compare(*, session: Session, allocation_id: str, other_id: str) -> Comparison:
    """`bidding.comparison.compare_allocations`, reading less: the same checks (one round,
    both done) and the same `figures`, of the rows that award units.

    A row of 0 units adds nothing to a figure but its key (a factory that won nothing in
    either allocation has no line), and validating only the awarded rows lets a page
    compare 100,000-bid allocations in a fraction of the time.
    """
    base = get_allocation(session=session, allocation_id=allocation_id)
    other = get_allocation(session=session, allocation_id=other_id)
    if base.round_id != other.round_id:
        raise AllocationsOfDifferentRounds(
            f"{base.id} is of round {base.round_id}, {other.id} of {other.round_id}"
        )
    results = []
    for row in (base, other):
        document = result_document(session=session, row=row)
        if row.status != AllocationStatus.done or document is None:
            raise AllocationNotDone(row.status, f"allocation {row.id} is {row.status}")
        results.append(awarded_result(document))
    return comparison_of(session=session, base=base, other=other, results=(results[0], results[1]))


@dataclass(frozen=True)
class ComparedPage:
    """One page of a comparison's per-item and per-factory rows, and how many there are.

    With `differences_only`, only items and factories whose figures differ are counted and
    paged, so page 2 holds the second hundred that differ, not what differs among the
    second hundred.
    """

    item_ids: list[str]
    factory_ids: list[str]
    item_count: int
    factory_count: int
    page: int
    pages: int
    differences_only: bool


def _item_differs(compared: Comparison, item: str) -> bool:
    a, b = compared.base_figures, compared.other_figures
    return (
        a.item_units.get(item, 0) != b.item_units.get(item, 0)
        or a.item_spend.get(item, Decimal(0)) != b.item_spend.get(item, Decimal(0))
        or a.item_takeover_cost.get(item, Decimal(0)) != b.item_takeover_cost.get(item, Decimal(0))
    )


def _factory_differs(compared: Comparison, factory: str) -> bool:
    a, b = compared.base_figures, compared.other_figures
    return a.factory_units.get(factory, 0) != b.factory_units.get(
        factory, 0
    ) or a.factory_spend.get(factory, Decimal(0)) != b.factory_spend.get(factory, Decimal(0))


def compared_page(
    compared: Comparison, *, page: int, differences_only: bool, rows: int = PAGE_ROWS
) -> ComparedPage:
    """The items and factories of one page of a comparison (a hundred of each a page)."""
    items, factories = compared.item_ids(), compared.factory_ids()
    if differences_only:
        items = [i for i in items if _item_differs(compared, i)]
        factories = [f for f in factories if _factory_differs(compared, f)]
    pages = max(-(-len(items) // rows), -(-len(factories) // rows), 1)
    page = min(page, pages - 1)
    return ComparedPage(
        item_ids=items[page * rows : (page + 1) * rows],
        factory_ids=factories[page * rows : (page + 1) * rows],
        item_count=len(items),
        factory_count=len(factories),
        page=page,
        pages=pages,
        differences_only=differences_only,
    )


@dataclass(frozen=True)
class ExplainedBid:
    """One bid's outcome in an allocation: its reason, and the sentence the factory reads."""

    row: BidAllocation
    factory_name: str
    item_name: str
    unit_cost: Decimal | None
    """The bid's unit cost as solved (None for a bid a what-if left out)."""
    cost_ceiling: Decimal | None
    explanation: str
    """The sentence the factory reads once the allocation is published."""


def explained_page(
    *,
    session: Session,
    document: dict[str, Any],
    problem: dict[str, Any],
    page: int,
    row: Round,
    factory: str | None = None,
    item: str | None = None,
    allocation_id: str | None = None,
) -> tuple[list[ExplainedBid], int]:
    """One page of the allocation's bids, explained; and how many bids there are in all.

    Rows are filtered as plain JSON; only the page's hundred are validated, priced and put
    in words (with the figures of `row`, the allocation's round, read once). A threshold
    the solve left "pending" shows what the job after publication of `allocation_id`
    stored, once it did.
    """
    rows = [
        r
        for r in document.get("allocations", [])
        if (factory is None or r["factory"] == factory) and (item is None or r["item"] == item)
    ]
    shown = [
        BidAllocation.model_validate(r) for r in rows[page * PAGE_ROWS : (page + 1) * PAGE_ROWS]
    ]
    if allocation_id is not None:
        stored = shown_thresholds(
            session=session,
            allocation_id=allocation_id,
            bid_ids=(r.bid for r in shown if r.cost_to_win_more == PENDING),
        )
        shown = [
            r.model_copy(update={"cost_to_win_more": stored[r.bid]}) if r.bid in stored else r
            for r in shown
        ]
    wanted = {r.bid for r in shown}
    costs = {
        b["id"]: Decimal(str(b["unit_cost"])) for b in problem.get("bids", []) if b["id"] in wanted
    }
    factories = factory_names(session=session, factory_ids={r.factory for r in shown})
    items = item_names(session=session, item_ids={r.item for r in shown})
    context = context_of_documents(
        period=row.period, currency=row.currency, problem=problem, result=document, bid_ids=wanted
    )
    return [
        ExplainedBid(
            row=r,
            factory_name=factories.get(r.factory, r.factory),
            item_name=items.get(r.item, r.item),
            unit_cost=costs.get(r.bid),
            cost_ceiling=context.ceilings.get(r.bid),
            explanation=context.explain_row(r, items.get(r.item, r.item)),
        )
        for r in shown
    ], len(rows)


@dataclass(frozen=True)
class AwardMatrix:
    """Items by factories for one page of items: units and supply price in each cell."""

    items: list[tuple[str, str]]
    factories: list[tuple[str, str]]
    cells: dict[tuple[str, str], tuple[int, Decimal]]
    item_count: int


def award_matrix(*, session: Session, result: Result, page: int) -> AwardMatrix:
    """The award matrix of a page of items; only factories with units there get a column."""
    all_items = sorted({r.item for r in result.allocations})
    page_items = set(all_items[page * MATRIX_ITEMS : (page + 1) * MATRIX_ITEMS])
    cells: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for r in result.allocations:
        if r.item in page_items and r.units > 0:
            units, _ = cells.get((r.item, r.factory), (0, r.supply_price))
            cells[(r.item, r.factory)] = (units + r.units, r.supply_price)
    factory_ids = {f for _, f in cells}
    factories = factory_names(session=session, factory_ids=factory_ids)
    items = item_names(session=session, item_ids=page_items)
    return AwardMatrix(
        items=[(i, items.get(i, i)) for i in sorted(page_items)],
        factories=[(f, factories.get(f, f)) for f in sorted(factory_ids)],
        cells=cells,
        item_count=len(all_items),
    )


@dataclass(frozen=True)
class FactoryUse:
    """A factory in an allocation: units, capacity used, its cap, and its net margin."""

    factory: str
    name: str
    units: int
    used: float
    cap: float | None
    margin: Decimal | None


def factory_use(
    *, session: Session, result: Result, problem: dict[str, Any]
) -> tuple[list[FactoryUse], Decimal]:
    """Each awarded factory's capacity used against its share cap, and its net margin; and
    the margin floor the allocation solved under (a what-if may change it).

    Net margin is `((p - c) x + fee - F) / (p x + fee)` summed over the factory's awards,
    the per-bid rule of the result format applied to the factory's total.
    """
    round_share = problem["round"].get("capacity_share")
    factories = {f["id"]: f for f in problem.get("factories", [])}
    bids = {b["id"]: b for b in problem.get("bids", [])}
    units: dict[str, int] = defaultdict(int)
    paid: dict[str, Decimal] = defaultdict(Decimal)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    for r in result.allocations:
        if r.units <= 0:
            continue
        bid = bids.get(r.bid, {})
        units[r.factory] += r.units
        paid[r.factory] += r.supply_price * r.units + r.setup_fee
        cost[r.factory] += Decimal(str(bid.get("unit_cost", "0"))) * r.units + Decimal(
            str(bid.get("setup_cost") or "0")
        )
    names = factory_names(session=session, factory_ids=set(units))
    out = []
    for factory_id in sorted(units):
        f = factories.get(factory_id, {})
        capacity = int(f.get("monthly_capacity") or 1)
        share = f.get("capacity_share") if f.get("capacity_share") is not None else round_share
        margin = (
            (paid[factory_id] - cost[factory_id]) / paid[factory_id] if paid[factory_id] else None
        )
        out.append(
            FactoryUse(
                factory=factory_id,
                name=names.get(factory_id, factory_id),
                units=units[factory_id],
                used=(units[factory_id] + int(f.get("committed_units") or 0)) / capacity,
                cap=float(share) if share is not None else None,
                margin=margin,
            )
        )
    floor = Decimal(str(problem["round"].get("margin_floor", "0.1")))
    return out, floor


def awarded_units(result: Result, item: str) -> int:
    """Units awarded on one item."""
    return sum(r.units for r in result.allocations if r.item == item)


@dataclass(frozen=True)
class EventFilter:
    """Which audit events to show: by entity (type or id), actor key or role, and date."""

    entity: str | None = None
    actor: str | None = None
    since: str | None = None
    until: str | None = None
    """ISO dates (YYYY-MM-DD, UTC), `until` inclusive."""


def audit_events(
    *, session: Session, where: EventFilter, after_seq: int = 0, limit: int = PAGE_ROWS
) -> list[AuditEvent]:
    """A page of audit events matching the filter, oldest first, after a sequence number."""
    query = (
        select(AuditEvent)
        .where(col(AuditEvent.seq) > after_seq)
        .order_by(col(AuditEvent.seq))
        .limit(limit)
    )
    if where.entity:
        query = query.where(
            (col(AuditEvent.entity_id) == where.entity)
            | (col(AuditEvent.entity_type) == where.entity)
        )
    if where.actor:
        query = query.where(
            (col(AuditEvent.actor_key_id) == where.actor)
            | (col(AuditEvent.actor_role) == where.actor)
        )
    if where.since:
        query = query.where(col(AuditEvent.occurred_at) >= where.since)
    if where.until:
        query = query.where(col(AuditEvent.occurred_at) < where.until + "T99")
    return list(session.exec(query).all())
