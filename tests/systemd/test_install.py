"""scripts/install.sh into an image tree (``--root``): everything in place, enabled, idempotent."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install.sh"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="install.sh runs as root"),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("systemd-sysusers", "systemd-tmpfiles", "systemctl")),
                       reason="systemd tools not installed"),
]


def install(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--no-venv", *args],
                          capture_output=True, text=True, timeout=120)


def snapshot(root: Path) -> dict[str, tuple[int, bytes | str]]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(root))] = (0, os.readlink(path))
        elif path.is_file() and path.name != ".pwd.lock":
            out[str(path.relative_to(root))] = (path.stat().st_mode, path.read_bytes())
    return out


def test_edge_install_into_image_tree_is_idempotent(tmp_path: Path):
    root = tmp_path / "img"
    (root / "etc").mkdir(parents=True)
    pub = tmp_path / "provisioning.pub"
    pub.write_text("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n")
    first = install(root, "--provisioning-pub", str(pub))
    assert first.returncode == 0, first.stderr
    for rel in ("etc/systemd/system/motcua-edge.service", "etc/systemd/system/motcua-firstboot.service",
                "etc/systemd/system/motcua-enroll.service", "etc/udev/rules.d/70-motcua.rules",
                "etc/polkit-1/rules.d/50-motcua-pcscd.rules", "usr/lib/sysusers.d/motcua.conf",
                "usr/lib/tmpfiles.d/motcua.conf", "etc/motcua/provisioning.pub", "opt/motcua/share/doc/deploy.md"):
        assert (root / rel).is_file(), rel
    for unit in ("motcua-edge", "motcua-firstboot", "motcua-enroll"):
        assert (root / "etc/systemd/system/multi-user.target.wants" / f"{unit}.service").is_symlink(), unit
    assert "motcua:" in (root / "etc/passwd").read_text()
    assert (root / "var/lib/motcua").stat().st_mode & 0o777 == 0o700
    before = snapshot(root)
    second = install(root, "--provisioning-pub", str(pub))
    assert second.returncode == 0, second.stderr
    assert "installed" not in second.stdout
    assert snapshot(root) == before


def test_hub_role_installs_only_the_hub_unit(tmp_path: Path):
    root = tmp_path / "img"
    (root / "etc").mkdir(parents=True)
    done = install(root, "--role", "hub")
    assert done.returncode == 0, done.stderr
    units = sorted(p.name for p in (root / "etc/systemd/system").glob("*.service"))
    assert units == ["motcua-hub.service"]
    assert not (root / "etc/udev").exists()


def test_bad_option_refused(tmp_path: Path):
    done = install(tmp_path, "--role", "kiosk")
    assert done.returncode == 2 and "--role must be edge or hub" in done.stderr


def _active(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_cupsd_keeps_no_print_jobs(tmp_path: Path):
    """Receipts hold name, address and phone: with cupsd on the box, install makes it keep no job files."""
    root = tmp_path / "img"
    (root / "etc" / "cups").mkdir(parents=True)
    conf = root / "etc" / "cups" / "cupsd.conf"
    conf.write_text("LogLevel warn\nPreserveJobFiles Yes\n  PreserveJobHistory 1d\nMaxJobs 500\n"
                    "<Location />\n  Order allow,deny\n</Location>\n")
    conf.chmod(0o640)
    first = install(root)
    assert first.returncode == 0, first.stderr
    active = _active(conf.read_text())
    assert [a for a in active if a.startswith("Preserve")] == ["PreserveJobFiles No", "PreserveJobHistory No"]
    assert "LogLevel warn" in active and "MaxJobs 500" in active and "<Location />" in active
    assert conf.stat().st_mode & 0o777 == 0o640
    before = snapshot(root)
    second = install(root)
    assert second.returncode == 0, second.stderr
    assert "cupsd" not in second.stdout
    assert snapshot(root) == before


def test_no_cupsd_no_cups_config(tmp_path: Path):
    root = tmp_path / "img"
    (root / "etc").mkdir(parents=True)
    done = install(root)
    assert done.returncode == 0, done.stderr
    assert not (root / "etc" / "cups").exists()
