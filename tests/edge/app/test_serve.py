"""`motcua serve --demo` as a newcomer runs it: a real process, systemd notifications, a dossier
reaching the demo city hub and coming back confirmed."""

from __future__ import annotations

import http.cookiejar
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_demo_serves_notifies_systemd_and_syncs_to_the_demo_hub(tmp_path: Path) -> None:
    notify_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(1.0)
    port, hub_port = _free_port(), _free_port()
    state = tmp_path / "demo" / "box"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update({"NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "2000000"})
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "--state-dir", str(state), "serve", "--demo",
                             "--port", str(port), "--demo-hub-port", str(hub_port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    messages: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while "READY=1" not in "\n".join(messages) and time.monotonic() < deadline and proc.poll() is None:
            try:
                messages.append(notify.recv(4096).decode())
            except TimeoutError:
                pass
        assert any("READY=1" in m for m in messages), (messages, proc.poll())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert json.loads(resp.read())["status"] == "ok"
        # The watchdog keeps pinging from the event loop.
        pings = 0
        for _ in range(6):
            try:
                pings += notify.recv(4096).decode().count("WATCHDOG=1")
            except TimeoutError:
                pass
        assert pings >= 1
        # The demo dossiers reach the demo hub and are confirmed by it.
        status = {}
        while time.monotonic() < deadline:
            status = json.loads(_cli("--state-dir", str(state), "sync", "status", "--json").stdout)
            if status.get("counts", {}).get("confirmed") == 2:
                break
            time.sleep(1)
        assert status["counts"] == {"confirmed": 2}, status
        hub = json.loads(_cli("hub", "dossiers", "--data-dir", str(tmp_path / "demo" / "hub"), "--json").stdout)
        box_codes = {d["code"] for d in json.loads(_cli("--state-dir", str(state), "dossier", "list", "--json").stdout)}
        assert {d["code"] for d in hub} == box_codes and len(box_codes) == 2
        # The terminal told the newcomer how to reach the demo hub's fleet page, with a password made once.
        printed = ""
        stuck = threading.Timer(60, proc.kill)  # a missing line ends in EOF and a failed assert, not a hang
        stuck.start()
        try:
            while "Trang đội máy" not in printed and (line := proc.stdout.readline()):
                printed += line
        finally:
            stuck.cancel()
        found = re.search(r"Trang đội máy cho CNTT \(demo hub\): (\S+) — tài khoản cntt, mật khẩu (\S+) ", printed)
        assert found, printed
        fleet_url, password = found.groups()
        assert fleet_url == f"http://127.0.0.1:{hub_port}/fleet/"
        html = _fleet_login(fleet_url, "cntt", password)
        assert 'data-station="demo-ba-dinh-01"' in html and "Đội máy: 1 trạm" in html
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0]
        notify.close()
    assert proc.returncode == 0, out
    # printed once on the terminal, never in a log line or a file of the demo
    assert (printed + out).count(password) == 1
    for path in (tmp_path / "demo").rglob("*"):
        assert not path.is_file() or password.encode() not in path.read_bytes(), path


def _fleet_login(url: str, username: str, password: str) -> str:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = urllib.parse.urlencode({"username": username, "password": password, "next": "/fleet/"}).encode()
    with opener.open(f"{url}login", data=form, timeout=30) as resp:  # 303 to the list, with the session cookie
        assert resp.status == 200 and resp.url == url
        return resp.read().decode()


def test_the_demo_fleet_admin_is_made_once_and_its_password_never_logged(tmp_path, capsys, caplog):
    from edge.app._demo import demo_fleet_admin
    from sync.hub import init_data_dir, open_hub

    hub_dir = tmp_path / "hub"
    init_data_dir(hub_dir)
    caplog.set_level(logging.DEBUG)
    password = demo_fleet_admin(hub_dir, 8765)
    first = capsys.readouterr().out
    assert password and len(password) >= 16 and f"mật khẩu {password} (chỉ in lần này" in first
    assert f"motcua hub admin add cntt --data-dir {hub_dir}" in first
    assert demo_fleet_admin(hub_dir, 8765) is None  # a later start: the same account, no new password
    again = capsys.readouterr().out
    assert password not in again and "mật khẩu đã in ở lần chạy demo đầu tiên" in again
    assert "http://127.0.0.1:8765/fleet/" in again
    assert all(password not in r.getMessage() for r in caplog.records)
    storage, _ = open_hub(hub_dir)
    try:
        assert [a.username for a in storage.list_admins()] == ["cntt"]
    finally:
        storage.close()
