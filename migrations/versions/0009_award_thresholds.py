"""award thresholds: the `cost_to_win_more` a solve left "pending", worked out by a job
after publication and stored apart from the award rows (which never change)

`threshold_job` is the job (one per published allocation with pending thresholds) and
its state; `award_threshold` one row per pending award, written once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "threshold_job",
        sa.Column("allocation_id", AutoString(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["allocation_id"], ["allocation.id"]),
        sa.PrimaryKeyConstraint("allocation_id"),
    )
    op.create_index("ix_threshold_job_status", "threshold_job", ["status"], unique=False)
    op.create_table(
        "award_threshold",
        sa.Column("allocation_id", AutoString(length=64), nullable=False),
        sa.Column("bid_id", AutoString(length=64), nullable=False),
        sa.Column("cost_to_win_more_cents", sa.BigInteger(), nullable=True),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["allocation_id"], ["allocation.id"]),
        sa.PrimaryKeyConstraint("allocation_id", "bid_id"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("award_threshold")
    op.drop_index("ix_threshold_job_status", table_name="threshold_job")
    op.drop_table("threshold_job")
