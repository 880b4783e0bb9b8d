"""The single writer: writes run one at a time on the writer thread in BEGIN IMMEDIATE, awaited
from the event loop without blocking it; reads run on their own connections and never wait."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from edge.store import Store
from tests.looplag import LoopLagProbe


def _meta(conn, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (key, value))


async def test_a_long_write_does_not_block_the_event_loop(box_store: Store) -> None:
    """A loop-lag probe ticks every 10 ms while a write holds the writer for 0.8 s."""
    started = threading.Event()

    def long_write(conn) -> str:
        started.set()
        _meta(conn, "t.long", "1")
        time.sleep(0.8)
        return "done"

    probe = LoopLagProbe().start()
    writing = asyncio.create_task(box_store.awrite(long_write))
    await asyncio.to_thread(started.wait, 5)
    # Meanwhile: a second write queues behind it, and a read from the loop does not wait at all.
    queued = asyncio.create_task(box_store.awrite(lambda conn: _meta(conn, "t.second", "2")))
    t0 = time.monotonic()
    assert box_store.query("SELECT value FROM meta WHERE key = 't.long'") == []  # not committed yet
    read_took = time.monotonic() - t0
    assert await writing == "done"
    await queued
    await probe.stop()
    assert box_store.meta_get("t.long") == "1" and box_store.meta_get("t.second") == "2"
    assert read_took < 0.2
    assert len(probe.lags) > 30  # the loop kept running during the write
    assert max(probe.lags) < 0.2, f"the event loop stalled {max(probe.lags):.3f} s during a write"


async def test_the_old_path_would_block_the_loop(box_store: Store) -> None:
    """The probe can fail: a write run synchronously on the loop stalls it for the write's length."""
    lags: list[float] = []

    async def probe() -> None:
        for _ in range(5):
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)

    prober = asyncio.create_task(probe())
    await asyncio.sleep(0)
    box_store.write(lambda conn: time.sleep(0.3))  # what a synchronous caller on the loop does
    await prober
    assert max(lags) >= 0.25


def test_writes_from_threads_are_serialized(box_store: Store) -> None:
    box_store.write(lambda conn: _meta(conn, "t.n", "0"))

    def bump(conn) -> None:
        n = int(conn.execute("SELECT value FROM meta WHERE key = 't.n'").fetchone()[0])
        time.sleep(0.001)
        _meta(conn, "t.n", str(n + 1))

    def worker() -> None:
        for _ in range(25):
            box_store.write(bump)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box_store.meta_get("t.n") == "100"


def test_a_failing_write_leaves_nothing(box_store: Store) -> None:
    def fail(conn) -> None:
        _meta(conn, "t.half", "1")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        box_store.write(fail)
    assert box_store.meta_get("t.half") is None
    box_store.write(lambda conn: _meta(conn, "t.after", "1"))  # the writer goes on
    assert box_store.meta_get("t.after") == "1"


def test_a_nested_write_is_a_savepoint(box_store: Store) -> None:
    def outer(conn) -> None:
        _meta(conn, "t.outer", "1")
        with pytest.raises(RuntimeError):
            box_store.write(lambda c: (_meta(c, "t.inner", "1"), (_ for _ in ()).throw(RuntimeError("inner"))))
        assert box_store.meta_get("t.outer") == "1"  # a read inside the write sees its own rows
        assert box_store.in_write()

    box_store.write(outer)
    assert box_store.meta_get("t.outer") == "1" and box_store.meta_get("t.inner") is None
    assert not box_store.in_write()


def test_the_store_s_own_transaction_is_the_writer_path(box_store: Store) -> None:
    """The store's private _transaction() (its own methods' write block) leases the one writer: a
    write queued meanwhile waits for the block to end."""
    order: list[str] = []
    with box_store._transaction() as conn:
        _meta(conn, "t.tx", "1")
        other = threading.Thread(target=lambda: (box_store.write(lambda c: _meta(c, "t.other", "1")),
                                                 order.append("other")))
        other.start()
        time.sleep(0.2)
        order.append("block")
        assert box_store.in_write()
        box_store.write(lambda c: _meta(c, "t.nested", "1"))  # inline, as a savepoint
    other.join(5)
    assert order == ["block", "other"]
    assert {box_store.meta_get(k) for k in ("t.tx", "t.other", "t.nested")} == {"1"}


def test_reads_run_on_read_only_connections(box_store: Store) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        box_store.query("UPDATE meta SET value = 'x' WHERE key = 'agency_code'")
    assert box_store.meta_get("agency_code") != "x"


def test_a_finished_threads_read_connection_is_closed(box_store: Store) -> None:
    """Scanner batches and executors come and go: their read connections must not pile up."""
    import gc

    for _ in range(20):
        t = threading.Thread(target=lambda: box_store.query("SELECT 1"))
        t.start()
        t.join()
    gc.collect()
    assert len(box_store._database._readers) <= 2
