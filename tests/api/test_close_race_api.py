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
    start = threading.Barrier(SUBMISSIONS + 1)

    def submit(index: int, key: str) -> None:
        start.wait()
        # Half arrive before the close, half are let go as it starts (see the domain test).
        half = SUBMISSIONS // 2
        if index >= half:
            closing.wait(timeout=60)
        time.sleep(SPREAD_S * (index % half) / half)
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
        response = world.client.post(
            f"/v1/rounds/{world.round_id}/close", headers=world.headers("manager")
        )
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
    assert 0 < len(accepted) < SUBMISSIONS, "the close did not overlap the submissions"
