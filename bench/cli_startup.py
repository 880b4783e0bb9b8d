"""``motcua bench cli``: start-up time of the command line.

Median wall time of ``motcua --help`` and of ``motcua status`` (on a scratch state directory,
initialized first), each run as a fresh subprocess, against a bare
``python -c "import click, cryptography"`` measured in the same run. The runs are interleaved
(baseline, command, baseline, command, …) so that a slow moment of the machine falls on both.
The value is the slower of the two commands' medians, so the ratio holds for both.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._harness import BenchResult, ratio

AGENCY = "000.00.06.H56"
BASELINE = [sys.executable, "-c", "import click, cryptography"]
_SCRIPT = Path(sys.executable).parent / "motcua"  # the installed entry point, as a user runs it
MOTCUA = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "edge.cli"]


def _run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def run(quick: bool = False, rounds: int | None = None, **_: Any) -> BenchResult:
    rounds = rounds if rounds is not None else (5 if quick else 15)
    if rounds < 5:
        raise ValueError("bench cli needs at least 5 rounds (pairs of runs)")
    scratch = Path(tempfile.mkdtemp(prefix="motcua-bench-cli-"))
    try:
        state = scratch / "state"
        # As on an installed box, modules run from their compiled bytecode: the warm-up runs
        # below write it (__pycache__) even where the calling shell sets PYTHONDONTWRITEBYTECODE.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MOTCUA_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["MOTCUA_STATE_DIR"] = str(state)
        init = subprocess.run([*MOTCUA, "init", "--agency", AGENCY], env=env, capture_output=True, timeout=120)
        if init.returncode != 0:
            raise RuntimeError(f"motcua init failed: {init.stderr.decode(errors='replace')[-500:]}")
        commands = {"help": [*MOTCUA, "--help"], "status": [*MOTCUA, "status"]}
        for argv in (BASELINE, *commands.values()):  # warm the file and bytecode caches, unmeasured
            _run(argv, env)
        base: list[float] = []
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _round in range(rounds):
            for name, argv in commands.items():
                base.append(_run(BASELINE, env))
                samples[name].append(_run(argv, env))
        base_median = statistics.median(base)
        medians = {name: statistics.median(s) for name, s in samples.items()}
        worst = max(medians, key=medians.get)
        return BenchResult(
            name="cli",
            metric=f"median wall time of `motcua --help` and `motcua status` (the slower: {worst})",
            value=round(medians[worst] * 1000, 2),
            unit="ms",
            baseline='python -c "import click, cryptography"',
            baseline_value=round(base_median * 1000, 2),
            ratio=ratio(medians[worst], base_median),
            details={
                "rounds": rounds,
                "help_median_ms": round(medians["help"] * 1000, 2),
                "status_median_ms": round(medians["status"] * 1000, 2),
                "help_ratio": ratio(medians["help"], base_median),
                "status_ratio": ratio(medians["status"], base_median),
                "baseline_runs": len(base),
                "goal_ratio": 3,
            },
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
