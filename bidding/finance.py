"""Finance's audits: every published award re-checked, published allocations untampered, replay.

The margin audit trusts no stored figure: it rebuilds each published allocation's result
from its award rows (the rows factories are paid by) and hands it with the stored problem
to the independent verifier (`solver.verify`). The published-allocation check compares the
award rows and the stored result with the hashes the publish event recorded in the
hash-chained audit log, so a row changed after publication is caught even where it still
keeps every guarantee.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from bidding.changes import record_change
from bidding.db import use_case
from bidding.documents import problem_of, result_of
from bidding.errors import AllocationNotDone
from bidding.models import Allocation, AllocationStatus, AuditEvent, Award
from bidding.names import Names, names_of
from bidding.principal import Principal
from bidding.publication import awards_digest, text_digest
from bidding.settlement import award_rows, published_rounds
from bidding.solves import get_allocation
from bidding.takeover import ItemOutcome, expected_items
from bidding.takeover import realised_items as settled_items
from bidding.values import from_cents, from_ppb
from solver.problem import Problem
from solver.result import BidAllocation, Result
from solver.solve import SolveOptions, solve
from solver.verify import verify
from solver.version import recorded_version, version_note


@dataclass(frozen=True)
class AuditFinding:
    """One thing wrong with a published allocation, named by round, allocation, bid, factory."""

    round: str
    allocation: str
    bid: str | None
    factory: str | None
    finding: str
    factory_name: str | None = None


@dataclass(frozen=True)
class MarginAudit:
    """The margin audit: how much was checked and every finding."""

    allocations_checked: int
    awards_checked: int
    findings: tuple[AuditFinding, ...]


def _published(session: Session) -> list[Allocation]:
    return list(
        session.exec(
            select(Allocation)
            .where(col(Allocation.published_at).is_not(None))
            .order_by(col(Allocation.round_id), col(Allocation.id))
        ).all()
    )


def result_from_awards(
    allocation: Allocation, problem: Problem, rows: Sequence[Award]
) -> tuple[Result, list[str]]:
    """The stored result with its rows rebuilt from the award rows, and rows that would not read.

    A what-if's excluded bids are not in its problem: their rows are left out while they
    hold no units (with units, the verifier flags them as unknown bids).
    """
    assert allocation.result is not None  # only published allocations are audited
    stored = result_of(allocation.result)
    in_problem = {b.id for b in problem.bids}
    # An award row holds no ceiling: the stored result's (its hash checked below) stands.
    ceilings = {a.bid: a.cost_ceiling for a in stored.allocations}
    rebuilt: list[BidAllocation] = []
    unreadable: list[str] = []
    for row in rows:
        if row.bid_id not in in_problem and row.units == 0 and row.reason == "excluded":
            continue
        try:
            rebuilt.append(BidAllocation.model_validate(_result_row(row, ceilings.get(row.bid_id))))
        except ValidationError:
            unreadable.append(row.bid_id)
    return stored.model_copy(update={"allocations": tuple(rebuilt)}), unreadable


def _result_row(row: Award, cost_ceiling: Decimal | None) -> dict[str, Any]:
    margin = None if row.margin_ppb is None else float(from_ppb(row.margin_ppb))
    threshold = row.cost_to_win_more_cents
    return {
        "bid": row.bid_id,
        "factory": row.factory_id,
        "item": row.item_id,
        "units": row.units,
        "supply_price": from_cents(row.supply_price_cents),
        "setup_fee": from_cents(row.setup_fee_cents),
        "capacity_share_used": float(from_ppb(row.capacity_share_used_ppb)),
        "margin": margin,
        "reason": row.reason,
        "cost_to_win_more": None if threshold is None else from_cents(threshold),
        "cost_ceiling": cost_ceiling,
    }


def verify_published_allocations(*, session: Session) -> list[AuditFinding]:
    """Published allocations whose award rows or result differ from what was published.

    The publish event of each allocation records the hash of its award rows and of its
    result; the chain verifier vouches for the event, this for the rows.
    """
    recorded: dict[str, dict[str, Any]] = {}
    for event in session.exec(
        select(AuditEvent).where(AuditEvent.action == "allocation.publish")
    ).all():
        recorded[event.entity_id] = json.loads(event.after) if event.after else {}
    findings = []
    for allocation in _published(session):

        def found(text: str, allocation: Allocation = allocation) -> AuditFinding:
            return AuditFinding(allocation.round_id, allocation.id, None, None, text)

        published = recorded.get(allocation.id)
        if published is None or "awards_hash" not in published:
            findings.append(found("publication_unrecorded: no publish event with the awards' hash"))
            continue
        rows = [r.model_dump() for r in award_rows(session=session, allocation_id=allocation.id)]
        if awards_digest(rows) != published["awards_hash"]:
            findings.append(found("awards_changed: the award rows differ from those published"))
        if allocation.result is None or text_digest(allocation.result) != published.get(
            "result_hash"
        ):
            findings.append(found("result_changed: the stored result differs from the published"))
    return findings


def margin_audit(*, session: Session) -> MarginAudit:
    """Every published award re-checked by the independent verifier, plus the publish hashes."""
    findings: list[AuditFinding] = []
    awards = 0
    allocations = _published(session)
    for allocation in allocations:
        rows = award_rows(session=session, allocation_id=allocation.id)
        awards += len(rows)
        problem = problem_of(allocation.problem)
        result, unreadable = result_from_awards(allocation, problem, rows)
        factory_of = {r.bid_id: r.factory_id for r in rows}
        found: list[tuple[str | None, str | None, str]] = [
            (bid, factory_of.get(bid), "award_unreadable: the award row holds values no result can")
            for bid in unreadable
        ]
        found.extend(
            (f.bid, f.factory or (factory_of.get(f.bid) if f.bid else None), str(f))
            for f in verify(problem, result)
        )
        names = _factory_names(session, rows, {f for _, f, _ in found if f is not None})
        findings.extend(
            AuditFinding(
                allocation.round_id,
                allocation.id,
                bid,
                factory,
                text,
                factory_name=None if factory is None else names.factory(factory),
            )
            for bid, factory, text in found
        )
    findings.extend(verify_published_allocations(session=session))
    return MarginAudit(
        allocations_checked=len(allocations), awards_checked=awards, findings=tuple(findings)
    )


def _factory_names(session: Session, rows: Sequence[Award], factory_ids: set[str]) -> Names:
    """The names of these factories as published (current ones where the rows hold none)."""
    if not factory_ids:
        return Names()
    stored = Names(factories={r.factory_id: r.factory_name for r in rows if r.factory_name})
    return names_of(session=session, factory_ids=factory_ids, item_ids=(), stored=stored)


@dataclass(frozen=True)
class TakeoverLine:
    """The takeover of one item of a published round: expected at publication, and settled."""

    round: str
    period: str
    currency: str
    state: str
    settlement_version: int | None
    expected: ItemOutcome
    settled: ItemOutcome | None
    item_name: str | None = None


def takeover_audit(*, session: Session, round_id: str | None = None) -> list[TakeoverLine]:
    """Takeover liability per round and item: expected at publication, and once settled."""
    lines: list[TakeoverLine] = []
    for published in published_rounds(session=session, round_id=round_id):
        expected = expected_items(published.awards, published.items, published.demand)
        settled = (
            {
                o.item: o
                for o in settled_items(
                    published.awards, published.items, published.sold, published.takeover
                )
            }
            if published.sold is not None and published.takeover is not None
            else {}
        )
        row = published.round
        version = None if published.settlement is None else published.settlement.version
        lines.extend(
            TakeoverLine(
                round=row.id,
                period=row.period,
                currency=row.currency,
                state=str(row.state),
                settlement_version=version,
                expected=outcome,
                settled=settled.get(outcome.item),
                item_name=published.names.item(outcome.item),
            )
            for outcome in expected
        )
    return lines


# Replay


@dataclass(frozen=True)
class ReplayDifference:
    """A bid whose row differs between the stored result and the replay (None: no row)."""

    bid: str
    stored: dict[str, Any] | None
    replayed: dict[str, Any] | None


@dataclass(frozen=True)
class Replay:
    """A stored allocation solved again from its stored problem, and how the two compare."""

    allocation: str
    identical: bool
    input_hash: str
    solver_version_differs: bool
    stored_solver: dict[str, Any]
    replayed_solver: dict[str, Any]
    stored_objective: Decimal | None
    replayed_objective: Decimal | None
    differences: tuple[ReplayDifference, ...]
    allocator_version_differs: bool = False
    version_note: str = ""
    """The allocator versions of both, and what changed between them (solver/version.py)."""


def replay_allocation(*, session: Session, actor: Principal, allocation_id: str) -> Replay:
    """Solve an allocation's stored problem again; identical, or the differences; audited.

    The solve runs outside any transaction (it may take a while); the audit event is
    written in one use case after it.
    """
    row = get_allocation(session=session, allocation_id=allocation_id)
    if row.status != AllocationStatus.done or row.result is None:
        raise AllocationNotDone(row.status)
    problem = problem_of(row.problem)
    stored = result_of(row.result)
    session.rollback()  # no transaction held during the solve
    replayed = solve(problem, SolveOptions.as_recorded(stored.solver))
    replay = compare_results(allocation_id, problem, stored, replayed)
    _record_replay(session=session, actor=actor, replay=replay)
    return replay


def compare_results(
    allocation_id: str, problem: Problem, stored: Result, replayed: Result
) -> Replay:
    """The replay verdict: byte-identical identity (timings apart) and the rows that differ."""
    before = {a.bid: a.model_dump(mode="json") for a in stored.allocations}
    after = {a.bid: a.model_dump(mode="json") for a in replayed.allocations}
    differences = tuple(
        ReplayDifference(bid, before.get(bid), after.get(bid))
        for bid in sorted(set(before) | set(after))
        if before.get(bid) != after.get(bid)
    )
    return Replay(
        allocation=allocation_id,
        identical=stored.identity() == replayed.identity(),
        input_hash=problem.input_hash,
        solver_version_differs=(stored.solver.name, stored.solver.version)
        != (replayed.solver.name, replayed.solver.version),
        stored_solver=stored.solver.model_dump(mode="json"),
        replayed_solver=replayed.solver.model_dump(mode="json"),
        stored_objective=stored.objective,
        replayed_objective=replayed.objective,
        differences=differences,
        allocator_version_differs=recorded_version(stored.solver.options)
        != recorded_version(replayed.solver.options),
        version_note=version_note(stored.solver.options, recorded_version(replayed.solver.options)),
    )


@use_case
def _record_replay(*, session: Session, actor: Principal, replay: Replay) -> None:
    record_change(
        session,
        actor=actor,
        action="allocation.replay",
        entity_id=replay.allocation,
        after={
            "identical": replay.identical,
            "input_hash": replay.input_hash,
            "solver_version_differs": replay.solver_version_differs,
            "allocator_version_differs": replay.allocator_version_differs,
            "stored_solver": replay.stored_solver,
            "replayed_solver": replay.replayed_solver,
            "differences": len(replay.differences),
        },
    )
    session.commit()
