"""Seconds per phase of a solve (Result.timings)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from solver.result import Timings


@dataclass
class Clock:
    """Seconds per phase of a solve (Result.timings), lapped as each pass ends."""

    start: float = field(default_factory=time.perf_counter)
    marks: dict[str, float] = field(default_factory=dict)
    last: float = 0.0

    def __post_init__(self) -> None:
        self.last = self.start

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.marks[name] = self.marks.get(name, 0.0) + now - self.last
        self.last = now

    def timings_after(self, name: str) -> Timings:
        """Lap `name`, then the timings so far."""
        self.lap(name)
        return self.timings()

    def timings(self) -> Timings:
        return Timings(
            build_s=round(self.marks.get("build", 0.0), 4),
            solve_s=round(self.marks.get("solve", 0.0), 4),
            rounding_s=round(self.marks.get("rounding", 0.0), 4),
            explain_s=round(self.marks.get("explain", 0.0), 4),
            total_s=round(time.perf_counter() - self.start, 4),
        )
