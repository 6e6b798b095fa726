"""The engine a solve runs on, by name: HiGHS (the default) or CBC (the `cbc` extra)."""

from __future__ import annotations

from solver.cbc_engine import CbcEngine, cbc_version
from solver.engine import Engine, EngineSettings, SolverError
from solver.highs_engine import HighsEngine, highs_version
from solver.model import AllocationModel

__all__ = ["cbc_version", "highs_version", "make_engine"]


def make_engine(model: AllocationModel, settings: EngineSettings) -> Engine:
    """The engine named by the settings; CBC needs the `cbc` extra (cbcbox)."""
    if settings.solver == "highs":
        return HighsEngine(model, settings)
    if settings.solver == "cbc":
        return CbcEngine(model.lp, settings)
    raise SolverError(f"unknown solver {settings.solver!r}")
