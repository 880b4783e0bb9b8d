"""motcua-update.service and its timer: a oneshot run by the timer in the quiet hour, verified by
systemd-analyze (the service's exposure is checked with every unit in test_units.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS_DIR = Path(__file__).resolve().parents[2] / "systemd"
INSTALLED = "/opt/motcua/venv/bin/motcua"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")


def test_timer_and_service_verify_together(tmp_path: Path):
    motcua = Path(sys.executable).parent / "motcua"
    if not motcua.exists():
        pytest.skip("the motcua entry point is not installed in this environment")
    for name in ("motcua-update.service", "motcua-update.timer", "motcua-edge.service"):
        (tmp_path / name).write_text((UNITS_DIR / name).read_text().replace(INSTALLED, str(motcua)))
    result = subprocess.run(["systemd-analyze", "verify", "motcua-update.timer", "motcua-update.service"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    assert not [line for line in output.splitlines() if "motcua-update" in line], output


def test_the_updater_is_a_oneshot_in_the_quiet_hour_without_setuid():
    service = (UNITS_DIR / "motcua-update.service").read_text()
    timer = (UNITS_DIR / "motcua-update.timer").read_text()
    assert "Type=oneshot" in service and "[Install]" not in service  # started by its timer only
    assert f"ExecStart={INSTALLED} update run" in service
    assert "CAP_SETUID" not in service and "NoNewPrivileges=yes" in service
    assert "ConditionPathExists=/var/lib/motcua/.provisioned" in service
    assert "OnCalendar=*-*-* 02:00:00" in timer and "Persistent=yes" in timer and "RandomizedDelaySec=1h" in timer
    assert "WantedBy=timers.target" in timer
