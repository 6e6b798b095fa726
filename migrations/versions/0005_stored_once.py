"""stored once: a solve's presented result and items, its phase; awards' declared costs and names

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("presented", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("items", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("phase", AutoString(length=16), nullable=True))
    with op.batch_alter_table("award", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_cost_cents", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("setup_cost_cents", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("factory_name", AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column("item_name", AutoString(length=200), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("award", schema=None) as batch_op:
        batch_op.drop_column("item_name")
        batch_op.drop_column("factory_name")
        batch_op.drop_column("setup_cost_cents")
        batch_op.drop_column("unit_cost_cents")
    with op.batch_alter_table("allocation", schema=None) as batch_op:
        batch_op.drop_column("phase")
        batch_op.drop_column("items")
        batch_op.drop_column("presented")
