"""Every shipped unit's ExecStart, run as its User= in a scratch root against the real CLI.

The units' paths are moved into a scratch root and their users are stand-in system users (see
tests/systemd/unitrun.py for what of the unit is applied and what only systemd can apply: the
mount namespace of ProtectSystem=/ReadWritePaths=, the system-call filter and PrivateUsers= are
checked statically by test_units.py). The hub unit serves TLS on 127.0.0.1 (its ``--host 0.0.0.0``
and port are the only arguments changed, to keep the test on loopback and off fixed ports); the
box's three units then take a box from its bundle to an enrolled, serving box, including the
documented recovery after a refused token: a new bundle on a USB stick, then the units again.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.provisioning.conftest import inventory_rows, write_inventory
from tests.provisioning.hubproc import free_port, motcua

from .unitrun import Scratch, Unit, motcua_entry, stop

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="runs the units as their users: needs root"),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("setpriv", "unshare", "useradd", "userdel")),
                       reason="util-linux setpriv/unshare and shadow's useradd are needed"),
]

SERIAL = "10000000a1b2c3d4"


def _tls(directory: Path, hub_gid: int) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "motcua test hub")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    crt, pem_key = directory / "tls.crt", directory / "tls.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    crt.chmod(0o644)
    pem_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    os.chown(pem_key, 0, hub_gid)   # as docs/deploy.md says: root:motcua-hub 0640
    pem_key.chmod(0o640)
    return crt


def _wait_tls(port: int, ca: Path, proc: subprocess.Popen, timeout: float = 60) -> bytes:
    ctx = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            out, err = stop(proc)
            raise AssertionError(f"the unit's command exited ({proc.returncode}): {err[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                    ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return tls.recv(200)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


class World:
    def __init__(self) -> None:
        self.s = Scratch()
        self.hub_unit = Unit("motcua-hub.service")
        self.hub_proc: subprocess.Popen | None = None
        self.port = free_port()

    def hub_admin(self, *args: str) -> str:
        done = self.s.as_user("motcua-hub", motcua_entry(), "hub", args[0], "--data-dir",
                              str(self.s.path("/var/lib/motcua-hub")), *args[1:])
        assert done.returncode == 0, done.stderr
        return done.stdout

    def readable(self, src: Path) -> Path:
        dest = self.s.path(f"/srv/{src.name}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        dest.chmod(0o644)
        return dest


@pytest.fixture(scope="module")
def world():
    w = World()
    try:
        hub_user = w.s.user("motcua-hub")
        w.s.directories(w.hub_unit)
        w.hub_admin("init", "--kem", "X25519")
        w.ca = _tls(w.s.path("/etc/motcua-hub"), hub_user.pw_gid)
        yield w
    finally:
        if w.hub_proc is not None:
            stop(w.hub_proc)
        w.s.close()


def test_hub_unit_starts_as_its_user(world: World):
    unit = world.hub_unit
    assert unit.get("User") == "motcua-hub"
    world.hub_proc = world.s.start(unit, replace={"0.0.0.0": "127.0.0.1", "8443": str(world.port)})
    answer = _wait_tls(world.port, world.ca, world.hub_proc)
    assert answer.startswith(b"HTTP/1.1 "), answer
    assert _uid_of(world.hub_proc.pid) == world.s.user("motcua-hub").pw_uid


def _notify_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    path.chmod(0o777)
    sock.settimeout(1)
    return sock


def _serve_until_ready(world: World, unit: Unit) -> str:
    notify = world.s.path("/run/notify.sock")
    notify.parent.mkdir(parents=True, exist_ok=True)
    notify.parent.chmod(0o755)
    notify.unlink(missing_ok=True)
    sock = _notify_socket(notify)
    proc = world.s.start(unit, env={"NOTIFY_SOCKET": str(notify)})
    try:
        deadline = time.monotonic() + 60
        messages = ""
        while "READY=1" not in messages:
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            try:
                messages += sock.recv(4096).decode() + "\n"
            except TimeoutError:
                pass
        assert _uid_of(proc.pid) == world.s.user("motcua").pw_uid
    finally:
        out, err = stop(proc)
        sock.close()
    assert "READY=1" in messages, f"notifications: {messages!r}\nstderr: {err[-3000:]}"
    return messages


def test_box_units_from_bundle_to_enrolled_with_recovery_after_refused_token(world: World, tmp_path: Path):
    if world.hub_proc is None or world.hub_proc.poll() is not None:
        pytest.skip("the hub unit did not start (see test_hub_unit_starts_as_its_user)")
    s = world.s
    firstboot, enroll, edge = Unit("motcua-firstboot.service"), Unit("motcua-enroll.service"), Unit("motcua-edge.service")
    assert firstboot.get("User") == "" and enroll.get("User") == edge.get("User") == "motcua"
    box_user = s.user("motcua")
    # IT's side.
    keys = tmp_path / "prov"
    motcua("provision", "init", "--keys", str(keys), "--hub-data", str(s.path("/var/lib/motcua-hub")), "--ca", str(world.ca))
    url = f"https://127.0.0.1:{world.port}"
    rows = inventory_rows(1, hub_url=url)
    rows[0]["serial"] = SERIAL
    batch = tmp_path / "batch"
    motcua("provision", "batch", str(write_inventory(tmp_path / "inv.csv", rows)), "--out", str(batch), "--keys", str(keys))
    manifest = json.loads((batch / "manifest.json").read_text())
    station = manifest["stations"][0]
    world.hub_admin("import-stations", str(world.readable(batch / "stations.jsonl")), "--partition-size",
                    str(manifest["partition_size"]))
    # The image: provisioning.pub, IT's edge.toml (web on loopback, a free port); the bundle on the boot partition.
    etc = s.path("/etc/motcua")
    etc.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(keys / "provisioning.pub", etc / "provisioning.pub")
    web_port = free_port()
    (etc / "edge.toml").write_text(f'[web]\nhost = "127.0.0.1"\nport = {web_port}\n')
    boot = s.path("/boot/firmware/motcua")
    boot.mkdir(parents=True)
    bundle = batch / "bundles" / f"{SERIAL}.motcua-bundle"
    shutil.copyfile(bundle, boot / bundle.name)
    # A thief enrolls first with a copy of the bundle: the box's token will be refused.
    thief = tmp_path / "thief"
    (thief / "boot").mkdir(parents=True)
    shutil.copyfile(bundle, thief / "boot" / bundle.name)
    motcua("--state-dir", str(thief / "state"), "firstboot", "--search", str(thief / "boot"), "--pub",
           str(keys / "provisioning.pub"), "--config-dir", str(thief / "etc"), "--serial", SERIAL)
    # This box has no device tree here: its serial comes as a drop-in would give it (docs/deploy.md).
    serial_env = {"MOTCUA_SERIAL": SERIAL}

    local = s.run(firstboot, env=serial_env)
    assert local.returncode == 0, local.stderr
    state = s.path("/var/lib/motcua")
    assert state.stat().st_uid == box_user.pw_uid and state.stat().st_mode & 0o777 == 0o700
    journal_dir = s.path("/var/lib/motcua-firstboot")
    assert journal_dir.stat().st_uid == 0 and journal_dir.stat().st_mode & 0o077 == 0
    assert (journal_dir / "journal.json").stat().st_uid == 0
    assert not list(boot.iterdir()), "the bundle leaves the boot partition"

    # The clerk app starts right after first boot, as motcua, and says READY=1.
    _serve_until_ready(world, edge)

    refused = s.run(enroll)
    assert refused.returncode == 3, refused.stderr
    assert "already used" in refused.stderr
    assert not (state / ".provisioned").exists()
    again = s.run(enroll)  # Restart= would run it again: refused at once with what to do, still exit 3
    assert again.returncode == 3 and "USB stick" in again.stderr, again.stderr

    # IT: revoke, issue a replacement bundle for the same box, import it; a clerk plugs in a stick.
    world.hub_admin("revoke", station["station_id"], "--reason", "token stolen")
    again_dir = tmp_path / "again"
    motcua("provision", "replace", SERIAL, "--station", station["station_id"], "--from", str(batch),
           "--out", str(again_dir), "--keys", str(keys))
    world.hub_admin("import-stations", str(world.readable(again_dir / "stations.jsonl")), "--partition-size",
                    str(station["partition_size"]))
    stick = s.path("/media/usb0/motcua")
    stick.mkdir(parents=True)
    shutil.copyfile(again_dir / "bundles" / f"{SERIAL}.motcua-bundle", stick / f"{SERIAL}.motcua-bundle")

    local = s.run(firstboot, env=serial_env)      # the next boot (or systemctl restart motcua-firstboot)
    assert local.returncode == 0, local.stderr
    assert not list(stick.iterdir()), "the new bundle leaves the stick"
    done = s.run(enroll)
    assert done.returncode == 0, done.stderr
    assert (state / ".provisioned").exists()
    assert not (state / "firstboot" / "bundle.json").exists()
    key_id = json.loads(world.hub_admin("stations", "--json"))[0]["key_id"]
    assert key_id
    local = s.run(firstboot, env=serial_env)      # the boot after: root marks the box provisioned
    assert local.returncode == 0, local.stderr
    assert (journal_dir / "provisioned").exists()
    assert (journal_dir / "provisioned").stat().st_uid == 0
    _serve_until_ready(world, edge)
