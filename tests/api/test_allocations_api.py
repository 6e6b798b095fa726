"""Allocations through the API: solve, what-if, compare, publish, awards, replay."""

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from bidding.models import Allocation, AllocationStatus
from solver.result import parse_result
from tests.conftest import World

SUPPLYBID = str(Path(sys.executable).parent / "supplybid")


def _bid(world: World, who: str, unit_cost: str, capacity: int) -> str:
    response = world.client.post(
        f"/v1/rounds/{world.round_id}/bids",
        json={"item": world.item_id, "unit_cost": unit_cost, "capacity": capacity},
        headers=world.headers(who),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def closed_round_with_two_bids(world: World) -> tuple[str, str]:
    """The world's round with a bid from each factory, closed."""
    own = _bid(world, "factory", "18.50", 2000)
    rival = _bid(world, "rival", "17.00", 2500)
    closed = world.client.post(
        f"/v1/rounds/{world.round_id}/close", headers=world.headers("manager")
    )
    assert closed.json()["state"] == "closed"
    return own, rival


def request_solve(world: World, body: dict[str, Any] | None = None) -> str:
    """Ask for a solve (202) and return the allocation id."""
    response = world.client.post(
        f"/v1/rounds/{world.round_id}/allocations",
        json=body or {},
        headers=world.headers("manager"),
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] in ("queued", "running", "done")
    assert response.json()["id"].startswith("alc_")
    return str(response.json()["id"])


def wait_until_finished(world: World, allocation_id: str) -> dict[str, Any]:
    """Poll the allocation until it is done or failed (at most a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = world.client.get(
            f"/v1/allocations/{allocation_id}", headers=world.headers("finance")
        ).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"allocation {allocation_id} did not finish")


def _round(world: World) -> dict[str, Any]:
    body: dict[str, Any] = world.client.get(
        f"/v1/rounds/{world.round_id}", headers=world.headers("manager")
    ).json()
    return body


def test_a_closed_round_goes_from_bids_to_published_awards_that_factories_read_as_their_own(
    world: World,
) -> None:
    own_bid, rival_bid = closed_round_with_two_bids(world)
    allocation_id = request_solve(world)
    done = wait_until_finished(world, allocation_id)
    assert done["status"] == "done"
    assert done["what_if"] is False
    assert done["result"]["status"] == "optimal"
    assert {row["bid"] for row in done["result"]["allocations"]} == {own_bid, rival_bid}
    assert done["timings"]["solve_s"] is not None
    assert _round(world)["state"] == "solved"
    for who in ("manager", "finance", "factory"):
        early = world.client.get(f"/v1/rounds/{world.round_id}/awards", headers=world.headers(who))
        assert early.status_code == 409
        assert early.json()["code"] == "round_not_published"

    published = world.client.post(
        f"/v1/allocations/{allocation_id}/publish", headers=world.headers("manager")
    )
    assert published.status_code == 200, published.text
    assert published.json()["published"] is True
    assert _round(world)["state"] == "published"

    everyone = world.client.get(
        f"/v1/rounds/{world.round_id}/awards", headers=world.headers("finance")
    ).json()["data"]
    stored = {row["bid"]: row for row in done["result"]["allocations"]}
    assert {a["bid"] for a in everyone} == {own_bid, rival_bid}
    for award in everyone:
        row = stored[award["bid"]]
        assert award["units"] == row["units"]
        assert award["supply_price"] == row["supply_price"]
        assert award["setup_fee"] == row["setup_fee"]
        assert award["reason"] == row["reason"]
        assert Decimal(award["capacity_share_used"]) == Decimal(str(row["capacity_share_used"]))
    mine = world.client.get(
        f"/v1/rounds/{world.round_id}/awards", headers=world.headers("factory")
    ).json()["data"]
    assert [a["bid"] for a in mine] == [own_bid]
    assert isinstance(mine[0]["supply_price"], str)
    assert set(mine[0]) >= {
        "bid",
        "item",
        "units",
        "supply_price",
        "setup_fee",
        "capacity_share_used",
        "margin",
        "reason",
        "cost_to_win_more",
    }
    events = world.client.get("/v1/audit/events?limit=500", headers=world.headers("finance"))
    actions = [e["action"] for e in events.json()["data"]]
    for action in (
        "allocation.request",
        "allocation.start",
        "allocation.done",
        "round.solve",
        "allocation.publish",
        "round.publish",
    ):
        assert action in actions
    assert world.client.get("/v1/audit/verify", headers=world.headers("finance")).json()["ok"]


def test_every_route_that_could_change_a_published_allocation_refuses(world: World) -> None:
    own_bid, _ = closed_round_with_two_bids(world)
    first = request_solve(world)
    wait_until_finished(world, first)
    what_if = request_solve(world, {"margin_floor": "0.12"})
    wait_until_finished(world, what_if)
    manager = world.headers("manager")
    assert world.client.post(f"/v1/allocations/{first}/publish", headers=manager).is_success
    before = world.client.get(
        f"/v1/rounds/{world.round_id}/awards", headers=world.headers("finance")
    ).json()
    base = f"/v1/rounds/{world.round_id}"
    attempts = [
        world.client.post(f"/v1/allocations/{first}/publish", headers=manager),
        world.client.post(f"/v1/allocations/{what_if}/publish", headers=manager),
        world.client.post(f"{base}/allocations", json={}, headers=manager),
        world.client.post(f"{base}/allocations", json={"margin_floor": "0.2"}, headers=manager),
        world.client.post(f"{base}/cancel", headers=manager),
        world.client.post(f"{base}/close", headers=manager),
        world.client.put(
            f"{base}/bids/{own_bid}",
            json={"unit_cost": "1.00", "capacity": 1},
            headers=world.headers("factory"),
        ),
        world.client.delete(f"{base}/bids/{own_bid}", headers=world.headers("factory")),
        world.client.post(
            f"{base}/bids",
            json={"item": world.item_id, "unit_cost": "1.00", "capacity": 1},
            headers=world.headers("factory"),
        ),
    ]
    assert [r.status_code for r in attempts] == [409] * len(attempts)
    assert attempts[0].json()["code"] == "already_published"
    assert first in attempts[0].json()["detail"]
    assert attempts[1].json()["code"] == "round_not_solved"
    assert attempts[2].json()["code"] == "round_not_solvable"
    after = world.client.get(
        f"/v1/rounds/{world.round_id}/awards", headers=world.headers("finance")
    ).json()
    assert after == before
    assert _round(world)["state"] == "published"


def test_a_what_if_leaves_the_round_untouched_and_its_comparison_adds_up(world: World) -> None:
    _, rival_bid = closed_round_with_two_bids(world)
    manager = world.headers("manager")
    base = request_solve(world)
    base_body = wait_until_finished(world, base)
    round_before = _round(world)
    problem_before = world.client.get(f"/v1/rounds/{world.round_id}/problem", headers=manager).text
    bids_before = world.client.get(f"/v1/rounds/{world.round_id}/bids", headers=manager).json()

    other = request_solve(
        world,
        {
            "exclude_bids": [rival_bid],
            "margin_floor": "0.15",
            "demand_scale": {world.item_id: "1.5"},
        },
    )
    other_body = wait_until_finished(world, other)
    assert other_body["status"] == "done"
    assert other_body["what_if"] is True
    assert other_body["overrides"]["exclude_bids"] == [rival_bid]
    excluded = [r for r in other_body["result"]["allocations"] if r["bid"] == rival_bid]
    assert excluded[0]["units"] == 0
    assert excluded[0]["reason"] == "excluded"
    assert _round(world) == round_before
    assert world.client.get(f"/v1/rounds/{world.round_id}/problem", headers=manager).text == (
        problem_before
    )
    assert world.client.get(f"/v1/rounds/{world.round_id}/bids", headers=manager).json() == (
        bids_before
    )

    compared = world.client.get(f"/v1/allocations/{base}/compare/{other}", headers=manager)
    assert compared.status_code == 200, compared.text
    c = compared.json()
    for side, body in (("base", base_body), ("other", other_body)):
        rows = body["result"]["allocations"]
        spend = sum(
            Decimal(r["supply_price"]) * r["units"] + (Decimal(r["setup_fee"]) if r["units"] else 0)
            for r in rows
        )
        assert Decimal(c["spend"][side]) == spend
        assert c["units"][side] == sum(r["units"] for r in rows)
        assert Decimal(c["objective"][side]) == Decimal(body["result"]["objective"])
        for figure in ("spend", "expected_unsold_units", "expected_takeover_cost"):
            assert Decimal(c[figure][side]) == sum(Decimal(i[figure][side]) for i in c["items"])
        assert Decimal(c["spend"][side]) == sum(Decimal(f["spend"][side]) for f in c["factories"])
        assert c["units"][side] == sum(f["units"][side] for f in c["factories"])
    for figure in ("objective", "spend", "expected_takeover_cost", "expected_salvage"):
        assert Decimal(c[figure]["change"]) == Decimal(c[figure]["other"]) - Decimal(
            c[figure]["base"]
        )
    rival_row = next(f for f in c["factories"] if f["factory"] == world.rival_id)
    assert rival_row["units"]["other"] == 0


def test_a_what_if_that_lowers_the_margin_floor_cannot_be_published(world: World) -> None:
    closed_round_with_two_bids(world)
    wait_until_finished(world, request_solve(world))
    lowered = request_solve(world, {"margin_floor": "0.05", "capacity_share": "0.5"})
    wait_until_finished(world, lowered)
    refused = world.client.post(
        f"/v1/allocations/{lowered}/publish", headers=world.headers("manager")
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "publication_refused"
    rules = " ".join(refused.json()["findings"])
    assert "margin_floor_lowered" in rules
    assert "capacity_share_raised" in rules
    assert _round(world)["state"] == "solved"


def test_solving_needs_a_closed_round_and_valid_overrides(world: World) -> None:
    manager = world.headers("manager")
    url = f"/v1/rounds/{world.round_id}/allocations"
    early = world.client.post(url, json={}, headers=manager)
    assert early.status_code == 409
    assert early.json()["code"] == "round_not_solvable"
    assert early.json()["state"] == "open"
    closed_round_with_two_bids(world)
    bad_shapes = world.client.post(
        url,
        json={"margin_floor": "1.5", "demand_scale": {world.item_id: "-1"}, "budget": "NaN"},
        headers=manager,
    )
    assert bad_shapes.status_code == 422
    fields = {e["field"] for e in bad_shapes.json()["errors"]}
    assert {"body.margin_floor", "body.budget"} <= fields
    assert any(f.startswith("body.demand_scale") for f in fields)
    unknown = world.client.post(
        url,
        json={
            "exclude_bids": ["bid_nope"],
            "exclude_factories": ["fac_nope"],
            "min_fill": {"itm_nope": 5},
        },
        headers=manager,
    )
    assert unknown.status_code == 422
    assert {e["field"] for e in unknown.json()["errors"]} == {
        "exclude_bids.0",
        "exclude_factories.0",
        "min_fill.itm_nope",
    }
    listed = world.client.get(url, headers=manager).json()
    assert listed == {"data": [], "next_cursor": None}
    missing = world.client.get("/v1/allocations/alc_nope", headers=manager)
    assert missing.status_code == 404
    assert missing.json()["code"] == "allocation_not_found"


def test_the_problem_of_an_allocation_replays_to_the_stored_result_byte_for_byte(
    world: World, tmp_path: Path
) -> None:
    _, rival_bid = closed_round_with_two_bids(world)
    allocation_id = request_solve(world, {"exclude_bids": [rival_bid], "budget": "100000"})
    wait_until_finished(world, allocation_id)
    problem = world.client.get(
        f"/v1/allocations/{allocation_id}/problem", headers=world.headers("finance")
    )
    assert problem.status_code == 200
    assert rival_bid not in {b["id"] for b in problem.json()["bids"]}
    (tmp_path / "problem.json").write_text(problem.text)
    subprocess.run(
        [SUPPLYBID, "solve", str(tmp_path / "problem.json"), "-o", str(tmp_path / "result.json")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    replayed = parse_result((tmp_path / "result.json").read_text())
    from sqlmodel import Session

    from bidding.models import Allocation

    with Session(world.engine) as session:
        row = session.get(Allocation, allocation_id)
        assert row is not None
        assert row.result is not None
        assert replayed.identity() == parse_result(row.result).identity()
        assert json.loads(row.problem) == problem.json()


def test_a_what_if_removes_the_budget_with_null_and_takes_a_zero_one(world: World) -> None:
    manager = world.headers("manager")
    url = f"/v1/rounds/{world.draft_round_id}"
    patched = world.client.patch(url, json={"budget": "1000.00"}, headers=manager)
    assert patched.status_code == 200, patched.text
    assert world.client.post(f"{url}/open", headers=manager).status_code == 200
    bid = world.client.post(
        f"{url}/bids",
        json={"item": world.item_id, "unit_cost": "18.50", "capacity": 4000},
        headers=world.headers("factory"),
    )
    assert bid.status_code == 201, bid.text
    assert world.client.post(f"{url}/close", headers=manager).status_code == 200
    negative = world.client.post(f"{url}/allocations", json={"budget": "-1"}, headers=manager)
    assert negative.status_code == 422
    assert {e["field"] for e in negative.json()["errors"]} == {"body.budget"}
    budgets: dict[str, str | None] = {}
    overrides: dict[str, Any] = {}
    for name, body in (("absent", {}), ("null", {"budget": None}), ("zero", {"budget": "0"})):
        response = world.client.post(f"{url}/allocations", json=body, headers=manager)
        assert response.status_code == 202, response.text
        allocation_id = response.json()["id"]
        done = wait_until_finished(world, allocation_id)
        assert done["status"] == "done", done
        overrides[name] = done["overrides"]
        problem = world.client.get(f"/v1/allocations/{allocation_id}/problem", headers=manager)
        budgets[name] = problem.json()["round"]["budget"]
    assert overrides == {"absent": None, "null": {"budget": None}, "zero": {"budget": "0"}}
    assert budgets["null"] is None
    assert Decimal(str(budgets["absent"])) == Decimal("1000")
    assert Decimal(str(budgets["zero"])) == 0


def test_the_capacity_share_override_says_invited_factories_keep_their_own(world: World) -> None:
    schema = world.client.get("/openapi.json").json()
    fields = schema["components"]["schemas"]["AllocationRequest"]["properties"]
    assert "keeps that share" in fields["capacity_share"]["description"]
    assert "null solves with no budget" in fields["budget"]["description"]


def test_a_running_allocation_shows_its_phase_and_a_finished_one_none(world: World) -> None:
    closed_round_with_two_bids(world)
    allocation_id = request_solve(world)
    assert wait_until_finished(world, allocation_id)["phase"] is None
    with Session(world.engine) as session:
        session.execute(
            update(Allocation)
            .where(col(Allocation.id) == allocation_id)
            .values(status=AllocationStatus.running, phase="whole_units")
        )
        session.commit()
    shown = world.client.get(f"/v1/allocations/{allocation_id}", headers=world.headers("manager"))
    assert shown.json()["status"] == "running"
    assert shown.json()["phase"] == "whole_units"


def test_a_rounds_allocations_are_listed_newest_first_in_pages(world: World) -> None:
    closed_round_with_two_bids(world)
    made = []
    for body in ({}, {"margin_floor": "0.12"}, {"margin_floor": "0.15"}):
        made.append(request_solve(world, body))
        wait_until_finished(world, made[-1])
    url = f"/v1/rounds/{world.round_id}/allocations"
    first = world.client.get(url, params={"limit": 2}, headers=world.headers("finance")).json()
    assert [a["id"] for a in first["data"]] == [made[2], made[1]]
    assert first["next_cursor"] is not None
    rest = world.client.get(
        url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=world.headers("finance")
    ).json()
    assert [a["id"] for a in rest["data"]] == [made[0]]
    assert rest["next_cursor"] is None
