"""Small parts of the client: backoff, retry classes, token bucket, transport rules, hub clock."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest
from click.testing import CliRunner

from sync.client import (
    Backoff,
    HubClock,
    InsecureTransportError,
    OutboxState,
    TokenBucket,
    can_move,
    check_hub_url,
    describe_vi,
    is_transient_status,
    parse_retry_after,
)
from sync.client._errors import is_transient
from sync.errors import ApiError, TransportError


def test_full_jitter_stays_within_the_exponential_cap():
    backoff = Backoff(base_seconds=2, cap_seconds=60, rng=random.Random(7))
    for attempt in range(1, 12):
        ceiling = min(60, 2 * 2 ** (attempt - 1))
        samples = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # spread over the whole range, not a fixed value
    assert backoff.delay(1, retry_after=30) >= 30  # Retry-After is a floor


def test_retry_classes():
    for status in (408, 409, 429, 500, 502, 503, 507):
        assert is_transient_status(status)
    for status in (400, 401, 403, 404, 413, 415):
        assert not is_transient_status(status)
    assert is_transient(ApiError(503, "unavailable", "x"))
    assert is_transient(ApiError(409, "offset_mismatch", "x"))
    assert not is_transient(ApiError(409, "manifest_conflict", "x"))
    assert not is_transient(ApiError(400, "invalid_request", "x"))
    assert is_transient(TransportError("reset"))
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None


def test_vietnamese_descriptions():
    assert "thu hồi" in describe_vi(ApiError(403, "station_revoked", "revoked"))
    assert "tự gửi lại" in describe_vi(TransportError("connection refused"))
    assert "máy chủ" in describe_vi(ApiError(599, "weird", "x")).lower()


def test_state_machine_transitions():
    assert can_move("sealed", "created")
    assert can_move("uploading", "committed")
    assert not can_move("sealed", "shredded")  # never shredded without a receipt
    assert not can_move("retry_wait", "shredded")
    assert not can_move("rejected", "committed")
    assert can_move("committed", "shredded")
    assert OutboxState("retry_wait") is OutboxState.RETRY_WAIT


def test_plain_http_only_to_loopback():
    assert check_hub_url("http://127.0.0.1:8700", ca_file=None) == "http://127.0.0.1:8700"
    assert check_hub_url("http://[::1]:8700/", ca_file=None) == "http://[::1]:8700"
    assert check_hub_url("http://localhost:1", ca_file=None)
    with pytest.raises(InsecureTransportError, match="plain http"):
        check_hub_url("http://hub.example.vn", ca_file=None)
    with pytest.raises(InsecureTransportError, match="CA"):
        check_hub_url("https://hub.example.vn", ca_file=None)
    assert check_hub_url("https://hub.example.vn", ca_file="/x/ca.pem")


async def test_token_bucket_paces_to_the_rate():
    bucket = TokenBucket(200_000)  # 200 kB/s, burst one second
    start = time.monotonic()
    sent = 0
    async for piece in bucket.pace([b"x" * 500_000]):
        sent += len(piece)
    assert sent == 500_000
    # 200 kB of burst, then 300 kB at 200 kB/s: at least 1.5 s.
    assert time.monotonic() - start >= 1.4
    assert TokenBucket.from_kbps(0).unlimited


def test_hub_clock_offset_and_jump():
    wall = {"t": 1_000_000.0}
    clock = HubClock(wall=lambda: wall["t"])
    assert not clock.anchored
    assert clock.observe(1_000_100.0, sent_at=1_000_000.0, received_at=1_000_000.2)
    assert clock.anchored and abs(clock.state.offset - 99.9) < 0.01
    assert abs(clock.now() - 1_000_099.9) < 0.01
    # A less precise measurement that agrees changes nothing.
    wall["t"] += 10
    assert not clock.observe(1_000_109.9, sent_at=wall["t"] - 2, received_at=wall["t"])
    # The box clock jumped back a day: the offset follows.
    wall["t"] -= 86400
    assert clock.observe(1_000_120.0, sent_at=wall["t"], received_at=wall["t"] + 0.1)
    assert abs(clock.state.offset - (86400 + 100)) < 50


def test_cli_status_json(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from boxkit import add_dossier, make_box

    from edge.cli._main import cli

    settings, store = make_box(tmp_path)
    add_dossier(store, pages=1)
    store.close()
    import tomli_w

    cfg = tmp_path / "edge.toml"
    cfg.write_bytes(tomli_w.dumps({"store": {"state_dir": settings.store.state_dir, "hpke_kem": "X25519"}}).encode())
    result = CliRunner().invoke(cli, ["--config", str(cfg), "sync", "status", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["pending"] == 1 and doc["enrolled"] is False
    assert doc["dossiers"][0]["state"] == "sealed" and doc["dossiers"][0]["state_vi"] == "Chờ gửi"
    result = CliRunner().invoke(cli, ["--config", str(cfg), "sync", "now"])
    assert result.exit_code != 0
    assert "enroll" in str(result.exception) or "enroll" in result.output


async def test_kick_runs_a_push_soon(tmp_path, hub, proxy):
    """start() schedules the jobs; kick() after a finalize pushes without waiting for the interval."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from boxkit import add_dossier, assert_exactly_once, make_box

    from sync.client import SyncClient, enroll_async

    settings, store = make_box(tmp_path, push_interval_seconds=3600, pull_interval_seconds=3600,
                               heartbeat_interval_seconds=3600)
    await enroll_async(store, proxy.url, hub.add_station("HN-0001"), station_id="HN-0001")
    client = SyncClient(settings=settings, store=store)
    await client.start()
    try:
        await asyncio.sleep(3)  # the first scheduled runs pass (nothing to push yet)
        add_dossier(store, pages=1)
        client.kick()
        deadline = time.monotonic() + 20
        while client.status().pending and time.monotonic() < deadline:  # noqa: ASYNC110 - polling the store
            await asyncio.sleep(0.1)
        assert client.status().pending == 0
        assert_exactly_once(store, hub)
        assert client.scheduler is not None and client.scheduler.running
    finally:
        await client.stop()
        store.close()
