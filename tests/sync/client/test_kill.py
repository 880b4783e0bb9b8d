"""The box process killed with SIGKILL mid-upload, then restarted: the dossier arrives once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import tomli_w
from boxkit import AGENCY, add_dossier, assert_exactly_once, hub_dossiers, make_box

from edge.store import Store
from sync.client import enroll

MOTCUA = str(Path(sys.executable).with_name("motcua"))


def _write_config(state_dir: Path) -> None:
    doc = {"store": {"state_dir": str(state_dir), "hpke_kem": "X25519", "disk_alarm_free_mb": 1},
           "station": {"agency_code": AGENCY},
           "sync": {"request_timeout_seconds": 3, "chunk_size_kb": 64}}
    (state_dir / "edge.toml").write_bytes(tomli_w.dumps(doc).encode())


def _run(state_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "MOTCUA_STATE_DIR": str(state_dir)}
    env.pop("MOTCUA_CONFIG", None)
    return subprocess.Popen([MOTCUA, "sync", "now", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_upload_then_restart(tmp_path, hub, proxy):
    settings, store = make_box(tmp_path)
    token = hub.add_station("HN-0001")
    enroll(store, proxy.url, token, station_id="HN-0001")
    dossier_id = add_dossier(store, pages=4, page_bytes=500_000)
    payload = sum(p.size for p in store.pages(dossier_id))
    store.close()
    state_dir = Path(settings.store.state_dir)
    _write_config(state_dir)

    proxy.set_mode("throttle", bytes_per_second=400_000)
    proc = _run(state_dir)
    try:
        deadline = time.monotonic() + 60
        while proxy.bytes_up < payload // 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    held = hub_dossiers(hub)
    assert held[dossier_id]["state"] == "created"  # half uploaded, not committed
    sent_before = proxy.bytes_up

    proxy.set_mode("pass")
    again = _run(state_dir, "--json")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    with Store.open(settings) as reopened:
        assert_exactly_once(reopened, hub)
        row = reopened.query("SELECT blob_offsets FROM outbox WHERE dossier_id = ?", (dossier_id,))[0]
        assert row["blob_offsets"] != "{}"
    # The restart resumed from the hub's offsets instead of sending everything again: all that
    # went up in both runs is the payload plus headers and at most the chunk cut by the kill.
    assert sent_before >= payload // 2
    assert proxy.bytes_up < payload * 1.15
