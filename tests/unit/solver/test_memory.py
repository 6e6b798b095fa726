"""solver/memory.py: freed C heap memory goes back to the system where the C library can."""

from __future__ import annotations

import platform

import pytest

from solver.memory import give_back_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_memory_is_given_back_on_glibc() -> None:
    import highspy
    import numpy as np

    # a HiGHS model of some size, freed: its pages are free in the C heap
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    n = 200_000
    h.addVars(n, np.zeros(n), np.ones(n))
    del h
    assert give_back_freed_memory() is True
