"""Time on a box without a real-time clock: the hub's offset, kept from every response.

The wall clock of a Raspberry Pi starts wherever it stopped (or at 1970) until NTP or the hub
corrects it. The client never trusts it alone: every hub response carries the server's time
(``Server-Time`` in Unix seconds, else the HTTP ``Date``); the offset hub − box is kept, persisted,
and used to stamp signed requests. Anything measured between two events uses ``time.monotonic``.

``MOTCUA_CLOCK_SKEW_SECONDS`` shifts this box's reading of the OS clock (the OS boundary), for
tests and demonstrations of a box whose clock is off.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

SKEW_ENV = "MOTCUA_CLOCK_SKEW_SECONDS"


def os_time() -> float:
    """The box's wall clock as the OS gives it (shifted by ``MOTCUA_CLOCK_SKEW_SECONDS``)."""
    skew = os.environ.get(SKEW_ENV)
    try:
        return time.time() + (float(skew) if skew else 0.0)
    except ValueError:
        return time.time()


def server_time_of(headers: object) -> float | None:
    """The hub's time from a response's headers, or None when it gave none we can read."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    raw = get("Server-Time") or get("X-Server-Time")
    if raw:
        try:
            return float(raw)
        except ValueError:
            pass
    date = get("Date")
    if date:
        try:
            return parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return None
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockState:
    """What is persisted: the offset, when it was measured, and how precise it is."""

    offset: float = 0.0
    anchored: bool = False
    measured_at: float = 0.0   # corrected hub time of the measurement
    uncertainty: float = 0.0   # half the round trip, seconds


class HubClock:
    """Keeps hub − box; ``now()`` is the box's best idea of the hub's (and so the real) time."""

    def __init__(self, state: ClockState | None = None, *, wall=os_time) -> None:
        self._wall = wall
        self.state = state or ClockState()
        self._mono_anchor: float | None = None

    @property
    def anchored(self) -> bool:
        return self.state.anchored

    def wall(self) -> float:
        return self._wall()

    def now(self) -> float:
        return self._wall() + self.state.offset

    def observe(self, server_time: float | None, *, sent_at: float, received_at: float) -> bool:
        """Fold one response in; ``sent_at``/``received_at`` are box wall times around the request.

        A new measurement replaces the old one when it is more precise, or when the old one is
        stale (older than 10 minutes) or disagrees by more than its uncertainty (the box clock
        jumped). Returns True when the offset changed.
        """
        if server_time is None:
            return False
        rtt = max(0.0, received_at - sent_at)
        midpoint = sent_at + rtt / 2
        offset = server_time - midpoint
        # An HTTP Date has one-second resolution: count it in the uncertainty.
        uncertainty = rtt / 2 + (0.5 if float(server_time).is_integer() else 0.0)
        old = self.state
        stale = (not old.anchored) or (server_time - old.measured_at > 600)
        jumped = abs(offset - old.offset) > max(old.uncertainty, uncertainty) + 1.0
        if stale or jumped or uncertainty <= old.uncertainty:
            self.state = ClockState(offset=offset, anchored=True, measured_at=server_time,
                                    uncertainty=uncertainty)
            self._mono_anchor = time.monotonic()
            return True
        return False
