"""What an unauthenticated or slow client can hold: answered before its body is read, a deadline for
the whole request, caps on connections and on requests not yet authenticated.

Real hubs (SQLite and PostgreSQL) on 127.0.0.1, raw sockets as the clients.
"""

from __future__ import annotations

import json
import resource
import socket
import time
import urllib.parse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hubclient import Station, fake_manifest

from sync.protocol import CHUNK_MEDIA_TYPE, sign_request

MiB = 1024 * 1024


def _addr(url: str) -> tuple[str, int]:
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port


def _request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_reply(sock: socket.socket, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP answer (status, lower-case headers, body) or fail after ``timeout`` seconds."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError(f"closed without an answer: {data!r}")
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        body += piece
    return int(lines[0].split()[1]), headers, body[:length]


def _signed_head(station_id: str, method: str, path: str, *, length: int, content_type: str,
                 key: Ed25519PrivateKey | None = None, offset_ms: int = 0, extra: dict | None = None) -> bytes:
    key = key or Ed25519PrivateKey.generate()
    headers = sign_request(key, station_id=station_id, method=method, path_qs=path,
                           content_sha256="0" * 64, timestamp_ms=int(time.time() * 1000) + offset_ms)
    headers.update({"Content-Type": content_type, "Content-Length": str(length), **(extra or {})})
    return _request_head(method, path, headers)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("method, path, length, content_type", [
    ("PUT", "/v1/dossiers/abcdefgh1234", 4 * MiB, "application/json"),
    ("POST", "/v1/heartbeat", 4 * MiB, "application/json"),
    ("PATCH", f"/v1/dossiers/abcdefgh1234/blobs/{'a' * 64}", 16 * MiB, CHUNK_MEDIA_TYPE),
])
def test_unknown_station_is_answered_before_its_body_is_read(hub, method, path, length, content_type):
    with socket.create_connection(_addr(hub.url)) as sock:
        sock.sendall(_signed_head("XX-9999", method, path, length=length, content_type=content_type,
                                  extra={"Upload-Offset": "0"}))
        started = time.monotonic()
        status, headers, body = _read_reply(sock, timeout=3)  # no byte of the body was sent
    assert status == 401 and headers["x-motcua-error"] == "unknown_station", body
    assert json.loads(body)["error"]["message"]
    assert time.monotonic() - started < 3


def test_many_unknown_station_bodies_do_not_fill_the_hub(hub):
    before = _rss_mb()
    socks = []
    try:
        for _ in range(40):
            sock = socket.create_connection(_addr(hub.url))
            socks.append(sock)
            sock.sendall(_signed_head("XX-9999", "PUT", "/v1/dossiers/abcdefgh1234", length=4 * MiB,
                                      content_type="application/json"))
            sock.setblocking(False)
            chunk = b"x" * (256 * 1024)
            for _ in range(16):  # push as much of a 4 MiB body as the hub lets in
                try:
                    sock.send(chunk)
                except (BlockingIOError, OSError):
                    break
        time.sleep(1)
        grown = _rss_mb() - before
    finally:
        for sock in socks:
            sock.close()
    assert grown < 40, f"the hub grew by {grown:.0f} MB for 40 unauthenticated bodies"


def test_a_trickled_json_body_gets_an_answer_within_the_deadline(hub, limited_hub, station):
    url = limited_hub(body_deadline=3)
    m = json.dumps(fake_manifest(station.station_id)).encode()
    path = f"/v1/dossiers/{json.loads(m)['dossier_id']}"
    headers = station.signer.headers("PUT", path, m)
    headers.update({"Content-Type": "application/json", "Content-Length": str(len(m))})
    with socket.create_connection(_addr(url)) as sock:
        sock.sendall(_request_head("PUT", path, headers))
        started = time.monotonic()
        sock.settimeout(0.1)
        reply = None
        for i in range(len(m)):
            try:
                sock.send(m[i:i + 1])
            except OSError:
                break
            try:
                reply = _read_reply(sock, timeout=2)  # one byte every 2 s
                break
            except TimeoutError:
                continue
        elapsed = time.monotonic() - started
    assert reply is not None and reply[0] == 408 and reply[1]["x-motcua-error"] == "request_timeout", reply
    assert json.loads(reply[2])["error"]["retryable"] is True
    assert elapsed < 8
    assert hub.storage.list_dossiers() == []


def test_a_trickled_chunk_gets_an_answer_within_the_deadline(hub, limited_hub, station):
    url = limited_hub(body_deadline=3, min_body_rate=1024 * 1024)
    blob = b"y" * 5000
    m = fake_manifest(station.station_id, blobs=[blob])
    assert station.put(m).status == 201
    sha = m["blobs"][0]["sha256"]
    path = f"/v1/dossiers/{m['dossier_id']}/blobs/{sha}"
    headers = station.signer.headers("PATCH", path, blob)
    headers.update({"Content-Type": CHUNK_MEDIA_TYPE, "Content-Length": str(len(blob)), "Upload-Offset": "0"})
    with socket.create_connection(_addr(url)) as sock:
        sock.sendall(_request_head("PATCH", path, headers))
        started = time.monotonic()
        reply = None
        for i in range(len(blob)):
            try:
                sock.send(blob[i:i + 1])
            except OSError:
                break
            try:
                reply = _read_reply(sock, timeout=2)
                break
            except TimeoutError:
                continue
        elapsed = time.monotonic() - started
    assert reply is not None and reply[1]["x-motcua-error"] in ("request_timeout", "invalid_request"), reply
    assert elapsed < 8
    # What arrived is kept (the whole-blob hash still guards it): the box resumes from there.
    assert 0 < int(station.head(m["dossier_id"], sha).headers["upload-offset"]) < len(blob)


def test_trickled_headers_are_cut_at_the_deadline(limited_hub):
    url = limited_hub(body_deadline=2)
    with socket.create_connection(_addr(url)) as sock:
        sock.sendall(b"GET /v1/time HTTP/1.1\r\n")
        started = time.monotonic()
        closed = False
        for _ in range(6):
            try:
                sock.sendall(b"X")
                sock.settimeout(1)
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed and time.monotonic() - started < 6


def test_connection_cap_answers_503_and_frees_up(hub, limited_hub):
    url = limited_hub(max_connections=4)
    held = [socket.create_connection(_addr(url)) for _ in range(4)]
    try:
        time.sleep(0.2)
        with socket.create_connection(_addr(url)) as sock:
            sock.sendall(_request_head("GET", "/v1/time", {}))
            status, headers, body = _read_reply(sock, timeout=3)
        assert status == 503 and headers["x-motcua-error"] == "unavailable" and int(headers["retry-after"]) >= 1
        assert json.loads(body)["error"]["retryable"] is True
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    assert Station(url, "HN-0001").raw("GET", "/v1/time").status == 200


def test_unauthenticated_cap_answers_503(hub, limited_hub):
    url = limited_hub(max_unauthenticated=2)
    held = []
    try:
        for _ in range(2):  # two enrollments whose bodies never come
            sock = socket.create_connection(_addr(url))
            held.append(sock)
            sock.sendall(_request_head("POST", "/v1/enroll", {"Content-Type": "application/json",
                                                              "Content-Length": "100"}))
        time.sleep(0.3)
        reply = Station(url, "HN-0001").raw("POST", "/v1/enroll", b"{}", {"Content-Type": "application/json"})
        assert reply.status == 503 and reply.code == "unavailable" and "retry-after" in reply.headers
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    reply = Station(url, "HN-0001").raw("POST", "/v1/enroll", b"{}", {"Content-Type": "application/json"})
    assert reply.status == 400


def test_an_enrollment_body_is_small(hub):
    with socket.create_connection(_addr(hub.url)) as sock:
        sock.sendall(_request_head("POST", "/v1/enroll", {"Content-Type": "application/json",
                                                          "Content-Length": str(4 * MiB)}))
        status, headers, _ = _read_reply(sock, timeout=3)
    assert status == 413 and headers["x-motcua-error"] == "too_large"
