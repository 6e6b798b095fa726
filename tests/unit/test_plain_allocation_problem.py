"""A plain solve's problem is the snapshot with the committed units, made without a second
parse (bidding.snapshot.allocation_problem): the same problem, text and hash as parsing it."""

from bidding.snapshot import Overrides, allocation_problem, problem_text
from solver.problem import parse_problem
from tests.unit.solver.builders import random_problem_data


def test_a_plain_solve_is_the_snapshot_parsed_with_its_committed_units() -> None:
    for seed in range(5):
        snapshot = parse_problem(random_problem_data(seed, milp=True, bids=30)).to_json()
        ids = [f["id"] for f in parse_problem(snapshot).canonical()["factories"]]
        committed = {ids[0]: 7, ids[-1]: 0, "not in the round": 3}
        made = allocation_problem(snapshot=snapshot, overrides=Overrides(), committed=committed)
        document = parse_problem(snapshot).canonical()
        for factory in document["factories"]:
            factory["committed_units"] = committed.get(factory["id"], 0)
        parsed = parse_problem(document)
        assert made == parsed
        assert made.to_json() == parsed.to_json()
        assert made.input_hash == parsed.input_hash
        assert made.factories[0].committed_units == 7
        # Its text is the snapshot's with the committed units: the text written afresh.
        assert problem_text(snapshot, made) == made.to_json()
        # Factories not where the snapshot has them: written afresh.
        other = made.model_copy(update={"factories": tuple(reversed(made.factories))})
        assert problem_text(snapshot, other) == other.to_json() != made.to_json()
        # The snapshot's own problem is left as it was.
        assert all(f.committed_units == 0 for f in parse_problem(snapshot).factories)
