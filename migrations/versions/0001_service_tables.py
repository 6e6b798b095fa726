"""the service tables: factories, items, rounds, bids, keys, audit, idempotency

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", AutoString(length=40), nullable=False),
        sa.Column("actor_key_id", AutoString(length=64), nullable=True),
        sa.Column("actor_role", AutoString(length=16), nullable=False),
        sa.Column("action", AutoString(length=64), nullable=False),
        sa.Column("entity_type", AutoString(length=32), nullable=False),
        sa.Column("entity_id", AutoString(length=64), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("prev_hash", AutoString(length=80), nullable=False),
        sa.Column("hash", AutoString(length=80), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_entity_id"), ["entity_id"], unique=False)

    op.create_table(
        "factory",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("name", AutoString(length=200), nullable=False),
        sa.Column("monthly_capacity", sa.BigInteger(), nullable=False),
        sa.Column("is_new", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", AutoString(length=64), nullable=False),
        sa.Column("method", AutoString(length=8), nullable=False),
        sa.Column("path", AutoString(length=500), nullable=False),
        sa.Column("key", AutoString(length=200), nullable=False),
        sa.Column("request_hash", AutoString(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("content_type", AutoString(length=100), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("api_key_id", "method", "path", "key", name="uq_idempotency_scope"),
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_record_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "item",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("name", AutoString(length=200), nullable=False),
        sa.Column("retail_price_cents", sa.BigInteger(), nullable=False),
        sa.Column("handling_cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("salvage_value_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "round",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("name", AutoString(length=200), nullable=False),
        sa.Column("category", AutoString(length=200), nullable=False),
        sa.Column("period", AutoString(length=7), nullable=False),
        sa.Column("currency", AutoString(length=3), nullable=False),
        sa.Column("margin_floor_ppb", sa.BigInteger(), nullable=False),
        sa.Column("capacity_share_ppb", sa.BigInteger(), nullable=False),
        sa.Column("budget_cents", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("snapshot", sa.Text(), nullable=True),
        sa.Column("input_hash", AutoString(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_round_state"), ["state"], unique=False)

    op.create_table(
        "api_key",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("name", AutoString(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("factory_id", AutoString(length=64), nullable=True),
        sa.Column("key_hash", AutoString(length=64), nullable=False),
        sa.Column("prefix", AutoString(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factory.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "bid",
        sa.Column("id", AutoString(length=64), nullable=False),
        sa.Column("round_id", AutoString(length=64), nullable=False),
        sa.Column("factory_id", AutoString(length=64), nullable=False),
        sa.Column("item_id", AutoString(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("live_slot", AutoString(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factory.id"],
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["item.id"],
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["round.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("live_slot", name="uq_bid_live_slot"),
    )
    with op.batch_alter_table("bid", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bid_factory_id"), ["factory_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bid_round_id"), ["round_id"], unique=False)

    op.create_table(
        "invitation",
        sa.Column("round_id", AutoString(length=64), nullable=False),
        sa.Column("factory_id", AutoString(length=64), nullable=False),
        sa.Column("capacity_share_ppb", sa.BigInteger(), nullable=True),
        sa.Column("guaranteed_units", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["factory_id"],
            ["factory.id"],
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["round.id"],
        ),
        sa.PrimaryKeyConstraint("round_id", "factory_id"),
    )
    op.create_table(
        "round_item",
        sa.Column("round_id", AutoString(length=64), nullable=False),
        sa.Column("item_id", AutoString(length=64), nullable=False),
        sa.Column("min_fill", sa.BigInteger(), nullable=False),
        sa.Column("max_factory_share_ppb", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["item.id"],
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["round.id"],
        ),
        sa.PrimaryKeyConstraint("round_id", "item_id"),
    )
    op.create_table(
        "scenario",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("probability_ppb", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scenario", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scenario_item_id"), ["item_id"], unique=False)

    op.create_table(
        "bid_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bid_id", AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("unit_cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("capacity", sa.BigInteger(), nullable=False),
        sa.Column("ask_price_cents", sa.BigInteger(), nullable=True),
        sa.Column("min_lot", sa.BigInteger(), nullable=False),
        sa.Column("setup_cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("nonce", AutoString(length=64), nullable=False),
        sa.Column("commitment", AutoString(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bid_id"],
            ["bid.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bid_id", "version", name="uq_bid_version"),
    )
    with op.batch_alter_table("bid_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bid_version_bid_id"), ["bid_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("bid_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bid_version_bid_id"))

    op.drop_table("bid_version")
    with op.batch_alter_table("scenario", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scenario_item_id"))

    op.drop_table("scenario")
    op.drop_table("round_item")
    op.drop_table("invitation")
    with op.batch_alter_table("bid", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bid_round_id"))
        batch_op.drop_index(batch_op.f("ix_bid_factory_id"))

    op.drop_table("bid")
    op.drop_table("api_key")
    with op.batch_alter_table("round", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_state"))

    op.drop_table("round")
    op.drop_table("item")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_record_expires_at"))

    op.drop_table("idempotency_record")
    op.drop_table("factory")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_entity_id"))

    op.drop_table("audit_event")
