"""The shipped alerting rules: valid for promtool, firing on the series they are about, and
written against metric names the hub really exports."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sync.hub._metrics import HubMetrics, _Stations
from sync.hub.fleet import FleetRow

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=RULES, timeout=120)


def test_rules_pass_promtool_check():
    done = promtool("check", "rules", "motcua-alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 9 rules found" in done.stdout


def test_every_alert_fires_in_promtools_unit_tests():
    done = promtool("test", "rules", "motcua-alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    alerts = set(re.findall(r"alert: (\w+)", (RULES / "motcua-alerts.yml").read_text()))
    tested = set(re.findall(r"alertname: (\w+)", (RULES / "motcua-alerts.test.yml").read_text()))
    assert alerts == tested


def _certificate(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=10)).sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_rules_use_only_metrics_the_hub_exports(tmp_path):
    cert = tmp_path / "tls.crt"
    _certificate(cert)
    metrics = HubMetrics(data_dir=tmp_path, clock=lambda: 0)
    row = FleetRow(station_id="a", name="", agency_code="000.00.06.H56", kind="branch", contact_age_s=1.0,
                   pending=1, oldest_unsynced_age_s=5, disk_free_bytes=1, disk_total_bytes=2, clock_offset_ms=3,
                   version="1", devices={"scanner": "error"}, sync_errors={"transport": 1},
                   warnings=["unsynced_old", "disk_forecast"])
    text = (generate_latest(metrics.registry) + generate_latest(_Stations([row], {}, 0, cert))).decode()
    exported = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    used = set(re.findall(r"\bmotcua_[a-z_]+", (RULES / "motcua-alerts.yml").read_text()))
    assert used and used <= exported, used - exported
    expiry = [s.value for f in text_string_to_metric_families(text) for s in f.samples
              if s.name == "motcua_hub_tls_certificate_expiry_timestamp_seconds"]
    assert len(expiry) == 1 and abs(expiry[0] - (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).timestamp()) < 60
