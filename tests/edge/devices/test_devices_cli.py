"""``motcua scan`` and ``motcua devices`` end to end (real CLI process, SANE test backend)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sane
MOTCUA = str(Path(sys.executable).parent / "motcua")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MOTCUA, *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ), check=False)


def test_scan_command_stores_pages_and_pdf(box_store, box_settings, draft, sane_test_backend):
    state = box_settings.store.state_dir
    out = run("--state-dir", state, "scan", "--device", "test", "--pages", "3", "--dossier", draft,
              "--component", "tp1", "--resolution", "75", "--mode", "Color", "--source", "ADF",
              "--option=-x 20 -y 20", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["stored"] == 3 and result["pdf"] is not None and result["error"] is None
    pages = box_store.get(draft).pages
    assert [p.media_type for p in pages] == ["image/png"] * 3 + ["application/pdf"]


def test_scan_command_reports_a_jam_in_vietnamese(box_settings, draft, sane_test_backend):
    out = run("--state-dir", box_settings.store.state_dir, "scan", "--device", "test",
              "--dossier", draft, "--component", "tp1", "--source", "ADF",
              "--option=--read-return-value SANE_STATUS_JAMMED")
    assert out.returncode == 2
    assert "Kẹt giấy" in out.stderr


def test_scan_command_rejects_bad_input(box_settings, draft, sane_test_backend):
    out = run("--state-dir", box_settings.store.state_dir, "scan", "--device", "test",
              "--dossier", draft, "--component", "../etc", "--source", "ADF")
    assert out.returncode == 2 and "component" in out.stderr
    out = run("--state-dir", box_settings.store.state_dir, "scan", "--device", "test",
              "--dossier", draft, "--component", "tp1", "--source", "Duplex")
    assert out.returncode == 2 and "source" in out.stderr


def test_devices_json_lists_the_test_backend(box_settings, sane_test_backend):
    (Path(sane_test_backend) / "dll.conf").write_text("test\n")
    out = run("--state-dir", box_settings.store.state_dir, "devices", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    names = {d["name"]: d for d in data["devices"]}
    assert names["test:0"]["kind"] == "scanner" and names["test:0"]["transport"] == "virtual"
    assert {d["name"] for d in data["drivers"]} == {"udev", "sane", "pcsc"}
