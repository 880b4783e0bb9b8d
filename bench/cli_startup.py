"""``motcua bench cli``: start-up time of the command line.

Median wall time of ``motcua --help`` and of ``motcua status`` (on a scratch state directory,
initialized first), each run as a fresh subprocess, against a bare
``python -c "import click, cryptography"`` measured in the same run. The runs are interleaved
(command, baseline, command, baseline, …, through ``bench._harness.compare``) so that a slow
moment of the machine falls on both; each command gets its own pairs.
The value is the slower of the two commands' medians, so the ratio holds for both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._harness import BenchResult, compare

AGENCY = "000.00.06.H56"
BASELINE = [sys.executable, "-c", "import click, cryptography"]
_SCRIPT = Path(sys.executable).parent / "motcua"  # the installed entry point, as a user runs it
MOTCUA = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "edge.cli"]
GOAL = 3


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
        comparisons = {name: compare(lambda argv=argv: _run(argv, env), lambda: _run(BASELINE, env),
                                     rounds=rounds, goal_at_most=GOAL)
                       for name, argv in commands.items()}
        summaries = {name: c.summary() for name, c in comparisons.items()}
        worst = max(summaries, key=lambda n: summaries[n]["value"])
        other = next(n for n in summaries if n != worst)
        base = comparisons[worst].baseline + comparisons[other].baseline
        result = comparisons[worst].result(
            name="cli",
            metric=f"median wall time of `motcua --help` and `motcua status` (the slower: {worst})",
            unit="s",
            baseline='python -c "import click, cryptography"',
            details={
                "help_median_ms": round(summaries["help"]["value"] * 1000, 2),
                "status_median_ms": round(summaries["status"]["value"] * 1000, 2),
                "help_ratio": summaries["help"]["ratio"],
                "status_ratio": summaries["status"]["ratio"],
                other: {k: summaries[other][k] for k in ("ratio", "ratio_min", "ratio_max", "spread", "verdict")},
                "baseline_runs": len(base),
                "goal_ratio": GOAL,
            },
        )
        # milliseconds read better than seconds for start-up times
        result.unit = "ms"
        result.value = round(result.value * 1000, 2)
        result.baseline_value = round(result.baseline_value * 1000, 2)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
