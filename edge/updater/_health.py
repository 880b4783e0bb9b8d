"""Is the box healthy after an install? The daemon is READY, the store checks, the web answers, sync works."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Protocol


class HealthCheck(Protocol):
    def problems(self, *, since: str) -> list[str]:
        """What is wrong (empty: healthy). ``since``: when the install began (ISO 8601, UTC)."""


class SystemHealth:
    """The real check on a box, run by root after ``systemctl restart motcua-edge``:

    1. ``systemctl is-active motcua-edge`` is ``active`` (Type=notify: only after READY=1);
    2. ``motcua check`` exits 0 (as the service user: blobs, sealed fields, audit chain);
    3. the clerk web app answers ``GET /`` with a status below 500;
    4. ``motcua sync status --json`` shows a successful exchange with the hub after ``since``.

    Each is retried until ``timeout`` seconds have passed.
    """

    def __init__(self, *, unit: str = "motcua-edge.service", user: str = "motcua", motcua: str = "/usr/bin/motcua",
                 web_url: str = "http://127.0.0.1:8080/", timeout: float = 300, interval: float = 5,
                 run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
        self.unit, self.user, self.motcua, self.web_url = unit, user, motcua, web_url
        self.timeout, self.interval, self._run = timeout, interval, run

    def _as_user(self, *args: str) -> subprocess.CompletedProcess:
        from ._runuser import as_user

        return self._run(as_user(self.user, [self.motcua, *args]), capture_output=True, text=True, timeout=600)

    def _ready(self, since: str) -> str | None:
        out = self._run(["systemctl", "is-active", self.unit], capture_output=True, text=True, timeout=60)
        return None if out.stdout.strip() == "active" else f"{self.unit} is {out.stdout.strip() or 'unknown'}"

    def _store(self, since: str) -> str | None:
        out = self._as_user("check")
        return None if out.returncode == 0 else f"motcua check failed: {(out.stdout + out.stderr).strip()[-300:]}"

    def _web(self, since: str) -> str | None:
        try:
            with urllib.request.urlopen(self.web_url, timeout=10) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            return f"web app at {self.web_url} does not answer: {exc}"
        return None if status < 500 else f"web app answered {status}"

    def _sync(self, since: str) -> str | None:
        out = self._as_user("sync", "status", "--json")
        try:
            last = json.loads(out.stdout).get("last_success_at")
        except (ValueError, AttributeError):
            return f"motcua sync status failed: {out.stderr.strip()[-200:]}"
        if last:
            try:
                if dt.datetime.fromisoformat(last) >= dt.datetime.fromisoformat(since):
                    return None
            except ValueError:
                pass
        return f"no exchange with the hub since {since} (last {last or 'never'})"

    def problems(self, *, since: str) -> list[str]:
        deadline = time.monotonic() + self.timeout
        found: list[str] = []
        for check in (self._ready, self._store, self._web, self._sync):
            while True:
                problem = check(since)
                if problem is None or time.monotonic() >= deadline:
                    break
                time.sleep(self.interval)
            if problem is not None:
                found.append(problem)
        return found
