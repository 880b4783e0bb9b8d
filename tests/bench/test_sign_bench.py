"""``motcua bench sign --quick``: token and in-memory rounds interleaved, reported with their spread
(a run, not a speed check)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bench._token import missing_tools
from edge.cli import cli


def test_bench_sign_quick_reports_interleaved_rounds():
    out = CliRunner().invoke(cli, ["bench", "sign", "--quick", "--json"])
    if missing_tools():
        assert out.exit_code == 1 and "cannot run on this machine" in out.output and "softhsm2" in out.output
        pytest.skip(f"SoftHSM2/OpenSC are not installed: {missing_tools()}")
    assert out.exit_code == 0, out.output
    result = json.loads(out.output.strip().splitlines()[-1])
    assert result["name"] == "sign" and result["unit"] == "s"
    assert result["value"] > 0 and result["baseline_value"] > 0
    assert result["rounds"] == 5 and result["goal"] == "" and result["verdict"] == "no goal"
    assert result["ratio_min"] <= result["ratio"] <= result["ratio_max"]
    assert len(result["details"]["ratios"]) == 5 and result["details"]["pages"] == 10
    assert result["details"]["pdf_bytes"] > 0
