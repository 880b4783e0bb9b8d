"""CLI: motcua catalog / calendar / fee, through click's runner and the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli import cli
from edge.reception import DEMO_CATALOG

REFERENCE = ("00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA"
             "530370454061200005802VN62170813ung ho lu lut6304C15C")


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    for var in list(os.environ):
        if var.startswith("MOTCUA_"):
            monkeypatch.delenv(var)
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def motcua(*args: str) -> subprocess.CompletedProcess:
    """The real entry point (error handling and Vietnamese messages included)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    return subprocess.run([sys.executable, "-c", "from edge.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def state_dir(runner, tmp_path) -> Path:
    state = tmp_path / "box"
    invoke(runner, "--state-dir", str(state), "init", "--agency", "000.00.06.H56")
    return state


def test_calendar_due_json_without_a_store(runner, tmp_path):
    out = json.loads(invoke(runner, "--state-dir", str(tmp_path / "none"), "calendar", "due",
                            "--received", "2027-02-03T10:00", "--days", "5", "--json"))
    assert out["received"] == "2027-02-03T10:00"
    assert out["due"] == "2027-02-17T10:00"
    assert {"date": "2027-02-04", "reason": "29 Tết"} in out["skipped"]
    assert {"date": "2027-02-13", "reason": "Thứ Bảy"} in out["skipped"]
    assert {"date": "2027-02-14", "reason": "Chủ Nhật"} in out["skipped"]
    hours = json.loads(invoke(runner, "--state-dir", str(tmp_path / "none"), "calendar", "due",
                              "--received", "2027-02-03T10:00", "--hours", "40", "--json"))
    assert hours["due"] == out["due"]


def test_calendar_due_suspensions_overrides_rule_and_text(runner, tmp_path):
    overrides = tmp_path / "overrides.json"
    overrides.write_text(json.dumps([{"date": "2026-11-16", "kind": "day_off", "reason": "Ngày nghỉ bù"}]))
    base = ["--state-dir", str(tmp_path / "none"), "calendar", "due", "--received", "2026-11-10T10:00", "--json"]
    out = json.loads(invoke(runner, *base, "--days", "5", "--overrides", str(overrides)))
    assert out["due"] == "2026-11-18T10:00"
    assert {"date": "2026-11-16", "reason": "Ngày nghỉ bù"} in out["skipped"]
    out = json.loads(invoke(runner, *base, "--days", "5", "--suspend", "2026-11-11T07:00/2026-11-11T17:00",
                            "--suspend", "2026-11-12T07:00/2026-11-12T12:00"))
    assert out["due"] == "2026-11-18T16:00" and out["suspended_minutes"] == 690
    out = json.loads(invoke(runner, *base[:-3], "--received", "2026-11-10T15:30", "--rule", "same_day_cutoff_15",
                            "--json"))
    assert out["due"] == "2026-11-11T17:00"
    text = invoke(runner, "--state-dir", str(tmp_path / "none"), "calendar", "due", "--received", "2027-04-29T09:00",
                  "--days", "1")
    assert "Hẹn trả:    09:00 04/05/2027" in text and "Ngày Chiến thắng" in text


def test_calendar_due_errors(tmp_path):
    base = ("--state-dir", str(tmp_path / "none"), "calendar", "due")
    bad = motcua(*base, "--received", "tomorrow", "--days", "1")
    assert bad.returncode == 2 and "--received" in bad.stderr
    both = motcua(*base, "--received", "2027-02-03T10:00", "--days", "1", "--hours", "8")
    assert both.returncode == 2 and "lỗi:" in both.stderr
    suspend = motcua(*base, "--received", "2027-02-03T10:00", "--days", "1", "--suspend", "2027-02-03")
    assert suspend.returncode == 2 and "START/END" in suspend.stderr


def test_catalog_import_list_show_and_overrides_in_a_state_dir(runner, state_dir, tmp_path):
    out = invoke(runner, "--state-dir", str(state_dir), "catalog", "import", str(DEMO_CATALOG))
    assert out.startswith("imported 13 procedures")
    listed = json.loads(invoke(runner, "--state-dir", str(state_dir), "catalog", "list", "--json"))
    assert len(listed) == 13 and {"code", "name", "field", "channels", "components", "agency"} <= set(listed[0])
    text = invoke(runner, "--state-dir", str(state_dir), "catalog", "list", "--search", "ket hon")
    assert "1.000894" in text and "Đăng ký kết hôn" in text and "Trực tiếp 5 ngày làm việc" in text
    shown = json.loads(invoke(runner, "--state-dir", str(state_dir), "catalog", "show", "2.000815"))
    assert shown["special_rule"] == "same_day_cutoff_15"
    quote = json.loads(invoke(runner, "--state-dir", str(state_dir), "fee", "quote", "2.000720", "--channel", "online"))
    assert quote["total"] == 50000

    overrides = tmp_path / "o.json"
    overrides.write_text(json.dumps({"overrides": [{"date": "2027-02-13", "kind": "working_day", "reason": "Làm bù"}]}))
    invoke(runner, "--state-dir", str(state_dir), "calendar", "overrides", "import", str(overrides))
    assert "2027-02-13" in invoke(runner, "--state-dir", str(state_dir), "calendar", "overrides", "list")
    # calendar due reads the state directory's overrides
    out = json.loads(invoke(runner, "--state-dir", str(state_dir), "calendar", "due", "--received",
                            "2027-02-03T10:00", "--days", "5", "--json"))
    assert out["due"] == "2027-02-16T10:00"


def test_catalog_import_error_keeps_the_catalog(runner, state_dir, tmp_path):
    invoke(runner, "--state-dir", str(state_dir), "catalog", "import", str(DEMO_CATALOG))
    data = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))
    data["procedures"][1]["channels"][0]["processing_time"]["unit"] = "weeks"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = motcua("--state-dir", str(state_dir), "catalog", "import", str(bad))
    assert result.returncode == 2
    assert "procedures[1] (1.000894).channels[0].processing_time.unit" in result.stderr
    assert "lỗi:" in result.stderr
    assert len(json.loads(invoke(runner, "--state-dir", str(state_dir), "catalog", "list", "--json"))) == 13


def test_fee_vietqr_and_verify(runner, tmp_path):
    out = invoke(runner, "fee", "vietqr", "--bin", "970415", "--account", "0011001932418", "--amount", "120000",
                 "--purpose", "ủng hộ lũ lụt")
    assert out.strip() == REFERENCE
    png = tmp_path / "qr.png"
    invoke(runner, "fee", "vietqr", "--bin", "970415", "--account", "0011001932418", "--amount", "5000",
           "--purpose", "000.00.06.H56-270203-0007", "--png", str(png))
    assert png.read_bytes().startswith(b"\x89PNG")
    parsed = json.loads(invoke(runner, "fee", "verify", REFERENCE))
    assert parsed == {"bin": "970415", "account": "0011001932418", "amount": 120000, "purpose": "ung ho lu lut",
                      "service": "QRIBFTTA", "dynamic": True}
    tampered = motcua("fee", "verify", REFERENCE.replace("120000", "920000"))
    assert tampered.returncode == 2 and "CRC" in tampered.stderr
    bad_bin = motcua("fee", "vietqr", "--bin", "9704", "--account", "1", "--amount", "1")
    assert bad_bin.returncode == 2 and "bin" in bad_bin.stderr and "BIN" in bad_bin.stderr
