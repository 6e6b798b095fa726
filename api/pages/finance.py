"""Finance pages: margin audit, takeover, statements and result, replay, the audit log.

Every report is also a CSV and an XLSX download built by the same `bidding.reports`
tables as the API's `?format=` answers.
"""

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from api import charts
from api.deps import SessionDep
from api.web import AuditPage, FinancePage, render
from bidding import audit, finance, reports, rounds, settlement, takeover, workspace
from bidding.exports import Report, to_bytes
from bidding.models import RoundState
from bidding.names import factory_names, item_names
from bidding.values import from_ppb
from bidding.web_sessions import SignedIn

router = APIRouter(include_in_schema=False)

DownloadFormat = Annotated[Literal["csv", "xlsx"], Query()]
DATE = r"^\d{4}-\d{2}-\d{2}$"


def download(report: Report, fmt: str) -> Response:
    """A report as an attachment, CSV or XLSX."""
    content, media_type, filename = to_bytes(report, fmt)
    return Response(
        content=content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/finance")
def finance_home(request: Request, session: SessionDep, viewer: FinancePage) -> HTMLResponse:
    """Published and settled rounds, each with its statements and result."""
    rows = [
        r
        for r in rounds.list_rounds(
            session=session, principal=viewer.principal, after=None, limit=500
        )
        if r.state in (RoundState.published, RoundState.settled)
    ]
    published = {
        r.id: settlement.published_allocation(session=session, round_id=r.id) for r in rows
    }
    return render(request, "finance/home.html", viewer, {"rounds": rows, "published": published})


@router.get("/finance/margins")
def margin_audit_page(request: Request, session: SessionDep, viewer: FinancePage) -> HTMLResponse:
    """The margin audit's findings, and each factory's margin against its round's floor."""
    result = finance.margin_audit(session=session)
    names = factory_names(session=session)
    bars: list[str] = []
    margins = []
    floors = []
    for published in settlement.published_rounds(session=session):
        floor = from_ppb(published.round.margin_floor_ppb)
        for line in takeover.statements(published.awards, published.takeover or {}):
            bars.append(f"{names.get(line.factory, line.factory)} · {published.round.name}")
            margins.append(line.margin)
            floors.append(floor)
    lowest = charts.largest(range(len(bars)), lambda n: -(margins[n] or Decimal(0)))
    figure = charts.margins_against_floor(
        [bars[n] for n in lowest],
        [margins[n] for n in lowest],
        [floors[n] for n in lowest],
        charts.titled(
            "Factory margins against their round's floor", len(lowest), len(bars), "lowest"
        ),
    )
    return render(
        request,
        "finance/margins.html",
        viewer,
        {"audit": result, "figure": figure, "charts": bool(bars), "factory_names": names},
    )


@router.get("/finance/takeover")
def takeover_page(request: Request, session: SessionDep, viewer: FinancePage) -> HTMLResponse:
    """Takeover liability per round and item: expected at publication against settled."""
    lines = finance.takeover_audit(session=session)
    items = item_names(session=session, item_ids={line.expected.item for line in lines})
    labels = [
        f"{items.get(line.expected.item, line.expected.item)} · {line.round}" for line in lines
    ]
    figure = charts.expected_against_settled(
        labels,
        [line.expected.takeover_spend for line in lines],
        [line.settled.takeover_spend if line.settled else None for line in lines],
    )
    return render(
        request,
        "finance/takeover.html",
        viewer,
        {"lines": lines, "figure": figure, "charts": bool(lines), "item_names": items},
    )


AUDIT_REPORTS: dict[str, Callable[[Session], Report]] = {
    "margins": lambda session: reports.margins_report(finance.margin_audit(session=session)),
    "takeover": lambda session: reports.takeover_report(finance.takeover_audit(session=session)),
}


@router.get("/finance/{report}/download")
def audit_report_download(
    session: SessionDep,
    viewer: FinancePage,
    report: Literal["margins", "takeover"],
    format: DownloadFormat,
) -> Response:
    """The margin audit or the takeover audit as CSV or XLSX."""
    return download(AUDIT_REPORTS[report](session), format)


@router.get("/finance/rounds/{round_id}")
def round_report(
    request: Request, session: SessionDep, viewer: FinancePage, round_id: str
) -> HTMLResponse:
    """A round's statements per factory and the platform's result, expected against realised."""
    statements = settlement.round_statements(
        session=session, principal=viewer.principal, round_id=round_id
    )
    published = settlement.round_result(
        session=session, principal=viewer.principal, round_id=round_id
    )
    return render(
        request,
        "finance/round.html",
        viewer,
        {
            "round": statements.round,
            "statements": statements,
            "expected": published.expected(),
            "realised": published.realised(),
            "allocation": published.allocation,
            "factory_names": factory_names(
                session=session, factory_ids={line.factory for line in statements.lines}
            ),
        },
    )


def _round_report(session: Session, viewer: SignedIn, round_id: str, report: str) -> Report:
    if report == "statements":
        return reports.statements_report(
            settlement.round_statements(
                session=session, principal=viewer.principal, round_id=round_id
            )
        )
    return reports.result_report(
        settlement.round_result(session=session, principal=viewer.principal, round_id=round_id)
    )


@router.get("/finance/rounds/{round_id}/{report}/download")
def round_report_download(
    session: SessionDep,
    viewer: FinancePage,
    round_id: str,
    report: Literal["statements", "result"],
    format: DownloadFormat,
) -> Response:
    """A round's statements or the platform's result as CSV or XLSX."""
    return download(_round_report(session, viewer, round_id, report), format)


@router.get("/finance/replay")
def replay_form(request: Request, session: SessionDep, viewer: FinancePage) -> HTMLResponse:
    """Pick a published allocation to solve again from its stored problem."""
    published = [(p.round, p.allocation) for p in settlement.published_rounds(session=session)]
    return render(request, "finance/replay.html", viewer, {"published": published})


@router.post("/finance/replay")
def replay_run(
    request: Request,
    session: SessionDep,
    viewer: FinancePage,
    allocation_id: Annotated[str, Form(max_length=64)],
) -> HTMLResponse:
    """Re-solve the allocation; identical, or the differences (audited)."""
    answer = finance.replay_allocation(
        session=session, actor=viewer.principal, allocation_id=allocation_id
    )
    published = [(p.round, p.allocation) for p in settlement.published_rounds(session=session)]
    return render(
        request, "finance/replay.html", viewer, {"published": published, "replay": answer}
    )


@router.get("/finance/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    viewer: AuditPage,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[str | None, Query(max_length=10)] = None,
    until: Annotated[str | None, Query(max_length=10)] = None,
    after: Annotated[int, Query(ge=0, le=10**18)] = 0,
) -> HTMLResponse:
    """The chain's verification, and the events filtered by entity, actor and date."""
    where = workspace.EventFilter(
        entity=entity or None,
        actor=actor or None,
        since=since if since and re.fullmatch(DATE, since) else None,
        until=until if until and re.fullmatch(DATE, until) else None,
    )
    events = workspace.audit_events(session=session, where=where, after_seq=after)
    return render(
        request,
        "finance/audit.html",
        viewer,
        {
            "report": audit.verify_chain(session),
            "allocations": finance.verify_published_allocations(session=session),
            "events": events,
            "where": where,
            "next_after": events[-1].seq if len(events) == workspace.PAGE_ROWS else None,
        },
    )
