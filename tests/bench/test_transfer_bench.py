"""``motcua bench transfer --quick``: the rounds run end to end, interleaved, and report what they
measured (speed itself is for the benchmark's own report, never asserted here)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from edge.cli import cli


def test_bench_transfer_quick_reports_both_sides_interleaved():
    out = CliRunner().invoke(cli, ["bench", "transfer", "--quick", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output.strip().splitlines()[-1])
    assert result["name"] == "transfer" and result["unit"] == "MB/s"
    assert result["value"] > 0 and result["baseline_value"] > 0
    assert result["rounds"] == 5 and result["verdict"] == "no goal" and result["machine"]["cores"] >= 1
    assert result["ratio_min"] <= result["ratio"] <= result["ratio_max"]
    details = result["details"]
    assert len(details["workload_rounds"]) == len(details["baseline_rounds"]) == len(details["ratios"]) == 5
    assert len(details["export_s"]) == len(details["import_s"]) == 5
    assert details["export_s_spread"]["n"] == 5 and details["relay_import_mb_s"] > 0
    assert details["pages"] == 20 and details["quick"] is True
