"""APScheduler 3.x jobs of the sync client, made safe for a box whose clock jumps.

A Raspberry Pi has no RTC: at boot its clock may be days behind, then NTP or the hub moves it.
APScheduler's interval triggers compare job times with the wall clock, so

- a jump FORWARD makes every job overdue at once: ``coalesce`` turns the backlog into one run
  per job and a large ``misfire_grace_time`` makes sure that run happens;
- a jump BACKWARD would leave every next run days in the future: a watchdog compares the wall
  clock with ``time.monotonic`` every few seconds and, on a jump, reschedules every job to run
  soon (staggered), then on its normal interval;
- each job also refuses to start again within half its interval of monotonic time (except a
  kick), so neither a jump nor a misfire burst can cause a storm of requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

logger = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 7 * 24 * 3600
JUMP_THRESHOLD_SECONDS = 30.0


@dataclass
class JobSpec:
    name: str
    interval: float
    run: Callable[[], Awaitable[object]]
    first_delay: float = 1.0


class SyncScheduler:
    def __init__(self, jobs: list[JobSpec], *, watchdog_seconds: float = 5.0,
                 wall: Callable[[], float] = time.time) -> None:
        self.jobs = {j.name: j for j in jobs}
        self._scheduler: AsyncIOScheduler | None = None
        self._watchdog: asyncio.Task | None = None
        self._watchdog_seconds = watchdog_seconds
        self._wall = wall
        self._last_start: dict[str, float] = {}
        self._running: set[str] = set()
        self.runs: dict[str, int] = {name: 0 for name in self.jobs}
        self.skipped: dict[str, int] = {name: 0 for name in self.jobs}
        self.jumps = 0

    # --- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        sched = AsyncIOScheduler(timezone=dt.UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS})
        now = dt.datetime.now(dt.UTC)
        for i, spec in enumerate(self.jobs.values()):
            sched.add_job(self._wrap(spec.name), IntervalTrigger(seconds=max(1, spec.interval), timezone=dt.UTC),
                          id=spec.name, name=spec.name,
                          next_run_time=now + dt.timedelta(seconds=spec.first_delay + i * 0.2))
        sched.start()
        self._scheduler = sched
        self._watchdog = asyncio.get_running_loop().create_task(self._watch(), name="sync-clock-watchdog")

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    def next_runs(self) -> dict[str, dt.datetime | None]:
        if self._scheduler is None:
            return {}
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    # --- jobs ----------------------------------------------------------------------------------
    def _wrap(self, name: str) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            await self.run_now(name, forced=False)

        job.__name__ = f"sync_{name}"
        return job

    async def run_now(self, name: str, *, forced: bool = True) -> bool:
        """Run one job unless it runs already, or (unless forced) it ran within half its interval."""
        spec = self.jobs[name]
        mono = time.monotonic()
        last = self._last_start.get(name)
        if name in self._running or (not forced and last is not None and mono - last < spec.interval / 2):
            self.skipped[name] += 1
            return False
        self._running.add(name)
        self._last_start[name] = mono
        self.runs[name] += 1
        try:
            await spec.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("sync job %s failed", name)
        finally:
            self._running.discard(name)
        return True

    # --- clock jumps ---------------------------------------------------------------------------
    def check_jump(self, wall_delta: float, mono_delta: float) -> bool:
        """Reschedule every job soon when the wall clock moved unlike the monotonic clock."""
        if abs(wall_delta - mono_delta) <= JUMP_THRESHOLD_SECONDS:
            return False
        self.jumps += 1
        logger.warning("wall clock jumped by %.0f s: rescheduling sync jobs", wall_delta - mono_delta)
        if self._scheduler is not None:
            now = dt.datetime.now(dt.UTC)
            for i, spec in enumerate(self.jobs.values()):
                self._scheduler.modify_job(spec.name, next_run_time=now + dt.timedelta(seconds=1 + i * 0.5))
            self._scheduler.wakeup()
        return True

    async def _watch(self) -> None:
        wall, mono = self._wall(), time.monotonic()
        while True:
            await asyncio.sleep(self._watchdog_seconds)
            new_wall, new_mono = self._wall(), time.monotonic()
            self.check_jump(new_wall - wall, new_mono - mono)
            wall, mono = new_wall, new_mono
