"""Hub hardening: private database files, deeply nested JSON refused cleanly."""

from __future__ import annotations

import os
import stat

import pytest
from hubclient import Station

from sync.hub.storage.sqlite import SqliteStorage


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_hub_database_files_are_private_whatever_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        storage = SqliteStorage(tmp_path / "hub.sqlite3")
        storage.setup()
        storage.close()
    finally:
        os.umask(old)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("hub.sqlite3")]
    assert files
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name


def test_deeply_nested_json_is_a_clean_400(hub, station):
    # An enrollment is small (4 KiB at most): nested deeper than the parser goes, within that.
    body = b"[" * 2000 + b"]" * 2000
    reply = Station(hub.url, "HN-0009").raw("POST", "/v1/enroll", body, {"Content-Type": "application/json"})
    assert reply.status == 400
    assert reply.json["error"]["code"] == "invalid_request"
    # A signed body may be larger: 200 000 levels.
    reply = station.signed("POST", "/v1/heartbeat", b"[" * 200_000 + b"]" * 200_000)
    assert reply.status == 400 and reply.json["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("body", [
    rb'{"\ud800": 1}',                                   # a lone surrogate as a key (an unknown field)
    rb'{"station_id": "\udfff", "token": "A", "public_key": "A"}',  # ... and as a value
    b'{"station_id": "\xff\xfe"}',                       # not UTF-8
    b'{"station_id": 1e999999}',                          # a number too large for a float
])
def test_unparsable_json_is_a_400_protocol_error(hub, body):
    reply = Station(hub.url, "HN-0009").raw("POST", "/v1/enroll", body, {"Content-Type": "application/json"})
    assert reply.status == 400, reply.body
    assert reply.code == "invalid_request"
    error = reply.json["error"]
    assert error["code"] == "invalid_request" and error["message"] and error["retryable"] is False
