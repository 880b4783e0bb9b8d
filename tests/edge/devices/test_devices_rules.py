"""The udev rules and the polkit rule shipped in systemd/.

systemd 252 has no ``udevadm verify`` (it arrived in 253) and ``udevadm test`` needs a running
udev and real sysfs devices, so the rules are checked here by a small parser of udev's rule
syntax (keys, operators, quoting, labels), plus ``udevadm verify`` when the machine has it. The
polkit rule runs in node with a stub ``polkit`` object, when node is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edge.devices._udev import QR_VENDOR_IDS

ROOT = Path(__file__).resolve().parents[3]
UDEV_RULES = ROOT / "systemd" / "udev" / "70-motcua.rules"
POLKIT_RULE = ROOT / "systemd" / "polkit" / "50-motcua-pcscd.rules"

MATCH_KEYS = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "NAME", "SYMLINK", "SUBSYSTEM",
              "SUBSYSTEMS", "DRIVER", "DRIVERS", "ATTR", "ATTRS", "SYSCTL", "ENV", "TAG", "TAGS",
              "TEST", "PROGRAM", "RESULT", "CONST"}
ASSIGN_KEYS = {"NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "SECLABEL", "ATTR", "SYSCTL", "ENV",
               "TAG", "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS"}
_TOKEN = re.compile(r'\s*([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_rules(text: str) -> list[list[tuple[str, str, str, str]]]:
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pos, tokens = 0, []
        while pos < len(line):
            m = _TOKEN.match(line, pos)
            assert m, f"line {number}: cannot parse at {line[pos:pos + 30]!r}"
            key, attr, op, value, _sep = m.groups()
            if op in ("==", "!="):
                assert key in MATCH_KEYS, f"line {number}: {key} cannot be matched"
            else:
                assert key in ASSIGN_KEYS, f"line {number}: {key} cannot be assigned"
            if key in ("ATTR", "ATTRS", "ENV") or (key == "TEST" and attr):
                assert attr, f"line {number}: {key} needs {{name}}"
            tokens.append((key, attr or "", op, value))
            pos = m.end()
        assert any(op in ("==", "!=") for _k, _a, op, _v in tokens) or \
            tokens[0][0] in ("LABEL", "GOTO"), f"line {number}: a rule without a match"
        rules.append(tokens)
    return rules


def test_udev_rules_parse_and_cover_every_device_kind():
    rules = parse_rules(UDEV_RULES.read_text())
    labels = {v for r in rules for k, _a, op, v in r if k == "LABEL"}
    gotos = {v for r in rules for k, _a, op, v in r if k == "GOTO"}
    assert gotos <= labels
    kinds = {v for r in rules for k, a, op, v in r if k == "ENV" and a == "MOTCUA_KIND" and op == "="}
    assert kinds == {"scanner", "card_reader", "qr_scanner"}
    for rule in rules:
        if any(k == "GROUP" for k, *_ in rule):
            assert ("GROUP", "", "=", "motcua") in rule and ("MODE", "", "=", "0660") in rule
    sane = [r for r in rules if ("ENV", "libsane_matched", "==", "yes") in r]
    assert sane, "scanners are recognised by libsane_matched"
    vendor_lists = [v for r in rules for k, a, op, v in r
                    if (k, a) in (("ENV", "ID_VENDOR_ID"), ("ATTRS", "idVendor"))]
    known = {v for v in QR_VENDOR_IDS if ":" not in v}
    for listed in vendor_lists:
        assert set(listed.split("|")) == known, "udev rules and the QR vendor list diverge"


def test_udev_rules_with_udevadm_verify_when_available():
    udevadm = shutil.which("udevadm")
    if udevadm is None:
        pytest.skip("udevadm is not installed")
    probe = subprocess.run([udevadm, "verify", "--help"], capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0:
        pytest.skip("this systemd's udevadm has no 'verify' (added in systemd 253); "
                    "the syntax is checked by test_udev_rules_parse_and_cover_every_device_kind")
    out = subprocess.run([udevadm, "verify", str(UDEV_RULES)], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_parser_rejects_broken_rules():
    with pytest.raises(AssertionError):
        parse_rules('SUBSYSTEM=="usb", GROUP=="motcua"')  # GROUP cannot be matched
    with pytest.raises(AssertionError):
        parse_rules('SUBSYSTEM=="usb, GROUP="motcua"')  # unbalanced quote


def test_polkit_rule_grants_pcscd_to_the_service_user_only():
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed: cannot evaluate the polkit JavaScript rule")
    script = """
const fs = require('fs');
const rules = [];
const polkit = {Result: {YES: 'yes', NO: 'no', AUTH_ADMIN: 'auth_admin', NOT_HANDLED: null},
                addRule: (f) => rules.push(f)};
eval(fs.readFileSync(process.argv[1], 'utf8'));
const ask = (id, user) => rules.map(r => r({id}, {user}) ?? null).find(x => x !== null) ?? null;
console.log(JSON.stringify({
  pcsc: ask('org.debian.pcsc-lite.access_pcsc', 'motcua'),
  card: ask('org.debian.pcsc-lite.access_card', 'motcua'),
  other_user: ask('org.debian.pcsc-lite.access_pcsc', 'www-data'),
  other_action: ask('org.freedesktop.login1.reboot', 'motcua'),
}));
"""
    out = subprocess.run([node, "-e", script, str(POLKIT_RULE)], capture_output=True, text=True,
                         timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"pcsc": "yes", "card": "yes", "other_user": None,
                                      "other_action": None}
