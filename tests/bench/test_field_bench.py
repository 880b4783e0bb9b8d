"""``motcua bench field --quick``: clerk days of the daemon interleaved with a bare aiohttp server,
RSS and flash writes reported as medians with their spread (a run, not a speed check)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edge.cli import cli


def test_bench_field_quick_reports_the_days_and_their_spread():
    out = CliRunner().invoke(cli, ["bench", "field", "--quick", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output.strip().splitlines()[-1])
    assert result["name"] == "field" and result["unit"] == "MB" and result["cipher"] == "chacha20-poly1305"
    assert result["rounds"] == 5 and result["goal"] == "ratio <= 2.2"
    assert result["verdict"] in {"met", "missed", "inconclusive"}
    assert result["value"] > result["baseline_value"] > 0  # the daemon is more than a bare server
    details = result["details"]
    assert details["dossiers_per_day"] == 2 and details["quick"] is True
    for key, goal in (("rss_idle_mb", 64), ("rss_peak_mb", 80), ("flash_write_ratio", 1.3)):
        spread = details[f"{key}_spread"]
        assert spread["n"] == 5 and spread["min"] <= details[key] == spread["median"] <= spread["max"]
        assert details[f"goal_{key}"] == goal
    assert details["rss_idle_mb"] <= details["rss_peak_mb"] == pytest.approx(result["value"], abs=0.1)
    assert details["flash_write_ratio"] > 0 and len(details["encrypted_bytes"]) == 5
    assert details["meets_goals"] == all(details[k] <= details[f"goal_{k}"]
                                         for k in ("rss_idle_mb", "rss_peak_mb", "flash_write_ratio"))
