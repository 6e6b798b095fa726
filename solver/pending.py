"""The thresholds a solve left "pending" (above the size explained with it), worked out later.

A round above `explain_limit` bids is published with `cost_to_win_more` "pending"; a job
after publication (bidding/thresholds.py) calls `pending_thresholds_of` with the stored
problem, the options the result records and the published whole units. The answer is the
solve's own: the model built as the solve built it, and each bid's threshold found by the
same re-solves (solver/resolve.py's Resolver) that `solve()` uses up to the limit, so a
round gets the same figures whichever side of the limit it falls. No database, no HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from solver.model import build_model
from solver.problem import Problem
from solver.resolve import Resolver
from solver.solve import SolveOptions, whole_allocation

IntArray = npt.NDArray[np.int64]


def pending_thresholds_of(
    problem: Problem,
    options: SolveOptions,
    units: Mapping[str, int],
    bids: Iterable[str],
    on_threshold: Callable[[str, Decimal | None], None],
) -> None:
    """Find `cost_to_win_more` (SPEC 3) of each of `bids`, given the published `units` per
    bid id, and hand each to `on_threshold` as it is found (bid id, value or None).

    The caller chooses the bids (those the result states "pending" and not stored yet), so
    a job stopped half way goes on where it stopped. A bid not in the problem is an error.
    """
    wanted = list(bids)
    if not wanted:
        return
    mip = problem.has_binaries
    model = build_model(problem, options.formulation_for(mip=mip))
    model.keep_arrays = True
    index = {bid.id: k for k, bid in enumerate(problem.bids)}
    missing = [b for b in wanted if b not in index]
    if missing:
        raise ValueError(f"bids not in the problem: {', '.join(sorted(missing)[:5])}")
    whole: IntArray = np.fromiter(
        (int(units.get(bid.id, 0)) for bid in problem.bids), np.int64, len(problem.bids)
    )

    def allocate(changed: Problem) -> IntArray | None:
        return whole_allocation(changed, options)

    resolver = Resolver(model, whole, allocate)
    for bid_id in wanted:
        on_threshold(bid_id, resolver.threshold(index[bid_id]))
