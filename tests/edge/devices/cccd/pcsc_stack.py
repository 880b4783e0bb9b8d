"""Start and stop pcscd (with the vpcd virtual reader) for tests and the benchmark."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
READER = "Virtual PCD 00 00"
# vpcd has one port per slot for the whole machine: concurrent test sessions (or a benchmark)
# take turns through this lock instead of feeding each other's card emulators.
LOCK_PATH = Path(tempfile.gettempdir()) / "motcua-vpcd.lock"


def _readers() -> list[str]:
    from smartcard.System import readers

    try:
        return [str(r) for r in readers()]
    except Exception:
        return []


def missing_reason() -> str | None:
    if shutil.which("pcscd") is None:
        return "pcscd is not installed (Debian package pcscd)"
    if not VPCD_CONF.exists():
        return "vpcd is not configured (/etc/reader.conf.d/vpcd from vsmartcard-vpcd)"
    try:
        import smartcard  # noqa: F401
    except ImportError:
        return "pyscard is not installed"
    return None


class PcscStack:
    """A pcscd we own (stopped by PID), or one already running that we reuse and leave alone."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0, lock_timeout: float = 900.0) -> PcscStack:
        self._lock = open(LOCK_PATH, "a+b")  # closed in stop()
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock.seek(0)
                self._lock.truncate()
                self._lock.write(str(os.getpid()).encode())
                self._lock.flush()
                break
            except BlockingIOError:
                self._lock.seek(0)
                if self._lock.read().decode(errors="replace").strip() == str(os.getpid()):
                    # This process already holds vpcd (e.g. the test session's pcscd): share it.
                    self._lock.close()
                    self._lock = None
                    break
                if time.monotonic() > deadline:
                    self._lock.close()
                    raise RuntimeError(f"vpcd stays busy (lock {LOCK_PATH})") from None
                time.sleep(0.2)
        if READER in _readers():
            return self  # a pcscd not started by us already serves vpcd: reuse it, leave it running
        self._log = open(self.log_path, "wb")  # closed in stop()
        env = dict(os.environ)
        self.process = subprocess.Popen(["pcscd", "--foreground", "--debug"], stdout=self._log,
                                        stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while READER not in _readers():
            if self.process.poll() is not None:
                raise RuntimeError(f"pcscd exited with {self.process.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pcscd did not show {READER!r} within {timeout}s; see {self.log_path}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        try:
            self._stop_pcscd()
        finally:
            lock, self._lock = getattr(self, "_lock", None), None
            if lock is not None:
                lock.seek(0)
                lock.truncate()
                lock.close()  # releases the flock

    def _stop_pcscd(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self._log.close()


def wait_for_card(present: bool, reader: str = READER, timeout: float = 10.0) -> None:
    """Block until the reader reports a card (or no card)."""
    from smartcard.scard import (
        SCARD_S_SUCCESS,
        SCARD_SCOPE_USER,
        SCARD_STATE_PRESENT,
        SCARD_STATE_UNAWARE,
        SCardEstablishContext,
        SCardGetStatusChange,
        SCardReleaseContext,
    )

    rc, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    if rc != SCARD_S_SUCCESS:
        raise RuntimeError(f"SCardEstablishContext failed: {rc:#x}")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc, states = SCardGetStatusChange(ctx, 200, [(reader, SCARD_STATE_UNAWARE)])
            if rc == SCARD_S_SUCCESS and bool(states[0][1] & SCARD_STATE_PRESENT) == present:
                return
            time.sleep(0.05)
        raise TimeoutError(f"reader {reader!r} did not become {'present' if present else 'empty'}")
    finally:
        SCardReleaseContext(ctx)
