"""Awards explained in plain words (issue 16 item 3): the sentence and `cost_ceiling` on
every award row, in the JSON a factory and a manager read and in the awards' exports.

The round: 20% of each factory's 50,000 units a month, Plush bear (retail 39.90, handling
4.00, salvage 8.00; demand 9,000 / 12,000 / 16,000 at 1/4, 1/2, 1/4). The own factory
offers 12,000 at 5.00, every unit worth buying: its share stops it at 10,000. The rival
offers 2,500 at 17.00 (supply price 18.89): units 10,001 to 12,000 are sold with
probability 3/4 (each brings 8 + 27.90 * 0.75 = 28.925), unit 12,001 with 1/4 (8 + 27.90 *
0.25 = 14.975), so the rival wins 2,000, and would win more at a supply price of 14.97 or
less: a unit cost of 13.47 or less (13.47 / 0.9 = 14.9667, up to 14.97; 13.48 gives 14.98).
The allocator states 13.47, the highest cent at which the bid wins more (SPEC 3).
"""

from typing import Any

from tests.api.test_allocations_api import _bid, request_solve, wait_until_finished
from tests.conftest import World
from tests.exports import csv_rows, sheets

OWN_SENTENCE = (
    "Your share for 2026-11 is full: 20% of 50,000 units = 10,000, all awarded in this round."
    + " At a unit cost of 32.31 CNY or more this bid cannot win a unit, whatever the other "
    "factories bid."
)
RIVAL_SENTENCE = (
    "You won 2,000 of the 2,500 units of Plush bear you offered, at 18.89 CNY each: more "
    "would not have paid at that price, given the expected demand and the other offers. At a "
    "unit cost of 13.47 CNY or less you "
    "would have won more units of Plush bear. At a unit cost of 32.31 CNY or more this bid "
    "cannot win a unit, whatever the other factories bid."
)


def _published(world: World) -> tuple[str, str]:
    own = _bid(world, "factory", "5.00", 12000)
    rival = _bid(world, "rival", "17.00", 2500)
    closed = world.client.post(
        f"/v1/rounds/{world.round_id}/close", headers=world.headers("manager")
    )
    assert closed.status_code == 200, closed.text
    allocation = request_solve(world)
    assert wait_until_finished(world, allocation)["status"] == "done"
    published = world.client.post(
        f"/v1/allocations/{allocation}/publish", headers=world.headers("manager")
    )
    assert published.status_code == 200, published.text
    return own, rival


def _awards(world: World, who: str) -> list[dict[str, Any]]:
    answer = world.client.get(f"/v1/rounds/{world.round_id}/awards", headers=world.headers(who))
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def test_each_award_says_in_words_what_it_won_and_what_would_win_more(world: World) -> None:
    own, rival = _published(world)
    by_bid = {a["bid"]: a for a in _awards(world, "manager")}
    assert (by_bid[own]["reason"], by_bid[own]["units"]) == ("capacity_bound", 10000)
    assert (by_bid[rival]["reason"], by_bid[rival]["units"]) == ("won_partial", 2000)
    assert by_bid[rival]["cost_to_win_more"] == "13.47"
    assert by_bid[own]["explanation"] == OWN_SENTENCE
    assert by_bid[rival]["explanation"] == RIVAL_SENTENCE
    assert by_bid[own]["cost_ceiling"] == "32.31"

    mine = _awards(world, "factory")
    assert [(a["bid"], a["explanation"]) for a in mine] == [(own, OWN_SENTENCE)]
    theirs = _awards(world, "rival")
    assert [(a["bid"], a["explanation"]) for a in theirs] == [(rival, RIVAL_SENTENCE)]
    assert _awards(world, "finance") == _awards(world, "manager")


def test_the_awards_export_carries_the_same_sentences_and_a_factory_only_its_own(
    world: World,
) -> None:
    own, rival = _published(world)
    path = f"/v1/rounds/{world.round_id}/awards"
    answer = world.client.get(f"{path}?format=csv", headers=world.headers("manager"))
    assert answer.status_code == 200, answer.text
    rows = {r["Bid"]: r for r in csv_rows(answer.content)}
    assert rows[own]["Explanation"] == OWN_SENTENCE
    assert rows[rival]["Explanation"] == RIVAL_SENTENCE
    assert rows[rival]["Cost to win more (CNY)"] == "13.47"
    assert rows[own]["Cost ceiling (CNY)"] == "32.31"
    assert rows[own]["Item name"] == "Plush bear"

    workbook = world.client.get(f"{path}?format=xlsx", headers=world.headers("factory"))
    assert workbook.status_code == 200, workbook.text
    sheet = sheets(workbook.content)["Per bid"]
    assert [(r["Bid"], r["Explanation"]) for r in sheet] == [(own, OWN_SENTENCE)]

    allocation = world.client.get(
        f"/v1/rounds/{world.round_id}/allocations", headers=world.headers("manager")
    ).json()["data"][0]["id"]
    exported = world.client.get(
        f"/v1/allocations/{allocation}?format=csv", headers=world.headers("finance")
    )
    per_bid = {r["Bid"]: r for r in csv_rows(exported.content)}
    assert per_bid[rival]["Explanation"] == RIVAL_SENTENCE


def test_awards_refuse_a_view_without_a_format_and_a_factory_before_publication(
    world: World,
) -> None:
    path = f"/v1/rounds/{world.round_id}/awards"
    early = world.client.get(f"{path}?format=csv", headers=world.headers("factory"))
    assert early.status_code == 409
    assert early.json()["code"] == "round_not_published"
    _published(world)
    stray = world.client.get(f"{path}?view=bid", headers=world.headers("manager"))
    assert stray.status_code == 422
    assert "view" in stray.text


def test_a_share_filled_across_two_rounds_of_the_period_names_the_earlier_units(
    world: World,
) -> None:
    """The world's open and draft rounds share the period 2026-11: 4,000 units published in
    the first count against the own factory's 10,000 in the second."""
    first = _bid(world, "factory", "5.00", 4000)
    manager = world.headers("manager")
    assert world.client.post(f"/v1/rounds/{world.round_id}/close", headers=manager).is_success
    allocation = request_solve(world)
    assert wait_until_finished(world, allocation)["status"] == "done"
    assert world.client.post(f"/v1/allocations/{allocation}/publish", headers=manager).is_success
    assert [a["units"] for a in _awards(world, "factory") if a["bid"] == first] == [4000]

    second_round = world.draft_round_id
    assert world.client.post(f"/v1/rounds/{second_round}/open", headers=manager).is_success
    bid = world.client.post(
        f"/v1/rounds/{second_round}/bids",
        json={"item": world.item_id, "unit_cost": "5.00", "capacity": 12000},
        headers=world.headers("factory"),
    )
    assert bid.status_code == 201, bid.text
    assert world.client.post(f"/v1/rounds/{second_round}/close", headers=manager).is_success
    solved = world.client.post(
        f"/v1/rounds/{second_round}/allocations", json={}, headers=manager
    ).json()["id"]
    assert wait_until_finished(world, solved)["status"] == "done"
    assert world.client.post(f"/v1/allocations/{solved}/publish", headers=manager).is_success
    awards = world.client.get(
        f"/v1/rounds/{second_round}/awards", headers=world.headers("factory")
    ).json()["data"]
    assert [(a["reason"], a["units"]) for a in awards] == [("capacity_bound", 6000)]
    assert awards[0]["explanation"] == (
        "Your share for 2026-11 is full: 20% of 50,000 units = 10,000; 4,000 were awarded in "
        "earlier rounds of 2026-11 and 6,000 in this round. At a unit cost of 32.31 CNY or more "
        "this bid cannot win a unit, whatever the other factories bid."
    )


def test_the_ceiling_the_allocator_states_reaches_the_award_and_the_export(world: World) -> None:
    """SPEC 3's ceiling of either bid: the first unit of Plush bear brings 35.90 (8.00 +
    27.90, sold for sure), and a supply price of 35.90 (a unit cost of 32.31: 32.31 / 0.9 =
    35.90) earns nothing on it, while 32.30 gives 35.89; later units bring less."""
    own, rival = _published(world)
    assert [a["cost_ceiling"] for a in _awards(world, "rival")] == ["32.31"]
    assert [a["cost_ceiling"] for a in _awards(world, "factory")] == ["32.31"]
    exported = world.client.get(
        f"/v1/rounds/{world.round_id}/awards?format=csv", headers=world.headers("manager")
    )
    rows = {r["Bid"]: r for r in csv_rows(exported.content)}
    assert (rows[rival]["Cost ceiling (CNY)"], rows[own]["Cost ceiling (CNY)"]) == (
        "32.31",
        "32.31",
    )
