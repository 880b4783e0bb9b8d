"""Fleet operations at the hub: CPU per heartbeat, and the fleet page's render time at scale.

``measure(stations)`` registers and enrolls ``stations`` boxes in a fresh SQLite hub, starts
``motcua hub serve`` (a subprocess, loopback) and measures, in one run:

- the hub process's CPU time (user + system, from ``psutil``) per signed heartbeat (one from every
  box, validated, its history row written), against ``GET /v1/time`` (unsigned, no database)
  served by the same process;
- the fleet page (``GET /fleet/``, logged in: its first page of 100 boxes, worst first, with the
  counts over every box) request latency, p95 over sequential requests, against a bare aiohttp
  handler in its own process reading every row from the same database and writing the same
  number of them as a plain HTML table (no states, no template); and the page's size in bytes.

Each round is its own function returning its measured value; ``measure`` interleaves them
(workload, baseline, workload, …) and reports each ratio's median with its spread.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._harness import DEFAULT_ROUNDS, percentile, spread_of
from bench.sync import AGENCY, HubProcess

PASSWORD = "bench-password-123"
KINDS = ("branch", "commune", "mobile", "popup")


def _setup(hub: HubProcess, stations: int) -> dict[str, Any]:
    """Register and enroll the boxes through the hub's storage; returns their signing keys."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sync.hub.fleet._auth import hash_password
    from sync.hub.storage import NewStation
    from sync.protocol import key_id, new_token, token_sha256

    keys = {}
    storage = hub.storage()
    try:
        now = int(time.time() * 1000)
        size = max(1, min(40, 9999 // stations))
        for i in range(stations):
            sid = f"OPS-{i:04d}"
            token = new_token()
            storage.add_station(NewStation(station_id=sid, agency_code=AGENCY, name=f"Điểm {i}",
                                           kind=KINDS[i % 4], partition_index=i, partition_size=size),
                                token_sha256=token_sha256(token), token_expires_at=now + 86400_000, now=now)
            key = Ed25519PrivateKey.generate()
            pub = key.public_key().public_bytes_raw()
            storage.enroll(sid, token_sha256=token_sha256(token), public_key=pub, key_id=key_id(pub), now=now)
            keys[sid] = key
        storage.put_admin("bench", display_name="bench", password_hash=hash_password(PASSWORD), now=now)
    finally:
        storage.close()
    return keys


def _hub_cpu(proc: subprocess.Popen) -> float:
    import psutil

    t = psutil.Process(proc.pid).cpu_times()
    return t.user + t.system


def _beat(i: int) -> bytes:
    return json.dumps({"pending": i % 5, "oldest_unsynced_age_s": 60 * (i % 50), "disk_free_bytes": 20 << 30,
                       "disk_total_bytes": 32 << 30, "versions": {"motcua": "0.2.0" if i % 17 else "0.1.9"},
                       "devices": {"scanner": "error" if i == 7 else "ready", "card_reader": "ready"},
                       "feed_seq": 0, "clock_offset_ms": 40, "sync_errors": {"transport": i % 3}}).encode()


async def _requests(url: str, calls: list[tuple[str, str, bytes, dict[str, str]]], *, concurrency: int = 16) -> None:
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as s:
        async def one(method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
            async with sem, s.request(method, url + path, data=body or None, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{method} {path}: HTTP {r.status}")

        await asyncio.gather(*(one(*c) for c in calls))


def heartbeat_round(hub: HubProcess, keys: dict[str, Any]) -> float:
    """One heartbeat from every box; the hub's CPU milliseconds per heartbeat."""
    from sync.protocol import StationSigner

    calls = []
    for i, (sid, key) in enumerate(keys.items()):
        body = _beat(i)
        headers = StationSigner(sid, key).headers("POST", "/v1/heartbeat", body)
        calls.append(("POST", "/v1/heartbeat", body, {**headers, "Content-Type": "application/json"}))
    assert hub.proc is not None
    before = _hub_cpu(hub.proc)
    asyncio.run(_requests(hub.url, calls))
    return (_hub_cpu(hub.proc) - before) * 1000 / len(calls)


def time_round(hub: HubProcess, n: int) -> float:
    """``n`` unsigned ``GET /v1/time``; the hub's CPU milliseconds per request."""
    assert hub.proc is not None
    before = _hub_cpu(hub.proc)
    asyncio.run(_requests(hub.url, [("GET", "/v1/time", b"", {})] * n))
    return (_hub_cpu(hub.proc) - before) * 1000 / n


async def _page_latencies(url: str, path: str, n: int, *, login: bool) -> list[float]:
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        if login:
            async with s.post(url + "/fleet/login", data={"username": "bench", "password": PASSWORD,
                                                           "next": "/fleet/"}) as r:
                if r.status != 200:
                    raise RuntimeError(f"fleet login failed: HTTP {r.status}")
        out = []
        for _ in range(n):
            start = time.perf_counter()
            async with s.get(url + path) as r:
                body = await r.read()
                if r.status != 200 or b"OPS-0000" not in body:
                    raise RuntimeError(f"GET {path}: HTTP {r.status}")
            out.append(time.perf_counter() - start)
        out.append(float(len(body)))  # the last body's size, split off by the callers
        return out


def page_round(url: str, n: int) -> float:
    """p95 milliseconds of ``GET /fleet/`` (its first page), ``n`` requests one at a time."""
    return percentile(asyncio.run(_page_latencies(url, "/fleet/", n, login=True))[:-1], 95) * 1000


def page_bytes(url: str) -> int:
    """Bytes of the fleet page's first page of HTML."""
    return int(asyncio.run(_page_latencies(url, "/fleet/", 1, login=True))[-1])


def bare_round(url: str, n: int) -> float:
    """p95 milliseconds of the bare handler serving the same number of rows."""
    return percentile(asyncio.run(_page_latencies(url, "/rows", n, login=False))[:-1], 95) * 1000


class BareServer:
    """``python -m bench._fleet_ops bare DATA_DIR READY``: the baseline handler, in its own process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> str:
        ready = self.data_dir / "bare.url"
        self.proc = subprocess.Popen([sys.executable, "-m", "bench._fleet_ops", "bare", str(self.data_dir), str(ready)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not ready.exists() or not ready.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bare handler did not start")
            time.sleep(0.05)
        self.url = ready.read_text().strip()
        return self.url

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        self.proc = None


def _serve_bare(data_dir: Path, ready: Path) -> None:
    from html import escape

    from aiohttp import web

    from sync.hub import open_storage
    from sync.hub.fleet._views import PAGE_SIZE

    storage = open_storage(None, data_dir=data_dir)

    async def rows(request: web.Request) -> web.Response:
        stations = await asyncio.get_running_loop().run_in_executor(None, storage.list_stations)
        cells = []
        for st in sorted(stations, key=lambda st: st.station_id)[:PAGE_SIZE]:
            beat = st.last_heartbeat or {}
            cells.append(f"<tr><td>{escape(st.station_id)}</td><td>{escape(st.name)}</td><td>{escape(st.agency_code)}</td>"
                         f"<td>{escape(st.kind)}</td><td>{st.last_seen_at}</td><td>{beat.get('pending')}</td>"
                         f"<td>{beat.get('disk_free_bytes')}</td><td>{escape(str(beat.get('versions')))}</td>"
                         f"<td>{escape(str(beat.get('devices')))}</td></tr>")
        body = "<!doctype html><table>" + "".join(cells) + "</table>"
        return web.Response(text=body, content_type="text/html")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/rows", rows)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        await asyncio.to_thread(ready.write_text, f"http://127.0.0.1:{port}\n")
        await asyncio.Event().wait()

    asyncio.run(main())


def _ratios(workload: list[float], baseline: list[float]) -> list[float]:
    """Per-pair ratios (a pair whose baseline measured no CPU at all — below the clock's tick — has none)."""
    return [w / b for w, b in zip(workload, baseline, strict=True) if b > 0]


def measure(stations: int = 1000, quick: bool = False, rounds: int = DEFAULT_ROUNDS) -> dict[str, Any]:
    """The figures for ``bench fleet``'s details, every baseline measured in the same run and
    interleaved with its workload (heartbeats, ``/v1/time``, heartbeats, …; fleet page, bare
    handler, …; ``rounds`` pairs each): the medians of each side, and the median of the per-pair
    ratios with its min, max and spread."""
    stations = min(stations, 100) if quick else stations
    pages = 5 if quick else 40
    root = Path(tempfile.mkdtemp(prefix="motcua-bench-fleet-ops-"))
    hub = HubProcess(root / "hub")
    bare = BareServer(root / "hub")
    heartbeat_ms: list[float] = []
    time_ms: list[float] = []
    page_ms: list[float] = []
    bare_ms: list[float] = []
    try:
        hub.init()
        keys = _setup(hub, stations)
        hub.start()
        bare.start()
        time_round(hub, 20)  # warm both paths (imports, first connections)
        page_round(hub.url, 2)
        bare_round(bare.url, 2)
        for _ in range(rounds):  # A B A B …
            heartbeat_ms.append(heartbeat_round(hub, keys))
            time_ms.append(time_round(hub, stations))
        for _ in range(rounds):
            page_ms.append(page_round(hub.url, pages))
            bare_ms.append(bare_round(bare.url, pages))
        size = page_bytes(hub.url)
    finally:
        bare.stop()
        hub.stop()
        shutil.rmtree(root, ignore_errors=True)
    beat_ratios, page_ratios = spread_of(_ratios(heartbeat_ms, time_ms)), spread_of(_ratios(page_ms, bare_ms))
    return {"stations": stations, "rounds": rounds,
            "hub_cpu_ms_per_heartbeat": round(statistics.median(heartbeat_ms), 3),
            "hub_cpu_ms_per_time_request": round(statistics.median(time_ms), 3),
            "heartbeat_cpu_ratio": beat_ratios["median"], "heartbeat_cpu_ratio_spread": beat_ratios,
            "fleet_page_p95_ms": round(statistics.median(page_ms), 1),
            "bare_rows_p95_ms": round(statistics.median(bare_ms), 1),
            "fleet_page_ratio": page_ratios["median"], "fleet_page_ratio_spread": page_ratios,
            "page_requests": pages, "fleet_page_bytes": size,
            "rounds_ms": {"heartbeat": [round(v, 3) for v in heartbeat_ms], "time": [round(v, 3) for v in time_ms],
                          "fleet_page_p95": [round(v, 2) for v in page_ms], "bare_p95": [round(v, 2) for v in bare_ms]}}


if __name__ == "__main__":
    if sys.argv[1:2] == ["bare"]:
        _serve_bare(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        print(json.dumps(measure(quick="--quick" in sys.argv), indent=1))
