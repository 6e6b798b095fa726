"""The `supplybid` command: one entry point for operators and scripts (API.md, command line)."""

import typer

from cli import service_commands, solver_commands

app = typer.Typer(
    name="supplybid",
    help="Consignment supply-model bidding engine: service, allocator and audit tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
solver_commands.register(app)
service_commands.register(app)
