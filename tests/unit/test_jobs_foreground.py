"""The embedded worker starts a threshold job only once this process's requests are calm."""

import time

from sqlalchemy import create_engine

from bidding.jobs import EmbeddedQueue, Foreground


def _queue(foreground: Foreground | None, *, defer_max_s: float = 30.0) -> EmbeddedQueue:
    engine = create_engine("sqlite://")
    return EmbeddedQueue(engine, foreground=foreground, calm_s=0.05, defer_max_s=defer_max_s)


def test_a_request_being_served_holds_the_job_back_until_calm() -> None:
    foreground = Foreground()
    queue = _queue(foreground)
    foreground.begin()
    assert foreground.calm_for() == 0.0
    assert not queue._thresholds_may_start()
    foreground.end()
    assert not queue._thresholds_may_start()  # just finished: not calm for long enough yet
    time.sleep(0.06)
    assert queue._thresholds_may_start()


def test_a_server_never_calm_still_starts_the_job_after_the_longest_deferral() -> None:
    foreground = Foreground()
    queue = _queue(foreground, defer_max_s=0.05)
    foreground.begin()
    assert not queue._thresholds_may_start()
    time.sleep(0.06)
    assert queue._thresholds_may_start()


def test_without_foreground_the_job_starts_at_once() -> None:
    assert _queue(None)._thresholds_may_start()
