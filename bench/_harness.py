"""Shared pieces of the benchmarks: the result record, the interleaved comparison, small helpers.

A benchmark measures a workload against a baseline *in the same run*, and on a shared machine a
single run of each swings by a third. So every benchmark runs them interleaved — workload round,
baseline round, workload round, … — through :func:`compare` (or :func:`acompare` for rounds that
are coroutines), and reports the median of the per-pair ratios with their min and max, the
machine and the cipher, and whether the spread lets it conclude.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import platform
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ROUNDS = 5
MIN_ROUNDS = 5
# (max - min) / median of the per-pair ratios above which a benchmark does not conclude from
# its median alone (it still concludes where every pair lies on the same side of its goal).
DEFAULT_MAX_SPREAD = 0.25


class BenchUnavailable(Exception):
    """This machine cannot run the benchmark (a tool or service is missing): skipped, not failed."""


@dataclass(kw_only=True)
class BenchResult:
    """One benchmark's outcome, compared with a baseline measured in the same run.

    ``value`` and ``baseline_value`` are the medians of the workload's and of the baseline's
    rounds; ``ratio`` is the median of the per-pair ratios (workload ÷ baseline of the same pair),
    ``ratio_min``/``ratio_max`` their extremes and ``spread`` = (max − min) ÷ median.
    ``verdict`` is one of ``met``, ``missed``, ``inconclusive`` or ``no goal``; ``conclusive``
    says whether the spread allows a conclusion at all.
    """

    name: str
    metric: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    ratio: float
    ratio_min: float = 0.0
    ratio_max: float = 0.0
    spread: float = 0.0
    rounds: int = 0
    conclusive: bool = False
    verdict: str = "no goal"
    goal: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    cipher: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def ratio(value: float, baseline_value: float) -> float:
    return round(value / baseline_value, 4) if baseline_value else 0.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentile(samples: list[float], pct: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else 0.0,
        "n": len(ms),
    }


def spread_of(values: list[float]) -> dict[str, float]:
    """Median, min, max and relative spread ((max − min) ÷ median) of some measurements."""
    if not values:
        return {"median": 0.0, "min": 0.0, "max": 0.0, "spread": 0.0, "n": 0}
    med = statistics.median(values)
    return {"median": round(med, 4), "min": round(min(values), 4), "max": round(max(values), 4),
            "spread": round((max(values) - min(values)) / med, 4) if med else 0.0, "n": len(values)}


# -- the machine ------------------------------------------------------------------------------


def _cpuinfo() -> tuple[str, bool]:
    model, aes = platform.processor() or platform.machine(), False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in {"model name", "hardware", "cpu model"} and value.strip():
                    model = value.strip()
                elif key in {"flags", "features"} and "aes" in value.split():
                    aes = True
    except OSError:
        pass
    return model, aes


def machine() -> dict[str, Any]:
    """What the figures were measured on: cores (online and usable), CPU model, AES flag, load."""
    model, aes = _cpuinfo()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"cores": os.cpu_count() or 0, "usable_cores": usable, "cpu_model": model, "aes": aes,
            "arch": platform.machine(), "python": platform.python_version(), "load_avg": load}


def install_packages() -> None:
    """Register every package of the box (migrations, store steps), as the CLI and daemon do;
    needed where a benchmark opens stores outside ``motcua`` (a spawned child, a test)."""
    from edge.cli import install

    install()


def default_cipher() -> str:
    """The page cipher a box on this machine chooses by default (``store.cipher = "auto"``)."""
    from edge.store._crypto import choose_cipher

    return choose_cipher("auto")


# -- the interleaved comparison ---------------------------------------------------------------


def _rounds(rounds: int | None) -> int:
    n = DEFAULT_ROUNDS if rounds is None else int(rounds)
    if n < MIN_ROUNDS:
        raise ValueError(f"a benchmark needs at least {MIN_ROUNDS} rounds (interleaved pairs); got {n}")
    return n


def _value(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(f"a round must return its measured value as a number, got {v!r}")
    if v <= 0:
        raise ValueError(f"a round measured {v!r}: a benchmark's value must be positive")
    return float(v)


def _goal_text(at_least: float | None, at_most: float | None) -> str:
    parts = []
    if at_least is not None:
        parts.append(f"ratio >= {at_least}")
    if at_most is not None:
        parts.append(f"ratio <= {at_most}")
    return " and ".join(parts)


def verdict(ratios: list[float], *, goal_at_least: float | None = None, goal_at_most: float | None = None,
            max_spread: float = DEFAULT_MAX_SPREAD) -> tuple[bool, str]:
    """``(conclusive, verdict)`` of some per-pair ratios against a goal.

    Conclusive when the spread is at most ``max_spread``, or when every pair lies on the same
    side of the goal (then no amount of noise in between changes the answer). The verdict is
    ``met``/``missed`` (by every pair where the spread is wide, by the median otherwise),
    ``inconclusive`` where the pairs straddle the goal and the spread is too wide, ``no goal``
    where there is none (still conclusive or not by the spread).
    """
    if not ratios:
        return False, "inconclusive"
    s = spread_of(ratios)
    narrow = s["spread"] <= max_spread

    def meets(r: float) -> bool:
        return (goal_at_least is None or r >= goal_at_least) and (goal_at_most is None or r <= goal_at_most)

    if goal_at_least is None and goal_at_most is None:
        return narrow, "no goal"
    ok = [meets(r) for r in ratios]
    if all(ok):
        return True, "met"
    if not any(ok):
        return True, "missed"
    if narrow:
        return True, "met" if meets(statistics.median(ratios)) else "missed"
    return False, "inconclusive"


@dataclass(kw_only=True)
class Comparison:
    """The rounds of one interleaved comparison, in the order they ran."""

    workload: list[float]
    baseline: list[float]
    max_spread: float = DEFAULT_MAX_SPREAD
    goal_at_least: float | None = None
    goal_at_most: float | None = None

    @property
    def ratios(self) -> list[float]:
        return [w / b for w, b in zip(self.workload, self.baseline, strict=True)]

    def summary(self) -> dict[str, Any]:
        """A JSON-able account: medians, per-pair ratios with min/max/spread, the verdict."""
        ratios = self.ratios
        s = spread_of(ratios)
        conclusive, said = verdict(ratios, goal_at_least=self.goal_at_least, goal_at_most=self.goal_at_most,
                                   max_spread=self.max_spread)
        return {"value": round(statistics.median(self.workload), 4),
                "baseline_value": round(statistics.median(self.baseline), 4),
                "ratio": s["median"], "ratio_min": s["min"], "ratio_max": s["max"], "spread": s["spread"],
                "rounds": len(ratios), "conclusive": conclusive, "verdict": said,
                "goal": _goal_text(self.goal_at_least, self.goal_at_most),
                "workload_rounds": [round(v, 4) for v in self.workload],
                "baseline_rounds": [round(v, 4) for v in self.baseline],
                "ratios": [round(r, 4) for r in ratios]}

    def result(self, *, name: str, metric: str, unit: str, baseline: str, cipher: str = "",
               details: dict[str, Any] | None = None) -> BenchResult:
        s = self.summary()
        extra = {"workload_rounds": s["workload_rounds"], "baseline_rounds": s["baseline_rounds"],
                 "ratios": s["ratios"], "max_spread": self.max_spread}
        return BenchResult(name=name, metric=metric, value=s["value"], unit=unit, baseline=baseline,
                           baseline_value=s["baseline_value"], ratio=s["ratio"], ratio_min=s["ratio_min"],
                           ratio_max=s["ratio_max"], spread=s["spread"], rounds=s["rounds"],
                           conclusive=s["conclusive"], verdict=s["verdict"], goal=s["goal"], machine=machine(),
                           cipher=cipher, details={**extra, **(details or {})})


def compare(workload: Callable[[], float], baseline: Callable[[], float], *, rounds: int | None = None,
            warmup: int = 0, goal_at_least: float | None = None, goal_at_most: float | None = None,
            max_spread: float = DEFAULT_MAX_SPREAD) -> Comparison:
    """Run ``workload`` and ``baseline`` rounds interleaved (A B A B …) and keep what each measured.

    How to write a benchmark with it (``bench/NAME.py``)::

        def _workload_round() -> float:      # one round of the real thing
            ...                              # untimed preparation may go here
            start = time.perf_counter()
            do_the_work()
            return time.perf_counter() - start   # or MB/s, p95 ms: any positive number

        def _baseline_round() -> float:      # one round of the floor, same unit, same size
            ...

        def run(quick: bool = False, rounds: int | None = None, **_) -> BenchResult:
            cmp = compare(_workload_round, _baseline_round, rounds=rounds, goal_at_most=3)
            return cmp.result(name="NAME", metric="seconds for …", unit="s",
                              baseline="what the baseline is", cipher=default_cipher())

    Each round returns its measured value (positive; seconds, a rate or a percentile — the two
    must be the same kind so their ratio means something). Round *i*'s ratio is workload *i* ÷
    baseline *i*: the two rounds of a pair run back to back, so a slow moment of the machine
    falls on both. ``rounds`` pairs run (default :data:`DEFAULT_ROUNDS`; at least
    :data:`MIN_ROUNDS`), after ``warmup`` unmeasured pairs. The goal is on the ratio: for a
    rate (higher is better) ``goal_at_least``, for a time ``goal_at_most``. State the rounds
    share (a fixture, a server, a store) in closures or in the module; per-round extras a
    benchmark wants to report it collects the same way and passes as ``details``.
    For coroutine rounds use :func:`acompare`.
    """
    n = _rounds(rounds)
    for _ in range(warmup):
        workload()
        baseline()
    w: list[float] = []
    b: list[float] = []
    for _ in range(n):
        w.append(_value(workload()))
        b.append(_value(baseline()))
    return Comparison(workload=w, baseline=b, max_spread=max_spread, goal_at_least=goal_at_least,
                      goal_at_most=goal_at_most)


async def acompare(workload: Callable[[], Awaitable[float] | float], baseline: Callable[[], Awaitable[float] | float],
                   *, rounds: int | None = None, warmup: int = 0, goal_at_least: float | None = None,
                   goal_at_most: float | None = None, max_spread: float = DEFAULT_MAX_SPREAD) -> Comparison:
    """:func:`compare` for rounds that are coroutine functions (run in the caller's event loop)."""

    async def call(fn: Callable[[], Any]) -> Any:
        out = fn()
        return await out if inspect.isawaitable(out) else out

    n = _rounds(rounds)
    for _ in range(warmup):
        await call(workload)
        await call(baseline)
    w: list[float] = []
    b: list[float] = []
    for _ in range(n):
        w.append(_value(await call(workload)))
        b.append(_value(await call(baseline)))
    return Comparison(workload=w, baseline=b, max_spread=max_spread, goal_at_least=goal_at_least,
                      goal_at_most=goal_at_most)
