"""SQLite writers' turns: first come, first served in a process; one at a time across them."""

import threading
import time
from pathlib import Path

from bidding.db import FileLock, WriterTurn


def test_threads_get_the_turn_in_the_order_they_asked_and_one_at_a_time() -> None:
    turn = WriterTurn(None)
    granted: list[int] = []
    inside = 0
    most_inside = 0
    first_in = threading.Event()
    let_go = threading.Event()

    def first() -> None:
        with turn():
            first_in.set()
            let_go.wait(10)

    def writer(n: int) -> None:
        nonlocal inside, most_inside
        with turn():
            inside += 1
            most_inside = max(most_inside, inside)
            with turn():  # a use case calling another: re-entrant
                granted.append(n)
            time.sleep(0.001)
            inside -= 1

    holder = threading.Thread(target=first)
    holder.start()
    assert first_in.wait(10)
    waiters = []
    for n in range(8):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        waiters.append(thread)
        time.sleep(0.02)  # each asks after the one before
    let_go.set()
    for thread in [holder, *waiters]:
        thread.join(10)
    assert granted == list(range(8))
    assert most_inside == 1


def test_the_lock_file_lets_one_turn_in_at_a_time_across_holders(tmp_path: Path) -> None:
    # Two turns on one lock file stand for two processes: flock belongs to the open file.
    path = tmp_path / "db.sqlite-writer.lock"
    one, other = WriterTurn(path), WriterTurn(path)
    probe = FileLock(path)
    with one():
        assert not probe.acquire(blocking=False)
        entered = threading.Event()

        def second() -> None:
            with other():
                entered.set()

        thread = threading.Thread(target=second)
        thread.start()
        assert not entered.wait(0.3)  # held by the first
    assert entered.wait(10)
    thread.join(10)
    assert probe.acquire(blocking=False)
    probe.release()
