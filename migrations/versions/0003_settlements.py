"""settlements: units sold per item and units taken over per award, one version per correction

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "settlement",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("round_id", AutoString(length=64), nullable=False),
        sa.Column("allocation_id", AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", AutoString(length=64), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["allocation_id"], ["allocation.id"]),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("round_id", "version", name="uq_settlement_version"),
    )
    with op.batch_alter_table("settlement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlement_round_id"), ["round_id"], unique=False)

    op.create_table(
        "settlement_item",
        sa.Column("settlement_id", AutoString(length=64), nullable=False),
        sa.Column("item_id", AutoString(length=64), nullable=False),
        sa.Column("allocated", sa.BigInteger(), nullable=False),
        sa.Column("sold", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"]),
        sa.ForeignKeyConstraint(["settlement_id"], ["settlement.id"]),
        sa.PrimaryKeyConstraint("settlement_id", "item_id"),
    )
    op.create_table(
        "settlement_takeover",
        sa.Column("settlement_id", AutoString(length=64), nullable=False),
        sa.Column("bid_id", AutoString(length=64), nullable=False),
        sa.Column("factory_id", AutoString(length=64), nullable=False),
        sa.Column("item_id", AutoString(length=64), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["factory_id"], ["factory.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"]),
        sa.ForeignKeyConstraint(["settlement_id"], ["settlement.id"]),
        sa.PrimaryKeyConstraint("settlement_id", "bid_id"),
    )
    with op.batch_alter_table("settlement_takeover", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_settlement_takeover_factory_id"), ["factory_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("settlement_takeover", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_takeover_factory_id"))
    op.drop_table("settlement_takeover")
    op.drop_table("settlement_item")
    with op.batch_alter_table("settlement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_round_id"))
    op.drop_table("settlement")
