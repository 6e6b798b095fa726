"""Alembic migrations of the service's database, configured from code.

`alembic_config` needs no alembic.ini, so `supplybid db upgrade` works from any directory.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """An alembic Config for this package's scripts and the given database."""
    config = Config()
    config.set_main_option("path_separator", "os")
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("version_locations", str(SCRIPT_LOCATION / "versions"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database up to `revision` (by default the newest)."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    """Migrate the database down to `revision` (by default one step)."""
    command.downgrade(alembic_config(database_url), revision)


def revisions(database_url: str) -> tuple[set[str], set[str]]:
    """The revisions the database is at, and the heads this code's migrations end in."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    heads = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())
    return current, heads
