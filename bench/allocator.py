"""The allocator benchmark: `supplybid solve` against two direct highspy builds of SPEC 3.

- direct (plain): `python -m bench.direct`, the plain form (`y_ik` per scenario);
- direct (segments): `python -m bench.direct --segments`, the allocator's own formulation
  for an LP round, built directly for highspy with no modeller and solved as the allocator
  solves it (presolve off): the limit of the formulation, the reference that counts.

Both sides run as whole processes on the same problem file, so start-up, parsing and
writing count, and peak memory is each process's own maximum resident set (from
`os.wait4`). Runs are interleaved, alternating which side goes first, so the noise of a
shared machine hits both; figures are medians over `--repeat` runs. Each size also checks
that the two optima agree and that `supplybid verify` passes on our result.

    python -m bench.allocator                  # 1k, 10k, 100k, 100k-tail, 1M LP; 1k, 10k, 100k MILP
    python -m bench.allocator --small          # without the 1,000,000-bid LP (one run, minutes)
    python -m bench.allocator --sizes 10k --kinds lp --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from solver.generate import generate_problem

SEED = 2026
SCENARIOS = 10


@dataclass(frozen=True)
class Size:
    """Fixed generator settings for one benchmark size: about 40 bids per item."""

    name: str
    factories: int
    items: int
    bids_per_factory: int

    @property
    def bids(self) -> int:
        """Number of bids in the generated problem."""
        return self.factories * self.bids_per_factory


SIZES = {
    "1k": Size("1k", factories=50, items=50, bids_per_factory=20),
    "10k": Size("10k", factories=200, items=250, bids_per_factory=50),
    "100k": Size("100k", factories=1000, items=2500, bids_per_factory=100),
    "1M": Size("1M", factories=10_000, items=25_000, bids_per_factory=100),
    # Other shapes of 100,000 bids (README): many factories on fewer hot items, each
    # factory bidding on a few of them; and a long tail of items with few bids each.
    "100k-wide": Size("100k-wide", factories=5000, items=1000, bids_per_factory=20),
    "100k-tail": Size("100k-tail", factories=2000, items=10_000, bids_per_factory=50),
}
MILP_SIZES = ("1k", "10k", "100k")
"""Sizes at which the MILP (lots, setup costs, new factories) is benchmarked by default."""


@dataclass(frozen=True)
class Run:
    """One whole-process run: wall time, CPU time, phases it reported, peak memory, exit code."""

    wall_s: float
    cpu_s: float
    """User and system CPU seconds of the process (every thread): on a loaded machine, the
    work done, which the wall time shows only with the neighbours' noise."""
    build_s: float
    solve_s: float
    explain_s: float
    peak_mb: float
    exit_code: int
    objective: float | None


def run_process(command: list[str], stdout: Path) -> tuple[float, float, float, int]:
    """Run a command to completion: its wall seconds, CPU seconds, own peak RSS (MB), exit
    code."""
    with stdout.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
        assert process.stderr is not None
        error = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.stderr.write(error.decode(errors="replace"))
    # ru_maxrss is in KiB on Linux.
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode


def supplybid() -> list[str]:
    """The `supplybid` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("supplybid")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from cli.main import app; app()"]


def run_ours(problem: Path, result: Path) -> Run:
    """`supplybid solve PROBLEM -o RESULT`: parse, build, solve, whole units, explain, write."""
    wall, cpu, peak, code = run_process(
        [*supplybid(), "solve", str(problem), "-o", str(result)], result.with_suffix(".out")
    )
    if code != 0:
        return Run(wall, cpu, 0.0, 0.0, 0.0, peak, code, None)
    data = json.loads(result.read_text())
    timings = data.get("timings", {})
    continuous = data.get("continuous_objective")
    return Run(
        wall_s=wall,
        cpu_s=cpu,
        build_s=float(timings.get("build_s", 0.0)),
        solve_s=float(timings.get("solve_s", 0.0)),
        explain_s=float(timings.get("explain_s", 0.0)),
        peak_mb=peak,
        exit_code=code,
        objective=float(Decimal(continuous)) if continuous is not None else None,
    )


def run_baseline(problem: Path, report: Path, *, segments: bool = False) -> Run:
    """`python -m bench.direct [--segments] PROBLEM`: json.loads, numpy build, highspy."""
    form = ["--segments"] if segments else []
    wall, cpu, peak, code = run_process(
        [sys.executable, "-m", "bench.direct", *form, str(problem)], report
    )
    data: dict[str, Any] = json.loads(report.read_text() or "{}")
    return Run(
        wall_s=wall,
        cpu_s=cpu,
        build_s=float(data.get("build_s", 0.0)),
        solve_s=float(data.get("solve_s", 0.0)),
        explain_s=0.0,
        peak_mb=peak,
        exit_code=code,
        objective=data.get("objective"),
    )


def verify_ok(problem: Path, result: Path) -> bool:
    """`supplybid verify` on our result: no finding."""
    done = subprocess.run(
        [*supplybid(), "verify", str(problem), str(result)], capture_output=True, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout.decode(errors="replace")[:2000])
    return done.returncode == 0


def median(runs: list[Run], field: str) -> float:
    """Median of one field over runs."""
    return float(statistics.median(float(getattr(r, field)) for r in runs))


def bench_case(size: Size, kind: str, repeat: int, workdir: Path) -> dict[str, Any]:
    """Generate one problem, run both sides `repeat` times interleaved, summarise."""
    problem = workdir / f"problem-{size.name}-{kind}.json"
    data = generate_problem(
        factories=size.factories,
        items=size.items,
        bids_per_factory=size.bids_per_factory,
        scenarios=SCENARIOS,
        seed=SEED,
        milp=kind == "milp",
    )
    problem.write_text(json.dumps(data, separators=(",", ":")))
    del data
    result = workdir / f"result-{size.name}-{kind}.json"
    report = workdir / f"direct-{size.name}-{kind}.json"
    seg_report = workdir / f"segments-{size.name}-{kind}.json"
    sides: dict[str, Callable[[], Run]] = {
        "ours": lambda: run_ours(problem, result),
        "base": lambda: run_baseline(problem, report),
    }
    if kind == "lp":  # the segment form is the allocator's form for an LP round only
        sides["seg"] = lambda: run_baseline(problem, seg_report, segments=True)
    runs: dict[str, list[Run]] = {name: [] for name in sides}
    names = list(sides)
    load_before = os.getloadavg()[0]
    for k in range(repeat):
        # Rotate who goes first, so a noisy neighbour does not favour one side.
        for name in names[k % len(names) :] + names[: k % len(names)]:
            runs[name].append(sides[name]())
    ours, base = runs["ours"], runs["base"]
    failed = any(r.exit_code != 0 for side in runs.values() for r in side)
    ours_obj, base_obj = ours[-1].objective, base[-1].objective
    agree = None
    if ours_obj is not None and base_obj is not None:
        agree = abs(ours_obj - base_obj) / max(1.0, abs(base_obj))
    row: dict[str, Any] = {
        "size": size.name,
        "kind": kind,
        "bids": size.bids,
        "runs": repeat,
        "ours_build_s": median(ours, "build_s"),
        "ours_solve_s": median(ours, "solve_s"),
        "ours_explain_s": median(ours, "explain_s"),
        "optimum_rel_diff": agree,
        "verified": (not failed) and verify_ok(problem, result),
        "failed": failed,
        # the machine's 1-minute load average as the case began and ended: a shared
        # machine's wall times move with it (read the ratios, taken side by side)
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    for name, side in runs.items():
        row[f"{name}_total_s"] = median(side, "wall_s")
        row[f"{name}_cpu_s"] = median(side, "cpu_s")
        row[f"{name}_peak_mb"] = median(side, "peak_mb")
        if name != "ours":
            # Each run of ours against the reference run next to it: the machine's speed
            # drifts (a shared host), and runs back to back share its state.
            pairs = [a.wall_s / b.wall_s for a, b in zip(ours, side, strict=True)]
            row[f"ratio_{name}_total"] = statistics.median(pairs)
            row[f"ratio_{name}_total_pairs"] = pairs
            row[f"ratio_{name}_cpu"] = statistics.median(
                a.cpu_s / b.cpu_s for a, b in zip(ours, side, strict=True)
            )
            # without the explanation phase (issue 14: timed as a phase of its own)
            row[f"ratio_{name}_total_unexplained"] = statistics.median(
                (a.wall_s - a.explain_s) / b.wall_s for a, b in zip(ours, side, strict=True)
            )
            row[f"ratio_{name}_peak"] = median(ours, "peak_mb") / median(side, "peak_mb")
    return row


HEADER = (
    "| size | kind | bids | ours total s | ours CPU s | ours explain s | ours peak MB "
    "| plain total s | plain peak MB | segments total s | segments CPU s | segments peak MB "
    "| time vs plain | memory vs plain | time vs segments | time vs segments without "
    "explain | memory vs segments | CPU vs segments | optimum rel. diff | verify |"
)


def table_row(row: dict[str, Any]) -> str:
    """One markdown row of the benchmark table."""
    diff = row["optimum_rel_diff"]

    def seg(key: str, spec: str) -> str:
        return "n/a" if key not in row else format(row[key], spec)

    return (
        f"| {row['size']} | {row['kind'].upper()} | {row['bids']:,} "
        f"| {row['ours_total_s']:.2f} | {row['ours_cpu_s']:.2f} | {row['ours_explain_s']:.2f} "
        f"| {row['ours_peak_mb']:.0f} | {row['base_total_s']:.2f} | {row['base_peak_mb']:.0f} "
        f"| {seg('seg_total_s', '.2f')} | {seg('seg_cpu_s', '.2f')} | {seg('seg_peak_mb', '.0f')} "
        f"| {row['ratio_base_total']:.2f} | {row['ratio_base_peak']:.2f} "
        f"| {seg('ratio_seg_total', '.2f')} | {seg('ratio_seg_total_unexplained', '.2f')} "
        f"| {seg('ratio_seg_peak', '.2f')} "
        f"| {seg('ratio_seg_cpu', '.2f')} "
        f"| {'n/a' if diff is None else f'{diff:.1e}'} "
        f"| {'FAILED RUN' if row['failed'] else 'ok' if row['verified'] else 'FINDINGS'} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table (markdown), one row per size and kind."""
    parser = argparse.ArgumentParser(prog="python -m bench.allocator", description=__doc__)
    parser.add_argument("--small", action="store_true", help="leave out the 1,000,000-bid LP")
    parser.add_argument("--large", action="store_true", help=argparse.SUPPRESS)  # the default
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), help="sizes to run")
    parser.add_argument("--kinds", nargs="+", choices=["lp", "milp"], default=["lp", "milp"])
    parser.add_argument(
        "--repeat",
        type=int,
        help="runs per case (default 3; always 1 at 1M bids and for a MILP of 100k bids or more)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"))
    args = parser.parse_args(argv)
    sizes = args.sizes or ["1k", "10k", "100k", "100k-tail", *([] if args.small else ["1M"])]
    args.workdir.mkdir(parents=True, exist_ok=True)
    cases = [
        (SIZES[name], kind)
        for name in sizes
        for kind in args.kinds
        if kind == "lp" or name in MILP_SIZES or args.sizes
    ]
    print(
        f"seed {SEED}, {SCENARIOS} scenarios per item, medians over runs; times in seconds; "
        "ratios: the median of each run's ratio to the reference run beside it"
    )
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    rows = []
    worst = 0
    for size, kind in cases:
        # one run where a side takes minutes: the 1M LP, the 100k MILP (about 200 s each),
        # whatever --repeat says (five runs of the 100k MILP would take 35 minutes)
        long = size.bids >= 1_000_000 or (kind == "milp" and size.bids >= 100_000)
        repeat = 1 if long else (args.repeat or 3)
        row = bench_case(size, kind, repeat, args.workdir)
        rows.append(row)
        print(table_row(row), flush=True)
        if row["failed"] or not row["verified"]:
            worst = 1
    (args.workdir / "results.json").write_text(json.dumps(rows, indent=2))
    return worst


if __name__ == "__main__":
    sys.exit(main())
