"""Shared sync fixtures: PostgreSQL for the session, and a real hub on 127.0.0.1.

``hub_factory(backend="sqlite"|"postgres")`` starts a hub (in a thread with its own event loop,
real HTTP on a free loopback port) over a fresh SQLite file or a fresh PostgreSQL schema; the
``hub`` fixture is parametrized over both backends. ``hub_process`` runs ``motcua hub serve`` as a
subprocess (for restart tests).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sync.hub import BlobStore, HubKeys, create_hub_app, init_data_dir, start_hub
from sync.hub.storage import HubStorage, NewStation
from sync.protocol import new_token, token_sha256

AGENCY = "000.00.06.H56"
PG_VERSION = "15"
PG_CLUSTER = "main"


def _pg_running() -> bool:
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False).stdout
    return any(line.split()[:2] == [PG_VERSION, PG_CLUSTER] and "online" in line for line in out.splitlines())


def _psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", db, "-c", sql],
                   check=True, capture_output=True, text=True)


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A throwaway PostgreSQL database (the cluster is started, and stopped again, if needed)."""
    if shutil.which("pg_ctlcluster") is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    started = False
    if not _pg_running():
        subprocess.run(["pg_ctlcluster", PG_VERSION, PG_CLUSTER, "start"], check=True, capture_output=True)
        started = True
    name = f"motcua_test_{secrets.token_hex(4)}"
    password = secrets.token_hex(16)
    role = name
    try:
        _psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        _psql(f"CREATE DATABASE {name} OWNER {role}")
        yield f"postgresql://{role}:{password}@127.0.0.1:5432/{name}"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                       capture_output=True, check=False)
        subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-c", f"DROP ROLE IF EXISTS {role}"],
                       capture_output=True, check=False)
        if started:
            subprocess.run(["pg_ctlcluster", PG_VERSION, PG_CLUSTER, "stop"], capture_output=True, check=False)


@pytest.fixture(scope="session")
def rgw():
    """A one-node Ceph with the RADOS Gateway for the whole session (bench/_stack.py)."""
    from bench._stack import RgwUnavailable, start_rgw

    try:
        gateway = start_rgw()
    except RgwUnavailable as exc:
        pytest.skip(f"Ceph RGW cannot start here: {exc}")
    try:
        yield gateway
    finally:
        gateway.stop()


def make_storage(backend: str, data_dir: Path, pg_dsn: str | None = None) -> HubStorage:
    if backend == "postgres":
        from sync.hub.storage.postgres import PostgresStorage

        assert pg_dsn
        storage: HubStorage = PostgresStorage(pg_dsn, schema=f"t_{secrets.token_hex(6)}")
    else:
        from sync.hub.storage.sqlite import SqliteStorage

        storage = SqliteStorage(data_dir / "hub.sqlite3")
    storage.setup()
    return storage


class _LoopThread:
    """An event loop in a daemon thread (the hub serves from here while tests block or await)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hub-loop", daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class HubHandle:
    """A running hub: its URL, storage, keys, data directory and helpers for admin actions."""

    backend: str
    data_dir: Path
    storage: HubStorage
    keys: HubKeys
    city_private_key_path: Path | None
    url: str = ""
    clock_offset_ms: int = 0
    pg_dsn: str | None = None
    blobs: BlobStore | None = None  # the blob store the hub serves from (None: as hub.json says)
    city: object = None  # a sync.hub.CityConfig: the city connector
    _loop: _LoopThread | None = field(default=None, repr=False)
    _running: object = field(default=None, repr=False)

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    def add_station(self, station_id: str, *, agency: str = AGENCY, expires_in_s: float = 3600,
                    partition_index: int | None = None) -> str:
        """Register a station; returns its one-time token."""
        token = new_token()
        self.storage.add_station(NewStation(station_id=station_id, agency_code=agency, name=f"Trạm {station_id}",
                                            partition_index=partition_index),
                                 token_sha256=token_sha256(token), token_expires_at=self.now_ms() + int(expires_in_s * 1000),
                                 now=self.now_ms())
        return token

    def start(self) -> None:
        self._loop = _LoopThread()
        app = create_hub_app(self.storage, self.keys, data_dir=self.data_dir, clock=self.now_ms, read_timeout=5.0,
                             blobs=self.blobs, city=self.city)
        self._running = self._loop.run(start_hub(app, host="127.0.0.1", port=0))
        self.url = self._running.url  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._loop is not None:
            if self._running is not None:
                self._loop.run(self._running.stop())  # type: ignore[attr-defined]
                self._running = None
            self._loop.close()
            self._loop = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def new_worker_storage(self) -> HubStorage:
        """Another connection set to the same database (another hub worker's view)."""
        if self.backend == "postgres":
            from sync.hub.storage.postgres import PostgresStorage

            return PostgresStorage(self.pg_dsn or "", schema=self.storage.schema)  # type: ignore[attr-defined]
        from sync.hub.storage.sqlite import SqliteStorage

        return SqliteStorage(self.data_dir / "hub.sqlite3")


@pytest.fixture
def hub_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator:
    handles: list[HubHandle] = []

    def make(backend: str = "sqlite", *, start: bool = True, worker_of: HubHandle | None = None,
             blobs: BlobStore | None = None, city: object = None) -> HubHandle:
        """A new hub; with ``worker_of``, a second worker on the same database, keys and data dir."""
        if worker_of is not None:
            handle = HubHandle(backend=worker_of.backend, data_dir=worker_of.data_dir,
                               storage=worker_of.new_worker_storage(), keys=worker_of.keys,
                               city_private_key_path=worker_of.city_private_key_path, pg_dsn=worker_of.pg_dsn,
                               blobs=blobs)
            handles.append(handle)
            if start:
                handle.start()
            return handle
        data_dir = tmp_path / f"hub-{len(handles)}"
        keys, private = init_data_dir(data_dir, kem="X25519")
        dsn = request.getfixturevalue("pg_dsn") if backend == "postgres" else None
        handle = HubHandle(backend=backend, data_dir=data_dir, storage=make_storage(backend, data_dir, dsn),
                           keys=keys, city_private_key_path=private, pg_dsn=dsn, blobs=blobs, city=city)
        handles.append(handle)
        if start:
            handle.start()
        return handle

    yield make
    for handle in handles:
        handle.stop()
        handle.storage.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def hub(request: pytest.FixtureRequest, hub_factory) -> HubHandle:
    """A running hub, once per storage backend."""
    return hub_factory(request.param)


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator:
    """Start `motcua hub serve` in a subprocess; returns (url, data_dir, stop) — stopped by PID."""
    procs: list[subprocess.Popen] = []

    def start(data_dir: Path | None = None, *, db: str | None = None, port: int = 0,
              env: dict[str, str] | None = None) -> tuple[str, Path, subprocess.Popen]:
        if data_dir is None:
            data_dir = tmp_path / f"hubproc-{len(procs)}"
            init_data_dir(data_dir, kem="X25519", db=db)
        ready = tmp_path / f"ready-{len(procs)}-{secrets.token_hex(3)}"
        if port == 0:
            import socket

            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "edge.cli", "hub", "serve", "--data-dir", str(data_dir), "--port", str(port),
               "--ready-file", str(ready)]
        if db:
            cmd += ["--db", db]
        proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(proc)
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"hub exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            if time.monotonic() > deadline:
                raise RuntimeError("hub did not start within 30 s")
            time.sleep(0.05)
        return ready.read_text().strip(), data_dir, proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
