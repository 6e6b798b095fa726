"""What proving whole units costs (SPEC 3 "Whole units"): the whole_units phase of solve().

For each size, a problem made by the benchmark's generator (bench/allocator.py's sizes
and seed) is solved in this process; solve()'s phase callback times each phase. The
whole_units phase is the rounding, the exact proof against the bound and, where the
rounding is not proven, the whole-unit search. Printed per run: the phase's seconds, its
share of the solve, whether the search ran, the status and the gap.

    python -m bench.whole_units --sizes 10k 100k --kinds lp milp
    python -m bench.whole_units --sizes 1M --kinds lp
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.allocator import SCENARIOS, SEED, SIZES
from solver.generate import generate_problem
from solver.problem import parse_problem
from solver.solve import solve


def measure(size: str, kind: str) -> dict[str, object]:
    """One solve of one generated problem, with its phases timed."""
    spec = SIZES[size]
    data = generate_problem(
        factories=spec.factories,
        items=spec.items,
        bids_per_factory=spec.bids_per_factory,
        scenarios=SCENARIOS,
        seed=SEED,
        milp=kind == "milp",
    )
    problem = parse_problem(data)
    del data
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    result = solve(problem, on_phase=lambda name: marks.append((name, time.perf_counter())))
    ended = time.perf_counter()
    marks.append(("end", ended))
    spans = {name: marks[k + 1][1] - at for k, (name, at) in enumerate(marks[:-1])}
    return {
        "size": size,
        "kind": kind,
        "bids": spec.bids,
        "status": result.status,
        "gap": result.gap,
        "objective": str(result.objective),
        "bound": str(result.continuous_objective),
        "whole_units_s": round(spans.get("whole_units", 0.0), 3),
        "solving_s": round(spans.get("solving", 0.0), 3),
        "total_s": round(ended - started, 3),
        "whole_units_share": round(spans.get("whole_units", 0.0) / (ended - started), 4),
    }


def main(argv: list[str] | None = None) -> int:
    """Print one JSON line per size and kind."""
    parser = argparse.ArgumentParser(prog="python -m bench.whole_units", description=__doc__)
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["10k", "100k"])
    parser.add_argument("--kinds", nargs="+", choices=["lp", "milp"], default=["lp"])
    args = parser.parse_args(argv)
    for size in args.sizes:
        for kind in args.kinds:
            print(json.dumps(measure(size, kind)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
