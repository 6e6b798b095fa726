"""The configured database, checked before a command uses it."""

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from bidding.settings import get_settings

_err = Console(stderr=True)


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def require_database() -> None:
    """Exit 2 with one sentence unless the configured database exists and is migrated.

    Checked before anything connects, so that a command run from another folder never
    creates a stray SQLite file there, and an unmigrated database is not a traceback.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    import migrations

    url = get_settings().database_url
    parsed = make_url(url)
    shown = redacted(url)
    hint = "run `supplybid db upgrade` first, or set SUPPLYBID_DATABASE_URL"
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "").resolve()
        if not path.is_file():
            _refuse(f"no database at {path}: {hint}")
    try:
        current, heads = migrations.revisions(url)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _refuse(f"cannot reach the database at {shown}: {reason}")
    if not current:
        _refuse(f"the database at {shown} is not set up: {hint}")
    if current != heads:
        at, needed = ", ".join(sorted(current)), ", ".join(sorted(heads))
        _refuse(
            f"the database at {shown} is at revision {at}, this version needs {needed}: "
            "run `supplybid db upgrade`"
        )


def require_audit_key() -> None:
    """Exit 2 with one sentence unless the settings give an audit key fit to key the chain.

    The server and workers write audit events from their first request or job: without the
    key they would write a chain anyone could recompute, or fail on one already keyed.
    """
    from bidding.audit import audit_key_refusal

    refusal = audit_key_refusal(get_settings())
    if refusal is not None:
        _refuse(refusal)


def _refuse(sentence: str) -> NoReturn:
    _err.print(f"[red]refused:[/red] {sentence}", soft_wrap=True, markup=True, highlight=False)
    raise typer.Exit(2)
