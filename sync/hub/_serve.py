"""Running the hub: a TCP site (plain HTTP on loopback, or TLS), in-process or as a command."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import ssl
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from sync.errors import HubError

from ._app import HUB_KEY, Hub, create_hub_app
from ._blobs import open_blob_store
from ._keys import HubKeys, read_config
from ._limits import ConnectionGate, HubLimits
from ._metrics import watch_certificate
from .storage import HubStorage, open_storage

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise HubError(f"cannot load TLS certificate {cert} / key {key}: {exc}") from None
    return ctx


@dataclass
class RunningHub:
    """A hub serving on a port of this process's event loop."""

    runner: web.AppRunner
    host: str
    port: int
    scheme: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


class _GatedSite(web.TCPSite):
    """A TCP site whose connections pass a :class:`ConnectionGate` (the hub's connection limits)."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, *, ssl_context: ssl.SSLContext | None,
                 gate: ConnectionGate) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context)
        self.gate = gate

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self.gate, self._host, self._port, ssl=self._ssl_context,
                                                backlog=self._backlog)
        self._bound_port = self._server.sockets[0].getsockname()[1]


async def start_hub(app: web.Application, *, host: str = "127.0.0.1", port: int = 0,
                    ssl_context: ssl.SSLContext | None = None) -> RunningHub:
    """Start serving ``app`` (port 0 picks a free port); plain HTTP only on loopback.

    A hub app (``create_hub_app``) is served with its connection limits (``HubLimits``).
    """
    if ssl_context is None and not is_loopback(host):
        raise HubError(f"refusing plain HTTP on {host}: give --tls-cert and --tls-key, or bind to 127.0.0.1")
    hub = app.get(HUB_KEY)
    limits = hub.limits if isinstance(hub, Hub) else HubLimits()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5, keepalive_timeout=limits.idle_timeout)
    await runner.setup()
    assert runner.server is not None
    gate = ConnectionGate(runner.server, limits)
    if isinstance(hub, Hub):
        hub.gate = gate
    site = _GatedSite(runner, host, port, ssl_context=ssl_context, gate=gate)
    await site.start()
    addresses = runner.addresses
    actual = addresses[0][1] if addresses else port
    return RunningHub(runner=runner, host=host, port=actual, scheme="https" if ssl_context else "http")


def open_hub(data_dir: Path, *, db: str | None = None) -> tuple[HubStorage, HubKeys]:
    keys = HubKeys.load(data_dir)
    db = db or read_config(data_dir).get("db")
    return open_storage(db, data_dir=data_dir), keys


def serve_forever(data_dir: Path, *, host: str, port: int, db: str | None, tls_cert: Path | None,
                  tls_key: Path | None, ready_file: Path | None = None, limits: HubLimits | None = None) -> None:
    """`motcua hub serve`: run until SIGTERM/SIGINT."""
    if (tls_cert is None) != (tls_key is None):
        raise HubError("--tls-cert and --tls-key go together")
    ctx = tls_context(tls_cert, tls_key) if tls_cert and tls_key else None
    storage, keys = open_hub(data_dir, db=db)
    try:
        blobs = open_blob_store(data_dir)
        blobs.check()  # wrong credentials or a missing bucket stop the start, with their reason
    except BaseException:
        storage.close()
        raise

    async def main() -> None:
        app = create_hub_app(storage, keys, data_dir=data_dir, limits=limits, blobs=blobs)
        watch_certificate(app, tls_cert)  # its expiry in /metrics
        running = await start_hub(app, host=host, port=port, ssl_context=ctx)
        logger.warning("hub serving on %s (data %s, blobs %s)", running.url, data_dir, blobs.describe())
        if ready_file is not None:
            await asyncio.to_thread(ready_file.write_text, f"{running.url}\n")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await running.stop()

    try:
        asyncio.run(main())
    finally:
        blobs.close()
        storage.close()
