"""The unlock endpoint of a locked box: malformed bodies are refused cleanly, attempts one at a time."""

from __future__ import annotations

import asyncio

import pytest

from edge.app._server import unlock_app
from edge.store import Store
from tests.edge.app.conftest import PASSPHRASE


@pytest.fixture
async def unlock(aiohttp_client, locked_settings):
    opened = asyncio.get_running_loop().create_future()
    client = await aiohttp_client(unlock_app(locked_settings, opened))
    yield client, opened
    if opened.done():
        opened.result().close()


@pytest.mark.parametrize("body", ['["passphrase"]', "[" * 60_000, '{"passphrase": 12}', "not json", '"x"'])
async def test_malformed_json_is_a_400(unlock, body):
    client, opened = unlock
    resp = await client.post("/unlock", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert "passphrase" in (await resp.json())["message"]
    assert not opened.done()


async def test_concurrent_attempts_run_one_at_a_time_and_open_the_store_once(unlock, monkeypatch):
    client, opened = unlock
    running = 0
    peak = 0
    real_open = Store.open

    def counting_open(*args, **kwargs):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            return real_open(*args, **kwargs)
        finally:
            running -= 1

    monkeypatch.setattr(Store, "open", counting_open)
    wrong = [client.post("/unlock", json={"passphrase": f"sai-{i}"}) for i in range(4)]
    answers = await asyncio.gather(*wrong)
    # Two are checked, one at a time; the others fall in the backoff after the second failure.
    assert sorted(r.status for r in answers) == [403, 403, 429, 429]
    assert peak == 1
    assert (await client.post("/unlock", json={"passphrase": PASSPHRASE})).status == 429
    await asyncio.sleep(1.1)
    assert (await client.post("/unlock", json={"passphrase": PASSPHRASE})).status == 200
    assert opened.done() and opened.result().count() == 0
    resp = await client.post("/unlock", json={"passphrase": PASSPHRASE}, allow_redirects=False)
    assert resp.status == 303  # already open: no second store
