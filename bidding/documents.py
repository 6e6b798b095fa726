"""Stored problem and result documents, parsed once per process: every read goes here.

A solve request writes the problem it parsed, the worker reads it back, publication reads
it again with the result the worker wrote; at 100,000 bids each parse is a second or more.
The objects are frozen, so the last few parsed are kept, keyed by their exact text (a text
read back from the database is equal to the one written, so it finds the same object),
within a number of texts and of characters of text per kind (KEPT, KEPT_CHARS).
"""

import threading
from collections import OrderedDict
from collections.abc import Callable

from solver.problem import Problem, parse_problem
from solver.result import Result, parse_result

KEPT = 4
"""Documents of each kind kept at most: a round's problem and a what-if's, say."""
KEPT_CHARS = 64 * 2**20
"""Characters of text kept at most per kind (the parsed objects grow with it): a round of
100,000 bids is some 25 million, so its snapshot and its problem fit, while a service that
solves many large rounds holds no more than this. A longer text is parsed and not kept."""


class _Parsed[T]:
    """The last texts parsed and their objects, most recent last, within `entries` texts
    and `chars` characters of text in all."""

    def __init__(
        self, parse: Callable[[str], T], entries: int = KEPT, chars: int = KEPT_CHARS
    ) -> None:
        self._parse = parse
        self._entries = entries
        self._chars = chars
        self._kept: OrderedDict[str, T] = OrderedDict()
        self._size = 0
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
        if len(text) > self._chars:
            return
        with self._lock:
            if text not in self._kept:
                self._size += len(text)
            self._kept[text] = parsed
            self._kept.move_to_end(text)
            while len(self._kept) > self._entries or self._size > self._chars:
                gone, _ = self._kept.popitem(last=False)
                self._size -= len(gone)

    def kept(self) -> tuple[int, int]:
        """Texts kept and their characters in all."""
        with self._lock:
            return len(self._kept), self._size


problem_of = _Parsed[Problem](parse_problem)
"""A stored problem text as a `Problem` (problem_of.keep: one just written)."""
result_of = _Parsed[Result](parse_result)
"""A stored result text as a `Result` (result_of.keep: one just written)."""
