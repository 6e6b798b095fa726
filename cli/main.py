"""The `supplybid` command: one entry point for operators and scripts (API.md, command line)."""

import sys

import typer
from typer import _click as click  # typer's own (vendored) click
from typer.core import TyperGroup

from cli import solver_commands


class _LazyServiceGroup(TyperGroup):
    """The top-level group; the service commands are imported only when one is needed.

    The service commands import the database stack (sqlalchemy, sqlmodel, the domain),
    about half a second of start-up that `solve`, `verify` and `generate` never use. They
    are loaded on the first lookup of a name that is not already known, or for a listing
    (`supplybid --help`), with their names, options and help exactly as registered.
    """

    _service_loaded = False

    def _load_service_commands(self) -> None:
        if self._service_loaded:
            return
        self._service_loaded = True
        from cli import service_commands

        service = typer.Typer()
        service_commands.register(service)
        for name, command in typer.main.get_group(service).commands.items():
            self.commands.setdefault(name, command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_service_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and not self._service_loaded:
            self._load_service_commands()
            command = super().get_command(ctx, cmd_name)
        return command


app = typer.Typer(
    name="supplybid",
    help="Consignment supply-model bidding engine: service, allocator and audit tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_LazyServiceGroup,
)
solver_commands.register(app)


def main() -> None:
    """The console entry point: a database fault, or a keyed audit chain written without its
    key, is one sentence and exit code 2, not a trace."""
    try:
        app()
    except Exception as exc:
        audit = sys.modules.get("bidding.audit")
        if audit is not None and isinstance(exc, audit.AuditKeyMissingError):
            print(f"refused: {exc}", file=sys.stderr)
            sys.exit(2)
        database_errors = sys.modules.get("sqlalchemy.exc")
        if database_errors is None or not isinstance(exc, database_errors.SQLAlchemyError):
            raise
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"refused: the database answered: {reason}", file=sys.stderr)
        sys.exit(2)
