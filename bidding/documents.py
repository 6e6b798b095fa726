"""Stored problem and result documents, parsed once per process: every read goes here.

A solve request writes the problem it parsed, the worker reads it back, publication reads
it again with the result the worker wrote; at 100,000 bids each parse is a second or more.
The objects are frozen, so the last few parsed are kept, keyed by their exact text (a text
read back from the database is equal to the one written, so it finds the same object).
"""

import threading
from collections import OrderedDict
from collections.abc import Callable

from solver.problem import Problem, parse_problem
from solver.result import Result, parse_result

KEPT = 2
"""Documents of each kind kept: a round's problem and a what-if's, say."""


class _Parsed[T]:
    """The last `KEPT` texts parsed and their objects, most recent last."""

    def __init__(self, parse: Callable[[str], T]) -> None:
        self._parse = parse
        self._kept: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> T:
        with self._lock:
            found = self._kept.get(text)
            if found is not None:
                self._kept.move_to_end(text)
                return found
        parsed = self._parse(text)
        self.keep(text, parsed)
        return parsed

    def keep(self, text: str, parsed: T) -> None:
        """Remember `parsed` as what `text` parses to (the caller wrote it from `parsed`)."""
        with self._lock:
            self._kept[text] = parsed
            self._kept.move_to_end(text)
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)


problem_of = _Parsed[Problem](parse_problem)
"""A stored problem text as a `Problem` (problem_of.keep: one just written)."""
result_of = _Parsed[Result](parse_result)
"""A stored result text as a `Result` (result_of.keep: one just written)."""
