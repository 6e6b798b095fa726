"""What each export holds: the API's `?format=csv|xlsx`, the pages' downloads and
`supplybid report` build their reports here, from the same figures as the JSON.

Each report has a sheet per view (per bid, per item, per factory, totals, as it applies), a
readable header naming the currency of its money, names beside ids. Money is exact (two
decimals, never through a binary float); shares and margins are percentages; expected units
keep their decimals.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bidding.award_figures import AwardContext
from bidding.comparison import Comparison, Figures, figures
from bidding.export_cells import Cell, Money, Percent, fraction_value, money_value
from bidding.exports import Report, Sheet
from bidding.finance import MarginAudit, TakeoverLine
from bidding.models import Allocation
from bidding.names import Names
from bidding.settlement import PublishedRound, RoundStatements
from bidding.snapshot import solved_items
from bidding.takeover import ItemOutcome, PlatformResult, StatementFigures, summed
from solver.result import Result


def money(value: Decimal) -> Decimal:
    """Money with exactly two decimals (every figure is whole cents already)."""
    return money_value(value)


def margin_fraction(value: Decimal | None) -> Decimal | None:
    """A margin rounded down to 9 decimals: never shown above the true one."""
    return None if value is None else fraction_value(value)


def percent_or_none(value: Decimal | float | None) -> Percent | None:
    """A share or margin as a percentage cell, or an empty cell."""
    return None if value is None else Percent(Decimal(str(value)))


def _units(value: Decimal | int) -> Decimal | int:
    """Units as a number: whole ones as an int, expected ones with their decimals."""
    return int(value) if value == int(value) else Decimal(value).normalize()


def money_header(label: str, currency: str | None) -> str:
    """A money column's header, naming its currency."""
    return f"{label} ({currency})" if currency else label


# Statements

STATEMENT_FIGURES = ("Units", "Amount", "Cost", "Setup cost", "Margin")
TAKEOVER_FIGURES = ("Takeover units", "Takeover value")


def _statement_headers(currency: str) -> tuple[str, ...]:
    units, *money_labels, margin = STATEMENT_FIGURES
    return (
        units,
        *(money_header(m, currency) for m in money_labels),
        margin,
        TAKEOVER_FIGURES[0],
        money_header(TAKEOVER_FIGURES[1], currency),
    )


def _statement_cells(line: StatementFigures, currency: str, settled: bool) -> tuple[Cell, ...]:
    return (
        line.units,
        Money(line.amount, currency),
        Money(line.cost, currency),
        Money(line.setup_cost, currency),
        percent_or_none(margin_fraction(line.margin)),
        line.takeover_units if settled else None,
        Money(line.takeover_value, currency) if settled else None,
    )


def statements_report(report: RoundStatements) -> Report:
    """Per factory, per factory and item, and the total; takeover blank until settled."""
    round_id, currency = report.round.id, report.round.currency
    settled = report.settlement is not None
    figures_headers = _statement_headers(currency)
    names = report.names
    return Report(
        name=f"statements-{round_id}",
        sheets=(
            Sheet(
                view="factory",
                title="Per factory",
                headers=("Round", "Factory", "Factory name", *figures_headers),
                rows=[
                    (
                        round_id,
                        line.factory,
                        names.factory(line.factory),
                        *_statement_cells(line, currency, settled),
                    )
                    for line in report.lines
                ],
            ),
            Sheet(
                view="item",
                title="Per item",
                headers=(
                    "Round",
                    "Factory",
                    "Factory name",
                    "Item",
                    "Item name",
                    *figures_headers,
                ),
                rows=[
                    (
                        round_id,
                        line.factory,
                        names.factory(line.factory),
                        line.item,
                        None if line.item is None else names.item(line.item),
                        *_statement_cells(line, currency, settled),
                    )
                    for line in report.item_lines
                ],
            ),
            Sheet(
                view="totals",
                title="Totals",
                headers=("Round", "Factories", *figures_headers),
                rows=[
                    (
                        round_id,
                        len(report.lines),
                        *_statement_cells(report.total, currency, settled),
                    )
                ],
            ),
        ),
    )


# The platform's result

RESULT_FIGURES = (
    ("units_ordered", "Units ordered"),
    ("units_sold", "Units sold"),
    ("units_taken_over", "Units taken over"),
    ("revenue", "Revenue"),
    ("handling", "Handling"),
    ("supply_spend", "Supply spend"),
    ("salvage", "Salvage"),
    ("takeover_spend", "Takeover spend"),
    ("takeover_loss", "Takeover loss"),
    ("net", "Net"),
)
UNIT_FIGURES = frozenset({"units_ordered", "units_sold", "units_taken_over"})


def figure_cell(name: str, value: Decimal | int, currency: str | None) -> Cell:
    """A figure of the platform's result as a cell: units as numbers, money as Money."""
    if name in UNIT_FIGURES:
        return _units(value)
    return Money(Decimal(value), currency)


def _figure_header(name: str, label: str, currency: str | None) -> str:
    return label if name in UNIT_FIGURES else money_header(label, currency)


def _outcome_cells(
    outcome: ItemOutcome | PlatformResult | None, currency: str | None
) -> tuple[Cell, ...]:
    if outcome is None:
        return (None,) * len(RESULT_FIGURES)
    return tuple(figure_cell(n, getattr(outcome, n), currency) for n, _ in RESULT_FIGURES)


def result_report(published: PublishedRound) -> Report:
    """Per item, expected at publication beside realised once settled; and the totals."""
    expected = published.expected()
    realised = published.realised()
    realised_items = {o.item: o for o in realised.items} if realised else {}
    round_id, currency = published.round.id, published.round.currency
    per_item_headers = tuple(
        _figure_header(name, f"{when} {label.lower()}", currency)
        for when in ("Expected", "Realised")
        for name, label in RESULT_FIGURES
    )
    return Report(
        name=f"result-{round_id}",
        sheets=(
            Sheet(
                view="item",
                title="Per item",
                headers=("Round", "Item", "Item name", *per_item_headers),
                rows=[
                    (
                        round_id,
                        o.item,
                        published.names.item(o.item),
                        *_outcome_cells(o, currency),
                        *_outcome_cells(realised_items.get(o.item), currency),
                    )
                    for o in expected.items
                ],
            ),
            Sheet(
                view="totals",
                title="Totals",
                headers=("Round", "Figure", "Expected", "Realised"),
                rows=[
                    (
                        round_id,
                        _figure_header(name, label, currency),
                        figure_cell(name, getattr(expected, name), currency),
                        None
                        if realised is None
                        else figure_cell(name, getattr(realised, name), currency),
                    )
                    for name, label in RESULT_FIGURES
                ],
            ),
        ),
    )


# Finance's audits


def margins_report(audit: MarginAudit) -> Report:
    """One row per finding of the margin audit (none: the header alone)."""
    return Report(
        name="margin-audit",
        sheets=(
            Sheet(
                view="findings",
                title="Findings",
                headers=("Round", "Allocation", "Bid", "Factory", "Factory name", "Finding"),
                rows=[
                    (f.round, f.allocation, f.bid, f.factory, f.factory_name, f.finding)
                    for f in audit.findings
                ],
            ),
        ),
    )


TAKEOVER_SHOWN = (
    ("units_taken_over", "units taken over"),
    ("takeover_spend", "takeover spend"),
    ("salvage", "salvage"),
    ("takeover_loss", "takeover loss"),
)


def _takeover_cells(
    outcome: ItemOutcome | PlatformResult | None, currency: str
) -> tuple[Cell, ...]:
    if outcome is None:
        return (None,) * len(TAKEOVER_SHOWN)
    return tuple(figure_cell(n, getattr(outcome, n), currency) for n, _ in TAKEOVER_SHOWN)


def takeover_report(lines: Sequence[TakeoverLine]) -> Report:
    """Per round and item, and per round: the takeover expected at publication and settled.

    Rounds may have different currencies: each money cell carries its round's.
    """
    head = ("Round", "Period", "Currency", "State", "Settlement version")
    figures_headers = (
        "Units ordered",
        *(f"Expected {label}" for _, label in TAKEOVER_SHOWN),
        "Units sold",
        *(f"Settled {label}" for _, label in TAKEOVER_SHOWN),
    )
    by_round: dict[str, list[TakeoverLine]] = {}
    for line in lines:
        by_round.setdefault(line.round, []).append(line)
    totals = []
    for own in by_round.values():
        first = own[0]
        settled = [x.settled for x in own if x.settled is not None]
        expected_sum = summed([x.expected for x in own])
        settled_sum = summed(settled) if len(settled) == len(own) else None
        totals.append(
            (
                first.round,
                first.period,
                first.currency,
                first.state,
                first.settlement_version,
                expected_sum.units_ordered,
                *_takeover_cells(expected_sum, first.currency),
                None if settled_sum is None else _units(settled_sum.units_sold),
                *_takeover_cells(settled_sum, first.currency),
            )
        )
    return Report(
        name="takeover",
        sheets=(
            Sheet(
                view="item",
                title="Per item",
                headers=(*head, "Item", "Item name", *figures_headers),
                rows=[
                    (
                        line.round,
                        line.period,
                        line.currency,
                        line.state,
                        line.settlement_version,
                        line.expected.item,
                        line.item_name,
                        line.expected.units_ordered,
                        *_takeover_cells(line.expected, line.currency),
                        None if line.settled is None else _units(line.settled.units_sold),
                        *_takeover_cells(line.settled, line.currency),
                    )
                    for line in lines
                ],
            ),
            Sheet(view="totals", title="Per round", headers=(*head, *figures_headers), rows=totals),
        ),
    )


# Allocations and their comparison


@dataclass(frozen=True)
class _Figure:
    """A figure of an allocation: its label, whether money, and how to read it."""

    label: str
    is_money: bool
    total: Callable[[Figures], Decimal | int]
    per_item: Callable[[Figures], Mapping[str, Decimal | int]]


ALLOCATION_FIGURES = (
    _Figure("Units", False, lambda f: f.units, lambda f: f.item_units),
    _Figure("Spend", True, lambda f: f.spend, lambda f: f.item_spend),
    _Figure("Expected unsold units", False, lambda f: f.expected_unsold, lambda f: f.item_unsold),
    _Figure(
        "Expected takeover cost", True, lambda f: f.takeover_cost, lambda f: f.item_takeover_cost
    ),
    _Figure("Expected salvage", True, lambda f: f.salvage, lambda f: f.item_salvage),
)


def _cell(figure: _Figure, value: Decimal | int, currency: str) -> Cell:
    return Money(Decimal(value), currency) if figure.is_money else _units(value)


def _header(figure: _Figure, currency: str, side: str = "") -> str:
    label = f"{figure.label} ({side})" if side else figure.label
    if not figure.is_money:
        return label
    return f"{figure.label} ({side}, {currency})" if side else money_header(label, currency)


def allocation_report(
    row: Allocation, result: Result, names: Names, currency: str, context: AwardContext
) -> Report:
    """An allocation's rows (a bid each, explained in words), per item, per factory, totals."""
    shown = figures(solved_items(row), result)
    zero = Decimal(0)
    return Report(
        name=f"allocation-{row.id}",
        sheets=(
            Sheet(
                view="bid",
                title="Per bid",
                headers=(
                    "Allocation",
                    "Bid",
                    "Factory",
                    "Factory name",
                    "Item",
                    "Item name",
                    "Units",
                    money_header("Supply price", currency),
                    money_header("Setup fee", currency),
                    money_header("Amount", currency),
                    "Capacity share used",
                    "Margin",
                    "Reason",
                    money_header("Cost to win more", currency),
                    money_header("Cost ceiling", currency),
                    "Explanation",
                ),
                rows=[
                    (
                        row.id,
                        a.bid,
                        a.factory,
                        names.factory(a.factory),
                        a.item,
                        names.item(a.item),
                        a.units,
                        Money(a.supply_price, currency),
                        Money(a.setup_fee, currency),
                        Money(
                            a.supply_price * a.units + (a.setup_fee if a.units else zero),
                            currency,
                        ),
                        percent_or_none(a.capacity_share_used),
                        percent_or_none(a.margin),
                        a.reason,
                        Money(a.cost_to_win_more, currency)
                        if isinstance(a.cost_to_win_more, Decimal)
                        else a.cost_to_win_more,
                        money_or_none(context.ceilings.get(a.bid), currency),
                        context.explain_row(a, names.item(a.item)),
                    )
                    for a in result.allocations
                ],
            ),
            Sheet(
                view="item",
                title="Per item",
                headers=(
                    "Item",
                    "Item name",
                    *(_header(f, currency) for f in ALLOCATION_FIGURES),
                ),
                rows=[
                    (
                        item.id,
                        names.item(item.id),
                        *(
                            _cell(f, f.per_item(shown).get(item.id, 0), currency)
                            for f in ALLOCATION_FIGURES
                        ),
                    )
                    for item in solved_items(row)
                ],
            ),
            Sheet(
                view="factory",
                title="Per factory",
                headers=(
                    "Factory",
                    "Factory name",
                    "Units",
                    money_header("Spend", currency),
                ),
                rows=[
                    (
                        f,
                        names.factory(f),
                        shown.factory_units[f],
                        Money(shown.factory_spend.get(f, zero), currency),
                    )
                    for f in sorted(shown.factory_units)
                ],
            ),
            Sheet(
                view="totals",
                title="Totals",
                headers=("Allocation", "Figure", "Value"),
                rows=[
                    (
                        row.id,
                        money_header("Objective", currency),
                        Money(shown.objective, currency),
                    ),
                    *(
                        (row.id, _header(f, currency), _cell(f, f.total(shown), currency))
                        for f in ALLOCATION_FIGURES
                    ),
                ],
            ),
        ),
    )


def money_or_none(value: Decimal | None, currency: str) -> Money | None:
    """Money in its currency, or an empty cell."""
    return None if value is None else Money(value, currency)


def _sides(
    figure: _Figure, base: Decimal | int, other: Decimal | int, currency: str
) -> tuple[Cell, ...]:
    return (
        _cell(figure, base, currency),
        _cell(figure, other, currency),
        _cell(figure, other - base, currency),
    )


def comparison_report(c: Comparison, currency: str) -> Report:
    """Two allocations side by side, per item, per factory and in total (change: other - base)."""
    a, b = c.base_figures, c.other_figures
    sides = ("base", "other", "change")
    factory_figures = ALLOCATION_FIGURES[:2]
    return Report(
        name=f"compare-{c.base.id}-{c.other.id}",
        sheets=(
            Sheet(
                view="item",
                title="Per item",
                headers=(
                    "Item",
                    "Item name",
                    *(_header(f, currency, side) for f in ALLOCATION_FIGURES for side in sides),
                ),
                rows=[
                    (
                        i,
                        c.names.item(i),
                        *(
                            cell
                            for f in ALLOCATION_FIGURES
                            for cell in _sides(
                                f, f.per_item(a).get(i, 0), f.per_item(b).get(i, 0), currency
                            )
                        ),
                    )
                    for i in c.item_ids()
                ],
            ),
            Sheet(
                view="factory",
                title="Per factory",
                headers=(
                    "Factory",
                    "Factory name",
                    *(_header(f, currency, side) for f in factory_figures for side in sides),
                ),
                rows=[
                    (
                        f,
                        c.names.factory(f),
                        *_sides(
                            factory_figures[0],
                            a.factory_units.get(f, 0),
                            b.factory_units.get(f, 0),
                            currency,
                        ),
                        *_sides(
                            factory_figures[1],
                            a.factory_spend.get(f, Decimal(0)),
                            b.factory_spend.get(f, Decimal(0)),
                            currency,
                        ),
                    )
                    for f in c.factory_ids()
                ],
            ),
            Sheet(
                view="totals",
                title="Totals",
                headers=("Figure", "Base", "Other", "Change"),
                rows=[
                    ("Allocation", c.base.id, c.other.id, None),
                    (
                        money_header("Objective", currency),
                        *(
                            Money(v, currency)
                            for v in (a.objective, b.objective, b.objective - a.objective)
                        ),
                    ),
                    *(
                        (_header(f, currency), *_sides(f, f.total(a), f.total(b), currency))
                        for f in ALLOCATION_FIGURES
                    ),
                ],
            ),
        ),
    )
