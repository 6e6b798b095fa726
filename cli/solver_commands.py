"""The solver commands of `supplybid`: solve, verify and generate problem files.

They work on the exchange format (problem-format.md) alone, without a database, so an
operator or finance can solve, re-check or benchmark a round from its archived file.
A bad file is reported on stderr with the field and id at fault and exit code 2; the
commands never show a traceback for bad input.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from solver.problem import Problem, ProblemError, parse_problem
from solver.result import Result, parse_result

BAD_INPUT = 2
"""Exit code for a file that cannot be read or breaks the format."""
FINDINGS = 1
"""Exit code of `verify` when the result breaks a guarantee, and of `solve` with no allocation."""


class SolverName(StrEnum):
    """Solvers `solve` can run (CBC needs the optional `pulp[cbc]` extra)."""

    HIGHS = "highs"
    CBC = "cbc"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `supplybid` app."""
    app.command("solve")(solve_command)
    app.command("verify")(verify_command)
    app.command("generate")(generate_command)


def solve_command(
    problem_file: Annotated[
        Path, typer.Argument(metavar="PROBLEM.json", help="Problem file (problem-format.md).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="RESULT.json", help="Write the result here, not to stdout."
        ),
    ] = None,
    solver: Annotated[
        SolverName,
        typer.Option(help="Solver: highs (default) or cbc (needs the optional cbc extra)."),
    ] = SolverName.HIGHS,
    time_limit: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            metavar="SECONDS",
            help=(
                "Stop the search after this many seconds; each later pass (whole units, "
                "ties) gets what is left, at least a quarter of it."
            ),
        ),
    ] = None,
) -> None:
    """Solve an allocation round from its problem file and write the result as JSON.

    The result gives every bid its units, supply price, setup fee, margin and reason
    (problem-format.md, Result). Exit code 0 when an allocation was found, 1 when the
    round is infeasible or the solver failed (the result says why), 2 for a bad file.
    """
    started = time.perf_counter()
    # The run makes objects by the hundred thousand (the problem's rows, the model's maps,
    # the result's rows) and no reference cycles worth finding: the collector would only
    # re-traverse them, a tenth of the time of a 100,000-bid solve. It stays off until
    # the result is written (the process then ends).
    gc.disable()
    try:
        problem = _read_problem(problem_file)
        parsed = time.perf_counter()

        from solver.solve import SolveOptions, solve  # the model is only loaded to solve

        settings: dict[str, Any] = {"solver": solver.value}
        if time_limit is not None:
            settings["time_limit"] = time_limit
        result = solve(problem, SolveOptions(**settings))
        # The parse belongs to the whole run: add it, so timings cover file to result.
        timings = result.timings.model_copy(
            update={"parse_s": parsed - started, "total_s": time.perf_counter() - started}
        )
        result = result.model_copy(update={"timings": timings})
        _write(result.to_json_bytes(), output)
        # The process ends here: spare it a final collection over everything it built.
        gc.freeze()
    finally:
        gc.enable()
    typer.echo(summary_line(result), err=True)
    if result.status in ("infeasible", "error"):
        detail = result.message or "see the conflicts in the result"
        typer.echo(f"no allocation: round {result.round} is {result.status}: {detail}", err=True)
        raise typer.Exit(FINDINGS)


def summary_line(result: Result) -> str:
    """One line for the operator: status, objective, units, seconds (stderr of `solve`)."""
    units = sum(row.units for row in result.allocations)
    awarded = sum(1 for row in result.allocations if row.units > 0)
    objective = "none" if result.objective is None else str(result.objective)
    gap = "" if result.gap is None else f" (gap {result.gap:.6f})"
    return (
        f"round {result.round}: {result.status}, objective {objective}{gap}, "
        f"{units} units to {awarded} of {len(result.allocations)} bids, "
        f"{result.timings.total_s:.2f} s"
    )


def verify_command(
    problem_file: Annotated[
        Path, typer.Argument(metavar="PROBLEM.json", help="The problem the result claims to solve.")
    ],
    result_file: Annotated[
        Path, typer.Argument(metavar="RESULT.json", help="The result to check.")
    ],
) -> None:
    """Check a result against the guarantees of SPEC 4, trusting only its units.

    Prices, setup fees, margins per unit and per factory, capacity shares, bid
    capacities, lots, item shares, budget, fills, new-factory guarantees and the
    objective are recomputed exactly from the problem. Prints each finding and exits 1
    if there is any; prints one OK line and exits 0 otherwise; exits 2 for a bad file.
    """
    from solver.verify import verify
    from solver.version import ALLOCATOR_VERSION, recorded_version, version_note

    problem = _read_problem(problem_file)
    result = _read_result(result_file)
    if recorded_version(result.solver.options) != ALLOCATOR_VERSION:
        # the guarantees are checked all the same; a re-solve now may allocate otherwise
        typer.echo(f"note: {version_note(result.solver.options)}", err=True)
    findings = verify(problem, result)
    if findings:
        for finding in findings:
            typer.echo(str(finding))
        typer.echo(f"{len(findings)} finding(s): {result_file} breaks the guarantees", err=True)
        raise typer.Exit(FINDINGS)
    awarded = sum(1 for row in result.allocations if row.units > 0)
    typer.echo(
        f"OK: round {result.round}, status {result.status}, {len(result.allocations)} bids "
        f"({awarded} awarded), objective {result.objective}: no findings"
    )


def generate_command(
    factories: Annotated[int, typer.Option(min=1, help="Number of factories.")] = 100,
    items: Annotated[int, typer.Option(min=1, help="Number of items (SKUs).")] = 100,
    bids_per_factory: Annotated[
        int, typer.Option(min=1, help="Distinct items each factory bids on (at most --items).")
    ] = 10,
    scenarios: Annotated[int, typer.Option(min=1, max=500, help="Demand scenarios per item.")] = 10,
    seed: Annotated[int, typer.Option(min=0, help="Random seed: same seed, same file.")] = 0,
    milp: Annotated[
        bool,
        typer.Option(
            "--milp/--lp", help="Add minimum lots, setup costs and new factories (a MILP)."
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here, not to stdout."),
    ] = None,
) -> None:
    """Write a realistic random problem file, for trials and benchmarks.

    Retail prices spread around tens of yuan, unit costs tied to them and to each
    factory's efficiency, lognormal demand scenarios, bid capacities that compete for
    each factory's capacity share, and some ask prices. The problem has
    factories x bids-per-factory bids.
    """
    if bids_per_factory > items:
        _fail("--bids-per-factory must be at most --items (each bid is on a distinct item)")
    from solver.generate import generate_problem

    data = generate_problem(
        factories=factories,
        items=items,
        bids_per_factory=bids_per_factory,
        scenarios=scenarios,
        seed=seed,
        milp=milp,
    )
    _write(json.dumps(data, separators=(",", ":")) + "\n", output)
    if output is not None:
        typer.echo(f"wrote {len(data['bids'])} bids to {output}", err=True)


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(f"cannot read the {what} file {path}: {exc.strerror or exc}")


def _read_problem(path: Path) -> Problem:
    """Parse and validate a problem file, or exit 2 naming every field at fault."""
    text = _read_bytes(path, "problem")
    try:
        return parse_problem(text)
    except ProblemError as exc:
        lines = [f"invalid problem file {path}:"] + [f"  {issue}" for issue in exc.issues]
        _fail("\n".join(lines))


def _read_result(path: Path) -> Result:
    """Parse a result file, or exit 2 naming every field at fault."""
    text = _read_bytes(path, "result")
    try:
        return parse_result(text)
    except ValidationError as exc:
        lines = [f"invalid result file {path}:"]
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "$"
            lines.append(f"  {where}: {error['msg']}")
        _fail("\n".join(lines))
    except ValueError as exc:
        _fail(f"invalid result file {path}: {exc}")


def _write(text: str | Iterable[bytes], output: Path | None) -> None:
    """Write text, or pieces of UTF-8 (a large result is never copied into one string)."""
    if isinstance(text, str):
        text = [text.encode("utf-8")]
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.writelines(text)
        sys.stdout.buffer.flush()
        return
    try:
        with output.open("wb") as out:
            out.writelines(text)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(BAD_INPUT)
