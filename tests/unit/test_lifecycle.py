"""SPEC 2's lifecycle table as data: every move, every refusal, without a database."""

import pytest

from bidding.errors import (
    RoundAlreadySettled,
    RoundNotCancellable,
    RoundNotDraft,
    RoundNotOpen,
    RoundNotPublished,
    RoundNotSettled,
    RoundNotSolvable,
    RoundNotSolved,
    WrongRoundState,
)
from bidding.lifecycle import LIFECYCLE, Action, allows, require
from bidding.models import Round, RoundState

S = RoundState

# SPEC 2's table, written out by hand: (action, from, to or None where the state stays).
SPEC_2 = {
    "edit": ({S.draft}, None),
    "set_deadline": ({S.draft, S.open}, None),  # SPEC 2: a deadline moves until bids end
    "open": ({S.draft}, S.open),
    "bid": ({S.open}, None),
    "close": ({S.open}, S.closed),
    "solve": ({S.closed, S.solved}, S.solved),
    "what_if": ({S.closed, S.solved}, None),
    "publish": ({S.solved}, S.published),
    "read_awards": ({S.published, S.settled}, None),
    "settle": ({S.published}, S.settled),
    "correct": ({S.settled}, None),
    "cancel": ({S.draft, S.open, S.closed, S.solved}, S.cancelled),
}


def a_round(state: RoundState) -> Round:
    return Round(
        id="rnd_x",
        name="r",
        category="c",
        period="2026-11",
        currency="CNY",
        margin_floor_ppb=100_000_000,
        capacity_share_ppb=200_000_000,
        state=state,
    )


def test_the_table_is_spec_2s_and_nothing_more() -> None:
    assert {a: (set(m.sources), m.target) for a, m in LIFECYCLE.items()} == SPEC_2


@pytest.mark.parametrize("action", sorted(SPEC_2))
@pytest.mark.parametrize("state", list(RoundState))
def test_an_action_is_allowed_exactly_from_its_states_and_refused_with_a_409(
    action: Action, state: RoundState
) -> None:
    row = a_round(state)
    if state in SPEC_2[action][0]:
        assert allows(state, action)
        assert require(row, action) is row
    else:
        assert not allows(state, action)
        with pytest.raises(WrongRoundState) as refused:
            require(row, action)
        assert refused.value.status == 409
        assert refused.value.extra["state"] == str(state)
    assert row.state == state  # a check changes nothing


@pytest.mark.parametrize(
    ("action", "state", "refusal"),
    [
        ("edit", S.open, RoundNotDraft),
        ("set_deadline", S.closed, RoundNotOpen),
        ("open", S.closed, RoundNotDraft),
        ("bid", S.closed, RoundNotOpen),
        ("close", S.draft, RoundNotOpen),
        ("solve", S.open, RoundNotSolvable),
        ("publish", S.closed, RoundNotSolved),
        ("read_awards", S.solved, RoundNotPublished),
        ("settle", S.solved, RoundNotPublished),
        ("settle", S.settled, RoundAlreadySettled),
        ("correct", S.published, RoundNotSettled),
        ("cancel", S.published, RoundNotCancellable),
    ],
)
def test_each_refusal_has_its_stable_code(
    action: Action, state: RoundState, refusal: type[WrongRoundState]
) -> None:
    with pytest.raises(refusal):
        require(a_round(state), action)
