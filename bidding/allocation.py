"""Allocations: the one place that turns rows into a `Problem` and stores a `Result`.

A solve is requested in one transaction (the exact problem, its hash and the job), run
outside any transaction by a worker (bidding.jobs), and stored in one more. The stored
`problem` and `result` are what `supplybid solve` reads and writes, so a replay compares
them byte for byte. A what-if removes excluded bids and factories from the problem it
solves; they are shown as `excluded` rows with no units when the result is read.
Publication checks the result with the independent verifier, writes one immutable award
row per bid, and moves the round to `published`.

Locks, always taken in this order so two use cases cannot wait on each other: the round's
row (`lock_round`), the allocation's row, the period's advisory lock (`lock_period`), then
the audit chain's advisory lock (`record_event`, last, as the events are written at the end).
The period lock serialises on PostgreSQL every decision on a period's committed units (a
solve request stores them, a publication checks them and adds awards), so two rounds of one
period cannot both award a factory its remaining share; on SQLite BEGIN IMMEDIATE already
serialises every writer.
"""

import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from sqlalchemy import func, insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bidding.audit import canonical_json, record_event
from bidding.db import use_case
from bidding.errors import (
    AllocationNotDone,
    AllocationNotFound,
    AllocationsOfDifferentRounds,
    InvalidInput,
    PublicationRefused,
    RoundNotPublished,
    RoundNotSolvable,
    RoundNotSolved,
    SolveInProgress,
)
from bidding.items import demand_of
from bidding.models import (
    PPB,
    Allocation,
    AllocationStatus,
    Award,
    Bid,
    BidStatus,
    BidVersion,
    Factory,
    Invitation,
    Item,
    Round,
    RoundItem,
    RoundState,
    utcnow,
)
from bidding.principal import SYSTEM, Principal
from bidding.settings import get_settings
from bidding.settlement import expectation
from bidding.values import from_cents, from_ppb, new_id, to_cents
from solver.explain import mark_excluded
from solver.problem import Bid as ProblemBid
from solver.problem import Problem, ProblemError, parse_problem
from solver.result import Allocation as AllocationRow
from solver.result import Result, parse_result
from solver.solve import SolveOptions, nothing_allocated, solve
from solver.verify import guaranteed_units, verify

log = logging.getLogger(__name__)

SOLVABLE_STATES = frozenset({RoundState.closed, RoundState.solved})
PUBLISHED_STATES = frozenset({RoundState.published, RoundState.settled})
ACTIVE = (AllocationStatus.queued, AllocationStatus.running)
USABLE_RESULTS = frozenset({"optimal", "feasible"})
CENT = Decimal("0.01")


class JobQueue(Protocol):
    """Where solve jobs go: enqueued in the caller's transaction, run by a worker."""

    name: str

    def enqueue(self, session: Session, *, allocation_id: str, round_id: str) -> None:
        """Add the job to the caller's open transaction (it exists only if that commits)."""


# The problem of a round


def build_round_problem(*, session: Session, row: Round) -> Problem:
    """The round as it stands: terms, factories, items with round terms, live bids' latest.

    Factories are the invited ones where the round has invitations, else those that bid.
    Units committed in other rounds are added when a solve is requested (`committed_units`).
    """
    round_items = session.exec(select(RoundItem).where(RoundItem.round_id == row.id)).all()
    items = {
        i.id: i
        for i in session.exec(
            select(Item).where(col(Item.id).in_([ri.item_id for ri in round_items]))
        ).all()
    }
    demand = demand_of(session=session, item_ids=list(items))
    invitations = {
        i.factory_id: i
        for i in session.exec(select(Invitation).where(Invitation.round_id == row.id)).all()
    }
    live = session.exec(
        select(Bid, BidVersion)
        .join(BidVersion, (col(BidVersion.bid_id) == Bid.id) & (BidVersion.version == Bid.version))
        .where(Bid.round_id == row.id, Bid.status == BidStatus.live)
    ).all()
    factory_ids = set(invitations) | {bid.factory_id for bid, _ in live}
    factories = session.exec(select(Factory).where(col(Factory.id).in_(factory_ids))).all()
    document: dict[str, Any] = {
        "round": {
            "id": row.id,
            "currency": row.currency,
            "margin_floor": from_ppb(row.margin_floor_ppb),
            "capacity_share": from_ppb(row.capacity_share_ppb),
            "budget": None if row.budget_cents is None else from_cents(row.budget_cents),
        },
        "factories": [_factory(f, invitations.get(f.id)) for f in factories],
        "items": [
            {
                "id": ri.item_id,
                "retail_price": from_cents(items[ri.item_id].retail_price_cents),
                "handling_cost": from_cents(items[ri.item_id].handling_cost_cents),
                "salvage_value": from_cents(items[ri.item_id].salvage_value_cents),
                "demand": [
                    {"units": s.units, "probability": s.probability} for s in demand[ri.item_id]
                ],
                "min_fill": ri.min_fill,
                "max_factory_share": None
                if ri.max_factory_share_ppb is None
                else from_ppb(ri.max_factory_share_ppb),
            }
            for ri in round_items
        ],
        "bids": [
            {
                "id": bid.id,
                "factory": bid.factory_id,
                "item": bid.item_id,
                "unit_cost": from_cents(version.unit_cost_cents),
                "capacity": version.capacity,
                "ask_price": None
                if version.ask_price_cents is None
                else from_cents(version.ask_price_cents),
                "min_lot": version.min_lot,
                "setup_cost": from_cents(version.setup_cost_cents),
            }
            for bid, version in live
        ],
    }
    return parse_problem(document)


def _factory(factory: Factory, invitation: Invitation | None) -> dict[str, Any]:
    share = None if invitation is None else invitation.capacity_share_ppb
    return {
        "id": factory.id,
        "monthly_capacity": factory.monthly_capacity,
        "is_new": factory.is_new,
        "guaranteed_units": 0 if invitation is None else invitation.guaranteed_units,
        "capacity_share": None if share is None else from_ppb(share),
        "committed_units": 0,
    }


@dataclass(frozen=True)
class Overrides:
    """A what-if's changes to the round's frozen problem; empty for a plain solve."""

    margin_floor: Decimal | None = None
    capacity_share: Decimal | None = None
    budget: Decimal | None = None
    no_budget: bool = False
    """Solve without the round's budget (then `budget` is None)."""
    exclude_factories: tuple[str, ...] = ()
    exclude_bids: tuple[str, ...] = ()
    demand_scale: Mapping[str, Decimal] = field(default_factory=dict)
    min_fill: Mapping[str, int] = field(default_factory=dict)

    @property
    def is_what_if(self) -> bool:
        """True where anything is overridden."""
        return self.as_data() != {}

    def as_data(self) -> dict[str, Any]:
        """The overrides given, as JSON data (decimals as strings, ids sorted)."""
        data: dict[str, Any] = {
            "margin_floor": None if self.margin_floor is None else str(self.margin_floor),
            "capacity_share": None if self.capacity_share is None else str(self.capacity_share),
            "budget": None if self.budget is None else str(self.budget),
            "exclude_factories": sorted(set(self.exclude_factories)),
            "exclude_bids": sorted(set(self.exclude_bids)),
            "demand_scale": {k: str(v) for k, v in sorted(self.demand_scale.items())},
            "min_fill": dict(sorted(self.min_fill.items())),
        }
        given = {k: v for k, v in data.items() if v not in (None, [], {})}
        if self.no_budget:
            given["budget"] = None  # stored as null: the what-if removes the budget
        return given


def period_lock_key(period: str) -> int:
    """The advisory lock key of a period: the first 8 bytes of sha256("period:" + period).

    Stable across processes and versions (unlike Python's hash), as a signed 64-bit integer.
    """
    digest = hashlib.sha256(f"period:{period}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_period(session: Session, period: str) -> None:
    """Hold the period's lock to the end of the transaction (PostgreSQL; SQLite needs none).

    Take it after the round's and allocation's row locks and before the audit chain's (see
    the module's docstring), and before reading `committed_units` for a decision.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": period_lock_key(period)}
        )


def committed_units(*, session: Session, row: Round) -> dict[str, int]:
    """Units awarded per factory in the other published (or settled) rounds of the period."""
    rows = session.exec(
        select(Award.factory_id, func.sum(Award.units))
        .join(Allocation, col(Allocation.id) == Award.allocation_id)
        .join(Round, col(Round.id) == Award.round_id)
        .where(
            Round.period == row.period,
            Round.id != row.id,
            col(Round.state).in_(list(PUBLISHED_STATES)),
            col(Allocation.published_at).is_not(None),
        )
        .group_by(col(Award.factory_id))
    ).all()
    return {factory_id: int(units or 0) for factory_id, units in rows}


def _with_terms(document: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    terms = dict(document["round"])
    if overrides.margin_floor is not None:
        terms["margin_floor"] = str(overrides.margin_floor)
    if overrides.capacity_share is not None:
        terms["capacity_share"] = str(overrides.capacity_share)
    if overrides.no_budget:
        terms["budget"] = None
    elif overrides.budget is not None:
        terms["budget"] = str(overrides.budget)
    return {**document, "round": terms}


def allocation_problem(
    *, snapshot: str, overrides: Overrides, committed: Mapping[str, int]
) -> Problem:
    """The problem a solve works on: the frozen snapshot, committed units, then overrides.

    Unknown ids in the overrides are refused (422, each named); demand scaled by a factor
    is rounded half up to whole units.
    """
    document = _with_terms(json.loads(snapshot), overrides)
    factories = {f["id"] for f in document["factories"]}
    items = {i["id"] for i in document["items"]}
    bids = {b["id"] for b in document["bids"]}
    errors: list[tuple[str, str]] = []
    for position, factory_id in enumerate(overrides.exclude_factories):
        if factory_id not in factories:
            errors.append((f"exclude_factories.{position}", f"no factory {factory_id!r} in round"))
    for position, bid_id in enumerate(overrides.exclude_bids):
        if bid_id not in bids:
            errors.append((f"exclude_bids.{position}", f"no bid {bid_id!r} in round"))
    per_item: tuple[tuple[str, Mapping[str, Any]], ...] = (
        ("demand_scale", overrides.demand_scale),
        ("min_fill", overrides.min_fill),
    )
    for name, mapping in per_item:
        errors.extend((f"{name}.{k}", f"no item {k!r} in round") for k in mapping if k not in items)
    if errors:
        raise InvalidInput(errors)
    gone = set(overrides.exclude_factories)
    excluded = set(overrides.exclude_bids)
    document["factories"] = [
        {**f, "committed_units": committed.get(f["id"], 0)}
        for f in document["factories"]
        if f["id"] not in gone
    ]
    document["bids"] = [
        b for b in document["bids"] if b["id"] not in excluded and b["factory"] not in gone
    ]
    document["items"] = [_item_with(i, overrides) for i in document["items"]]
    try:
        return parse_problem(document)
    except ProblemError as exc:
        raise InvalidInput([("overrides", str(exc))]) from exc


def _item_with(item: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    changed = dict(item)
    factor = overrides.demand_scale.get(item["id"])
    if factor is not None:
        changed["demand"] = [
            {
                **s,
                "units": int(
                    (Decimal(str(s["units"])) * factor).to_integral_value(rounding=ROUND_HALF_UP)
                ),
            }
            for s in item["demand"]
        ]
    if item["id"] in overrides.min_fill:
        changed["min_fill"] = overrides.min_fill[item["id"]]
    return changed


def _overrides_of(row: Allocation) -> Overrides:
    data = json.loads(row.overrides) if row.overrides else {}
    return Overrides(
        margin_floor=None if "margin_floor" not in data else Decimal(data["margin_floor"]),
        capacity_share=None if "capacity_share" not in data else Decimal(data["capacity_share"]),
        budget=None if data.get("budget") is None else Decimal(data["budget"]),
        no_budget="budget" in data and data["budget"] is None,
        exclude_factories=tuple(data.get("exclude_factories", ())),
        exclude_bids=tuple(data.get("exclude_bids", ())),
        demand_scale={k: Decimal(v) for k, v in data.get("demand_scale", {}).items()},
        min_fill=dict(data.get("min_fill", {})),
    )


def _lock_allocation(session: Session, allocation_id: str) -> Allocation:
    row = session.exec(
        select(Allocation)
        .where(Allocation.id == allocation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise AllocationNotFound(f"no allocation {allocation_id!r}")
    return row


def _state(row: Allocation) -> dict[str, Any]:
    return {
        "round": row.round_id,
        "status": str(row.status),
        "what_if": row.what_if,
        "input_hash": row.input_hash,
        "attempts": row.attempts,
    }


# Use cases


@use_case
def solve_round(
    *,
    session: Session,
    actor: Principal,
    round_id: str,
    overrides: Overrides,
    jobs: JobQueue,
) -> Allocation:
    """Request a solve (a what-if where anything is overridden): store its problem, enqueue it.

    Under the round's lock, so two requests cannot both pass the one-solve-at-a-time check.
    """
    from bidding.rounds import lock_round, round_state

    row = lock_round(session, round_id)
    if row.state not in SOLVABLE_STATES or row.snapshot is None:
        raise RoundNotSolvable(row.state)
    busy = session.exec(
        select(Allocation).where(
            Allocation.round_id == row.id, col(Allocation.status).in_(list(ACTIVE))
        )
    ).first()
    if busy is not None:
        raise SolveInProgress(
            f"allocation {busy.id} of this round is {busy.status}", allocation=busy.id
        )
    # No publication of the period can commit between this read and the stored problem.
    lock_period(session, row.period)
    problem = allocation_problem(
        snapshot=row.snapshot,
        overrides=overrides,
        committed=committed_units(session=session, row=row),
    )
    what_if = overrides.is_what_if
    allocation = Allocation(
        id=new_id("alc"),
        round_id=row.id,
        what_if=what_if,
        overrides=canonical_json(overrides.as_data()) if what_if else None,
        problem=problem.to_json(),
        input_hash=problem.input_hash,
        requested_by=actor.key_id,
    )
    session.add(allocation)
    session.flush()
    jobs.enqueue(session, allocation_id=allocation.id, round_id=row.id)
    record_event(
        session,
        actor=actor,
        action="allocation.request",
        entity_type="allocation",
        entity_id=allocation.id,
        after=_state(allocation)
        | {"overrides": overrides.as_data(), "queue": jobs.name, "round_state": round_state(row)},
    )
    session.commit()
    return allocation


@use_case
def start_solve(*, session: Session, allocation_id: str, only_queued: bool) -> Problem | None:
    """Mark an allocation running and hand back its problem; None if there is nothing to do.

    A retried job (its worker died) finds it running and starts it again; `only_queued`
    claims queued ones only (the embedded worker, which requeues its own leftovers).
    """
    row = _lock_allocation(session, allocation_id)
    wanted = (AllocationStatus.queued,) if only_queued else ACTIVE
    if row.status not in wanted:
        session.rollback()
        return None
    before = _state(row)
    row.status = AllocationStatus.running
    row.attempts += 1
    row.started_at = utcnow()
    session.add(row)
    record_event(
        session,
        actor=SYSTEM,
        action="allocation.start",
        entity_type="allocation",
        entity_id=row.id,
        before=before,
        after=_state(row),
    )
    problem_text = row.problem
    session.commit()
    return parse_problem(problem_text)


@use_case
def finish_solve(*, session: Session, allocation_id: str, result: Result) -> Allocation | None:
    """Store a solve's result in one transaction: done (or failed on a solver error).

    A plain solve that found an allocation moves its round from closed to solved; a
    what-if never changes the round. A job finished already (by a retry) is left alone.
    """
    from bidding.rounds import lock_round, round_state

    round_id = session.exec(
        select(Allocation.round_id).where(Allocation.id == allocation_id)
    ).first()
    if round_id is None:
        raise AllocationNotFound(f"no allocation {allocation_id!r}")
    row = lock_round(session, round_id)
    allocation = _lock_allocation(session, allocation_id)
    if allocation.status not in ACTIVE:
        session.rollback()
        return None
    before = _state(allocation)
    failed = result.status == "error"
    allocation.status = AllocationStatus.failed if failed else AllocationStatus.done
    allocation.result = result.to_json()
    allocation.error = result.message if failed else None
    allocation.finished_at = utcnow()
    allocation.solve_s = result.timings.total_s
    session.add(allocation)
    record_event(
        session,
        actor=SYSTEM,
        action="allocation.fail" if failed else "allocation.done",
        entity_type="allocation",
        entity_id=allocation.id,
        before=before,
        after=_state(allocation)
        | {"result_status": result.status, "objective": str(result.objective)},
    )
    moves_round = (
        not failed
        and not allocation.what_if
        and result.status in USABLE_RESULTS
        and row.state == RoundState.closed
    )
    if moves_round:
        round_before = round_state(row)
        row.state = RoundState.solved
        session.add(row)
        record_event(
            session,
            actor=SYSTEM,
            action="round.solve",
            entity_type="round",
            entity_id=row.id,
            before=round_before,
            after=round_state(row) | {"allocation": allocation.id},
        )
    session.commit()
    return allocation


@use_case
def fail_solve(*, session: Session, allocation_id: str, message: str) -> None:
    """Store that a solve broke (not the solver's verdict: an exception in the job)."""
    allocation = _lock_allocation(session, allocation_id)
    if allocation.status not in ACTIVE:
        session.rollback()
        return
    before = _state(allocation)
    allocation.status = AllocationStatus.failed
    allocation.error = message[:2000]
    allocation.finished_at = utcnow()
    session.add(allocation)
    record_event(
        session,
        actor=SYSTEM,
        action="allocation.fail",
        entity_type="allocation",
        entity_id=allocation.id,
        before=before,
        after=_state(allocation) | {"error": allocation.error},
    )
    session.commit()


def run_solve(*, engine: Engine, allocation_id: str, only_queued: bool = False) -> None:
    """The job: mark running, solve outside any transaction, store the result in one.

    A process killed anywhere in here leaves the allocation queued or running with no
    result; the retried job starts it again and, the problem being stored, gets the same.
    """
    with Session(engine, expire_on_commit=False) as session:
        problem = start_solve(session=session, allocation_id=allocation_id, only_queued=only_queued)
    if problem is None:
        return
    delay = get_settings().solve_delay_s
    if delay > 0:
        time.sleep(delay)
    try:
        result = solve(problem, SolveOptions())
    except Exception as exc:  # the job's boundary: any crash of the solve is stored
        log.exception("solve of allocation %s failed", allocation_id)
        with Session(engine, expire_on_commit=False) as session:
            fail_solve(session=session, allocation_id=allocation_id, message=repr(exc))
        return
    with Session(engine, expire_on_commit=False) as session:
        finish_solve(session=session, allocation_id=allocation_id, result=result)


@use_case
def requeue_abandoned(*, session: Session) -> list[str]:
    """Put allocations left running by a process that died back in the queue (embedded)."""
    rows = session.exec(
        select(Allocation)
        .where(Allocation.status == AllocationStatus.running)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for row in rows:
        before = _state(row)
        row.status = AllocationStatus.queued
        session.add(row)
        record_event(
            session,
            actor=SYSTEM,
            action="allocation.requeue",
            entity_type="allocation",
            entity_id=row.id,
            before=before,
            after=_state(row),
        )
    session.commit()
    return [row.id for row in rows]


def next_queued(*, session: Session) -> str | None:
    """The oldest queued allocation's id, if any."""
    found = session.exec(
        select(Allocation.id)
        .where(Allocation.status == AllocationStatus.queued)
        .order_by(col(Allocation.created_at), col(Allocation.id))
        .limit(1)
    ).first()
    session.rollback()
    return found


# Reads


def get_allocation(*, session: Session, allocation_id: str) -> Allocation:
    """One allocation (staff only: the routes check the role)."""
    row = session.get(Allocation, allocation_id)
    if row is None:
        raise AllocationNotFound(f"no allocation {allocation_id!r}")
    return row


def list_allocations(
    *, session: Session, principal: Principal, round_id: str, after: str | None, limit: int
) -> list[Allocation]:
    """A round's allocations in id order after the cursor."""
    from bidding.rounds import get_round

    get_round(session=session, principal=principal, round_id=round_id)
    query = (
        select(Allocation)
        .where(Allocation.round_id == round_id)
        .order_by(col(Allocation.id))
        .limit(limit)
    )
    if after is not None:
        query = query.where(col(Allocation.id) > after)
    return list(session.exec(query).all())


def presented_result(*, session: Session, row: Allocation) -> Result | None:
    """The stored result, with a what-if's excluded bids added as `excluded` rows (0 units)."""
    if row.result is None:
        return None
    result = parse_result(row.result)
    overrides = _overrides_of(row)
    if not overrides.exclude_bids and not overrides.exclude_factories:
        return result
    snapshot = session.exec(select(Round.snapshot).where(Round.id == row.round_id)).one()
    assert snapshot is not None  # an allocation exists only for a closed round
    full = parse_problem(_with_terms(json.loads(snapshot), overrides))
    solved = {a.bid for a in result.allocations}
    missing = [a for a in nothing_allocated(full) if a.bid not in solved]
    merged = result.model_copy(
        update={"allocations": tuple(sorted((*result.allocations, *missing), key=_by_bid))}
    )
    return mark_excluded(merged, (a.bid for a in missing))


def _by_bid(row: AllocationRow) -> str:
    return row.bid


# Publication


@use_case
def publish_allocation(*, session: Session, actor: Principal, allocation_id: str) -> Allocation:
    """Publish a done allocation of a solved round: verified, no promise loosened; awards fixed.

    Refused with the findings when the verifier finds anything, when the allocation loosens
    a promise of the round (`_loosened`), or when units committed elsewhere in the period
    changed since it was solved. The period's lock is held from the committed units' read
    to the commit, so two rounds of one period are published one after the other.
    """
    from bidding.rounds import lock_round, round_state

    found = session.exec(select(Allocation.round_id).where(Allocation.id == allocation_id)).first()
    if found is None:
        raise AllocationNotFound(f"no allocation {allocation_id!r}")
    row = lock_round(session, found)
    allocation = _lock_allocation(session, allocation_id)
    if row.state != RoundState.solved or row.snapshot is None:
        raise RoundNotSolved(row.state)
    if allocation.status != AllocationStatus.done or allocation.result is None:
        raise AllocationNotDone(allocation.status)
    problem = parse_problem(allocation.problem)
    result = parse_result(allocation.result)
    findings = [str(f) for f in verify(problem, result)]
    if result.status not in USABLE_RESULTS:
        findings.append(f"result_status: the solve found no allocation ({result.status})")
    lock_period(session, row.period)
    now_committed = committed_units(session=session, row=row)
    findings.extend(
        f"committed_units_changed (factory {f.id}): {f.committed_units} when solved, "
        f"{now_committed.get(f.id, 0)} now; solve again"
        for f in problem.factories
        if now_committed.get(f.id, 0) != f.committed_units
    )
    # The round's own guarantees with the units committed that the allocation was solved
    # with (now's for a factory the what-if excluded), so only the overrides differ.
    committed = now_committed | {f.id: f.committed_units for f in problem.factories}
    findings.extend(_loosened(parse_problem(row.snapshot), problem, committed))
    if findings:
        raise PublicationRefused(findings)
    shown = presented_result(session=session, row=allocation)
    assert shown is not None
    records = [_award(allocation, a) for a in shown.allocations]
    if records:
        session.execute(insert(Award), records)
    before = round_state(row)
    allocation.published_at = utcnow()
    row.state = RoundState.published
    session.add(allocation)
    session.add(row)
    record_event(
        session,
        actor=actor,
        action="allocation.publish",
        entity_type="allocation",
        entity_id=allocation.id,
        after=_state(allocation)
        | {
            "objective": str(result.objective),
            "awards": len(records),
            # What the published-allocation check compares the stored rows against later.
            "awards_hash": awards_digest(records),
            "result_hash": text_digest(allocation.result),
        },
    )
    record_event(
        session,
        actor=actor,
        action="round.publish",
        entity_type="round",
        entity_id=row.id,
        before=before,
        after=round_state(row) | {"allocation": allocation.id},
    )
    session.commit()
    return allocation


def _loosened(round_problem: Problem, problem: Problem, committed: Mapping[str, int]) -> list[str]:
    """How the allocation's problem loosens a promise of the round's own (SPEC 2).

    `round_problem` is the round's snapshot; its guarantees are reckoned with `committed`.

    A lower margin floor, a higher capacity share, a new factory's guarantee g_f (SPEC 3)
    below the round's (an excluded guaranteed factory or bid, or a lower share), a lower
    minimum fill. The budget is the platform's own cap, not a promise: either way is fine;
    so is excluding a factory or bid that holds no guarantee.
    """
    findings = []
    if problem.round.margin_floor < round_problem.round.margin_floor:
        findings.append(
            f"margin_floor_lowered: {problem.round.margin_floor} is below the round's "
            f"{round_problem.round.margin_floor}"
        )
    shares = {f.id: round_problem.factory_share(f) for f in round_problem.factories}
    for factory in problem.factories:
        share = problem.factory_share(factory)
        if factory.id in shares and share > shares[factory.id]:
            findings.append(
                f"capacity_share_raised (factory {factory.id}): {share} is above the round's "
                f"{shares[factory.id]}"
            )
    promised = _guarantees(round_problem, committed)
    kept = _guarantees(problem, {f.id: f.committed_units for f in problem.factories})
    findings.extend(
        f"guarantee_lowered (factory {factory_id}): {kept.get(factory_id, 0)} units "
        f"guaranteed, below the round's {g}"
        for factory_id, g in sorted(promised.items())
        if kept.get(factory_id, 0) < g
    )
    fills = {i.id: i.min_fill for i in round_problem.items}
    findings.extend(
        f"min_fill_lowered (item {item.id}): {item.min_fill} is below the round's {fills[item.id]}"
        for item in problem.items
        if item.id in fills and item.min_fill < fills[item.id]
    )
    return findings


def _guarantees(problem: Problem, committed: Mapping[str, int]) -> dict[str, int]:
    """g_f per factory with one (SPEC 3, as the verifier reckons it), given `committed`."""
    bids: dict[str, list[ProblemBid]] = defaultdict(list)
    for bid in problem.bids:
        bids[bid.factory].append(bid)
    out = {
        f.id: guaranteed_units(
            problem, f.model_copy(update={"committed_units": committed.get(f.id, 0)}), bids[f.id]
        )
        for f in problem.factories
    }
    return {factory_id: g for factory_id, g in out.items() if g > 0}


def _ppb(value: float) -> int:
    return int((Decimal(str(value)) * PPB).to_integral_value(rounding=ROUND_HALF_EVEN))


def _award(allocation: Allocation, a: AllocationRow) -> dict[str, Any]:
    return {
        "allocation_id": allocation.id,
        "bid_id": a.bid,
        "round_id": allocation.round_id,
        "factory_id": a.factory,
        "item_id": a.item,
        "units": a.units,
        "supply_price_cents": to_cents(a.supply_price),
        "setup_fee_cents": to_cents(a.setup_fee),
        "capacity_share_used_ppb": _ppb(a.capacity_share_used),
        "margin_ppb": None if a.margin is None else _ppb(a.margin),
        "reason": a.reason,
        "cost_to_win_more_cents": None
        if a.cost_to_win_more is None
        else to_cents(a.cost_to_win_more),
    }


def awards_digest(records: Iterable[Mapping[str, Any]]) -> str:
    """sha256 of award rows (column name to stored value), in bid order: one per award set."""
    rows = sorted((dict(r) for r in records), key=lambda r: str(r["bid_id"]))
    return text_digest(canonical_json(rows))


def text_digest(text: str) -> str:
    """sha256 of a stored text, as the audit log spells hashes."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def list_awards(
    *, session: Session, principal: Principal, round_id: str, after: str | None, limit: int
) -> list[Award]:
    """The published awards of a round in bid order; a factory gets its own only.

    Before publication: 409 `round_not_published` for every role that can see the round
    (its state is visible to them anyway); a round a factory cannot see is a 404.
    """
    from bidding.rounds import get_round

    row = get_round(session=session, principal=principal, round_id=round_id)
    if row.state not in PUBLISHED_STATES:
        raise RoundNotPublished(row.state)
    query = (
        select(Award)
        .join(Allocation, col(Allocation.id) == Award.allocation_id)
        .where(Award.round_id == row.id, col(Allocation.published_at).is_not(None))
        .order_by(col(Award.bid_id))
        .limit(limit)
    )
    if principal.factory_id is not None:
        query = query.where(Award.factory_id == principal.factory_id)
    if after is not None:
        query = query.where(col(Award.bid_id) > after)
    return list(session.exec(query).all())


# Comparison


@dataclass(frozen=True)
class Figures:
    """What one allocation spends and risks, per item and factory, in exact decimals."""

    objective: Decimal
    spend: Decimal
    units: int
    expected_unsold: Decimal
    takeover_cost: Decimal
    salvage: Decimal
    item_units: dict[str, int]
    item_spend: dict[str, Decimal]
    item_unsold: dict[str, Decimal]
    item_takeover_cost: dict[str, Decimal]
    item_salvage: dict[str, Decimal]
    factory_units: dict[str, int]
    factory_spend: dict[str, Decimal]


def figures(problem: Problem, result: Result) -> Figures:
    """Spend (price x units + fees paid), and the expected takeover of each item.

    Expected unsold units, their supply cost and salvage per item by the one rule of
    `bidding.settlement.expectation`. Totals are the sums of the per-item figures, so they
    add up exactly.
    """
    item_units: dict[str, int] = defaultdict(int)
    item_spend: dict[str, Decimal] = defaultdict(Decimal)
    item_price_spend: dict[str, Decimal] = defaultdict(Decimal)
    factory_units: dict[str, int] = defaultdict(int)
    factory_spend: dict[str, Decimal] = defaultdict(Decimal)
    for a in result.allocations:
        fee = a.setup_fee if a.units > 0 else Decimal(0)
        spend = a.supply_price * a.units + fee
        item_units[a.item] += a.units
        item_spend[a.item] += spend
        item_price_spend[a.item] += a.supply_price * a.units
        factory_units[a.factory] += a.units
        factory_spend[a.factory] += spend
    unsold: dict[str, Decimal] = {}
    cost: dict[str, Decimal] = {}
    salvage: dict[str, Decimal] = {}
    for item in problem.items:
        e = expectation(
            item_units.get(item.id, 0),
            item_price_spend[item.id],
            item.salvage_value,
            [(s.units, s.probability) for s in item.demand],
        )
        unsold[item.id], cost[item.id], salvage[item.id] = e.unsold, e.takeover_spend, e.salvage
    return Figures(
        objective=result.objective if result.objective is not None else Decimal(0),
        spend=sum(item_spend.values(), Decimal("0.00")),
        units=sum(item_units.values()),
        expected_unsold=sum(unsold.values(), Decimal(0)),
        takeover_cost=sum(cost.values(), Decimal("0.00")),
        salvage=sum(salvage.values(), Decimal("0.00")),
        item_units=dict(item_units),
        item_spend=dict(item_spend),
        item_unsold=unsold,
        item_takeover_cost=cost,
        item_salvage=salvage,
        factory_units=dict(factory_units),
        factory_spend=dict(factory_spend),
    )


@dataclass(frozen=True)
class Comparison:
    """Two allocations of one round, figure by figure (`other` minus `base` as the change)."""

    base: Allocation
    other: Allocation
    base_figures: Figures
    other_figures: Figures


def compare_allocations(*, session: Session, allocation_id: str, other_id: str) -> Comparison:
    """The figures of two done allocations of the same round, side by side."""
    base = get_allocation(session=session, allocation_id=allocation_id)
    other = get_allocation(session=session, allocation_id=other_id)
    if base.round_id != other.round_id:
        raise AllocationsOfDifferentRounds(
            f"{base.id} is of round {base.round_id}, {other.id} of {other.round_id}"
        )
    computed = []
    for row in (base, other):
        result = presented_result(session=session, row=row)
        if row.status != AllocationStatus.done or result is None:
            raise AllocationNotDone(row.status, f"allocation {row.id} is {row.status}")
        computed.append(figures(parse_problem(row.problem), result))
    return Comparison(base=base, other=other, base_figures=computed[0], other_figures=computed[1])


def allocation_problem_text(*, session: Session, allocation_id: str) -> str:
    """The problem-format document an allocation solved (overrides applied)."""
    return get_allocation(session=session, allocation_id=allocation_id).problem
