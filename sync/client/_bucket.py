"""A token bucket that paces the upload stream to ``sync.bandwidth_limit_kbps``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable


class TokenBucket:
    """Rate in bytes per second, burst of at most one second (or one chunk, if larger).

    ``rate <= 0`` means unlimited. Uses the monotonic clock, so a wall clock jump changes nothing.
    """

    def __init__(self, rate_bytes_per_second: float, *, burst: float | None = None) -> None:
        self.rate = float(rate_bytes_per_second)
        self.burst = float(burst if burst is not None else max(self.rate, 1.0))
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    @classmethod
    def from_kbps(cls, kbps: int) -> TokenBucket:
        """``kbps`` in kilobits per second, as links are sold (0: unlimited)."""
        return cls(kbps * 1000 / 8 if kbps > 0 else 0)

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self, amount: int) -> None:
        """Wait until ``amount`` bytes may go out (a chunk larger than the burst is allowed, paced)."""
        if self.unlimited or amount <= 0:
            return
        async with self._lock:
            self._refill()
            self._tokens -= amount
            if self._tokens < 0:
                await asyncio.sleep(-self._tokens / self.rate)
                self._refill()

    async def pace(self, chunks: Iterable[bytes], *, piece: int = 16 * 1024) -> AsyncIterator[bytes]:
        """Yield the bytes of ``chunks`` in pieces of at most ``piece`` bytes, at the bucket's rate."""
        for chunk in chunks:
            view = memoryview(chunk)
            step = len(view) if self.unlimited else piece
            for start in range(0, len(view), max(step, 1)):
                part = view[start:start + step]
                await self.take(len(part))
                yield bytes(part)
