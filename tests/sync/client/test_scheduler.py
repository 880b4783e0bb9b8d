"""The scheduler survives clock jumps: no stall after a backward jump, no storm after a forward one.

APScheduler reads the wall clock through ``datetime.now``; the tests shift that reading (the OS
boundary) in the modules that call it, and give the watchdog the same shifted clock.
"""

from __future__ import annotations

import asyncio
import datetime as real_dt
import time

import pytest

from sync.client import JobSpec, SyncScheduler

SHIFT = {"seconds": 0.0}


class ShiftedDatetime(real_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return real_dt.datetime.now(tz) + real_dt.timedelta(seconds=SHIFT["seconds"])


@pytest.fixture
def shifted_clock(monkeypatch):
    import apscheduler.executors.base as executors_base
    import apscheduler.schedulers.base as schedulers_base
    import apscheduler.triggers.interval as interval

    import sync.client._scheduler as ours

    SHIFT["seconds"] = 0.0
    for module in (schedulers_base, executors_base, interval):
        monkeypatch.setattr(module, "datetime", ShiftedDatetime)

    class ShiftedDt:
        datetime = ShiftedDatetime
        timedelta = real_dt.timedelta
        UTC = real_dt.UTC

    monkeypatch.setattr(ours, "dt", ShiftedDt)
    yield lambda: time.time() + SHIFT["seconds"]
    SHIFT["seconds"] = 0.0


async def _counting_scheduler(wall, interval: float = 1.0):
    runs: list[tuple[str, float]] = []

    def job(name):
        async def run():
            runs.append((name, time.monotonic()))
        return run

    sched = SyncScheduler([JobSpec(name=n, interval=interval, run=job(n), first_delay=0.1) for n in ("push", "pull")],
                          watchdog_seconds=0.2, wall=wall)
    sched.start()
    return sched, runs


async def _wait_for(predicate, limit_s: float = 15.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_backward_jump_does_not_stall_jobs(shifted_clock):
    sched, runs = await _counting_scheduler(shifted_clock)
    try:
        await _wait_for(lambda: sum(1 for n, _ in runs if n == "push") >= 2)
        SHIFT["seconds"] = -2 * 86400  # the clock goes back two days
        before = len(runs)
        await _wait_for(lambda: sum(1 for n, _ in runs[before:] if n == "push") >= 2)
        assert sched.jumps >= 1
        assert {n for n, _ in runs[before:]} == {"push", "pull"}
    finally:
        await sched.stop()


async def test_forward_jump_runs_each_job_once_not_a_storm(shifted_clock):
    sched, runs = await _counting_scheduler(shifted_clock, interval=5.0)
    try:
        await _wait_for(lambda: len(runs) >= 2)
        SHIFT["seconds"] = 3 * 86400  # three days of missed runs at a 5 s interval
        before = len(runs)
        await _wait_for(lambda: len(runs) > before)
        await asyncio.sleep(1.5)
        burst = runs[before:]
        # 51 840 runs were "missed" per job; coalescing and the guard allow one each.
        assert len([n for n, _ in burst if n == "push"]) <= 1
        assert len([n for n, _ in burst if n == "pull"]) <= 1
    finally:
        await sched.stop()


async def test_guard_refuses_a_second_run_within_half_the_interval():
    calls = []

    async def run():
        calls.append(1)

    sched = SyncScheduler([JobSpec(name="push", interval=60, run=run)])
    assert await sched.run_now("push", forced=False)
    assert not await sched.run_now("push", forced=False)
    assert await sched.run_now("push", forced=True)  # a kick is always allowed
    assert len(calls) == 2 and sched.skipped["push"] == 1
