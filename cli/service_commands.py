"""The service commands of `supplybid`."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `supplybid` app."""
