"""PostgreSQL roles: the app's own role cannot rewrite the audit log, and has what it uses.

`supplybid db upgrade` runs with the owner's URL and grants the app's role; the app then
connects as that role. What the app's role can do to `audit_event`: INSERT and SELECT.
"""

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, col, select
from typer.testing import CliRunner

from bidding import audit
from bidding.db import get_engine, make_engine
from bidding.jobs import ProcrastinateQueue
from bidding.models import AuditEvent
from bidding.settings import get_settings
from cli.main import app as cli
from migrations.roles import APP_TABLE_RIGHTS, RoleError, grant_app_rights
from tests.conftest import Roles, postgres_roles
from tests.factories import an_item

pytestmark = pytest.mark.postgres


@pytest.fixture
def roles(monkeypatch: pytest.MonkeyPatch) -> Iterator[Roles]:
    """Owner and app roles, and the database upgraded by `supplybid db upgrade` as the owner."""
    with postgres_roles() as made:
        monkeypatch.setenv("SUPPLYBID_OWNER_DATABASE_URL", made.owner_url)
        monkeypatch.setenv("SUPPLYBID_DATABASE_URL", made.app_url)
        get_settings.cache_clear()
        get_engine.cache_clear()
        try:
            result = CliRunner().invoke(cli, ["db", "upgrade"])
            assert result.exit_code == 0, result.output
            assert f"granted role {made.app}" in result.output
            yield made
        finally:
            get_settings.cache_clear()
            get_engine.cache_clear()


@pytest.fixture
def app_engine(roles: Roles) -> Iterator[Engine]:
    """The app's engine: its own role, as the service connects."""
    engine = make_engine(roles.app_url, pool_size=2)
    yield engine
    engine.dispose()


def _one_event(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        an_item(session, name="Logged")


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("ALTER TABLE audit_event DISABLE TRIGGER USER", "must be owner"),
        ("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update", "must be owner"),
        ("DROP TRIGGER audit_event_no_update ON audit_event", "must be owner"),
        ("DROP FUNCTION audit_event_append_only() CASCADE", "must be owner"),
        ("UPDATE audit_event SET action = 'forged'", "permission denied"),
        ("DELETE FROM audit_event", "permission denied"),
        ("TRUNCATE audit_event", "permission denied"),
        ("ALTER TABLE audit_event OWNER TO CURRENT_USER", "must be owner"),
        ("CREATE TABLE audit_copy (seq bigint)", "permission denied"),
    ],
)
def test_the_apps_role_cannot_change_the_log_or_its_triggers(
    app_engine: Engine, statement: str, refusal: str
) -> None:
    _one_event(app_engine)  # the app appends: INSERT and SELECT are granted
    with app_engine.connect() as connection:
        stored = connection.execute(text("SELECT seq, hash FROM audit_event")).all()
    with pytest.raises(DBAPIError, match=refusal), app_engine.begin() as connection:
        connection.execute(text(statement))
    with app_engine.connect() as connection:
        assert connection.execute(text("SELECT seq, hash FROM audit_event")).all() == stored


def test_the_apps_role_owns_nothing(roles: Roles, app_engine: Engine) -> None:
    with app_engine.connect() as connection:
        owned = connection.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = :schema AND pg_get_userbyid(c.relowner) = current_user"
            ),
            {"schema": roles.schema},
        ).all()
        rights = connection.execute(
            text(
                "SELECT privilege_type FROM information_schema.role_table_grants"
                " WHERE table_name = 'audit_event' AND grantee = current_user"
                " ORDER BY privilege_type"
            )
        ).scalars()
        assert list(rights) == ["INSERT", "SELECT"]
    assert owned == []


def test_the_apps_role_writes_verifies_and_queues_solves(app_engine: Engine) -> None:
    _one_event(app_engine)
    with Session(app_engine, expire_on_commit=False) as session:
        assert audit.verify_chain(session).ok
        ProcrastinateQueue().enqueue(session, allocation_id="alc_test", round_id="rnd_test")
        session.commit()
        queued = session.execute(
            text("SELECT task_name, args FROM procrastinate_jobs WHERE status = 'todo'")
        ).all()
        assert [(name, args["allocation_id"]) for name, args in queued] == [
            ("supplybid.solve_allocation", "alc_test")
        ]
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all()
        assert [e.action for e in events] == ["item.create"]


def test_the_grants_refuse_the_owner_as_the_apps_role(roles: Roles) -> None:
    owner = make_engine(roles.owner_url, pool_size=1)
    try:
        with pytest.raises(RoleError, match="is the owner"), owner.begin() as connection:
            grant_app_rights(connection, roles.owner)
    finally:
        owner.dispose()


def test_every_table_of_the_models_has_its_rights_listed() -> None:
    assert set(APP_TABLE_RIGHTS) == {*SQLModel.metadata.tables, "alembic_version"}
    assert APP_TABLE_RIGHTS["audit_event"] == ("SELECT", "INSERT")
