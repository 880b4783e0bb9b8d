"""Fuzzing the running hub with JSON bodies (signed and not): never a 500, always a protocol error
answer, and nothing written on a refusal. Real hubs (SQLite and PostgreSQL) on 127.0.0.1."""

from __future__ import annotations

import json

from hubclient import fake_manifest
from hypothesis import given
from hypothesis import strategies as st

from sync.protocol import ERROR_CODES

_text = st.text(max_size=16) | st.sampled_from(["000.00.06.H56-261122-0001", "HN-0001", "a" * 64, "AAAA", "１２",
                                                "2026-11-22T09:00:00+07:00", "X25519", "\ud800"])
_scalar = st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats() | _text
_json = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=5),
                     max_leaves=20)


def _mutated_manifest(station_id: str):
    base = fake_manifest(station_id)
    return st.dictionaries(st.sampled_from(sorted(base)), _json, max_size=3).map(lambda ch: {**base, **ch})


def _body(value) -> bytes:
    # ensure_ascii: lone surrogates go out as \ud800 escapes, as a hostile client would send them.
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def _check(reply) -> None:
    assert reply.status < 500, (reply.status, reply.body[:300])
    if reply.status >= 400:
        error = reply.json["error"]
        assert error["code"] in ERROR_CODES and error["message"] and reply.code == error["code"]


def test_fuzz_hub_json_bodies(hub, station):
    dossier = fake_manifest(station.station_id)
    assert station.put(dossier).status == 201
    routes = [("PUT", f"/v1/dossiers/{dossier['dossier_id']}"), ("POST", "/v1/heartbeat"),
              ("POST", "/v1/keys/rotate"), ("POST", f"/v1/dossiers/{dossier['dossier_id']}/commit")]
    stored = len(hub.storage.list_dossiers())
    key = station.key.public_key().public_bytes_raw()

    @given(route=st.sampled_from(routes + [("POST", "/v1/enroll")]),
           value=_json | st.binary(max_size=64) | _mutated_manifest(station.station_id))
    def run(route, value):
        method, path = route
        body = _body(value)
        if path == "/v1/enroll":
            reply = station.raw(method, path, body, {"Content-Type": "application/json"})
        else:
            reply = station.signed(method, path, body)
        _check(reply)
        assert reply.status != 201
        # Nothing changed: no new dossier, the station's key is the same.
        assert len(hub.storage.list_dossiers()) == stored
        assert hub.storage.get_station(station.station_id).public_key == key

    run()
