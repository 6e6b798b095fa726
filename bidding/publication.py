"""Publication: a done allocation, checked by the independent verifier, becomes binding.

Publishing writes one immutable award row per bid and moves the round to `published`;
nothing loosens a promise of the round (`loosened`). Awards are read from those rows.
"""

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from operator import itemgetter
from typing import Any

import msgspec
from sqlmodel import Session, col, select

from bidding.audit import canonical_json
from bidding.award_writes import insert_awards
from bidding.changes import record_change
from bidding.db import use_case
from bidding.documents import problem_of, result_of
from bidding.errors import (
    AllocationAlreadyPublished,
    AllocationNotDone,
    AllocationNotFound,
    PublicationRefused,
    RoundNotSolved,
)
from bidding.lifecycle import lock_round, require, transition
from bidding.models import PPB, Allocation, AllocationStatus, Award, Factory, Item, utcnow
from bidding.principal import Principal
from bidding.rounds import get_round
from bidding.snapshot import COMMITTED_UNITS, committed_units, lock_period
from bidding.solves import USABLE_RESULTS, allocation_state, lock_allocation, presentation_of
from bidding.thresholds import ThresholdQueue, queue_thresholds
from bidding.values import to_cents
from solver.problem import Problem, ProblemBid, parse_problem
from solver.result import Result
from solver.verify import guaranteed_units, verify


@use_case
def publish_allocation(
    *, session: Session, actor: Principal, allocation_id: str, jobs: ThresholdQueue | None = None
) -> Allocation:
    """Publish a done allocation of a solved round: verified, no promise loosened; awards fixed.

    Thresholds the solve left "pending" get their job (`bidding.thresholds`), on `jobs`.

    Refused with the findings when the verifier finds anything, when the allocation loosens
    a promise of the round (`loosened`), or when units committed elsewhere in the period
    changed since it was solved. The period's lock is held from the committed units' read
    to the commit, so two rounds of one period are published one after the other.
    """
    found = session.exec(select(Allocation.round_id).where(Allocation.id == allocation_id)).first()
    if found is None:
        raise AllocationNotFound(f"no allocation {allocation_id!r}")
    row = lock_round(session, found)
    allocation = lock_allocation(session, allocation_id)
    if allocation.published_at is not None:
        raise AllocationAlreadyPublished(allocation.id, row.id)
    require(row, "publish")
    if row.snapshot is None:
        raise RoundNotSolved(row.state)
    if allocation.status != AllocationStatus.done or allocation.result is None:
        raise AllocationNotDone(allocation.status)
    problem = problem_of(allocation.problem)
    result = result_of(allocation.result)
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
    if allocation.what_if or not same_but_committed(row.snapshot, allocation.problem):
        findings.extend(loosened(parse_problem(row.snapshot), problem, committed))
    if findings:
        raise PublicationRefused(findings)
    shown = presentation_of(session=session, row=allocation, result=result)
    factory_names = _names(session, Factory, {a.factory for a in shown.allocations})
    item_names = _names(session, Item, {a.item for a in shown.allocations})
    records = award_records(allocation, shown, problem, factory_names, item_names)
    insert_awards(session, records)
    allocation.published_at = utcnow()
    session.add(allocation)
    record_change(
        session,
        actor=actor,
        action="allocation.publish",
        entity_id=allocation.id,
        after=allocation_state(allocation)
        | {
            "objective": str(result.objective),
            "awards": len(records),
            # What the published-allocation check compares the stored rows against later.
            "awards_hash": awards_digest(records),
            "result_hash": text_digest(allocation.result),
        },
    )
    transition(
        session, actor=actor, row=row, action="publish", details={"allocation": allocation.id}
    )
    queue_thresholds(session, allocation_id=allocation.id, result=shown, jobs=jobs)
    session.commit()
    return allocation


def same_but_committed(snapshot: str, problem_text: str) -> bool:
    """Whether a plain solve's problem is the round's snapshot, committed units aside.

    Both are the canonical text `Problem.to_json` writes, so then nothing but the units
    committed elsewhere differs, and `loosened` has nothing to find: publishing 100,000
    bids need not parse the snapshot to learn that. Anything else is checked in full.
    """
    return COMMITTED_UNITS.sub(_ids_only, snapshot) == COMMITTED_UNITS.sub(_ids_only, problem_text)


def _ids_only(match: re.Match[str]) -> str:
    return match[3] + match[4]


def loosened(round_problem: Problem, problem: Problem, committed: Mapping[str, int]) -> list[str]:
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


def _names(session: Session, table: type[Factory] | type[Item], ids: set[str]) -> dict[str, str]:
    found = session.exec(select(table.id, table.name).where(col(table.id).in_(sorted(ids)))).all()
    return dict(found)


class _Memo(dict[Any, int | None]):
    """A conversion done once per distinct value: prices and shares repeat across bids."""

    def __init__(self, convert: Callable[[Any], int]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, value: Any) -> int | None:
        converted = None if value is None else self.convert(value)
        self[value] = converted
        return converted


def _ppb(value: float) -> int:
    return int((Decimal(str(value)) * PPB).to_integral_value(rounding=ROUND_HALF_EVEN))


def award_records(
    allocation: Allocation,
    shown: Result,
    problem: Problem,
    factory_names: Mapping[str, str],
    item_names: Mapping[str, str],
) -> list[dict[str, Any]]:
    """An award row per bid: the result's figures, the bid's declared costs and names as of now.

    A what-if's excluded bid is not in the problem solved: it has no declared costs.
    """
    bids = {b.id: b for b in problem.bids}
    cents, ppb = _Memo(to_cents), _Memo(_ppb)
    records = []
    for a in shown.allocations:
        bid = bids.get(a.bid)
        records.append(
            {
                "allocation_id": allocation.id,
                "bid_id": a.bid,
                "round_id": allocation.round_id,
                "factory_id": a.factory,
                "item_id": a.item,
                "units": a.units,
                "supply_price_cents": cents[a.supply_price],
                "setup_fee_cents": cents[a.setup_fee],
                "capacity_share_used_ppb": ppb[a.capacity_share_used],
                "margin_ppb": ppb[a.margin],
                "reason": a.reason,
                # "pending" (a round above the size explained with the solve) is stored as none
                "cost_to_win_more_cents": cents[a.cost_to_win_more]
                if isinstance(a.cost_to_win_more, Decimal)
                else None,
                "unit_cost_cents": None if bid is None else cents[bid.unit_cost],
                "setup_cost_cents": None if bid is None else cents[bid.setup_cost],
                "factory_name": factory_names.get(a.factory),
                "item_name": item_names.get(a.item),
            }
        )
    return records


LATER_COLUMNS = frozenset({"unit_cost_cents", "setup_cost_cents", "factory_name", "item_name"})
"""Award columns added by migration 0005: left out of a row's digest where null, so rows
published before it keep the digest their publish event recorded."""
_LATER = itemgetter(*sorted(LATER_COLUMNS))


def awards_digest(records: Iterable[Mapping[str, Any]]) -> str:
    """sha256 of award rows (column name to stored value), in bid order: one per award set."""
    rows = sorted(map(_with_later_columns_set, records), key=lambda r: str(r["bid_id"]))
    return "sha256:" + hashlib.sha256(_canonical_rows(rows)).hexdigest()


def _with_later_columns_set(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record without those of LATER_COLUMNS that are null (itself where none is)."""
    if type(record) is dict:
        try:
            if None not in _LATER(record):
                return record
        except KeyError:
            pass
    return {k: v for k, v in record.items() if v is not None or k not in LATER_COLUMNS}


_PLAIN = re.compile(rb"[ -\[\]-~]*")
"""Printable ASCII without a backslash: text no JSON encoder escapes, or spells otherwise."""
_PLAIN_TYPES = frozenset({int, str, type(None)})


def _canonical_rows(rows: list[dict[str, Any]]) -> bytes:
    """`canonical_json(rows)` as UTF-8: msgspec writes it (a tenth of the time at 100,000
    rows) where that is sure to be the same bytes (whole numbers, text, nulls; nothing
    escaped), else json.dumps does (tests/unit/test_awards_digest.py)."""
    if {type(v) for row in rows for v in row.values()} <= _PLAIN_TYPES:
        fast = msgspec.json.encode(rows, order="sorted")
        if _PLAIN.fullmatch(fast):
            return fast
    return canonical_json(rows).encode("utf-8")


def text_digest(text: str) -> str:
    """sha256 of a stored text, as the audit log spells hashes."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def list_awards(
    *,
    session: Session,
    principal: Principal,
    round_id: str,
    after: str | None,
    limit: int | None,
) -> list[Award]:
    """The published awards of a round in bid order (`limit` None: all); a factory gets its
    own only.

    Before publication: 409 `round_not_published` for every role that can see the round
    (its state is visible to them anyway); a round a factory cannot see is a 404.
    """
    row = require(get_round(session=session, principal=principal, round_id=round_id), "read_awards")
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
