"""bidding.documents: a stored text parsed once per process, and what a writer keeps is
what parsing its text gives (so a kept problem or result is the one a reader would parse)."""

from bidding.documents import KEPT, problem_of, result_of
from solver.problem import parse_problem
from solver.result import parse_result
from solver.solve import SolveOptions, solve
from tests.unit.solver.builders import random_problem_data


def test_a_text_is_parsed_once_and_the_last_few_are_kept() -> None:
    texts = [parse_problem(random_problem_data(s, milp=False, bids=8)).to_json() for s in range(3)]
    first = problem_of(texts[0])
    assert problem_of(texts[0]) is first
    assert first == parse_problem(texts[0])
    for text in texts[1 : KEPT + 1]:
        problem_of(text)
    assert problem_of(texts[0]) is not first  # pushed out, parsed again
    assert problem_of(texts[0]) == first


def test_what_a_solve_keeps_is_what_its_written_texts_parse_to() -> None:
    for seed in range(4):
        problem = parse_problem(random_problem_data(seed, milp=seed % 2 == 0, bids=15))
        text = problem.to_json()
        assert parse_problem(text) == problem
        result = solve(problem, SolveOptions())
        written = result.to_json()
        again = parse_result(written)
        assert again == result
        assert again.to_json() == written
        result_of.keep(written, result)
        assert result_of(written) is result
