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
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closes_at", UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_round_closes_at"), ["closes_at"], unique=False)


def downgrade() -> None:
    """Revert this revision.

    Not in batch mode: on SQLite that copies `round`, which bids and allocations reference,
    and fails on their foreign keys; SQLite drops an unindexed column in place (3.35+).
    """
    op.drop_index("ix_round_closes_at", table_name="round")
    op.drop_column("round", "closes_at")
