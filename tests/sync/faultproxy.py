"""A fault-injecting TCP proxy for sync tests and benchmarks (loopback only).

It listens on 127.0.0.1 and forwards each connection to a target, with a mode that can be
switched at run time from any thread:

- ``pass``: forward untouched;
- ``delay``: wait ``seconds`` before forwarding each chunk;
- ``throttle``: forward at most ``bytes_per_second`` in each direction;
- ``cut``: reset a connection (RST) once ``after`` bytes went client → target on it; with
  ``repeat=True`` every new connection is cut the same way, else only the first one to reach it;
- ``stall``: accept and never forward anything; live connections stop forwarding too (the
  client times out);
- ``refuse``: accept and reset at once (looks like a connection refused / dropped link);
- ``http_error``: answer ``status`` (503 by default) itself to the next ``count`` HTTP requests,
  then forward again.

It counts the bytes it forwarded in each direction, and can reset every live connection on demand
(``cut_all``). The proxy runs its own asyncio loop in a daemon thread, so synchronous tests,
asynchronous tests and benchmarks use it the same way::

    with FaultProxy("127.0.0.1", hub_port) as proxy:
        proxy.set_mode("cut", after=3 * 1024 * 1024, repeat=True)
        ...  # point the client at proxy.url
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

MODES = ("pass", "delay", "throttle", "cut", "stall", "refuse", "http_error")
_CHUNK = 64 * 1024


@dataclass
class _Mode:
    name: str = "pass"
    seconds: float = 0.0
    bytes_per_second: int = 0
    after: int = 0
    repeat: bool = True
    status: int = 503
    count: int = 0
    armed: bool = True


@dataclass(eq=False)
class _Conn:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    sent_up: int = 0
    tasks: list[asyncio.Task] = field(default_factory=list)


def _reset(writer: asyncio.StreamWriter | None) -> None:
    """Close with an RST (SO_LINGER 0), as a dropped link looks to the peer."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(Exception):
        writer.transport.abort()


class FaultProxy:
    """A TCP proxy 127.0.0.1:port → target_host:target_port with switchable faults."""

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self._port = port
        self._mode = _Mode()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[_Conn] = set()
        self._ready = threading.Event()
        self.bytes_up = 0  # client → target
        self.bytes_down = 0  # target → client
        self.connections = 0
        self.cuts = 0
        self.errors_sent = 0

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="faultproxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(Exception):
            fut.result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control (any thread) -------------------------------------------------------------------
    def set_mode(self, name: str, **params: object) -> None:
        if name not in MODES:
            raise ValueError(f"unknown proxy mode {name!r}; one of {', '.join(MODES)}")
        mode = _Mode(name=name)
        for key, value in params.items():
            if not hasattr(mode, key):
                raise ValueError(f"unknown parameter {key!r} for mode {name!r}")
            setattr(mode, key, value)
        with self._lock:
            self._mode = mode
            for conn in self._conns:
                conn.sent_up = 0

    @property
    def mode(self) -> str:
        return self._mode.name

    def reset_counters(self) -> None:
        with self._lock:
            self.bytes_up = self.bytes_down = self.connections = self.cuts = self.errors_sent = 0

    def cut_all(self) -> None:
        """Reset every live connection now."""
        if self._loop is None:
            return
        done = threading.Event()

        def cut() -> None:
            for conn in list(self._conns):
                self._cut(conn)
            done.set()

        self._loop.call_soon_threadsafe(cut)
        done.wait(5)

    # -- internals (proxy thread) ---------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self._port)
            self._port = self._server.sockets[0].getsockname()[1]

        loop.run_until_complete(boot())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            self._cut(conn)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def _cut(self, conn: _Conn) -> None:
        _reset(conn.client)
        _reset(conn.upstream)
        for task in conn.tasks:
            task.cancel()
        self._conns.discard(conn)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections += 1
        mode = self._mode
        conn = _Conn(client=writer)
        if mode.name == "refuse":
            _reset(writer)
            return
        if mode.name == "http_error" and mode.count > 0:
            if await self._answer_error(reader, writer):
                return
        if mode.name == "stall":
            self._conns.add(conn)
            with contextlib.suppress(Exception):
                while await reader.read(_CHUNK):
                    pass  # swallow, never forward, never answer
            self._conns.discard(conn)
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            _reset(writer)
            return
        conn.upstream = up_writer
        self._conns.add(conn)
        conn.tasks = [
            asyncio.ensure_future(self._pump(conn, reader, up_writer, upward=True)),
            asyncio.ensure_future(self._pump(conn, up_reader, writer, upward=False)),
        ]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*conn.tasks, return_exceptions=True)
        if conn in self._conns:
            self._conns.discard(conn)
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()

    async def _answer_error(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one HTTP request (headers and body) and answer the configured status."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            _reset(writer)
            return True
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                with contextlib.suppress(ValueError):
                    length = int(value.strip())
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while length > 0:
                chunk = await reader.read(min(length, _CHUNK))
                if not chunk:
                    break
                length -= len(chunk)
        with self._lock:
            mode = self._mode
            if mode.name != "http_error" or mode.count <= 0:
                answered = False
            else:
                mode.count -= 1
                self.errors_sent += 1
                answered = True
        if not answered:
            # The budget ran out while this request was read: it cannot be forwarded any more
            # (its bytes were consumed), so drop the connection as a broken link would.
            _reset(writer)
            return True
        body = b'{"error":"unavailable","message":"injected by the fault proxy"}'
        reason = {503: "Service Unavailable", 502: "Bad Gateway", 500: "Internal Server Error",
                  429: "Too Many Requests", 408: "Request Timeout"}.get(mode.status, "Error")
        extra = b"Retry-After: 1\r\n" if mode.status in (429, 503) else b""
        writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n%s"
                     % (mode.status, reason.encode(), len(body), extra, body))
        with contextlib.suppress(Exception):
            await writer.drain()
            writer.close()
        return True

    async def _pump(self, conn: _Conn, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    *, upward: bool) -> None:
        window_start = time.monotonic()
        window_bytes = 0
        try:
            while True:
                mode = self._mode
                limit = _CHUNK
                if mode.name == "throttle" and mode.bytes_per_second > 0:
                    limit = max(1, min(_CHUNK, mode.bytes_per_second // 10 or 1))
                if upward and mode.name == "cut" and mode.armed:
                    limit = max(1, min(limit, mode.after - conn.sent_up)) if mode.after > conn.sent_up else 1
                data = await reader.read(limit)
                while self._mode.name == "stall":  # noqa: ASYNC110 - mode is switched from another thread
                    await asyncio.sleep(0.05)
                if not data:
                    with contextlib.suppress(Exception):
                        writer.write_eof()
                    return
                mode = self._mode
                if mode.name == "delay" and mode.seconds > 0:
                    await asyncio.sleep(mode.seconds)
                elif mode.name == "throttle" and mode.bytes_per_second > 0:
                    window_bytes += len(data)
                    expected = window_bytes / mode.bytes_per_second
                    elapsed = time.monotonic() - window_start
                    if expected > elapsed:
                        await asyncio.sleep(expected - elapsed)
                if upward and mode.name == "cut" and mode.armed and conn.sent_up + len(data) > mode.after:
                    keep = max(0, mode.after - conn.sent_up)
                    if keep:
                        writer.write(data[:keep])
                        with self._lock:
                            self.bytes_up += keep
                        with contextlib.suppress(Exception):
                            await writer.drain()
                    with self._lock:
                        self.cuts += 1
                        if not mode.repeat:
                            mode.armed = False
                    self._cut(conn)
                    return
                writer.write(data)
                with self._lock:
                    if upward:
                        self.bytes_up += len(data)
                        conn.sent_up += len(data)
                    else:
                        self.bytes_down += len(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            self._cut(conn)
