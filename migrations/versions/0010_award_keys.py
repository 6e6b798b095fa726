"""award keys: two foreign keys per award row, to its allocation and to its bid, in place of four

An award row held four foreign keys (allocation, round, factory, item) and none to its bid;
PostgreSQL runs a referential check per key and row, and COPY of 100,000 awards spent most
of publication's time in them. Now (allocation_id, round_id) refers to the allocation and
(bid_id, round_id, factory_id, item_id) to the bid, whose own keys hold round, factory and
item: two checks per row, and stronger than before (the bid must exist, be of the award's
round, factory and item, and the allocation of the award's round). Each needs a unique
index over the referenced columns.

On SQLite the award table is copied (batch mode; nothing refers to it, and the copy checks
every existing row against the new keys); its unnamed keys are found by their columns.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KEYS = {
    "allocation_id": "allocation",
    "round_id": "round",
    "factory_id": "factory",
    "item_id": "item",
}
"""The award's keys before this revision: column to referenced table (its `id`)."""
NEW_KEYS = {
    "fk_award_allocation": ("allocation", ["allocation_id", "round_id"], ["id", "round_id"]),
    "fk_award_bid": (
        "bid",
        ["bid_id", "round_id", "factory_id", "item_id"],
        ["id", "round_id", "factory_id", "item_id"],
    ),
}
"""name: (referenced table, award's columns, referenced columns)."""
UNIQUE = {
    "uq_allocation_award_key": ("allocation", ["id", "round_id"]),
    "uq_bid_award_key": ("bid", ["id", "round_id", "factory_id", "item_id"]),
}
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
"""Names for SQLite's unnamed keys in batch mode, so they can be dropped by name."""


def _award_keys() -> dict[tuple[str, ...], str]:
    """The award table's foreign keys: columns to name (a SQLite key unnamed: by NAMING)."""
    keys = sa.inspect(op.get_bind()).get_foreign_keys("award")
    return {
        tuple(k["constrained_columns"]): k["name"]
        or f"fk_award_{k['constrained_columns'][0]}_{k['referred_table']}"
        for k in keys
    }


def upgrade() -> None:
    """Apply this revision."""
    for name, (table, columns) in UNIQUE.items():
        op.create_index(name, table, columns, unique=True)
    found = _award_keys()
    with op.batch_alter_table("award", naming_convention=NAMING) as batch_op:
        for column in OLD_KEYS:
            batch_op.drop_constraint(found[(column,)], type_="foreignkey")
        for name, (table, columns, referred) in NEW_KEYS.items():
            batch_op.create_foreign_key(name, table, columns, referred)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("award", naming_convention=NAMING) as batch_op:
        for name in NEW_KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")
        for column, table in OLD_KEYS.items():
            batch_op.create_foreign_key(f"award_{column}_fkey", table, [column], ["id"])
    for name, (table, _columns) in UNIQUE.items():
        op.drop_index(name, table_name=table)
