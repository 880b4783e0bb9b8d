"""Passphrase guessing at the unlock page is slowed down, then locked out, across restarts of
the page; the failed attempts reach the audit log when the store opens."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from edge.app._server import unlock_app
from edge.app._unlock_guard import FILE_NAME, LOCKOUT_AFTER, LOCKOUT_SECONDS
from edge.store import Store
from tests.edge.app.conftest import PASSPHRASE


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def page(aiohttp_client, locked_settings):
    """page() starts (or restarts) the unlock page on the same state directory and clock."""
    clock = Clock()
    opened_stores = []

    async def start():
        opened = asyncio.get_running_loop().create_future()
        client = await aiohttp_client(unlock_app(locked_settings, opened, clock=clock))
        opened_stores.append(opened)
        return client, opened

    start.clock = clock
    yield start
    for opened in opened_stores:
        if opened.done():
            opened.result().close()


async def _try(client, passphrase: str):
    resp = await client.post("/unlock", json={"passphrase": passphrase})
    return resp.status, (await resp.json())["message"], resp.headers.get("Retry-After")


async def test_backoff_after_the_second_failure_even_for_the_right_passphrase(page):
    client, opened = await page()
    assert (await _try(client, "sai-1"))[0] == 403  # a typo costs nothing
    assert (await _try(client, "sai-2"))[0] == 403
    status, message, retry = await _try(client, PASSPHRASE)
    assert status == 429 and int(retry) >= 1 and "đợi" in message
    assert not opened.done()
    page.clock.now += 1.5
    assert (await _try(client, "sai-3"))[0] == 403
    page.clock.now += 1.5  # the wait doubled to 2 s
    assert (await _try(client, PASSPHRASE))[0] == 429
    page.clock.now += 1
    assert (await _try(client, PASSPHRASE))[0] == 200
    assert opened.done()


async def test_lockout_survives_a_restart_and_failures_reach_the_audit_log(page, locked_settings):
    client, opened = await page()
    for i in range(LOCKOUT_AFTER):
        status, _message, _retry = await _try(client, f"sai-{i}")
        assert status == 403
        page.clock.now += 61
    status, message, retry = await _try(client, PASSPHRASE)
    assert status == 429 and int(retry) > LOCKOUT_SECONDS - 120 and "tạm khóa" in message
    record = Path(locked_settings.store.state_dir) / FILE_NAME
    assert record.stat().st_mode & 0o777 == 0o600
    assert PASSPHRASE not in record.read_text() and "sai-" not in record.read_text()
    # The service restarts: the lockout is still there.
    client, opened = await page()
    assert (await _try(client, PASSPHRASE))[0] == 429
    page.clock.now += LOCKOUT_SECONDS + 1
    assert (await _try(client, PASSPHRASE))[0] == 200
    store = opened.result()
    failed = store.query("SELECT actor, details FROM audit WHERE action = 'store.unlock_failed' ORDER BY seq")
    assert len(failed) == LOCKOUT_AFTER
    assert all(json.loads(r["details"])["failed_at"] for r in failed)
    assert not record.exists()


async def test_a_damaged_record_does_not_reset_the_count(page, locked_settings):
    (Path(locked_settings.store.state_dir) / FILE_NAME).write_text("{not json")
    client, opened = await page()
    assert (await _try(client, PASSPHRASE))[0] == 429
    assert not opened.done()


async def test_a_burst_of_guesses_gets_two_checks_only(page, monkeypatch):
    client, opened = await page()
    checks = 0
    real_open = Store.open

    def counting_open(*args, **kwargs):
        nonlocal checks
        checks += 1
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Store, "open", counting_open)
    answers = await asyncio.gather(*(client.post("/unlock", json={"passphrase": f"sai-{i}"}) for i in range(8)))
    assert sorted(r.status for r in answers) == [403, 403] + [429] * 6
    assert checks == 2 and not opened.done()
