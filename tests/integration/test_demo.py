"""The demo seed of `make run`: a round a new user can bid on, close, solve and publish."""

from sqlmodel import Session, select

from bidding import rounds, snapshot
from bidding.demo import seed_demo
from bidding.models import Bid, Round, RoundState
from tests.factories import MANAGER


def test_the_demo_round_is_open_with_bids_from_every_factory_but_the_one_whose_key_is_shown(
    session: Session,
) -> None:
    seeded = seed_demo(session=session)
    row = session.get(Round, seeded.round_id)
    assert row is not None
    assert row.state == RoundState.open
    bidders = {bid.factory_id for bid in session.exec(select(Bid)).all()}
    assert len(bidders) == 4
    assert seeded.factory_id not in bidders
    assert set(seeded.keys) == {"admin", "manager", "finance", "factory"}


def test_seeding_again_reuses_the_demo_round_and_makes_fresh_keys(session: Session) -> None:
    first = seed_demo(session=session)
    second = seed_demo(session=session)
    assert second.round_id == first.round_id
    assert second.keys["manager"] != first.keys["manager"]


def test_the_demo_round_closes_into_a_problem_the_allocator_can_solve(session: Session) -> None:
    seeded = seed_demo(session=session)
    rounds.close_round(session=session, actor=MANAGER, round_id=seeded.round_id)
    row = session.get(Round, seeded.round_id)
    assert row is not None
    problem = snapshot.build_round_problem(session=session, row=row)
    assert len(problem.bids) == 8
    assert problem.has_binaries  # one bid has a minimum lot and a setup cost
