"""Every table of the service, in one file.

Money is stored as integer minor units (cents) and fractions as integer parts per
billion: exact on SQLite and PostgreSQL alike, never a binary float.
"""

from datetime import UTC, datetime
from enum import StrEnum

import lz4.frame
from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

PPB = 10**9
"""Parts per billion: a fraction f is stored as round(f * PPB), exact to 9 decimals."""


def utcnow() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored time as aware UTC: SQLite hands times back naive, PostgreSQL aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Role(StrEnum):
    """Who acts: the four roles of an API key, and the command line."""

    admin = "admin"
    manager = "manager"
    finance = "finance"
    factory = "factory"
    system = "system"  # the service: command line, deadline closes; never a key's role


class RoundState(StrEnum):
    """SPEC 2's lifecycle; solved, published and settled arrive with the allocation."""

    draft = "draft"
    open = "open"
    closed = "closed"
    solved = "solved"
    published = "published"
    settled = "settled"
    cancelled = "cancelled"


class BidStatus(StrEnum):
    """A bid is live until its factory withdraws it."""

    live = "live"
    withdrawn = "withdrawn"


class CompressedText(TypeDecorator[str]):
    """Text stored as an LZ4 frame of its UTF-8 bytes, read back as the same text.

    For the documents of 100,000 bids (a snapshot, a problem, a result: 20 to 26 MB of JSON
    each, 3 to 4 MB compressed, in a few hundredths of a second): SQLite rewrites a whole
    row when any column of it changes, so a round's or an allocation's state change wrote
    them all again. Migration 0008 converted the stored texts.
    """

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        """Text to its compressed bytes."""
        return None if value is None else bytes(lz4.frame.compress(value.encode("utf-8")))

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        """Compressed bytes back to the text."""
        return None if value is None else bytes(lz4.frame.decompress(value)).decode("utf-8")


def _big(**kwargs: object) -> Column[int]:
    return Column(BigInteger, **kwargs)  # type: ignore[arg-type]


class Factory(SQLModel, table=True):
    """A factory that may bid: its monthly capacity and whether it is new to the platform."""

    __tablename__ = "factory"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    monthly_capacity: int = Field(sa_column=_big(nullable=False))
    is_new: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Item(SQLModel, table=True):
    """A hot-selling item: prices in cents; its demand scenarios are rows of `scenario`."""

    __tablename__ = "item"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    retail_price_cents: int = Field(sa_column=_big(nullable=False))
    handling_cost_cents: int = Field(sa_column=_big(nullable=False))
    salvage_value_cents: int = Field(sa_column=_big(nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Scenario(SQLModel, table=True):
    """One demand scenario of an item: units sold with a probability (in ppb)."""

    __tablename__ = "scenario"

    id: int | None = Field(default=None, primary_key=True)
    item_id: str = Field(
        sa_column=Column(
            String(64), ForeignKey("item.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    position: int
    units: int = Field(sa_column=_big(nullable=False))
    probability_ppb: int = Field(sa_column=_big(nullable=False))


class Round(SQLModel, table=True):
    """An allocation round: its terms, its state, and the snapshot frozen at its close."""

    __tablename__ = "round"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    category: str = Field(max_length=200)
    period: str = Field(max_length=7)
    currency: str = Field(max_length=3)
    margin_floor_ppb: int = Field(sa_column=_big(nullable=False))
    capacity_share_ppb: int = Field(sa_column=_big(nullable=False))
    budget_cents: int | None = Field(default=None, sa_column=_big(nullable=True))
    state: RoundState = Field(default=RoundState.draft, sa_type=String(16), index=True)
    created_at: datetime = Field(default_factory=utcnow)
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    closes_at: datetime | None = Field(default=None, index=True)
    """The deadline: from then on (the database's clock) bids are refused and the round is
    closed by the job queue (bidding.deadlines)."""
    snapshot: str | None = Field(default=None, sa_type=CompressedText)
    """The problem-format document of the round as it stood at its close."""
    input_hash: str | None = Field(default=None, max_length=80)


class RoundItem(SQLModel, table=True):
    """An item in a round, with the round's terms for it."""

    __tablename__ = "round_item"

    round_id: str = Field(foreign_key="round.id", primary_key=True, max_length=64)
    item_id: str = Field(foreign_key="item.id", primary_key=True, max_length=64)
    min_fill: int = Field(default=0, sa_column=_big(nullable=False))
    max_factory_share_ppb: int | None = Field(default=None, sa_column=_big(nullable=True))


class Invitation(SQLModel, table=True):
    """A factory invited to a round, with its own terms; a round with any accepts no others."""

    __tablename__ = "invitation"

    round_id: str = Field(foreign_key="round.id", primary_key=True, max_length=64)
    factory_id: str = Field(foreign_key="factory.id", primary_key=True, max_length=64)
    capacity_share_ppb: int | None = Field(default=None, sa_column=_big(nullable=True))
    guaranteed_units: int = Field(default=0, sa_column=_big(nullable=False))


class Bid(SQLModel, table=True):
    """A factory's bid on one item of a round; its content lives in its versions."""

    __tablename__ = "bid"
    __table_args__ = (
        UniqueConstraint("live_slot", name="uq_bid_live_slot"),
        # What an award's one key to its bid refers to (Award): id alone is unique already.
        Index("uq_bid_award_key", "id", "round_id", "factory_id", "item_id", unique=True),
    )

    id: str = Field(primary_key=True, max_length=64)
    round_id: str = Field(foreign_key="round.id", index=True, max_length=64)
    factory_id: str = Field(foreign_key="factory.id", index=True, max_length=64)
    item_id: str = Field(foreign_key="item.id", max_length=64)
    status: BidStatus = Field(default=BidStatus.live, sa_type=String(16))
    version: int = 1
    live_slot: str | None = Field(default=None, max_length=200)
    """round/factory/item while live, null once withdrawn: one live bid per slot, in SQL."""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BidVersion(SQLModel, table=True):
    """One version of a bid's content; amendments add versions and never change old ones."""

    __tablename__ = "bid_version"
    __table_args__ = (UniqueConstraint("bid_id", "version", name="uq_bid_version"),)

    id: int | None = Field(default=None, primary_key=True)
    bid_id: str = Field(foreign_key="bid.id", index=True, max_length=64)
    version: int
    unit_cost_cents: int = Field(sa_column=_big(nullable=False))
    capacity: int = Field(sa_column=_big(nullable=False))
    ask_price_cents: int | None = Field(default=None, sa_column=_big(nullable=True))
    min_lot: int = Field(default=0, sa_column=_big(nullable=False))
    setup_cost_cents: int = Field(default=0, sa_column=_big(nullable=False))
    nonce: str = Field(max_length=64)
    """Random salt of the commitment, so a low-entropy bid cannot be guessed from its hash."""
    commitment: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """An API key: only its sha256 is stored, with a short prefix to recognise it by."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(default="", max_length=200)
    role: Role = Field(sa_type=String(16))
    factory_id: str | None = Field(default=None, foreign_key="factory.id", max_length=64)
    key_hash: str = Field(unique=True, max_length=64)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class AuditEvent(SQLModel, table=True):
    """One state change, chained to the one before by its hash; never updated."""

    __tablename__ = "audit_event"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    occurred_at: str = Field(max_length=40)
    """ISO 8601 UTC text, so the hashed spelling is what both databases store."""
    actor_key_id: str | None = Field(default=None, max_length=64)
    actor_role: str = Field(max_length=16)
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=64, index=True)
    before: str | None = Field(default=None, sa_type=Text)
    after: str | None = Field(default=None, sa_type=Text)
    prev_hash: str = Field(max_length=80)
    hash: str = Field(max_length=80)


class IdempotencyRecord(SQLModel, table=True):
    """A creating POST seen under an Idempotency-Key, and the response it got."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("api_key_id", "method", "path", "key", name="uq_idempotency_scope"),
    )

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: str = Field(max_length=64)
    method: str = Field(max_length=8)
    path: str = Field(max_length=500)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int | None = None
    content_type: str | None = Field(default=None, max_length=100)
    response_body: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class AllocationStatus(StrEnum):
    """A solve job's progress: queued, running, then done or failed."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Allocation(SQLModel, table=True):
    """One solve of a round (a version, or a what-if): the exact problem, then its result."""

    __tablename__ = "allocation"
    __table_args__ = (
        # What an award's key to its allocation refers to (Award): id alone is unique already.
        Index("uq_allocation_award_key", "id", "round_id", unique=True),
    )

    id: str = Field(primary_key=True, max_length=64)
    round_id: str = Field(foreign_key="round.id", index=True, max_length=64)
    what_if: bool = False
    overrides: str | None = Field(default=None, sa_type=Text)
    """The what-if overrides as canonical JSON, null for a plain solve."""
    status: AllocationStatus = Field(
        default=AllocationStatus.queued, sa_type=String(16), index=True
    )
    problem: str = Field(sa_type=CompressedText)
    """The problem-format document this allocation solves (committed units, overrides)."""
    input_hash: str = Field(max_length=80)
    result: str | None = Field(default=None, sa_type=CompressedText)
    """The solver's result, exactly as `supplybid solve` writes it for `problem`."""
    presented: str | None = Field(default=None, sa_type=CompressedText)
    """The result as read and published: a what-if's excluded bids added as `excluded` rows.

    Stored when the solve finishes, so reads and publication never rebuild it."""
    items: str | None = Field(default=None, sa_type=Text)
    """The items as solved (terms, demand with a what-if's scale, names): what the figures
    of a comparison or a settlement need, without parsing `problem`."""
    phase: str | None = Field(default=None, max_length=16)
    """Where a running solve is: building, solving, whole_units, explaining, writing."""
    error: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    requested_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    published_at: datetime | None = None
    solve_s: float | None = None


class Award(SQLModel, table=True):
    """One bid's outcome in a published allocation; written once at publication, never changed.

    Two foreign keys hold a row to the rest (migration 0010): its allocation of the same
    round, and its bid with that bid's round, factory and item (which the bid's own keys
    hold to `round`, `factory` and `item`). Two referential checks per row instead of one
    per referenced table: COPY of 100,000 awards on PostgreSQL spent most of its time in them.
    """

    __tablename__ = "award"
    __table_args__ = (
        ForeignKeyConstraint(
            ["allocation_id", "round_id"],
            ["allocation.id", "allocation.round_id"],
            name="fk_award_allocation",
        ),
        ForeignKeyConstraint(
            ["bid_id", "round_id", "factory_id", "item_id"],
            ["bid.id", "bid.round_id", "bid.factory_id", "bid.item_id"],
            name="fk_award_bid",
        ),
    )

    allocation_id: str = Field(primary_key=True, max_length=64)
    bid_id: str = Field(primary_key=True, max_length=64)
    round_id: str = Field(index=True, max_length=64)
    factory_id: str = Field(index=True, max_length=64)
    item_id: str = Field(max_length=64)
    units: int = Field(sa_column=_big(nullable=False))
    supply_price_cents: int = Field(sa_column=_big(nullable=False))
    setup_fee_cents: int = Field(sa_column=_big(nullable=False))
    capacity_share_used_ppb: int = Field(sa_column=_big(nullable=False))
    margin_ppb: int | None = Field(default=None, sa_column=_big(nullable=True))
    reason: str = Field(max_length=32)
    cost_to_win_more_cents: int | None = Field(default=None, sa_column=_big(nullable=True))
    unit_cost_cents: int | None = Field(default=None, sa_column=_big(nullable=True))
    """The bid's declared unit cost as solved (null for a what-if's excluded bid)."""
    setup_cost_cents: int | None = Field(default=None, sa_column=_big(nullable=True))
    """The bid's declared setup cost as solved (null for a what-if's excluded bid)."""
    factory_name: str | None = Field(default=None, max_length=200)
    """The factory's name at publication."""
    item_name: str | None = Field(default=None, max_length=200)
    """The item's name at publication."""


class Settlement(SQLModel, table=True):
    """One version of a round's settlement: the units sold per item (its rows), who and why.

    Version 1 settles the round; each correction adds the next version and changes none
    before it, so the history stays; the figures follow the highest version.
    """

    __tablename__ = "settlement"
    __table_args__ = (UniqueConstraint("round_id", "version", name="uq_settlement_version"),)

    id: str = Field(primary_key=True, max_length=64)
    round_id: str = Field(foreign_key="round.id", index=True, max_length=64)
    allocation_id: str = Field(foreign_key="allocation.id", max_length=64)
    version: int
    reason: str | None = Field(default=None, sa_type=Text)
    """Why a correction was made; null for the first settlement."""
    recorded_by: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = Field(default_factory=utcnow)


class SettlementItem(SQLModel, table=True):
    """Units of an item ordered and sold, in one settlement version."""

    __tablename__ = "settlement_item"

    settlement_id: str = Field(foreign_key="settlement.id", primary_key=True, max_length=64)
    item_id: str = Field(foreign_key="item.id", primary_key=True, max_length=64)
    allocated: int = Field(sa_column=_big(nullable=False))
    sold: int = Field(sa_column=_big(nullable=False))


class SettlementTakeover(SQLModel, table=True):
    """Units of one award taken over by the platform, in one settlement version."""

    __tablename__ = "settlement_takeover"

    settlement_id: str = Field(foreign_key="settlement.id", primary_key=True, max_length=64)
    bid_id: str = Field(primary_key=True, max_length=64)
    factory_id: str = Field(foreign_key="factory.id", index=True, max_length=64)
    item_id: str = Field(foreign_key="item.id", max_length=64)
    units: int = Field(sa_column=_big(nullable=False))


class WebSession(SQLModel, table=True):
    """A browser's sign-in: the cookie holds a random id, this row its sha256, never the key.

    The session acts as its API key: revoking the key ends it, and so do 8 idle hours.
    """

    __tablename__ = "web_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    api_key_id: str = Field(
        sa_column=Column(
            String(64), ForeignKey("api_key.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    csrf_token: str = Field(max_length=64)
    time_zone: str = Field(default="UTC", max_length=64)
    """The viewer's IANA time zone, from the browser at sign-in: dates are shown in it."""
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow, index=True)


class ThresholdJobStatus(StrEnum):
    """The job that works out a published allocation's pending thresholds: queued, running,
    then done (every pending threshold stored) or failed."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class ThresholdJob(SQLModel, table=True):
    """The job after publication that works out the `cost_to_win_more` a solve above the size
    explained with it left "pending" (bidding/thresholds.py): one per published allocation
    that has any, its row the embedded queue's job and the state reads show."""

    __tablename__ = "threshold_job"

    allocation_id: str = Field(foreign_key="allocation.id", primary_key=True, max_length=64)
    status: ThresholdJobStatus = Field(
        default=ThresholdJobStatus.queued, sa_type=String(16), index=True
    )
    pending: int = 0
    """The awards published with `cost_to_win_more` "pending"."""
    attempts: int = 0
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class AwardThreshold(SQLModel, table=True):
    """One pending award's `cost_to_win_more`, as the job after publication found it.

    Apart from the award (published rows never change): written once, never changed. Null
    where SPEC 3 says null (not even a unit cost of 0.00 wins more units)."""

    __tablename__ = "award_threshold"

    allocation_id: str = Field(foreign_key="allocation.id", primary_key=True, max_length=64)
    bid_id: str = Field(primary_key=True, max_length=64)
    cost_to_win_more_cents: int | None = Field(default=None, sa_column=_big(nullable=True))
    computed_at: datetime = Field(default_factory=utcnow)
