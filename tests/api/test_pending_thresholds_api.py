"""Pending thresholds through the API, the exports and the pages, run by the app's own
queue: "pending" after publication until the job stored them, the stored figure after.

The embedded worker is stopped while the pending state is read (so the job cannot finish
first), then started again: it finds the queued job in the database and runs it.
"""

import time
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from solver.problem import parse_problem
from solver.solve import solve
from tests.api.test_allocations_api import _bid, request_solve, wait_until_finished
from tests.conftest import World
from tests.exports import csv_rows
from tests.web.helpers import sign_in


def _awards(world: World, who: str = "finance") -> dict[str, dict[str, Any]]:
    response = world.client.get(
        f"/v1/rounds/{world.round_id}/awards?limit=500", headers=world.headers(who)
    )
    assert response.status_code == 200, response.text
    return {a["bid"]: a for a in response.json()["data"]}


def _csv_thresholds(world: World) -> dict[str, str]:
    response = world.client.get(
        f"/v1/rounds/{world.round_id}/awards?format=csv", headers=world.headers("finance")
    )
    assert response.status_code == 200, response.text
    rows = csv_rows(response.content)
    column = next(h for h in rows[0] if h.startswith("Cost to win more"))
    return {r["Bid"]: r[column] for r in rows}


def _allocation(world: World, allocation_id: str) -> dict[str, Any]:
    body: dict[str, Any] = world.client.get(
        f"/v1/allocations/{allocation_id}", headers=world.headers("finance")
    ).json()
    return body


def test_a_published_rounds_pending_thresholds_are_shown_pending_then_as_stored(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPLYBID_EXPLAIN_UP_TO", "1")
    own = _bid(world, "factory", "18.50", 9000)
    _bid(world, "rival", "17.00", 9000)
    closed = world.client.post(
        f"/v1/rounds/{world.round_id}/close", headers=world.headers("manager")
    )
    assert closed.status_code == 200, closed.text
    allocation = request_solve(world)
    solved = wait_until_finished(world, allocation)
    assert solved["status"] == "done"
    rows = {a["bid"]: a for a in solved["result"]["allocations"]}
    assert rows[own]["cost_to_win_more"] == "pending"
    assert solved["thresholds"] is None  # not published: no job

    jobs = world.client.app.state.jobs  # type: ignore[attr-defined]
    jobs.stop()
    published = world.client.post(
        f"/v1/allocations/{allocation}/publish", headers=world.headers("manager")
    )
    assert published.status_code == 200, published.text
    state = _allocation(world, allocation)
    assert state["thresholds"] == {"status": "queued", "pending": 1, "stored": 0}
    awards = _awards(world)
    assert awards[own]["cost_to_win_more"] == "pending"
    assert "is being worked out" in awards[own]["explanation"]
    assert _awards(world, "factory")[own]["cost_to_win_more"] == "pending"
    assert _csv_thresholds(world)[own] == "pending"
    factory = TestClient(world.client.app)  # a browser of its own
    sign_in(factory, world.keys["factory"])
    assert "is being worked out" in factory.get("/factory").text
    manager = TestClient(world.client.app)
    sign_in(manager, world.keys["manager"])
    page = manager.get(f"/allocations/{allocation}")
    assert page.status_code == 200
    assert "Costs to win more are being worked out" in page.text

    # the same problem solved with the limit high: what the job must store
    problem = world.client.get(
        f"/v1/allocations/{allocation}/problem", headers=world.headers("finance")
    ).text
    monkeypatch.setenv("SUPPLYBID_EXPLAIN_UP_TO", "1000")
    expected = {a.bid: a.cost_to_win_more for a in solve(parse_problem(problem)).allocations}
    assert isinstance(expected[own], Decimal)

    jobs.start()
    deadline = time.monotonic() + 60
    while _allocation(world, allocation)["thresholds"]["status"] != "done":
        assert time.monotonic() < deadline, "the threshold job did not finish"
        time.sleep(0.05)
    state = _allocation(world, allocation)
    assert state["thresholds"] == {"status": "done", "pending": 1, "stored": 1}
    shown = {a["bid"]: a for a in state["result"]["allocations"]}
    assert Decimal(shown[own]["cost_to_win_more"]) == expected[own]
    awards = _awards(world)
    assert Decimal(awards[own]["cost_to_win_more"]) == expected[own]
    assert f"{expected[own]:,.2f} CNY or less" in awards[own]["explanation"]
    assert Decimal(_csv_thresholds(world)[own]) == expected[own]
    assert f"{expected[own]:,.2f} CNY or less" in factory.get("/factory").text
    page = manager.get(f"/allocations/{allocation}")
    assert "worked out after publication" in page.text
    assert "pending" not in page.text.split('id="explanations"')[1]
    verified = world.client.get("/v1/audit/verify", headers=world.headers("finance"))
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True
