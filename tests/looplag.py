"""A loop-lag probe: ticks on the running event loop and records how late each tick came."""

from __future__ import annotations

import asyncio
import time


class LoopLagProbe:
    def __init__(self, tick: float = 0.01) -> None:
        self.tick = tick
        self.lags: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> LoopLagProbe:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while not self._stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(self.tick)
            self.lags.append(time.monotonic() - before - self.tick)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
