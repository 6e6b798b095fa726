"""The service commands of `supplybid`: database, server, keys, audit, demo data."""

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bidding.audit import verify_chain
from bidding.db import get_engine, session_scope
from bidding.errors import BiddingError, InvalidInput
from bidding.models import Role
from bidding.principal import SYSTEM
from bidding.settings import get_settings
from cli.database import redacted, require_audit_key, require_database

_err = Console(stderr=True)

db_app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)
keys_app = typer.Typer(help="Make API keys.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the audit log.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data for trying the service.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Create or migrate the database, as its owner; on PostgreSQL also grant the app's role.

    With SUPPLYBID_OWNER_DATABASE_URL set, that role migrates, creates the job queue's
    schema and grants the role of SUPPLYBID_DATABASE_URL just the rights the app uses
    (the audit log: append and read only). Without it, SUPPLYBID_DATABASE_URL does it all.
    """
    import migrations
    from bidding.db import make_engine

    settings = get_settings()
    url = settings.owner_database_url or settings.database_url
    migrations.upgrade(url, revision)
    _err.print(f"database at {revision}: {redacted(url)}")
    if not url.startswith("postgresql"):
        return
    from sqlalchemy.engine import make_url

    from bidding.jobs import apply_procrastinate_schema
    from migrations.roles import RoleError, grant_app_rights

    owner = make_engine(url, pool_size=1)
    try:
        if apply_procrastinate_schema(owner):
            _err.print("procrastinate job queue schema created")
        app_role = make_url(settings.database_url).username
        if settings.owner_database_url is None or app_role is None:
            _err.print(
                "[yellow]warning:[/yellow] the app's role owns the tables, so it can rewrite "
                "the audit log: set SUPPLYBID_OWNER_DATABASE_URL (README)"
            )
            return
        try:
            with owner.begin() as connection:
                grant_app_rights(connection, app_role)
        except RoleError as exc:
            _err.print(f"[red]refused:[/red] {exc}")
            raise typer.Exit(2) from exc
        _err.print(f"granted role {app_role}: the app's rights (audit log: append and read)")
    finally:
        owner.dispose()


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Migrate the database down (by default one revision), as its owner."""
    import migrations

    settings = get_settings()
    url = settings.owner_database_url or settings.database_url
    migrations.downgrade(url, revision)
    _err.print(f"database downgraded to {revision}: {redacted(url)}")


WORKER_HEALTHCHECK_S = 30
"""How long a `--workers` process may take to answer uvicorn's health ping before it is
replaced."""


def refuse_workers_without_a_jobs_lock() -> None:
    """Exit 2 where several processes would each run the embedded job queue.

    The embedded queue runs in the process that holds the SQLite file's jobs lock; with no
    such file (PostgreSQL with the embedded queue, a SQLite URI) every process would run
    one, and each one's start would requeue the others' running solves.
    """
    from sqlalchemy.engine import make_url

    from bidding.jobs import backend_name

    settings = get_settings()
    if backend_name(settings) != "embedded":
        return
    url = make_url(settings.database_url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and not database.startswith("file:"):
        return
    _err.print(
        "[red]refused:[/red] --workers above 1 needs the jobs lock of a SQLite database file, "
        "or the procrastinate queue on PostgreSQL (SUPPLYBID_JOB_QUEUE=procrastinate)"
    )
    raise typer.Exit(2)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes on the one port (about one per core; docs/reliability.md "
            "says what is per process).",
        ),
    ] = 1,
) -> None:
    """Serve the API on the configured database."""
    import uvicorn

    if workers > 1:
        refuse_workers_without_a_jobs_lock()
    require_audit_key()
    require_database()
    # An import string: with several workers each process builds its own app (its own
    # engine, pool, limiter and queue); on SQLite one of them runs the embedded jobs.
    uvicorn.run(
        "api.app:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        server_header=False,
        timeout_keep_alive=max(1, round(get_settings().keep_alive_s)),
        # uvicorn kills a worker that misses its health ping this long: 5 s by default,
        # which a worker starved of CPU on a loaded machine can miss; so only a really
        # hung one is replaced.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )


def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Solves run at once in this process.")
    ] = 1,
) -> None:
    """Run solve jobs from the PostgreSQL job queue until stopped (SIGINT or SIGTERM)."""
    import logging

    from bidding.jobs import backend_name, run_worker

    settings = get_settings()
    if backend_name(settings) != "procrastinate":
        _err.print("[red]refused:[/red] `supplybid worker` needs PostgreSQL (procrastinate)")
        raise typer.Exit(2)
    require_audit_key()
    require_database()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run_worker(settings, get_engine(), concurrency=concurrency)


class KeyRole(StrEnum):
    """The roles an API key can have (the command line's own `system` is not one)."""

    admin = Role.admin.value
    manager = Role.manager.value
    finance = Role.finance.value
    factory = Role.factory.value


@keys_app.command("create")
def keys_create(
    role: Annotated[KeyRole, typer.Option(help="admin, manager, finance or factory.")],
    factory: Annotated[str | None, typer.Option(help="The factory id of a factory key.")] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Make an API key; the key alone is the last line printed (it is shown only once)."""
    from bidding import keys
    from bidding.values import name_fault, normal_name

    fault = name_fault(normal_name(name))
    if fault is not None:  # the rule of the API's names
        _err.print(f"[red]refused:[/red] --name {fault}", soft_wrap=True, highlight=False)
        raise typer.Exit(2)
    require_database()
    try:
        with session_scope(get_engine()) as session:
            made = keys.create_key(
                session=session,
                actor=SYSTEM,
                role=Role(role),
                factory_id=factory,
                name=normal_name(name),
            )
    except BiddingError as exc:
        _err.print(f"[red]refused:[/red] {exc.detail}")
        raise typer.Exit(2) from exc
    print(f"{made.row.role} key {made.row.id} (shown once, keep it):")
    print(made.secret)


@audit_app.command("verify")
def audit_verify(
    head_seq: Annotated[
        int | None,
        typer.Option(help="Sequence number of the head recorded at the last verification."),
    ] = None,
    head_hash: Annotated[
        str | None, typer.Option(help="Hash of that head (hmac-sha256:...), recorded with it.")
    ] = None,
) -> None:
    """Verify the audit log's hash chain and the published allocations; exit 1 on any break.

    Every head in SUPPLYBID_AUDIT_ANCHOR_PATH is checked against the chain; a head printed
    by an earlier verification (--head-seq, --head-hash) can be given as well.
    """
    from bidding.finance import verify_published_allocations

    require_database()
    try:
        with session_scope(get_engine()) as session:
            report = verify_chain(session, head_seq=head_seq, head_hash=head_hash)
            published = verify_published_allocations(session=session)
    except InvalidInput as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise typer.Exit(2) from exc
    if not report.ok:
        print(f"audit chain BROKEN at event {report.first_broken_seq}: {report.reason}")
    for finding in published:
        where = f"published allocation {finding.allocation} (round {finding.round})"
        print(f"{where}: {finding.finding}")
    if not report.ok or published:
        raise typer.Exit(1)
    print(f"audit chain ok: {report.events_checked} events; published allocations as published")
    keyed = f"from event {report.keyed_from_seq}" if report.keyed_from_seq else "no (plain sha256)"
    anchored = f"up to event {report.anchored_seq}" if report.anchored_seq else "no anchor file"
    print(f"keyed (HMAC): {keyed}; anchor file: {anchored}")
    print(f"head to record: --head-seq {report.head_seq} --head-hash {report.head_hash}")


@audit_app.command("new-key")
def audit_new_key(
    path: Annotated[Path, typer.Argument(help="The file to write the key to (mode 0600).")],
) -> None:
    """Write a new random audit key to a file, once: an existing file is kept as it is.

    For development (`make run` points SUPPLYBID_AUDIT_KEY_FILE at var/audit-key); in
    production finance makes and holds the key.
    """
    import secrets

    if path.is_file() and path.read_text(encoding="utf-8").strip():
        print(f"audit key kept: {path}")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)
    print(f"audit key written: {path} (mode 0600)")


@demo_app.command("seed")
def demo_seed(
    base_url: Annotated[str, typer.Option(help="Where the API will be served.")] = (
        "http://127.0.0.1:8000"
    ),
    keys_file: Annotated[
        Path, typer.Option(help="Where the demo's keys are kept (written once, mode 0600).")
    ] = Path("var/demo-keys.txt"),
) -> None:
    """Seed a demo category with an open round once, and keep a key per role in a file.

    A later run changes nothing and says where the keys are; if that file is gone, the old
    demo keys are revoked and fresh ones written.
    """
    from bidding.demo import seed_demo

    require_database()
    with session_scope(get_engine()) as session:
        seed = seed_demo(session=session, fresh_keys=not keys_file.is_file())
    if not seed.keys:
        print(f"Demo round {seed.round_id} was seeded before; its keys are in {keys_file}")
        print(f"API docs: {base_url}/docs")
        return
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(_demo_variables(seed.round_id, seed.item_ids, seed.keys, base_url))
    os.chmod(keys_file, 0o600)  # an older file keeps its mode through O_TRUNC
    print(_demo_text(seed.round_id, seed.item_ids, seed.factory_id, seed.keys, base_url), end="")
    print(f"These keys are kept in {keys_file} (mode 0600): `. {keys_file}` sets them in a shell.")


def _demo_variables(round_id: str, item_ids: list[str], made: dict[str, str], base_url: str) -> str:
    """The demo's ids and keys as shell variables, for the README's walk-through."""
    lines = [
        "# supplybid demo: `. var/demo-keys.txt` sets these for the README's curl lines",
        f"B={base_url}",
        f"ROUND={round_id}",
        *(f"ITEM{n}={item}" for n, item in enumerate(item_ids, start=1)),
        f"ITEM={item_ids[0]}",
        *(f"{role.upper()}_KEY={key}" for role, key in made.items()),
    ]
    return "\n".join(lines) + "\n"


def _demo_text(
    round_id: str, item_ids: list[str], factory_id: str, made: dict[str, str], base_url: str
) -> str:
    item = item_ids[0]
    lines = [
        f"Demo round {round_id} is open; items: {', '.join(item_ids)}",
        f"API docs: {base_url}/docs",
        "API keys (shown once):",
        *(
            f"  {role:8} {key}" + (f" (factory {factory_id})" if role == "factory" else "")
            for role, key in made.items()
        ),
        "Try:",
        f'  curl -H "Authorization: Bearer {made["manager"]}" {base_url}/v1/rounds',
        f'  curl -X POST -H "Authorization: Bearer {made["factory"]}" '
        f'-H "Content-Type: application/json" -H "Idempotency-Key: demo-1" '
        f'-d \'{{"item": "{item}", "unit_cost": "18.50", "capacity": 8000}}\' '
        f"{base_url}/v1/rounds/{round_id}/bids",
    ]
    return "\n".join(lines) + "\n"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `supplybid` app."""
    app.add_typer(db_app, name="db")
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(keys_app, name="keys")
    from cli.report_commands import audit_published, report_app

    audit_app.command("published")(audit_published)
    app.add_typer(audit_app, name="audit")
    app.add_typer(report_app, name="report")
    app.add_typer(demo_app, name="demo")
