"""The fault proxy itself: each mode does what the sync tests rely on."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from faultproxy import FaultProxy


@pytest.fixture
def echo_server():
    """A tiny TCP server that answers b'ok:<n>' after reading n bytes terminated by a newline."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()
    received: list[int] = []

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                data = b""
                conn.settimeout(5)
                try:
                    while not data.endswith(b"\n"):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    received.append(len(data))
                    conn.sendall(b"ok:%d" % len(data))
                except OSError:
                    received.append(-len(data))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1], received
    stop.set()
    thread.join(2)
    srv.close()


def _send(port: int, payload: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_pass_counts_bytes(echo_server):
    port, received = echo_server
    with FaultProxy("127.0.0.1", port) as proxy:
        assert _send(proxy.port, b"x" * 1000 + b"\n") == b"ok:1001"
        assert proxy.bytes_up == 1001
        assert proxy.bytes_down == len(b"ok:1001")


def test_cut_resets_after_n_bytes(echo_server):
    port, received = echo_server
    with FaultProxy("127.0.0.1", port) as proxy:
        proxy.set_mode("cut", after=300_000, repeat=True)
        with pytest.raises(OSError):
            _send(proxy.port, b"x" * 1_000_000 + b"\n")
        assert proxy.cuts == 1
        assert proxy.bytes_up == 300_000
        proxy.set_mode("pass")
        assert _send(proxy.port, b"y\n") == b"ok:2"


def test_stall_times_out_and_refuse_resets(echo_server):
    port, _ = echo_server
    with FaultProxy("127.0.0.1", port) as proxy:
        proxy.set_mode("stall")
        with pytest.raises(TimeoutError):
            _send(proxy.port, b"z\n", timeout=0.5)
        proxy.set_mode("refuse")
        with pytest.raises(OSError):
            _send(proxy.port, b"z\n")
        assert proxy.bytes_up == 0


def test_throttle_paces(echo_server):
    port, _ = echo_server
    with FaultProxy("127.0.0.1", port) as proxy:
        proxy.set_mode("throttle", bytes_per_second=200_000)
        start = time.monotonic()
        assert _send(proxy.port, b"x" * 100_000 + b"\n") == b"ok:100001"
        # 100 kB at 200 kB/s cannot take less than about half a second.
        assert time.monotonic() - start >= 0.4


def test_http_error_answers_then_forwards(echo_server):
    port, _ = echo_server
    with FaultProxy("127.0.0.1", port) as proxy:
        proxy.set_mode("http_error", status=503, count=1)
        answer = _send(proxy.port, b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert proxy.errors_sent == 1
        assert _send(proxy.port, b"q\n") == b"ok:2"
