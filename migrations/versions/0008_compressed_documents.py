"""compressed documents: a round's snapshot and an allocation's problem, result and
presented result stored as LZ4 frames of their UTF-8 text (bidding.models.CompressedText)

Each column is replaced in place, without copying its table (SQLite's batch mode would copy
`round` and `allocation`, which other tables reference): a new column, the texts compressed
into it, the old one dropped, the new one renamed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Callable, Sequence
from typing import Any

import lz4.frame
import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENTS = (
    ("round", "snapshot", True),
    ("allocation", "problem", False),
    ("allocation", "result", True),
    ("allocation", "presented", True),
)
"""(table, column, nullable)."""
BATCH = 20
"""Rows read and rewritten at a time, by id: a document of 100,000 bids is some 25 MB of
text, so a whole column in memory would be gigabytes on a database of many rounds."""


def _compress(value: object) -> bytes:
    assert isinstance(value, str)
    return bytes(lz4.frame.compress(value.encode("utf-8")))


def _decompress(value: object) -> str:
    assert isinstance(value, bytes | memoryview)
    return bytes(lz4.frame.decompress(bytes(value))).decode("utf-8")


def _replace(
    table: str,
    column: str,
    nullable: bool,
    new_type: sa.types.TypeEngine[Any],
    convert: Callable[[object], object],
) -> None:
    """Column `column` of `table` rewritten as `new_type`, each value through `convert`."""
    bind = op.get_bind()
    staged = f"{column}_staged"
    # A NOT NULL column is added with a default, filled, and (PostgreSQL) loses the default.
    op.add_column(
        table,
        sa.Column(
            staged, new_type, nullable=nullable, server_default=None if nullable else sa.text("''")
        ),
    )
    select = sa.text(
        f'SELECT id, {column} FROM "{table}" WHERE {column} IS NOT NULL AND id > :after'
        " ORDER BY id LIMIT :batch"
    )
    update = sa.text(f'UPDATE "{table}" SET {staged} = :value WHERE id = :key')
    after = ""  # every id is a non-empty text, so above ""
    while rows := bind.execute(select, {"after": after, "batch": BATCH}).all():
        bind.execute(update, [{"value": convert(value), "key": key} for key, value in rows])
        after = rows[-1][0]
    op.drop_column(table, column)
    op.execute(f'ALTER TABLE "{table}" RENAME COLUMN {staged} TO {column}')
    if not nullable and bind.dialect.name == "postgresql":
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN {column} DROP DEFAULT')


def upgrade() -> None:
    """Apply this revision."""
    for table, column, nullable in DOCUMENTS:
        _replace(table, column, nullable, sa.LargeBinary(), _compress)


def downgrade() -> None:
    """Revert this revision."""
    for table, column, nullable in DOCUMENTS:
        _replace(table, column, nullable, sa.Text(), _decompress)
