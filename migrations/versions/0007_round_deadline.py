"""round.closes_at: a round's optional deadline, after which bids are refused and it closes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("round", sa.Column("closes_at", UTCDateTime(), nullable=True))
    op.create_index(op.f("ix_round_closes_at"), "round", ["closes_at"], unique=False)


def downgrade() -> None:
    """Revert this revision.

    Without a batch: rebuilding `round` on SQLite would drop a table other tables' rows
    refer to (foreign keys on). SQLite 3.35+ drops a plain column in place.
    """
    op.drop_index(op.f("ix_round_closes_at"), table_name="round")
    op.drop_column("round", "closes_at")
