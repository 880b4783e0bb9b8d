"""``motcua bench sync``: box → hub upload throughput against a bare aiohttp PUT, resume overhead.

- The hub runs as its own process (``motcua hub serve`` on 127.0.0.1), so the box's memory is
  measured alone: ``details.peak_rss_mb`` is the peak RSS of this process while it syncs.
- value: payload MB/s of the sync client pushing N × 1 MB pages (signed requests, chunk
  checksums, fsync at the hub, signed receipts); baseline: a bare aiohttp client PUTting the same
  ciphertext files to a bare aiohttp server in this run that writes and fsyncs each one.
  ``details.bare_nofsync_*``: the same without the fsync, for context only.
- ``details.costs``: where the time goes: CPU seconds of the hub and of the box during the push
  (and of the bare run), and per kind of request its count and mean latency seen by the box.
- ``details.resume_overhead``: bytes that went up through the fault proxy ÷ payload, with the
  link cut every ~3 MB (goal ≤ 1.02): median, min and max over as many rounds as the throughput.
- Throughput rounds alternate with bare rounds (``bench._harness.compare``); each round pushes
  fresh dossiers (filled untimed before it), and the bare round PUTs that round's files.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench._harness import (
    BenchResult,
    compare,
    default_cipher,
    install_packages,
    spread_of,
    verdict,
)

GOAL = 0.6
RESUME_GOAL = 1.02

AGENCY = "000.00.06.H26"
PAGE = 1024 * 1024
COST_NOTES = {
    "baseline": "same bytes, same loopback, same aiohttp; one PUT at a time; the server writes and fsyncs "
                "each file (not its directory entry); no signature, checksum, database or receipt",
    "per_page": "box: read the page file (not hashed: a whole page's chunk carries the page's id as its "
                "checksum), sign, one PATCH, two pages of a dossier and four dossiers at once; hub: one thread "
                "hop: admission (station, nonce, blob row: one SQLite commit shared by concurrent requests), "
                "SHA-256 of each piece then its write, fsync, rename into blobs/, fsync of that directory",
    "per_dossier": "box: manifest (sizes checked; built once), PUT, commit, receipt check; hub: PUT = admission "
                   "+ create transaction, commit = admission + receipt transaction (blob completion recorded in "
                   "it) + last-seen update",
}


def motcua_bin() -> str:
    return str(Path(sys.executable).with_name("motcua"))


def load_faultproxy():
    """The fault proxy of the test suite (tests/sync/faultproxy.py)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "sync" / "faultproxy.py"
    spec = importlib.util.spec_from_file_location("motcua_faultproxy", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


class HubProcess:
    """``motcua hub serve`` in a subprocess, stopped by PID."""

    def __init__(self, data_dir: Path, *, db: str | None = None) -> None:
        self.data_dir = data_dir
        self.db = db
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def init(self) -> None:
        args = [motcua_bin(), "hub", "init", "--data-dir", str(self.data_dir), "--kem", "X25519"]
        if self.db:
            args += ["--db", self.db]
        subprocess.run(args, check=True, capture_output=True)

    def storage(self):
        from sync.hub import open_storage

        return open_storage(self.db, data_dir=self.data_dir)

    def add_stations(self, station_ids: list[str], *, partition_size: int = 40) -> dict[str, str]:
        from sync.hub.storage import NewStation
        from sync.protocol import new_token, token_sha256

        tokens = {}
        storage = self.storage()
        try:
            now = int(time.time() * 1000)
            for sid in station_ids:
                token = new_token()
                storage.add_station(NewStation(station_id=sid, agency_code=AGENCY, partition_size=partition_size),
                                    token_sha256=token_sha256(token), token_expires_at=now + 86400_000, now=now)
                tokens[sid] = token
        finally:
            storage.close()
        return tokens

    def start(self) -> str:
        ready = self.data_dir / "ready.url"
        ready.unlink(missing_ok=True)
        args = [motcua_bin(), "hub", "serve", "--data-dir", str(self.data_dir), "--port", "0",
                "--ready-file", str(ready)]
        if self.db:
            args += ["--db", self.db]
        # The hub's log goes to a file: an unread pipe would fill up and block the hub.
        self.log = self.data_dir / "hub.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 30
        while not ready.exists() or not ready.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"hub did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        self.url = ready.read_text().strip()
        return self.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def make_box(root: Path, name: str, **sync: Any):
    """A fresh box store (keyfile provider, X25519 city seal for speed)."""
    from edge.config import Settings
    from edge.store import Store

    settings = Settings().replace("store", state_dir=str(root / name), hpke_kem="X25519", disk_alarm_free_mb=1)
    settings = settings.replace("station", agency_code=AGENCY)
    settings = settings.replace("sync", **{"request_timeout_seconds": 30, **sync})
    Store.init(settings, agency_code=AGENCY, city_public_key=None, demo_key_out=root / f"{name}-demo.json")
    return settings, Store.open(settings)


def fill(store, *, pages: int, page_bytes: int, per_dossier: int) -> list[str]:
    from edge.outbox import ingest_and_enqueue
    from edge.store import PageSource

    ids = []
    left = pages
    while left > 0:
        n = min(per_dossier, left)
        sources = [PageSource(source=os.urandom(page_bytes), component=f"tp{i}", media_type="image/png")
                   for i in range(n)]
        dossier_id, _ = ingest_and_enqueue(store, procedure_code="1.001612",
                                     applicant={"full_name": "Nguyễn Văn Bình", "id_number": "001099004321"},
                                     pages=sources, actor="bench")
        ids.append(dossier_id)
        left -= n
    return ids


def payload_of(store, dossier_ids: list[str] | None = None) -> tuple[int, list[Path]]:
    """Bytes and blob files of the pages of some dossiers (all of the store's without ids)."""
    if dossier_ids is None:
        rows = store.query("SELECT blob, size FROM pages")
    else:
        marks = ",".join("?" * len(dossier_ids))
        rows = store.query(f"SELECT blob, size FROM pages WHERE dossier_id IN ({marks})", tuple(dossier_ids))
    return sum(r["size"] for r in rows), [store.blobs.path(r["blob"]) for r in rows]


class RssSampler:
    """Peak RSS of this process while active (sampled every 20 ms)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        proc = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)


async def _bare_put(files: list[Path], directory: Path, *, fsync: bool = True) -> float:
    """A bare aiohttp PUT of each file to a bare aiohttp server that writes (and fsyncs) it."""
    import aiohttp
    from aiohttp import web

    async def put(request: web.Request) -> web.Response:
        path = directory / request.match_info["name"]
        with open(path, "wb") as fh:  # noqa: ASYNC230 - the baseline does what a bare server would
            async for chunk in request.content.iter_chunked(1 << 16):
                fh.write(chunk)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        return web.Response(status=204)

    app = web.Application(client_max_size=64 * PAGE)
    app.router.add_put("/{name}", put)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            start = time.perf_counter()
            for i, path in enumerate(files):
                data = await asyncio.to_thread(path.read_bytes)
                async with session.put(f"http://127.0.0.1:{port}/f{i}", data=data) as resp:
                    assert resp.status == 204
            return time.perf_counter() - start
    finally:
        await runner.cleanup()


async def _sync(store, settings):
    from sync.client import SyncClient

    client = SyncClient(settings=settings, store=store)
    transport = client.transport()  # the one sync_once uses: its per-request statistics
    try:
        start = time.perf_counter()
        status = await client.sync_once()
        elapsed = time.perf_counter() - start
    finally:
        await client.stop()
    requests = {kind: {"n": int(n), "mean_ms": round(seconds / n * 1000, 2)}
                for kind, (n, seconds) in sorted(transport.stats.items()) if n}
    return status, elapsed, requests


def _cpu(proc: psutil.Process) -> tuple[float, float]:
    t = proc.cpu_times()
    return t.user, t.system


def _cpu_since(proc: psutil.Process, before: tuple[float, float]) -> dict[str, float]:
    user, system = _cpu(proc)
    return {"user": round(user - before[0], 3), "system": round(system - before[1], 3)}


def _add(total: dict[str, float], more: dict[str, float]) -> None:
    for k, v in more.items():
        total[k] = round(total.get(k, 0.0) + v, 3)


def run(quick: bool = False, rounds: int | None = None, **_: Any) -> BenchResult:
    install_packages()
    pages = 20 if quick else 100
    resume_mb = 12 if quick else 30
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-sync-"))
    hub = HubProcess(root / "hub")
    details: dict[str, Any] = {"pages_per_round": pages, "page_bytes": PAGE}
    stores: list[Any] = []
    try:
        hub.init()
        tokens = hub.add_stations(["BENCH-1", "BENCH-2"], partition_size=400)
        url = hub.start()

        # 1. Throughput: the sync client against a bare aiohttp PUT of the same bytes, interleaved.
        from sync.client import enroll

        settings, store = make_box(root, "box1", chunk_size_kb=1024)
        stores.append(store)
        enroll(store, url, tokens["BENCH-1"], station_id="BENCH-1")  # first: codes come from its partition
        me, hub_proc = psutil.Process(), psutil.Process(hub.proc.pid)
        costs: dict[str, Any] = {"hub_cpu_s": {}, "box_cpu_s": {}, "bare_cpu_s": {}, "requests": {}}
        state: dict[str, Any] = {"files": [], "payload": 0, "peak_rss": 0, "nofsync": []}

        def workload() -> float:
            ids = fill(store, pages=pages, page_bytes=PAGE, per_dossier=10)  # untimed: the round's data
            state["payload"], state["files"] = payload_of(store, ids)
            box_cpu, hub_cpu = _cpu(me), _cpu(hub_proc)
            with RssSampler() as rss:
                status, elapsed, requests = asyncio.run(_sync(store, settings))
            _add(costs["hub_cpu_s"], _cpu_since(hub_proc, hub_cpu))
            _add(costs["box_cpu_s"], _cpu_since(me, box_cpu))
            costs["requests"] = requests  # the last round's
            state["peak_rss"] = max(state["peak_rss"], rss.peak)
            if status.pending:
                raise RuntimeError(f"sync left {status.pending} dossier(s) pending: {status.last_error}")
            return state["payload"] / elapsed / 1e6

        def baseline() -> float:
            bare_dir = root / "bare"
            shutil.rmtree(bare_dir, ignore_errors=True)
            bare_dir.mkdir()
            bare_cpu = _cpu(me)
            took = asyncio.run(_bare_put(state["files"], bare_dir))
            _add(costs["bare_cpu_s"], _cpu_since(me, bare_cpu))
            shutil.rmtree(bare_dir, ignore_errors=True)
            return state["payload"] / took / 1e6

        cmp = compare(workload, baseline, rounds=rounds, goal_at_least=GOAL)
        bare_dir = root / "bare"
        bare_dir.mkdir()
        bare_nofsync = asyncio.run(_bare_put(state["files"], bare_dir, fsync=False))
        shutil.rmtree(bare_dir, ignore_errors=True)
        costs.update(COST_NOTES)
        details.update({"peak_rss_mb": round(state["peak_rss"] / 2**20, 1), "goal_ratio": GOAL,
                        "bare_nofsync_mb_s": round(state["payload"] / bare_nofsync / 1e6, 2),
                        "costs": costs})

        # 2. Resume overhead with the link cut every ~3 MB: bytes up through the proxy ÷ payload.
        faultproxy = load_faultproxy()
        settings2, store2 = make_box(root, "box2", chunk_size_kb=1024)
        stores.append(store2)
        overheads: list[float] = []
        lost_per_cut: list[float] = []  # KiB sent again (or in headers) per cut
        with faultproxy.FaultProxy("127.0.0.1", hub.port) as proxy:
            enroll(store2, proxy.url, tokens["BENCH-2"], station_id="BENCH-2")

            async def resume() -> Any:
                from sync.client import SyncClient

                client = SyncClient(settings=settings2, store=store2)
                try:
                    for _round in range(200):
                        with contextlib.suppress(Exception):
                            st = await client.sync_once()
                            if st.pending == 0:
                                return st
                    return client.status()
                finally:
                    await client.stop()

            cuts, pending = 0, 0
            for _round in range(cmp.summary()["rounds"]):
                ids = fill(store2, pages=resume_mb, page_bytes=PAGE, per_dossier=10)
                payload2, _ = payload_of(store2, ids)
                proxy.set_mode("pass")
                proxy.reset_counters()
                proxy.set_mode("cut", after=3 * PAGE, repeat=True)
                st2 = asyncio.run(resume())
                overheads.append(proxy.bytes_up / payload2)
                lost_per_cut.append((proxy.bytes_up - payload2) / max(1, proxy.cuts) / 1024)
                cuts += proxy.cuts
                pending += st2.pending
        resume = spread_of(overheads)
        details.update({"resume_payload_mb_per_round": round(resume_mb * PAGE / 1e6, 1), "resume_cuts": cuts,
                        "resume_pending": pending, "resume_overhead": resume["median"],
                        "resume_overhead_min": resume["min"], "resume_overhead_max": resume["max"],
                        "resume_overhead_rounds": [round(o, 4) for o in overheads],
                        "resume_kib_lost_per_cut": [round(k, 1) for k in lost_per_cut],
                        "goal_resume_overhead": RESUME_GOAL,
                        "resume_verdict": verdict(overheads, goal_at_most=RESUME_GOAL)[1]})
        for st in stores:
            st.close()
        stores.clear()
        details["lost"] = _lost(hub, [settings, settings2])
    finally:
        for st in stores:
            st.close()
        hub.stop()
        shutil.rmtree(root, ignore_errors=True)
    return cmp.result(name="sync", metric="box→hub upload throughput", unit="MB/s",
                      baseline="bare aiohttp PUT + fsync, same bytes", cipher=default_cipher(), details=details)


def _lost(hub: HubProcess, all_settings) -> int:
    """Dossiers of the boxes that the hub does not hold committed (should be 0)."""
    from edge.store import Store

    storage = hub.storage()
    try:
        held = {d.dossier_id for d in storage.list_dossiers() if d.state == "committed"}
    finally:
        storage.close()
    lost = 0
    for settings in all_settings:
        with Store.open(settings) as store:
            lost += sum(1 for r in store.query("SELECT id FROM dossiers WHERE status = 'finalized'") if r["id"] not in held)
    return lost


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv).to_dict(), indent=1))
