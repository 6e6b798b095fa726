"""An idempotency claim's commit is carried to disk by the next one; every other waits:
a use case on SQLite for the group commit's fsync, after its writer's turn."""

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bidding import audit, db, idempotency
from bidding.models import Role
from tests import factories as builders
from tests.conftest import create_tables


def _statements(engine: Engine) -> list[str]:
    """Each statement run from now on; a SQLite BEGIN is noted with its connection's
    safety level then (`BEGIN IMMEDIATE @NORMAL`)."""
    seen: list[str] = []
    level: dict[int, str] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _record(connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        spelled = statement.strip().upper()
        dbapi = id(connection.connection.dbapi_connection)
        if spelled.startswith("PRAGMA SYNCHRONOUS="):
            level[dbapi] = spelled.partition("=")[2]
        if spelled.startswith("BEGIN") and engine.dialect.name == "sqlite":
            spelled = f"{spelled} @{level.get(dbapi, 'FULL')}"
        seen.append(spelled)

    return seen


def _relaxed(statement: str) -> bool:
    return statement in ("PRAGMA SYNCHRONOUS=NORMAL", "SET LOCAL SYNCHRONOUS_COMMIT TO OFF")


def test_a_claim_is_carried_and_the_write_after_it_waits_for_the_disk(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_tables(engine)
    sqlite = engine.dialect.name == "sqlite"
    synced: list[tuple[str, int | None]] = []  # (file, the writer turn's owner meanwhile)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        turn = db._SQLITE_WRITERS.get(engine)
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), turn._owner if turn else None))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with Session(engine, expire_on_commit=False) as session:
        key = builders.a_key(session, Role.manager)
        seen = _statements(engine)
        synced.clear()
        claimed = idempotency.claim(
            session=session,
            api_key_id=key,
            method="POST",
            path="/v1/items",
            key="k-1",
            request_hash="h",
        )
        assert claimed is None
        during_claim, synced_in_claim = list(seen), list(synced)
        seen.clear()
        synced.clear()
        builders.an_item(session)  # the request's own write, as a use case
        after, synced_after = list(seen), list(synced)
    if sqlite:
        wal = f"{engine.url.database}-wal"
        # The claim commits without an fsync; the write after it is synced before it
        # returns, by the group commit, once the writer's turn is free for the next.
        assert any(s.startswith("BEGIN IMMEDIATE") for s in during_claim), during_claim
        assert not [f for f, _ in synced_in_claim if f.endswith("-wal")], synced_in_claim
        assert any(s.startswith("BEGIN IMMEDIATE") for s in after), after
        assert [(f, owner) for f, owner in synced_after if f.endswith("-wal")] == [
            (os.path.realpath(wal), None)
        ], synced_after
        with engine.begin() as connection:  # a write outside a use case: FULL, as ever
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    else:
        assert any(_relaxed(s) for s in during_claim), during_claim
        assert not any(_relaxed(s) for s in after), after
        with engine.connect() as connection:  # LOCAL: gone with the claim's transaction
            setting = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
            assert setting == "on"


def test_the_group_commit_shares_one_fsync_among_waiting_writers(tmp_path: Path) -> None:
    wal = tmp_path / "x.db-wal"
    wal.write_bytes(b"frames")
    sync = db.WalSync(wal)
    started, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        started.set()
        release.wait(5)
        real_fsync(fd)

    first = threading.Thread(target=sync.wait)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", slow_fsync)
        first.start()
        assert started.wait(5)
        # Three writers commit while the first fsync runs: one more fsync covers them all.
        others = [threading.Thread(target=sync.wait) for _ in range(3)]
        for thread in others:
            thread.start()
        deadline = time.monotonic() + 5
        while sync._written < 4 and time.monotonic() < deadline:  # all have committed
            time.sleep(0.01)
        release.set()
        first.join(5)
        for thread in others:
            thread.join(5)
    assert sync.fsyncs == 2
    sync.wait()  # a commit after them all gets an fsync of its own
    assert sync.fsyncs == 3


def test_an_anchored_head_is_written_only_once_its_event_is_on_disk(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the group commit is SQLite's")
    create_tables(engine)
    anchor = tmp_path / "anchor"
    audit.configure_chain(engine, audit.ChainSettings(key=b"k" * 32, anchor_path=anchor))
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with Session(engine, expire_on_commit=False) as session:
        builders.an_item(session)  # a use case whose event is anchored
    wal = os.path.realpath(f"{engine.url.database}-wal")
    assert wal in synced, synced
    assert str(anchor.resolve()) in synced, synced
    # The WAL holding the head's event reached the disk before the anchor naming it.
    assert synced.index(wal) < synced.index(str(anchor.resolve())), synced


def test_a_failed_fsync_refuses_every_later_write(tmp_path: Path) -> None:
    """After a failed fsync the kernel may have dropped the pages: a later fsync that
    succeeds proves nothing, so the group commit answers no write again."""
    wal = tmp_path / "x.db-wal"
    wal.write_bytes(b"frames")
    sync = db.WalSync(wal)

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", broken_fsync)
        with pytest.raises(OSError, match="Input/output error"):
            sync.wait()
    with pytest.raises(RuntimeError, match="fsync failed"):
        sync.wait()  # the real fsync would succeed now: still refused
    assert sync.fsyncs == 0


def test_without_a_wal_the_database_file_is_synced(tmp_path: Path) -> None:
    (tmp_path / "x.db").write_bytes(b"pages")
    sync = db.WalSync(tmp_path / "x.db-wal")  # checkpointed and removed
    synced: list[str] = []
    real_fsync = os.fsync

    def seen_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", seen_fsync)
        sync.wait()
    assert synced == [str((tmp_path / "x.db").resolve())]
    assert sync.fsyncs == 1
