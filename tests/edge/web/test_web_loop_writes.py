"""The event loop never waits on a write: a login, a session touched by a request and a logout
that wait for the store's writer (held meanwhile by another thread, as a long scanner batch or a
sync write holds it) leave the loop running; they finish once the writer is free."""

from __future__ import annotations

import asyncio
import threading
import time

from web_helpers import PASSWORDS, api_token

from tests.looplag import LoopLagProbe


async def _while_the_writer_is_held(store, request) -> tuple[int, float]:
    """Run ``request()`` (a coroutine making one HTTP request) while another thread holds the
    writer for a while; returns (HTTP status, the longest stall of the loop meanwhile)."""
    started, release = threading.Event(), threading.Event()

    def hold(_conn) -> None:
        started.set()
        release.wait(5)

    holder = threading.Thread(target=store.write, args=(hold,))
    holder.start()
    try:
        assert await asyncio.to_thread(started.wait, 5)
        probe = LoopLagProbe().start()
        sent = asyncio.create_task(request())
        await asyncio.sleep(0.6)
        assert not sent.done(), "the request should be waiting for the writer"
        release.set()
        status = await sent
        await probe.stop()
    finally:
        release.set()
        await asyncio.to_thread(holder.join, 5)
    assert len(probe.lags) > 20
    return status, max(probe.lags)


async def test_a_login_waiting_for_the_writer_leaves_the_loop_running(client, store):
    async def log_in() -> int:
        async with client.post("/api/v1/session", json={"username": "clerk", "password": PASSWORDS["clerk"]}) as r:
            return r.status

    status, stall = await _while_the_writer_is_held(store, log_in)
    assert status == 201
    assert stall < 0.2, f"the event loop stalled {stall:.3f} s while a login waited for the writer"
    assert store.query("SELECT count(*) AS n FROM web_sessions")[0]["n"] == 1


async def test_a_session_touch_waiting_for_the_writer_leaves_the_loop_running(client, store):
    headers = await api_token(client, "clerk")
    # Seen a minute ago: the next request refreshes last_seen (a write).
    await store.awrite(lambda conn: conn.execute("UPDATE web_sessions SET last_seen = ?", (time.time() - 60,)))

    async def look() -> int:
        async with client.get("/api/v1/session", headers=headers) as r:
            return r.status

    status, stall = await _while_the_writer_is_held(store, look)
    assert status == 200
    assert stall < 0.2, f"the event loop stalled {stall:.3f} s while a request touched its session"
    assert time.time() - store.query("SELECT last_seen FROM web_sessions")[0]["last_seen"] < 30


async def test_a_logout_waiting_for_the_writer_leaves_the_loop_running(client, store):
    headers = await api_token(client, "clerk")
    before = store.query("SELECT count(*) AS n FROM audit WHERE action = 'web.logout'")[0]["n"]

    async def log_out() -> int:
        async with client.delete("/api/v1/session", headers=headers) as r:
            return r.status

    status, stall = await _while_the_writer_is_held(store, log_out)
    assert status == 200
    assert stall < 0.2, f"the event loop stalled {stall:.3f} s while a logout waited for the writer"
    assert store.query("SELECT count(*) AS n FROM web_sessions")[0]["n"] == 0
    assert store.query("SELECT count(*) AS n FROM audit WHERE action = 'web.logout'")[0]["n"] == before + 1
