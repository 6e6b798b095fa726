"""The `supplybid` command: one entry point for operators and scripts (API.md, command line)."""

import typer

app = typer.Typer(
    name="supplybid",
    help="Consignment supply-model bidding engine: service, allocator and audit tools.",
    no_args_is_help=True,
    add_completion=False,
)
