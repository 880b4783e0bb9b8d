"""Retry policy: exponential backoff with full jitter, and which failures are worth retrying.

Full jitter (a uniformly random wait between zero and the exponential cap) spreads a fleet of
boxes that lost the network together, so they do not all come back in the same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})  # 409: offset mismatch → HEAD again


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """``delay(attempt)`` for attempt 1, 2, … is uniform in [0, min(cap, base * 2**(attempt-1))]."""

    base_seconds: float = 2.0
    cap_seconds: float = 900.0
    rng: random.Random | None = None

    def ceiling(self, attempt: int) -> float:
        exponent = min(max(attempt, 1) - 1, 32)
        return min(self.cap_seconds, self.base_seconds * (2**exponent))

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """Seconds to wait before the next attempt; ``Retry-After`` from the hub is a floor."""
        rng = self.rng or random
        wait = rng.uniform(0.0, self.ceiling(attempt))
        if retry_after is not None and retry_after > wait:
            wait = min(retry_after, self.cap_seconds * 4)
        return wait


def is_transient_status(status: int) -> bool:
    """5xx and 408/409/425/429 are retried; every other 4xx is shown to a person instead."""
    return status >= 500 or status in TRANSIENT_STATUSES


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` is either seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    import time

    return max(0.0, when.timestamp() - (time.time() if now is None else now))
