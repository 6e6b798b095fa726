"""The close race through the HTTP layer: 100 factories submit while the manager closes."""

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session

from bidding.models import Role, Round
from tests import factories as builders
from tests.conftest import World, report_figures

SUBMISSIONS = 100
SPREAD_S = 0.8


def test_no_bid_is_accepted_over_http_after_a_racing_close(world: World) -> None:
    with Session(world.engine, expire_on_commit=False) as session:
        keys = [
            builders.a_key(session, Role.factory, builders.a_factory(session, name=f"F{i}"))
            for i in range(SUBMISSIONS)
        ]
    url = f"/v1/rounds/{world.round_id}/bids"
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    accepted: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    closing = threading.Event()
    closed = threading.Event()
    start = threading.Barrier(SUBMISSIONS + 1)

    def submit(index: int, key: str) -> None:
        start.wait()
        # Half arrive before the close, a quarter are let go as it starts and a quarter
        # once it has committed (see the domain test).
        half, three_quarters = SUBMISSIONS // 2, 3 * SUBMISSIONS // 4
        if index >= three_quarters:
            closed.wait(timeout=60)
        elif index >= half:
            closing.wait(timeout=60)
        group = half if index < half else SUBMISSIONS // 4
        time.sleep(SPREAD_S * (index % group) / group)
        response = world.client.post(
            url,
            json={"item": world.item_id, "unit_cost": "18.50", "capacity": 100},
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"race-{index}"},
        )
        with lock:
            statuses[response.status_code] += 1
            if response.status_code == 201:
                accepted.append(response.json()["id"])
                if len(accepted) >= SUBMISSIONS // 3:
                    enough.set()
            else:
                codes[response.json().get("code", "?")] += 1

    def close() -> int:
        start.wait()
        enough.wait(timeout=60)
        closing.set()
        try:
            response = world.client.post(
                f"/v1/rounds/{world.round_id}/close", headers=world.headers("manager")
            )
        finally:
            closed.set()
        status: int = response.status_code
        return status

    with ThreadPoolExecutor(max_workers=SUBMISSIONS + 1) as pool:
        futures = [pool.submit(submit, i, key) for i, key in enumerate(keys)]
        closer = pool.submit(close)
        for future in futures:
            future.result()
        assert closer.result() == 200
    with Session(world.engine) as session:
        row = session.get(Round, world.round_id)
        assert row is not None
        assert row.snapshot is not None
        frozen = {b["id"] for b in json.loads(row.snapshot)["bids"]}
    figures = {
        "submissions": SUBMISSIONS,
        "accepted": len(accepted),
        "refused": dict(codes),
        "server_errors": sum(n for status, n in statuses.items() if status >= 500),
        "accepted_missing_from_snapshot": len(set(accepted) - frozen),
        "in_snapshot_not_accepted": len(frozen - set(accepted)),
    }
    report_figures(f"close-race-http-{world.engine.dialect.name}", figures)
    assert figures["server_errors"] == 0
    assert figures["accepted_missing_from_snapshot"] == 0
    assert figures["in_snapshot_not_accepted"] == 0
    assert set(codes) <= {"round_not_open"}
    assert len(accepted) + codes["round_not_open"] == SUBMISSIONS
    assert len(accepted) >= SUBMISSIONS // 3, "the close started before the first bids"
    # The last quarter submits after the close committed: every one must be refused.
    assert codes["round_not_open"] >= SUBMISSIONS // 4, figures
