"""Alembic's entry point: runs the migrations on the URL the config carries."""

from alembic import context
from sqlmodel import SQLModel

import bidding.models  # noqa: F401  (registers every table on SQLModel.metadata)
from bidding.db import make_engine
from bidding.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    """Run online against the configured database (the same engine setup as the service)."""
    url = config.attributes.get("database_url") or get_settings().database_url
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
