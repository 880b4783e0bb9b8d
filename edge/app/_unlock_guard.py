"""Bounds on passphrase guessing at the unlock page of a locked box.

Policy: the first wrong passphrase costs nothing (a typo); after that each further attempt must
wait ``1, 2, 4 … 60`` seconds from the last failure; after :data:`LOCKOUT_AFTER` failures in a
row the page refuses every attempt for :data:`LOCKOUT_SECONDS`, and each failure after that
starts a new lockout. Only a right passphrase resets the count. Attempts refused for waiting are
not checked (no scrypt derivation) and are not counted.

Where the state lives: the store is still sealed, so its database cannot hold it. The count, the
times and the addresses of the failed attempts (no passphrase, nothing about citizens) are kept in
``<state dir>/unlock-attempts.json`` (0600, replaced atomically): a restart of the service does not
reset the backoff or the lockout. If that file cannot be written the state is kept in memory for
the life of the unlock page, and a warning is logged. When the store opens, every failed attempt
kept there (the last :data:`KEEP_FAILURES`) goes into the store's audit log as
``store.unlock_failed`` and the file is removed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

FILE_NAME = "unlock-attempts.json"
LOCKOUT_AFTER = 10
LOCKOUT_SECONDS = 15 * 60
MAX_BACKOFF = 60.0
KEEP_FAILURES = 50


class UnlockGuard:
    """The failure count of the unlock page, its backoff and lockout (see the module docstring)."""

    def __init__(self, state_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._path = Path(state_dir) / FILE_NAME
        self._clock = clock
        self._state = self._load()

    def _load(self) -> dict[str, Any]:
        fresh: dict[str, Any] = {"failures": 0, "last_failure": 0.0, "locked_until": 0.0, "log": [], "dropped": 0}
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return fresh
        except (OSError, ValueError) as exc:
            logger.warning("unlock attempt record unreadable (%s): counting as locked out", exc)
            # A damaged record must not reset the count: treat it as a lockout just reached.
            return {**fresh, "failures": LOCKOUT_AFTER, "locked_until": self._clock() + LOCKOUT_SECONDS}
        if not isinstance(data, dict):
            return {**fresh, "failures": LOCKOUT_AFTER, "locked_until": self._clock() + LOCKOUT_SECONDS}
        state = dict(fresh)
        for key in ("failures", "dropped"):
            if isinstance(data.get(key), int) and data[key] >= 0:
                state[key] = data[key]
        for key in ("last_failure", "locked_until"):
            if isinstance(data.get(key), (int, float)):
                state[key] = float(data[key])
        if isinstance(data.get("log"), list):
            state["log"] = [e for e in data["log"] if isinstance(e, dict)][-KEEP_FAILURES:]
        return state

    def _save(self) -> None:
        tmp = self._path.with_name(self._path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(self._state, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
        except OSError as exc:
            logger.warning("cannot record unlock attempts in %s (%s): kept in memory only", self._path, exc)

    def wait_left(self) -> int:
        """Seconds before the next attempt may be checked (0: now)."""
        now = self._clock()
        s = self._state
        if s["locked_until"] > now:
            return int(s["locked_until"] - now) + 1
        if s["failures"] < 2:
            return 0
        delay = min(MAX_BACKOFF, 2.0 ** (s["failures"] - 2))
        left = s["last_failure"] + delay - now
        return int(left) + 1 if left > 0 else 0

    def refusal_vi(self, left: int) -> str:
        if self._state["locked_until"] > self._clock():
            minutes = max(1, (left + 59) // 60)
            return (f"Nhập sai mật khẩu mở khóa quá nhiều lần. Trang mở khóa tạm khóa, "
                    f"vui lòng thử lại sau {minutes} phút.")
        return f"Vừa nhập sai mật khẩu mở khóa. Vui lòng đợi {left} giây rồi thử lại."

    def failed(self, remote: str | None) -> None:
        now = self._clock()
        s = self._state
        s["failures"] += 1
        s["last_failure"] = now
        if s["failures"] >= LOCKOUT_AFTER:
            s["locked_until"] = now + LOCKOUT_SECONDS
        s["log"].append({"at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds"),
                         "from": remote or ""})
        if len(s["log"]) > KEEP_FAILURES:
            s["dropped"] += len(s["log"]) - KEEP_FAILURES
            s["log"] = s["log"][-KEEP_FAILURES:]
        self._save()

    def opened(self, store: Any) -> int:
        """The store is open: write the failed attempts into its audit log, then forget them."""
        s = self._state
        for entry in s["log"]:
            store.audit("store.unlock_failed", actor="unlock-page",
                        details={"failed_at": str(entry.get("at", "")), "from": str(entry.get("from", ""))})
        if s["dropped"]:
            store.audit("store.unlock_failed", actor="unlock-page", details={"earlier_not_kept": s["dropped"]})
        count = s["failures"]
        self._state = {"failures": 0, "last_failure": 0.0, "locked_until": 0.0, "log": [], "dropped": 0}
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        return count
