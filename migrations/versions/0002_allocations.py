"""allocations (one row per solve) and the awards of published allocations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "allocation",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("round_id", AutoString(length=64), nullable=False),
        sa.Column("what_if", sa.Boolean(), nullable=False),
        sa.Column("overrides", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("input_hash", AutoString(length=80), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requested_by", AutoString(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("solve_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocation_round_id"), ["round_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocation_status"), ["status"], unique=False)

    op.create_table(
        "award",
        sa.Column("allocation_id", AutoString(length=64), nullable=False),
        sa.Column("bid_id", AutoString(length=64), nullable=False),
        sa.Column("round_id", AutoString(length=64), nullable=False),
        sa.Column("factory_id", AutoString(length=64), nullable=False),
        sa.Column("item_id", AutoString(length=64), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("supply_price_cents", sa.BigInteger(), nullable=False),
        sa.Column("setup_fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("capacity_share_used_ppb", sa.BigInteger(), nullable=False),
        sa.Column("margin_ppb", sa.BigInteger(), nullable=True),
        sa.Column("reason", AutoString(length=32), nullable=False),
        sa.Column("cost_to_win_more_cents", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["allocation_id"], ["allocation.id"]),
        sa.ForeignKeyConstraint(["factory_id"], ["factory.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"]),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"]),
        sa.PrimaryKeyConstraint("allocation_id", "bid_id"),
    )
    with op.batch_alter_table("award", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_award_factory_id"), ["factory_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_award_round_id"), ["round_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("award", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_award_round_id"))
        batch_op.drop_index(batch_op.f("ix_award_factory_id"))
    op.drop_table("award")
    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocation_status"))
        batch_op.drop_index(batch_op.f("ix_allocation_round_id"))
    op.drop_table("allocation")
