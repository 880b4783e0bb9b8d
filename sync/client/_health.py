"""What a heartbeat tells the city about this box beyond its backlog (docs/sync-protocol.md §8).

Kept apart from the client so the heartbeat's extra fields have one small home: the disk's size
(the hub alerts on the free share), the worst state of each kind of device, and the failures of
this box's sync calls since it started, counted by the protocol's error code.
"""

from __future__ import annotations

import shutil
from collections import Counter
from typing import Any

from sync.errors import ApiError, ProtocolError, SignatureError, TransportError

# Worst first: a kind of device reports the worst state among its devices.
_SEVERITY = ("error", "absent", "busy", "ready")
MAX_CODES = 64


def disk_total_bytes(path: Any) -> int | None:
    try:
        return int(shutil.disk_usage(path).total)
    except OSError:
        return None


def error_code(exc: BaseException) -> str:
    """The protocol's error code of a failed call, or the client side's own name for it."""
    if isinstance(exc, ApiError):
        return exc.code[:64] or "api"
    if isinstance(exc, TransportError):
        return "transport"
    if isinstance(exc, SignatureError):
        return "signature"
    if isinstance(exc, ProtocolError):
        return "protocol"
    return "other"


class ErrorCounts:
    """Failures by code since the daemon started (a counter: Prometheus sees a restart as a reset)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, exc: BaseException) -> None:
        code = error_code(exc)
        if code in self._counts or len(self._counts) < MAX_CODES:
            self._counts[code] += 1

    def snapshot(self) -> dict[str, int]:
        return dict(self._counts)


def device_summary(records: Any) -> dict[str, str]:
    """{kind: worst status} from a device registry's snapshot (DeviceRecord-like objects)."""
    worst: dict[str, str] = {}
    for record in records:
        kind = str(getattr(record, "kind", ""))[:64]
        status = str(getattr(record, "status", ""))
        if not kind:
            continue
        rank = _SEVERITY.index(status) if status in _SEVERITY else len(_SEVERITY)
        current = worst.get(kind)
        if current is None or rank < (_SEVERITY.index(current) if current in _SEVERITY else len(_SEVERITY)):
            worst[kind] = status[:200]
    return dict(list(worst.items())[:64])
