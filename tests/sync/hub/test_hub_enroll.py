"""Enrollment: one-time tokens, expiry, concurrency, the anchors a box learns, time."""

from __future__ import annotations

import base64
import concurrent.futures
import json

from hubclient import Station

from sync.protocol import H_SERVER_TIME


def test_time_is_unsigned_and_every_answer_carries_server_time(hub):
    st = Station(hub.url, "nobody")
    reply = st.raw("GET", "/v1/time")
    assert reply.status == 200
    assert abs(reply.json["server_time_ms"] - hub.now_ms()) < 60_000
    missing = st.raw("GET", "/v1/nope")
    assert missing.status == 404 and missing.json["error"]["code"] == "not_found"
    assert H_SERVER_TIME.lower() in missing.headers and missing.headers["x-motcua-protocol"] == "1"


def test_enroll_returns_station_partition_and_anchors(hub):
    token = hub.add_station("HN-0001", partition_index=3)
    st = Station(hub.url, "HN-0001")
    reply = st.enroll(token)
    assert reply.status == 200, reply.body
    body = reply.json
    assert body["station"]["station_id"] == "HN-0001" and body["station"]["agency_code"] == "000.00.06.H56"
    assert body["code_partition"] == {"agency_code": "000.00.06.H56", "partition_index": 3, "partition_size": 1000}
    assert base64.b64decode(body["hub"]["receipt_public_key"]) == hub.keys.receipt_public_raw
    assert body["hub"]["city_public_key"] == hub.keys.city_public.to_json()
    assert st.signed("GET", "/v1/station").status == 200


def test_token_is_single_use_and_a_lost_answer_can_be_repeated(hub):
    token = hub.add_station("HN-0001")
    first = Station(hub.url, "HN-0001")
    assert first.enroll(token).status == 200
    # The same box repeating (same key) gets the same record back.
    again = first.enroll(token)
    assert again.status == 200 and again.json["station"]["station_id"] == "HN-0001"
    thief = Station(hub.url, "HN-0001")
    reply = thief.enroll(token)
    assert reply.status == 403 and reply.json["error"]["code"] == "token_used"
    assert reply.json["error"]["retryable"] is False
    assert thief.signed("GET", "/v1/station").json["error"]["code"] == "bad_signature"


def test_concurrent_enrollments_one_wins(hub):
    token = hub.add_station("HN-0002")
    boxes = [Station(hub.url, "HN-0002") for _ in range(6)]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda b: b.enroll(token), boxes))
    assert sorted(r.status for r in replies) == [200] + [403] * 5
    winner = boxes[[r.status for r in replies].index(200)]
    assert winner.signed("GET", "/v1/station").status == 200


def test_expired_token_refused(hub):
    token = hub.add_station("HN-0003", expires_in_s=-1)
    reply = Station(hub.url, "HN-0003").enroll(token)
    assert reply.status == 401 and reply.json["error"]["code"] == "token_expired"


def test_wrong_token_or_station_refused(hub):
    token = hub.add_station("HN-0004")
    hub.add_station("HN-0005")
    assert Station(hub.url, "HN-0005").enroll(token).json["error"]["code"] == "token_invalid"
    assert Station(hub.url, "HN-0404").enroll(token).json["error"]["code"] == "token_invalid"


def test_malformed_enroll_names_the_field(hub):
    st = Station(hub.url, "HN-0001")
    reply = st.raw("POST", "/v1/enroll", json.dumps({"station_id": "HN-0001", "token": "x", "public_key": "AAAA"}).encode(),
                   {"Content-Type": "application/json"})
    assert reply.status == 400 and reply.json["error"]["code"] == "invalid_request"
    assert reply.json["field"] in ("token", "public_key")
    reply = st.raw("POST", "/v1/enroll", b"{not json", {"Content-Type": "application/json"})
    assert reply.status == 400


def test_new_token_reprovisions_a_revoked_station(hub):
    import uuid

    from sync.hub._core import wipe_builder

    token = hub.add_station("HN-0006")
    old = Station(hub.url, "HN-0006")
    assert old.enroll(token).status == 200
    hub.storage.revoke("HN-0006", reason="stolen", now=hub.now_ms(), command_id=uuid.uuid4().hex,
                       build_command=wipe_builder(hub.keys, "stolen"))
    assert old.signed("GET", "/v1/station").status == 403
    replacement = Station(hub.url, "HN-0006")
    assert replacement.enroll(hub.add_station("HN-0006")).status == 200
    assert replacement.signed("GET", "/v1/station").status == 200
    # The stolen box's key stays refused, and the refusal still carries its wipe command.
    refused = old.signed("GET", "/v1/station").json
    assert refused["error"]["code"] == "station_revoked" and refused["command"]["command"]["kind"] == "wipe"
