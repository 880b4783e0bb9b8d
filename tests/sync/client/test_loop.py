"""The sync client never makes the event loop wait on a write: while another thread holds the
store's writer, the client's own writes (state, outbox moves) are awaited and the loop runs on."""

from __future__ import annotations

import asyncio
import threading
import time

from boxkit import add_dossier, make_box

from edge.outbox import OutboxState
from sync.client import SyncClient
from tests.looplag import LoopLagProbe


async def test_client_writes_wait_off_the_loop(tmp_path) -> None:
    settings, store = make_box(tmp_path)
    try:
        dossier_id = add_dossier(store, pages=1, page_bytes=1000)
        client = SyncClient(settings=settings, store=store)
        holding = threading.Event()

        def long_write(conn) -> None:
            holding.set()
            time.sleep(0.6)

        blocker = threading.Thread(target=store.write, args=(long_write,))
        blocker.start()
        await asyncio.to_thread(holding.wait, 5)
        probe = LoopLagProbe().start()
        started = time.monotonic()
        await asyncio.gather(
            client._mark_attempt(),
            client.outbox.arelease_backoff(),
            client.outbox.aapply(dossier_id, "created"),
        )
        waited = time.monotonic() - started
        await probe.stop()
        blocker.join()
        assert waited >= 0.3  # they did wait for the writer…
        assert max(probe.lags) < 0.2, f"…but the loop stalled {max(probe.lags):.3f} s"  # …off the loop
        assert client.outbox.row(dossier_id)["state"] == OutboxState.CREATED
        assert client.state.get("sync.last_attempt_at")
    finally:
        store.close()
