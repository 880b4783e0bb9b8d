"""`motcua bench cli` runs: both commands measured against the bare import, interleaved."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bench import cli_startup
from bench.cli import available
from edge.cli import cli


def test_bench_cli_json() -> None:
    result = CliRunner().invoke(cli, ["bench", "cli", "--json", "--rounds", "5"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"name", "metric", "value", "unit", "baseline", "baseline_value", "ratio", "ratio_min", "ratio_max",
            "spread", "rounds", "conclusive", "verdict", "goal", "machine", "cipher", "details"} == set(data)
    assert data["name"] == "cli" and data["unit"] == "ms"
    details = data["details"]
    assert data["rounds"] == 5 and details["baseline_runs"] == 10
    assert 0 < details["help_median_ms"] <= data["value"] and 0 < details["status_median_ms"] <= data["value"]
    assert data["value"] == max(details["help_median_ms"], details["status_median_ms"])
    assert data["baseline_value"] > 0
    assert data["ratio_min"] <= data["ratio"] <= data["ratio_max"]
    assert len(details["ratios"]) == 5 and data["goal"] == "ratio <= 3"


def test_bench_cli_is_listed_and_needs_five_rounds() -> None:
    assert "cli" in available() and "cli_startup" not in available()
    with pytest.raises(ValueError, match="at least 5 rounds"):
        cli_startup.run(rounds=4)
    result = CliRunner().invoke(cli, ["bench", "cli", "--rounds", "4"])
    assert result.exit_code == 2 and "--rounds" in result.output
