"""The workspace's charts, built as plotly figures on the server; one static script draws them."""

import heapq
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

from bidding.workspace import TabulatedItem

CHART_BARS = 40
"""Bars of a chart by item or factory: the largest forty of 2,500 items are readable, all not."""


def largest[K](keys: Iterable[K], size: Callable[[K], Any]) -> list[K]:
    """The CHART_BARS keys of largest size, largest first; all of them when fewer."""
    return heapq.nlargest(CHART_BARS, keys, key=size)


def titled(title: str, shown: int, total: int, which: str) -> str:
    """A chart's title, saying when it shows only some bars: "(the 40 largest of 2,500)"."""
    if shown >= total:
        return title
    return f"{title} (the {shown} {which} of {total:,})".strip()


GREEN = "#1b7f3b"
RED = "#b3261e"
BLUE = "#1f5fa8"
GREY = "#6b7280"


def _layout(title: str, x: str, y: str) -> go.Layout:
    return go.Layout(
        title={"text": title, "font": {"size": 14}},
        xaxis={"title": {"text": x}},
        yaxis={"title": {"text": y}},
        margin={"l": 60, "r": 20, "t": 40, "b": 60},
        height=340,
        showlegend=True,
        legend={"orientation": "h", "y": -0.25},
    )


def supply_curve(item: TabulatedItem, awarded_units: int | None = None) -> go.Figure:
    """Capacity offered by supply price, with the demand scenarios and where the award stops."""
    xs: list[int] = [0]
    ys: list[float] = []
    for bid in item.bids:
        ys.append(float(bid.supply_price))
        xs.append(bid.cumulative)
    ys.append(ys[-1] if ys else 0.0)
    figure = go.Figure(layout=_layout(f"Supply curve: {item.name}", "units", "supply price"))
    figure.add_trace(
        go.Scatter(x=xs, y=ys, mode="lines", line={"shape": "hv", "color": BLUE}, name="offered")
    )
    top = max(ys) * 1.05 if ys else 1.0
    bottom = min(ys) * 0.9 if ys else 0.0
    for units, probability in item.demand:
        figure.add_trace(
            go.Scatter(
                x=[units, units],
                y=[bottom, top],
                mode="lines",
                line={"dash": "dot", "color": GREY},
                name=f"demand {units} (p={float(probability):.2f})",
            )
        )
    if awarded_units is not None:
        figure.add_trace(
            go.Scatter(
                x=[awarded_units, awarded_units],
                y=[bottom, top],
                mode="lines",
                line={"color": GREEN, "width": 3},
                name=f"award stops at {awarded_units}",
            )
        )
    figure.update_yaxes(range=[bottom, top])
    return figure


def capacity_use(
    names: Sequence[str], used: Sequence[float], caps: Sequence[float | None], title: str = ""
) -> go.Figure:
    """Each factory's awarded units over its monthly capacity, against its share cap."""
    figure = go.Figure(layout=_layout(title or "Capacity used against the share cap", "", "share"))
    figure.add_trace(go.Bar(x=list(names), y=list(used), name="used", marker_color=BLUE))
    figure.add_trace(
        go.Scatter(
            x=list(names),
            y=[c if c is not None else None for c in caps],
            mode="markers",
            marker={"symbol": "line-ew-open", "size": 24, "color": RED},
            name="share cap",
        )
    )
    figure.update_yaxes(tickformat=".0%")
    return figure


def by_item_bars(
    title: str,
    names: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal], str]],
    second: tuple[str, Sequence[Decimal], str] | None = None,
) -> go.Figure:
    """One bar per item for each named series; `second` (units beside money) on its own axis."""
    figure = go.Figure(layout=_layout(title, "", series[0][0] if len(series) == 1 else ""))
    for index, (label, values, color) in enumerate(series):
        figure.add_trace(
            go.Bar(
                x=list(names),
                y=[float(v) for v in values],
                name=label,
                marker_color=color,
                offsetgroup=index,
            )
        )
    if second is not None:
        label, values, color = second
        figure.add_trace(
            go.Bar(
                x=list(names),
                y=[float(v) for v in values],
                name=label,
                marker_color=color,
                yaxis="y2",
                offsetgroup=len(series),
            )
        )
        figure.update_layout(
            yaxis2={"title": {"text": label}, "overlaying": "y", "side": "right"},
            barmode="group",
        )
    return figure


def margins_against_floor(
    names: Sequence[str],
    margins: Sequence[Decimal | None],
    floors: Sequence[Decimal],
    title: str = "",
) -> go.Figure:
    """Each factory's net margin, red below its round's floor (drawn as a dashed mark)."""
    figure = go.Figure(layout=_layout(title or "Margins against the floor", "", "net margin"))
    values = [float(m) if m is not None else None for m in margins]
    colors = [
        GREEN if m is not None and m >= f else RED for m, f in zip(margins, floors, strict=True)
    ]
    figure.add_trace(go.Bar(x=list(names), y=values, name="net margin", marker_color=colors))
    figure.add_trace(
        go.Scatter(
            x=list(names),
            y=[float(f) for f in floors],
            mode="markers",
            marker={"symbol": "line-ew-open", "size": 30, "color": RED, "line": {"width": 2}},
            name="margin floor",
        )
    )
    low = min([0.0, *(v for v in values if v is not None)])
    top = max([float(f) for f in floors] + [v for v in values if v is not None] + [0.01])
    figure.update_yaxes(tickformat=".1%", range=[low, top * 1.15])
    return figure


def expected_against_settled(
    labels: Sequence[str], expected: Sequence[Decimal], settled: Sequence[Decimal | None]
) -> go.Figure:
    """Takeover cost expected at publication against what the settlement took over."""
    figure = go.Figure(layout=_layout("Takeover: expected against settled", "", "takeover cost"))
    figure.add_trace(
        go.Bar(x=list(labels), y=[float(v) for v in expected], name="expected", marker_color=GREY)
    )
    figure.add_trace(
        go.Bar(
            x=list(labels),
            y=[float(v) if v is not None else None for v in settled],
            name="settled",
            marker_color=BLUE,
        )
    )
    return figure
