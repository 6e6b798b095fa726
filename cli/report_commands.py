"""`supplybid report ...` and `supplybid audit published`: finance's reports from the database.

They read the database named by SUPPLYBID_DATABASE_URL, as the command line (role
`system`: every factory's lines), and write JSON, CSV or XLSX with the same figures as the
API's `?format=`.
"""

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console
from sqlmodel import Session

from bidding import finance, reports, settlement
from bidding.db import get_engine, session_scope
from bidding.errors import BiddingError
from bidding.exports import VIEWS, Report, to_csv, to_xlsx
from bidding.principal import SYSTEM
from cli.database import require_database

_err = Console(stderr=True)

report_app = typer.Typer(
    help="Finance reports: statements, platform result, margin audit, takeover.",
    no_args_is_help=True,
)


class Format(StrEnum):
    """What a report is written as."""

    json = "json"
    csv = "csv"
    xlsx = "xlsx"


RoundOption = Annotated[str, typer.Option("--round", help="The round's id.")]
FormatOption = Annotated[Format, typer.Option("--format", help="json, csv or xlsx.")]
ViewOption = Annotated[
    str | None,
    typer.Option(
        "--view",
        help=f"CSV: the view written ({', '.join(VIEWS)}; the report's first by default); "
        "XLSX: the sheet it opens on.",
    ),
]
OutputOption = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
]


def _write(content: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(content)
    _err.print(f"written to {output}")


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _report(
    build: Callable[[Session], tuple[BaseModel, Report]],
    fmt: Format,
    output: Path | None,
    view: str | None = None,
) -> None:
    if fmt == Format.xlsx and output is None and _stdout_is_terminal():
        _err.print(
            "[red]refused:[/red] an XLSX workbook is binary and would garble this terminal: "
            "give -o FILE, or redirect the output to a file",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    require_database()
    try:
        with session_scope(get_engine()) as session:
            body, report = build(session)
        if fmt == Format.csv:
            content = to_csv(report, view)
        elif fmt == Format.xlsx:
            content = to_xlsx(report, view)
        else:
            content = body.model_dump_json(indent=2).encode() + b"\n"
    except BiddingError as exc:
        _err.print(f"[red]refused:[/red] {exc.detail}")
        raise typer.Exit(2) from exc
    _write(content, output)


@report_app.command("statements")
def report_statements(
    round_id: RoundOption,
    fmt: FormatOption = Format.json,
    output: OutputOption = None,
    view: ViewOption = None,
) -> None:
    """Every factory's statement of a published or settled round."""
    from api.schemas.finance import StatementsPublic

    def build(session: Session) -> tuple[BaseModel, Report]:
        report = settlement.round_statements(session=session, principal=SYSTEM, round_id=round_id)
        return StatementsPublic.of(report), reports.statements_report(report)

    _report(build, fmt, output, view)


@report_app.command("result")
def report_result(
    round_id: RoundOption,
    fmt: FormatOption = Format.json,
    output: OutputOption = None,
    view: ViewOption = None,
) -> None:
    """The platform's result of a round: expected at publication and realised."""
    from api.schemas.finance import RoundResultPublic

    def build(session: Session) -> tuple[BaseModel, Report]:
        published = settlement.round_result(session=session, principal=SYSTEM, round_id=round_id)
        return RoundResultPublic.of(published), reports.result_report(published)

    _report(build, fmt, output, view)


@report_app.command("margins")
def report_margins(fmt: FormatOption = Format.json, output: OutputOption = None) -> None:
    """Every published award re-checked by the independent verifier; exit 1 on any finding."""
    from api.schemas.finance import MarginAuditPublic

    found: list[int] = []

    def build(session: Session) -> tuple[BaseModel, Report]:
        audit = finance.margin_audit(session=session)
        found.append(len(audit.findings))
        return MarginAuditPublic.of(audit), reports.margins_report(audit)

    _report(build, fmt, output)
    if found and found[0]:
        raise typer.Exit(1)


@report_app.command("takeover")
def report_takeover(
    round_id: Annotated[
        str | None, typer.Option("--round", help="One round only (default: all).")
    ] = None,
    fmt: FormatOption = Format.json,
    output: OutputOption = None,
    view: ViewOption = None,
) -> None:
    """Takeover liability per published round and item: expected and settled."""
    from api.schemas.finance import TakeoverAuditPublic

    def build(session: Session) -> tuple[BaseModel, Report]:
        lines = finance.takeover_audit(session=session, round_id=round_id)
        return TakeoverAuditPublic.of(lines), reports.takeover_report(lines)

    _report(build, fmt, output, view)


def audit_published() -> None:
    """Check published allocations' award rows and results against their publish hashes."""
    require_database()
    with session_scope(get_engine()) as session:
        findings = finance.verify_published_allocations(session=session)
    for f in findings:
        print(f"round {f.round} allocation {f.allocation}: {f.finding}")
    if findings:
        raise typer.Exit(1)
    print("published allocations ok: award rows and results as published")
