"""audit_event append-only: triggers refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

from bidding.audit import install_append_only_guard, remove_append_only_guard

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    install_append_only_guard(op.get_bind())


def downgrade() -> None:
    """Revert this revision."""
    remove_append_only_guard(op.get_bind())
