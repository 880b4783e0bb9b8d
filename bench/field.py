"""``motcua bench field``: the box daemon through a scripted clerk day, as on a Raspberry Pi.

``motcua serve`` runs as its own process with the ChaCha20-Poly1305 cipher forced (a Pi 4 has no
AES instructions), enrolled with a real hub (``motcua hub serve``, another process) on 127.0.0.1.
The day: the morning pull brings the procedure catalog on the feed, then 20 dossiers a day (quick: 2)
are taken over the clerk API, each with two scanned pages, finalized, their receipt printed
(PDF); the sync client pushes them (the city's receipts) and pulls the feed again.

- ``details.rss_idle_mb``: the daemon's RSS once started and idle (goal ≤ 64 MB);
  ``details.rss_peak_mb``: its peak RSS over the whole day (``VmHWM``; goal ≤ 80 MB).
- ``details.flash_write_ratio``: bytes the daemon caused to be written to the block device
  (``/proc/PID/io`` ``write_bytes``: blobs, SQLite database and WAL, receipts) during the day,
  over the dossiers' own encrypted size (page ciphertext plus sealed fields; goal ≤ 1.3).
- value: the peak RSS; baseline: the RSS of a bare aiohttp server process answering one request
  (the floor of an aiohttp daemon on this interpreter); goal: peak ≤ 2.2× the bare server
  (80 MB against the ~36 MB of that floor on CPython 3.11, x86-64).
- Rounds are interleaved by ``bench._harness.compare``: a clerk day (the daemon started, the
  day, the daemon stopped), a bare server, a clerk day, … The hub and the box persist between
  days, as a box lives through its days (the first day's pull brings the catalog; the next days
  have it). The three figures above are the medians over the days, each with its spread
  (``details.*_spread``). Quick mode: 2 dossiers a day, short sync intervals (push 1 s,
  pull 2 s) and a shorter settling, the minimum of 5 days.

The state directory is on a real disk (``/var/tmp``), never tmpfs, so that writes reach a block
device.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._harness import BenchResult, compare, spread_of

AGENCY = "000.00.06.H56"
PROCEDURE = "1.004222"  # in the demo catalog: components CT01 and CMCH are required
SCAN_BYTES = 350_000  # one A4 page scanned at 200 dpi, compressed
CIPHER = "chacha20-poly1305"
# mkdtemp makes a private new directory there; /var/tmp is on disk where /tmp may be tmpfs.
DISK_TMP = "/var/tmp"  # noqa: S108
# peak_to_bare: 80 MB against the ~36 MB of a bare aiohttp process on CPython 3.11 (x86-64) is 2.2.
GOALS = {"rss_idle_mb": 64, "rss_peak_mb": 80, "flash_write_ratio": 1.3, "peak_to_bare": 2.2}


def _motcua() -> list[str]:
    return [sys.executable, "-m", "edge.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(extra)
    return env


def _run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([*_motcua(), *args], capture_output=True, text=True, input=input, env=env or _env(),
                          timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"motcua {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def _write_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/io") as fh:
        for line in fh:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/PID/io")


class _Http:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body: Any = None, *, data: bytes | None = None,
             content_type: str = "application/json") -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, raw = self.call(method, path, body, **kw)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {raw[:300]!r}")
        return json.loads(raw)


def _wait(predicate, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = predicate()
        except (OSError, RuntimeError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)


class _Sampler(threading.Thread):
    """The daemon's RSS and write_bytes every 20 ms until it exits (so that the writes of its
    shutdown, the last WAL checkpoint, count too; its VmHWM is read as well: the kernel's peak)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.hwm_kb = 0
        self.write_bytes = 0

    def run(self) -> None:
        while True:
            try:
                status = _status(self.pid)
                written = _write_bytes(self.pid)
            except (OSError, KeyError, RuntimeError):
                return
            self.peak_kb = max(self.peak_kb, status.get("VmRSS", 0))
            self.hwm_kb = max(self.hwm_kb, status.get("VmHWM", 0))
            self.write_bytes = max(self.write_bytes, written)
            time.sleep(0.02)


@dataclass
class _Box:
    """What the days share: the hub (its process) and the box's state directory; a day is one run
    of the daemon, start to stop, over the same box, as a box lives through its days."""

    work: Path
    hub_dir: Path
    box_dir: Path
    hub_port: int = 0
    hub: subprocess.Popen | None = None
    days: int = 0
    push_s: int = 5
    pull_s: int = 10
    settle_s: float = 3
    rounds: list[dict[str, Any]] = field(default_factory=list)


def prepare_box(work: Path, *, quick: bool) -> _Box:
    """(not timed) A hub with the catalog on its feed, serving; a box enrolled with it, a clerk."""
    box = _Box(work=work, hub_dir=work / "hub", box_dir=work / "box", push_s=1 if quick else 5,
               pull_s=2 if quick else 10, settle_s=1.5 if quick else 3)
    _run("hub", "init", "--data-dir", str(box.hub_dir))
    city_pub = next(iter(sorted(box.hub_dir.glob("*pub*.json"))), None)
    _run("--state-dir", str(box.box_dir), "init", "--agency", AGENCY,
         *(["--city-key", str(city_pub)] if city_pub else []))
    from edge.reception import DEMO_CATALOG

    catalog = work / "catalog.json"  # the hub's feed document: {version, procedures}
    catalog.write_text(json.dumps({"version": 1, "procedures": json.loads(DEMO_CATALOG.read_text())["procedures"]},
                                  ensure_ascii=False))
    _run("hub", "catalog", "push", "--data-dir", str(box.hub_dir), str(catalog))
    box.hub_port = _free_port()
    box.hub = subprocess.Popen([*_motcua(), "hub", "serve", "--data-dir", str(box.hub_dir), "--port",
                                str(box.hub_port)], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: urllib.request.urlopen(f"http://127.0.0.1:{box.hub_port}/v1/time", timeout=5).status == 200,
          60, "the hub")
    token = json.loads(_run("hub", "add-station", "--data-dir", str(box.hub_dir), "--agency", AGENCY, "--json",
                            "HN-0001"))["token"]
    _run("--state-dir", str(box.box_dir), "sync", "enroll", "--hub", f"http://127.0.0.1:{box.hub_port}",
         "--token", token, "--station-id", "HN-0001")
    _run("--state-dir", str(box.box_dir), "user", "add", "clerk", "--role", "clerk", "--password-stdin",
         input="field-day-password\n")
    return box


def stop_box(box: _Box) -> None:
    if box.hub is not None and box.hub.poll() is None:
        _stop(box.hub)
    box.hub = None


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def clerk_day_round(box: _Box, *, dossiers: int) -> float:
    """One clerk day: the daemon starts, the morning pull, ``dossiers`` taken, finalized, their
    receipts printed, pushed, one more pull, the daemon stops. Returns its peak RSS in MiB; the
    day's other figures go to ``box.rounds``."""
    box.days += 1
    log_path = box.work / f"daemon-{box.days}.log"
    daemon = None
    try:
        web_port = _free_port()
        with open(log_path, "wb") as log:
            daemon = subprocess.Popen(
                [*_motcua(), "--state-dir", str(box.box_dir), "serve", "--host", "127.0.0.1", "--port", str(web_port)],
                env=_env(MOTCUA_STORE__CIPHER=CIPHER, MOTCUA_SYNC__HUB_URL=f"http://127.0.0.1:{box.hub_port}",
                         MOTCUA_SYNC__PUSH_INTERVAL_SECONDS=str(box.push_s),
                         MOTCUA_SYNC__PULL_INTERVAL_SECONDS=str(box.pull_s)),
                stdout=subprocess.DEVNULL, stderr=log)
        sampler = _Sampler(daemon.pid)
        sampler.start()
        http = _Http(f"http://127.0.0.1:{web_port}")
        _wait(lambda: http.call("GET", "/api/v1/health")[0] == 200, 120, "the daemon")
        time.sleep(box.settle_s)  # settled: start-up done, first scheduler jobs run
        idle_kb = _status(daemon.pid)["VmRSS"]
        writes_before = _write_bytes(daemon.pid)

        phases: dict[str, float] = {}
        written: dict[str, float] = {}

        def mark(phase: str) -> None:  # the daemon's peak and its writes so far, after each part of the day
            phases[phase] = round(_status(daemon.pid)["VmHWM"] / 1024, 1)
            written[phase] = round((_write_bytes(daemon.pid) - writes_before) / 1e6, 3)

        mark("start")
        http.token = http.json("POST", "/api/v1/session", {"username": "clerk", "password": "field-day-password"})["token"]
        mark("login")
        # The morning pull brings the catalog on the feed (on the first day; the next days have it).
        _wait(lambda: any(p.get("code") == PROCEDURE for p in http.json("GET", "/api/v1/procedures")["procedures"]),
              40, "the catalog from the hub's feed")
        mark("catalog")
        taken = []
        for j in range(dossiers):
            i = (box.days - 1) * dossiers + j
            person = {"full_name": f"Nguyễn Thị Ngày {i}", "id_number": f"0011990{i:05d}", "date_of_birth": "1990-03-04",
                      "gender": "Nữ", "address": f"{i} phố Huế, Hà Nội", "phone": f"0903{i:06d}"}
            did = http.json("POST", "/api/v1/dossiers", {"procedure_code": PROCEDURE, "applicant": person})["id"]
            for comp in ("CT01", "CMCH"):
                scan = b"\x89PNG\r\n\x1a\n" + os.urandom(SCAN_BYTES)
                http.json("POST", f"/api/v1/dossiers/{did}/pages?component={comp}", data=scan, content_type="image/png")
            if j == 0:
                mark("first_pages")
            http.json("POST", f"/api/v1/dossiers/{did}/finalize", {"fee": {"method": "cash", "receipt_number": f"BL-{i}"}})
            status, pdf = http.call("GET", f"/api/v1/dossiers/{did}/receipt.pdf")
            if status != 200 or not pdf.startswith(b"%PDF"):
                raise RuntimeError(f"receipt of dossier {i}: HTTP {status}")
            if j == 0:
                mark("first_receipt")
            taken.append(did)
        mark("dossiers")

        def synced() -> bool:
            state = http.json("GET", "/api/v1/sync")["status"] or {}
            return state.get("pending") == 0 and bool(state.get("last_success_at"))

        _wait(synced, 300, "the push of the day's dossiers")
        mark("push")
        time.sleep(box.pull_s + 1)  # one more pull of the feed (the city's status for each dossier)
        mark("pull")
        daemon.send_signal(signal.SIGTERM)  # the day ends: the daemon stops (its last checkpoint)
        daemon.wait(timeout=60)
        sampler.join()
        writes = sampler.write_bytes - writes_before
        stderr = log_path.read_text(errors="replace")

        from edge.config import load_settings
        from edge.store import Store

        settings = load_settings(None, env={}, overrides={"store": {"state_dir": str(box.box_dir)}})
        today = set(taken)
        with Store.open(settings) as store:
            rows = [r for r in store.query(
                "SELECT d.id, d.cipher, length(d.sealed_applicant) + length(d.sealed_form) AS sealed,"
                " (SELECT coalesce(sum(size), 0) FROM pages p WHERE p.dossier_id = d.id) AS pages,"
                " o.state FROM dossiers d LEFT JOIN outbox o ON o.dossier_id = d.id") if r["id"] in today]
        if len(rows) != dossiers or {r["state"] for r in rows} != {"confirmed"}:
            raise RuntimeError(f"the day did not end with {dossiers} confirmed dossiers: {rows}; {stderr[-2000:]}")
        if {r["cipher"] for r in rows} != {CIPHER}:
            raise RuntimeError(f"dossiers were not sealed with {CIPHER}: {rows}")
        encrypted = sum(r["sealed"] + r["pages"] for r in rows)
        peak_kb = max(sampler.hwm_kb, sampler.peak_kb)
        box.rounds.append({"rss_idle_mb": round(idle_kb / 1024, 1), "rss_peak_mb": round(peak_kb / 1024, 1),
                           "write_bytes": writes, "encrypted_bytes": encrypted,
                           "flash_write_ratio": round(writes / encrypted, 3) if encrypted else 0.0,
                           "peak_after_mb": phases, "written_after_mb": written})
        return peak_kb / 1024
    except RuntimeError as exc:
        daemon_log = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        raise RuntimeError(f"{exc}\n--- the daemon's log ---\n{daemon_log}") from None
    finally:
        if daemon is not None and daemon.poll() is None:
            _stop(daemon)


BARE_SERVER = """
import sys
from aiohttp import web
async def ok(_r):
    return web.json_response({"status": "ok"})
app = web.Application()
app.router.add_get("/", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def bare_server_round() -> float:
    """The RSS (MiB) of a bare aiohttp server process that answered one request."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status == 200, 60, "the bare server")
        time.sleep(1)
        return _status(proc.pid)["VmRSS"] / 1024
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run(quick: bool = False, rounds: int | None = None, **_: object) -> BenchResult:
    dossiers = 2 if quick else 20
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-field-", dir=DISK_TMP if os.path.isdir(DISK_TMP) else None))
    box = None
    try:
        box = prepare_box(work, quick=quick)
        cmp = compare(lambda: clerk_day_round(box, dossiers=dossiers), bare_server_round, rounds=rounds,
                      goal_at_most=GOALS["peak_to_bare"])
    finally:
        if box is not None:
            stop_box(box)
        shutil.rmtree(work, ignore_errors=True)
    days = box.rounds
    figures = {key: spread_of([d[key] for d in days]) for key in ("rss_idle_mb", "rss_peak_mb", "flash_write_ratio")}
    met = {key: figures[key]["median"] <= GOALS[key] for key in figures}
    details = {"dossiers_per_day": dossiers, "pages_per_dossier": 2, "scan_bytes": SCAN_BYTES, "cipher": CIPHER,
               **{key: figures[key]["median"] for key in figures},
               **{f"{key}_spread": figures[key] for key in figures},
               **{f"goal_{key}": GOALS[key] for key in figures},
               **{f"{key}_met_every_day": all(d[key] <= GOALS[key] for d in days) for key in figures},
               "meets_goals": all(met.values()),
               "write_bytes": [d["write_bytes"] for d in days], "encrypted_bytes": [d["encrypted_bytes"] for d in days],
               "peak_rss_after_mb": days[-1]["peak_after_mb"], "written_after_mb": days[-1]["written_after_mb"],
               "push_interval_s": box.push_s, "pull_interval_s": box.pull_s, "settle_s": box.settle_s, "quick": quick}
    return cmp.result(name="field", metric="daemon peak RSS through a clerk day", unit="MB",
                      baseline="a bare aiohttp server process that answered one request", cipher=CIPHER,
                      details=details)
