"""The token PIN, held in memory for a clerk's web session only (never on disk, never logged).

The vault maps a web session to the PIN the clerk typed; it forgets it on logout, on expiry
(the web session's idle time) and on a wrong PIN. ``repr`` never shows a PIN.
"""

from __future__ import annotations

import threading
import time


class PinVault:
    def __init__(self, *, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._pins: dict[str, tuple[str, float]] = {}

    def put(self, session_id: str, pin: str) -> None:
        with self._lock:
            self._pins[session_id] = (pin, time.monotonic() + self._ttl)

    def get(self, session_id: str) -> str | None:
        with self._lock:
            entry = self._pins.get(session_id)
            if entry is None:
                return None
            if entry[1] < time.monotonic():
                del self._pins[session_id]
                return None
            self._pins[session_id] = (entry[0], time.monotonic() + self._ttl)
            return entry[0]

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._pins.pop(session_id, None)

    def clear(self) -> None:
        with self._lock:
            self._pins.clear()

    def __repr__(self) -> str:
        return f"<PinVault {len(self._pins)} session(s)>"


__all__ = ["PinVault"]
