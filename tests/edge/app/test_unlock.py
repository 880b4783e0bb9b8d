"""A passphrase-protected box serves only its unlock page until a supervisor unlocks it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_locked_box_unlocks_with_the_passphrase_only(tmp_path: Path) -> None:
    state = tmp_path / "box"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update({"MOTCUA_SYNC__ENABLED": "false", "MOTCUA_DEVICES__ENABLED": "false"})
    cli = [sys.executable, "-m", "edge.cli", "--state-dir", str(state)]
    subprocess.run([*cli, "init", "--agency", "000.00.06.H56", "--passphrase-stdin"], input="mật khẩu buổi sáng\n",
                   text=True, check=True, cwd=ROOT, env=env, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen([*cli, "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            try:
                status = _health(port)
                break
            except OSError:
                time.sleep(0.3)
        assert status == (503, {"status": "locked"})
        url = ["--url", f"http://127.0.0.1:{port}"]
        wrong = subprocess.run([*cli, "unlock", *url], input="sai mật khẩu\n", text=True, cwd=ROOT, env=env,
                               capture_output=True)
        assert wrong.returncode != 0 and "Mật khẩu mở khóa không đúng" in wrong.stderr
        assert _health(port)[0] == 503
        ok = subprocess.run([*cli, "unlock", *url], input="mật khẩu buổi sáng\n", text=True, cwd=ROOT, env=env,
                            capture_output=True)
        assert ok.returncode == 0, ok.stderr
        while time.monotonic() < deadline:
            try:
                code, body = _health(port)
                if code == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert (code, body["status"]) == (200, "ok")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0]
    assert proc.returncode == 0, out
