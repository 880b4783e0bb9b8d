"""``motcua bench transfer --quick``: the rounds run end to end and report what they measured
(speed itself is for the benchmark's own report, never asserted here)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from edge.cli import cli


def test_bench_transfer_quick_reports_both_sides():
    out = CliRunner().invoke(cli, ["bench", "transfer", "--quick", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output.strip().splitlines()[-1])
    assert result["name"] == "transfer" and result["unit"] == "MB/s"
    assert result["value"] > 0 and result["baseline_value"] > 0
    assert len(result["details"]["export_s"]) == len(result["details"]["import_s"]) == 1
