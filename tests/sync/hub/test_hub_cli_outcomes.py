"""hub units push puts the administrative units on the feed; hub outcomes counts what the city
holds by counter outcome (an empty hub counts zeros)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli._main import cli
from edge.reception import DEMO_UNITS


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, standalone_mode=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "hub"
    run("hub", "init", "--data-dir", str(d))
    return d


def test_units_push_and_outcomes(data_dir, tmp_path):
    out = run("hub", "units", "push", str(DEMO_UNITS), "--data-dir", str(data_dir))
    assert "administrative units version demo-2025-07-01 (12 units) on the feed" in out
    with sqlite3.connect(data_dir / "hub.sqlite3") as conn:  # the hub's own database, read back
        rows = conn.execute("SELECT data FROM feed WHERE type = 'admin_units'").fetchall()
    assert len(rows) == 1 and len(json.loads(rows[0][0])["units"]) == 12
    counts = json.loads(run("hub", "outcomes", "--json", "--data-dir", str(data_dir)))
    assert counts == {"received": 0, "refused": 0, "supplement_requested": 0}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "units": []}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["hub", "units", "push", str(bad), "--data-dir", str(data_dir)])
    assert result.exit_code != 0
