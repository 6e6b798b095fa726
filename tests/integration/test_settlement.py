"""Settlement on a real database: random published rounds and sales reconcile to the cent."""

import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from bidding import bids, finance, items, publication, rounds, settlement
from bidding.items import DemandScenario
from bidding.models import Role
from bidding.principal import SYSTEM, Principal
from bidding.snapshot import Overrides
from cli.main import app
from solver.values import CENT
from tests import factories as builders
from tests.integration.test_allocation import solve_now
from tests.integration.test_cli import cli  # noqa: F401  (the fixture)

money = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("90.00"), places=2)


@dataclass(frozen=True)
class Case:
    """A random round: items (retail, handling, salvage, demand), bids, share of units sold."""

    items: list[tuple[Decimal, Decimal, Decimal, list[int]]]
    factories: int
    bids: list[tuple[int, int, Decimal, int, Decimal]]
    sold: list[Fraction]


@st.composite
def rounds_and_sales(draw: st.DrawFn) -> Case:
    """A small round: items with demand, factories with bids (some with setup costs)."""
    n_items = draw(st.integers(min_value=1, max_value=3))
    n_factories = draw(st.integers(min_value=1, max_value=3))
    item_list = []
    for _ in range(n_items):
        retail = draw(st.decimals(min_value=Decimal("100"), max_value=Decimal("200"), places=2))
        handling = draw(st.decimals(min_value=0, max_value=Decimal("10"), places=2))
        salvage = draw(st.decimals(min_value=0, max_value=Decimal("30"), places=2))
        demand = sorted(
            set(draw(st.lists(st.integers(0, 3000), min_size=1, max_size=3, unique=True)))
        )
        item_list.append((retail, handling, salvage, demand))
    bid_list = [
        (
            f,
            i,
            draw(money),
            draw(st.integers(min_value=1, max_value=1500)),
            draw(st.sampled_from([Decimal(0), Decimal("250.00")])),
        )
        for f in range(n_factories)
        for i in range(n_items)
        if draw(st.booleans()) or (f == 0)
    ]
    sold_share = [draw(st.fractions(min_value=0, max_value=1)) for _ in range(n_items)]
    return Case(items=item_list, factories=n_factories, bids=bid_list, sold=sold_share)


def published(session: Session, engine: Engine, case: Case) -> str:
    """Make, close, solve and publish the case's round through the domain; its id."""
    made_items = []
    for retail, handling, salvage, demand in case.items:
        share = Decimal(1) / len(demand)
        probabilities = [share.quantize(Decimal("0.000000001"))] * len(demand)
        probabilities[-1] = Decimal(1) - sum(probabilities[:-1], Decimal(0))
        made_items.append(
            items.create_item(
                session=session,
                actor=builders.MANAGER,
                name="Random item",
                retail_price=retail,
                handling_cost=handling,
                salvage_value=salvage,
                demand=[DemandScenario(d, p) for d, p in zip(demand, probabilities, strict=True)],
            )
        )
    row = builders.an_open_round(session, item_list=made_items)
    made_factories = [builders.a_factory(session, capacity=20000) for _ in range(case.factories)]
    for f, i, cost, capacity, setup in case.bids:
        factory = made_factories[f]
        bids.submit_bid(
            session=session,
            actor=Principal(key_id=None, role=Role.factory, factory_id=factory.id),
            round_id=row.id,
            item_id=made_items[i].id,
            terms=builders.terms(unit_cost=str(cost), capacity=capacity, setup_cost=setup),
        )
    rounds.close_round(session=session, actor=builders.MANAGER, round_id=row.id)
    done = solve_now(session, engine, row.id, Overrides())
    publication.publish_allocation(session=session, actor=builders.MANAGER, allocation_id=done.id)
    return row.id


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=rounds_and_sales())
def test_random_published_rounds_and_sales_reconcile_to_the_cent_with_the_award_rows(
    session: Session, engine: Engine, case: Case
) -> None:
    round_id = published(session, engine, case)
    before = settlement.round_result(session=session, principal=SYSTEM, round_id=round_id)
    allocated = {o.item: o.units_ordered for o in before.expected().items}
    sold = {
        item: int(share * units)
        for (item, units), share in zip(sorted(allocated.items()), case.sold, strict=True)
    }
    settlement.settle_round(session=session, actor=builders.MANAGER, round_id=round_id, sold=sold)

    figures = settlement.round_result(session=session, principal=SYSTEM, round_id=round_id)
    lines = settlement.round_statements(
        session=session, principal=builders.FINANCE, round_id=round_id
    ).lines
    realised = figures.realised()
    expected = figures.expected()
    assert realised is not None
    rows = settlement.award_rows(session=session, allocation_id=figures.allocation.id)
    paid = sum(
        Decimal(r.units * r.supply_price_cents + (r.setup_fee_cents if r.units else 0)) / 100
        for r in rows
    )
    assert sum(line.amount for line in lines) == paid == realised.supply_spend
    assert expected.supply_spend == paid
    assert sum(line.units for line in lines) == sum(r.units for r in rows)
    assert sum(line.takeover_units for line in lines) == realised.units_taken_over
    assert realised.units_taken_over == sum(allocated.values()) - sum(sold.values())
    assert sum(line.takeover_value for line in lines) == realised.takeover_spend
    for totals in (realised, expected):
        assert totals.net == totals.revenue - totals.handling - totals.supply_spend + totals.salvage
        assert totals.takeover_loss == totals.takeover_spend - totals.salvage
        for name in ("revenue", "handling", "supply_spend", "salvage", "takeover_spend", "net"):
            value = getattr(totals, name)
            assert value == value.quantize(CENT)  # whole cents
            assert value == sum((getattr(o, name) for o in totals.items), Decimal(0))
    # Expected at publication is the solver's objective, up to each item's cent roundings.
    stored = json.loads(figures.allocation.result or "{}")
    assert abs(expected.net - Decimal(stored["objective"])) <= CENT * (2 * len(allocated) + 1)
    for line in lines:
        if line.margin is not None:
            assert line.margin >= Decimal("0.10")
    assert finance.margin_audit(session=session).findings == ()


def test_one_unsold_unit_over_many_factories_goes_to_the_lowest_bid_id_of_the_tie(
    session: Session, engine: Engine
) -> None:
    item = builders.an_item(session)
    row = builders.an_open_round(session, item_list=[item])
    placed = []
    for _ in range(5):
        factory = builders.a_factory(session)
        bid, _ = bids.submit_bid(
            session=session,
            actor=builders.as_factory(factory),
            round_id=row.id,
            item_id=item.id,
            terms=builders.terms(unit_cost="18.50", capacity=100),
        )
        placed.append(bid.id)
    rounds.close_round(session=session, actor=builders.MANAGER, round_id=row.id)
    done = solve_now(session, engine, row.id, Overrides())
    publication.publish_allocation(session=session, actor=builders.MANAGER, allocation_id=done.id)
    recorded = settlement.settle_round(
        session=session, actor=builders.MANAGER, round_id=row.id, sold={item.id: 499}
    )
    assert recorded.taken_over == {item.id: 1}
    figures = settlement.round_result(session=session, principal=SYSTEM, round_id=row.id)
    assert figures.takeover == {b: int(b == min(placed)) for b in placed}
    for sold, each in ((500, 0), (0, 100)):  # all sold; nothing sold
        settlement.correct_settlement(
            session=session,
            actor=builders.MANAGER,
            round_id=row.id,
            sold={item.id: sold},
            reason="recount",
        )
        figures = settlement.round_result(session=session, principal=SYSTEM, round_id=row.id)
        assert figures.takeover == dict.fromkeys(placed, each)


def test_the_report_commands_write_the_figures_of_a_settled_round(
    session: Session,
    engine: Engine,
    cli: CliRunner,  # noqa: F811
    tmp_path: Path,
) -> None:
    item = builders.an_item(session)
    factory = builders.a_factory(session)
    row = builders.an_open_round(session, item_list=[item])
    bids.submit_bid(
        session=session,
        actor=builders.as_factory(factory),
        round_id=row.id,
        item_id=item.id,
        terms=builders.terms(unit_cost="18.50", capacity=1000),
    )
    rounds.close_round(session=session, actor=builders.MANAGER, round_id=row.id)
    done = solve_now(session, engine, row.id, Overrides())
    publication.publish_allocation(session=session, actor=builders.MANAGER, allocation_id=done.id)
    settlement.settle_round(
        session=session, actor=builders.MANAGER, round_id=row.id, sold={item.id: 900}
    )

    as_json = cli.invoke(app, ["report", "statements", "--round", row.id])
    assert as_json.exit_code == 0, as_json.output
    line = json.loads(as_json.stdout)["data"][0]
    assert line["amount"] == "20560.00"  # 1000 x 20.56
    assert line["takeover_units"] == 100
    as_csv = cli.invoke(app, ["report", "result", "--round", row.id, "--format", "csv"])
    assert "Expected net (CNY)," in as_csv.stdout  # per item, the first view
    totals = cli.invoke(
        app, ["report", "result", "--round", row.id, "--format", "csv", "--view", "totals"]
    )
    assert f"\n{row.id},Net (CNY),15340.00,12550.00\n" in totals.stdout  # text-mode stdout
    unknown = cli.invoke(
        app, ["report", "result", "--round", row.id, "--format", "csv", "--view", "bid"]
    )
    assert unknown.exit_code == 2
    assert "views are item, totals" in unknown.output
    xlsx = tmp_path / "takeover.xlsx"
    written = cli.invoke(app, ["report", "takeover", "--format", "xlsx", "-o", str(xlsx)])
    assert written.exit_code == 0, written.output
    sheet = openpyxl.load_workbook(xlsx).active
    assert sheet is not None
    header, first = list(sheet.iter_rows(values_only=True))[:2]
    assert dict(zip(header, first, strict=True))["Settled units taken over"] == 100
    margins = cli.invoke(app, ["report", "margins"])
    assert margins.exit_code == 0, margins.output
    assert json.loads(margins.stdout)["findings"] == []
    checked = cli.invoke(app, ["audit", "published"])
    assert checked.exit_code == 0
    assert "published allocations ok" in checked.stdout
    missing = cli.invoke(app, ["report", "statements", "--round", "rnd_nope"])
    assert missing.exit_code == 2
