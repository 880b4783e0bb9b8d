"""A real city hub for provisioning tests: ``motcua hub serve`` as a subprocess on 127.0.0.1.

IT's side is driven through the real CLI (``hub init``, ``hub import-stations``, ``hub revoke``,
``hub stations --json``), exactly as docs/deploy.md tells IT to run it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from edge.cli import cli


def motcua(*args: str, check: bool = True) -> str:
    """Run a ``motcua`` command in-process (fast) and return its output; raise on failure."""
    result = CliRunner().invoke(cli, list(args))
    if check and result.exit_code != 0:
        raise AssertionError(f"motcua {' '.join(args)} failed ({result.exit_code}): {result.output}\n{result.exception!r}")
    return result.output


def motcua_proc(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``motcua`` as its own process (for SIGKILL tests and exit codes)."""
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HubProcess:
    """One hub data directory; ``start()``/``stop()`` the server by PID."""

    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        motcua("hub", "init", "--data-dir", str(data_dir), "--kem", "X25519")

    def start(self) -> None:
        ready = self.data_dir.parent / f"{self.data_dir.name}.ready"
        ready.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "hub", "serve", "--data-dir", str(self.data_dir), "--port", str(self.port),
             "--ready-file", str(ready)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            if time.monotonic() > deadline:
                raise RuntimeError("hub did not start within 30 s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def admin(self, *args: str) -> str:
        return motcua("hub", args[0], "--data-dir", str(self.data_dir), *args[1:])

    def stations(self) -> dict[str, dict]:
        return {s["station_id"]: s for s in json.loads(self.admin("stations", "--json"))}

    def dossiers(self) -> list[dict]:
        return json.loads(self.admin("dossiers", "--json"))
