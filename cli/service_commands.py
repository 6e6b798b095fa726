"""The service commands of `supplybid`: database, server, keys, audit, demo data."""

from typing import Annotated

import typer
from rich.console import Console

from bidding.audit import verify_chain
from bidding.db import get_engine, session_scope
from bidding.errors import BiddingError
from bidding.models import Role
from bidding.principal import SYSTEM
from bidding.settings import get_settings

_err = Console(stderr=True)

db_app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)
keys_app = typer.Typer(help="Make API keys.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the audit log.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data for trying the service.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Create or migrate the database named by SUPPLYBID_DATABASE_URL."""
    import migrations

    url = get_settings().database_url
    migrations.upgrade(url, revision)
    _err.print(f"database at {revision}: {_redacted(url)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Migrate the database down (by default one revision)."""
    import migrations

    url = get_settings().database_url
    migrations.downgrade(url, revision)
    _err.print(f"database downgraded to {revision}: {_redacted(url)}")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the API on the configured database."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(), host=host, port=port)


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="admin, manager, finance or factory.")],
    factory: Annotated[str | None, typer.Option(help="The factory id of a factory key.")] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Make an API key; the key alone is the last line printed (it is shown only once)."""
    from bidding import keys

    try:
        with session_scope(get_engine()) as session:
            made = keys.create_key(
                session=session, actor=SYSTEM, role=role, factory_id=factory, name=name
            )
    except BiddingError as exc:
        _err.print(f"[red]refused:[/red] {exc.detail}")
        raise typer.Exit(2) from exc
    print(f"{made.row.role} key {made.row.id} (shown once, keep it):")
    print(made.secret)


@audit_app.command("verify")
def audit_verify() -> None:
    """Verify the audit log's hash chain; exit 1 at the first broken link."""
    with session_scope(get_engine()) as session:
        report = verify_chain(session)
    if report.ok:
        print(f"audit chain ok: {report.events_checked} events")
        return
    print(f"audit chain BROKEN at event {report.first_broken_seq}: {report.reason}")
    raise typer.Exit(1)


@demo_app.command("seed")
def demo_seed(
    base_url: Annotated[str, typer.Option(help="Where the API will be served.")] = (
        "http://127.0.0.1:8000"
    ),
) -> None:
    """Seed a demo category with an open round, and print a fresh key per role."""
    from bidding.demo import seed_demo

    with session_scope(get_engine()) as session:
        seed = seed_demo(session=session)
    print(f"Demo round {seed.round_id} is open; items: {', '.join(seed.item_ids)}")
    print(f"API docs: {base_url}/docs")
    print("API keys (shown once):")
    for role, key in seed.keys.items():
        suffix = f" (factory {seed.factory_id})" if role == "factory" else ""
        print(f"  {role:8} {key}{suffix}")
    item = seed.item_ids[0]
    print("Try:")
    print(f'  curl -H "Authorization: Bearer {seed.keys["manager"]}" {base_url}/v1/rounds')
    print(
        f'  curl -X POST -H "Authorization: Bearer {seed.keys["factory"]}" '
        f'-H "Content-Type: application/json" -H "Idempotency-Key: demo-1" '
        f'-d \'{{"item": "{item}", "unit_cost": "18.50", "capacity": 8000}}\' '
        f"{base_url}/v1/rounds/{seed.round_id}/bids"
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `supplybid` app."""
    app.add_typer(db_app, name="db")
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.add_typer(demo_app, name="demo")
