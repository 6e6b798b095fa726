"""The allocator's version: which allocation rules a result was solved under (SPEC 3).

The solver's name and version say which code found the optimum; this says which rules
decided the allocation (whole units, ties, zero-profit units, explanations). It is
recorded in every result (`solver.options.allocator_version`), so that a replay under
another version says so, with what changed between the two, instead of a bare mismatch.
A result without it was solved before versions were recorded: version 1.
"""

from __future__ import annotations

from collections.abc import Mapping

ALLOCATOR_VERSION = "4"
"""Bumped whenever a change of the rules may change an allocation or its explanations."""

FIRST_VERSION = "1"
"""What a result that records no version was solved under."""

CHANGES: Mapping[str, str] = {
    "1": (
        "whole units by rounding the continuous optimum (each fractional bid between its "
        "floor and ceiling, the others fixed), status optimal when the continuous solve "
        "was; continuous_objective the continuous optimum (with the binaries fixed in a "
        "MILP round)"
    ),
    "2": (
        "whole units proven: the best whole-unit allocation within the round's mip_gap of "
        "the best proven bound (a whole-unit branch and bound where the rounding is not "
        "proven so), status feasible where that is not proven; never below 0 where "
        "awarding nothing is feasible; no unit of exactly zero expected profit unless a "
        "fill, a guarantee, a lot or an item share needs it; continuous_objective the best "
        "proven bound, gap over max(|bound|, 1); infeasible rounds named on the whole-unit "
        "problem"
    ),
    "3": (
        "explanations by re-solve: each reason by removing one rule (guarantee_bound "
        "added), cost_to_win_more the highest cent at which the bid gets more whole units "
        "(one cent below the threshold version 2 stated), pending above the size explained "
        "with the solve; cost_ceiling per bid"
    ),
    "4": (
        "reasons re-solved up to 10,000 bids in an LP round (SUPPLYBID_REASONS_UP_TO), "
        "not only up to the 1,000 whose cost_to_win_more is computed with the solve: "
        "rounds of 1,001 to 10,000 bids may state other reasons than version 3 read from "
        "the duals; the allocation itself is unchanged"
    ),
}
"""What each version changed, for replays and the README."""


def recorded_version(options: Mapping[str, object]) -> str:
    """The allocator version a result's solver options record (1 where they record none)."""
    version = options.get("allocator_version")
    return str(version) if version is not None else FIRST_VERSION


def version_changes(stored: str, current: str = ALLOCATOR_VERSION) -> list[str]:
    """What changed from the stored version to the current one, one line per version."""
    if stored == current:
        return []
    known = list(CHANGES)
    if stored in known and current in known and known.index(stored) < known.index(current):
        later = known[known.index(stored) + 1 : known.index(current) + 1]
        return [f"version {v}: {CHANGES[v]}" for v in later]
    return [
        f"version {stored} (unknown here) against version {current}: {CHANGES.get(current, '')}"
    ]


def version_note(stored_options: Mapping[str, object], current: str = ALLOCATOR_VERSION) -> str:
    """One sentence for a replay: the versions, equal or not, and what changed."""
    stored = recorded_version(stored_options)
    if stored == current:
        return f"solved under allocator version {current}, as now"
    changes = "; ".join(version_changes(stored, current))
    return (
        f"the allocation was solved under allocator version {stored}; this replay runs "
        f"version {current}, so it may differ: {changes}"
    )
