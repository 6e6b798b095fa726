"""The demo seed of `make run`: a round a new user can bid on, close, solve and publish."""

from sqlmodel import Session, col, select

from bidding import rounds, snapshot
from bidding.demo import seed_demo
from bidding.keys import find_active_key
from bidding.models import ApiKey, Bid, Factory, Round, RoundState
from tests.factories import MANAGER


def test_the_demo_round_is_open_with_bids_from_every_factory_but_the_one_whose_key_is_shown(
    session: Session,
) -> None:
    seeded = seed_demo(session=session, fresh_keys=True)
    row = session.get(Round, seeded.round_id)
    assert row is not None
    assert row.state == RoundState.open
    bidders = {bid.factory_id for bid in session.exec(select(Bid)).all()}
    assert len(bidders) == 4
    assert seeded.factory_id not in bidders
    assert set(seeded.keys) == {"admin", "manager", "finance", "factory"}


def test_seeding_again_reuses_the_demo_round_and_makes_no_keys(session: Session) -> None:
    first = seed_demo(session=session, fresh_keys=True)
    counts = _counts(session)
    second = seed_demo(session=session, fresh_keys=False)
    assert (second.round_id, second.seeded_now, second.keys) == (first.round_id, False, {})
    assert _counts(session) == counts


def test_fresh_demo_keys_revoke_the_old_ones_so_keys_never_pile_up(session: Session) -> None:
    first = seed_demo(session=session, fresh_keys=True)
    second = seed_demo(session=session, fresh_keys=True)
    assert second.round_id == first.round_id
    assert second.keys["manager"] != first.keys["manager"]
    live = session.exec(select(ApiKey).where(col(ApiKey.revoked_at).is_(None))).all()
    assert sorted(key.name for key in live) == [
        "demo admin",
        "demo factory",
        "demo finance",
        "demo manager",
    ]
    assert find_active_key(session=session, secret=first.keys["admin"]) is None


def test_a_closed_demo_round_is_not_seeded_again(session: Session) -> None:
    first = seed_demo(session=session, fresh_keys=True)
    rounds.close_round(session=session, actor=MANAGER, round_id=first.round_id)
    counts = _counts(session)
    again = seed_demo(session=session, fresh_keys=False)
    assert again.round_id == first.round_id
    assert _counts(session) == counts


def _counts(session: Session) -> tuple[int, int, int]:
    return (
        len(session.exec(select(Factory)).all()),
        len(session.exec(select(Round)).all()),
        len(session.exec(select(ApiKey)).all()),
    )


def test_the_demo_round_closes_into_a_problem_the_allocator_can_solve(session: Session) -> None:
    seeded = seed_demo(session=session, fresh_keys=True)
    rounds.close_round(session=session, actor=MANAGER, round_id=seeded.round_id)
    row = session.get(Round, seeded.round_id)
    assert row is not None
    problem = snapshot.build_round_problem(session=session, row=row)
    assert len(problem.bids) == 8
    assert problem.has_binaries  # one bid has a minimum lot and a setup cost
