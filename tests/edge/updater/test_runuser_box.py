"""The updater's view of the box from root: `motcua update pending|record|migrate` run as the
service user (here through runuser, as where systemd does not run), over a real store holding a
hub-signed update command recorded the way the sync client records it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.store import Store
from edge.updater import UpdateError
from edge.updater._runuser import RunuserBox, as_user
from sync.protocol import COMMAND_TYPE, b64e, public_key_raw, sign_object

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser") or Path("/run/systemd/system").is_dir(),
                                reason="runs `runuser -u root` where systemd is not PID 1")

MOTCUA = str(Path(sys.executable).with_name("motcua"))


def _command(key, station_id: str, command_id: str, version: str) -> dict:
    cmd = {"type": COMMAND_TYPE, "command_id": command_id, "station_id": station_id, "kind": "update",
           "args": {"version": version, "rollout_id": "a" * 32, "wave": 0}, "issued_at": "2026-12-02T00:00:00Z",
           "key_id": "k"}
    return {"command": cmd, "signature": sign_object(key, cmd)}


def test_pending_record_and_migrate_through_the_service_user(box_settings, box_store: Store, tmp_path, monkeypatch):
    from sync.client._feed import record_command

    hub = Ed25519PrivateKey.generate()
    pub = public_key_raw(hub.public_key())
    key_file = tmp_path / "hub-receipt.pub"
    key_file.write_text(b64e(pub) + "\n")
    station = box_store.station_id
    box_store.write(lambda conn: record_command(box_store, conn, _command(hub, station, "b" * 32, "0.2.0"),
                                                station_id=station, receipt_key=pub))
    box_store.close()
    monkeypatch.setenv("MOTCUA_STORE__STATE_DIR", str(box_settings.store.state_dir))
    assert as_user("root", ["x"]) == ["runuser", "-u", "root", "--", "x"]

    box = RunuserBox(user="root", motcua=MOTCUA, receipt_key_file=key_file)
    pending = box.pending_update()
    assert pending.version == "0.2.0" and pending.command_id == "b" * 32
    assert box.intake_busy() is None and box.schema_min_version() is None
    assert box.web_url() == "http://127.0.0.1:8080/"
    box.record({"command_id": "b" * 32, "version": "0.2.0", "outcome": "installed", "reported": True})
    again = RunuserBox(user="root", motcua=MOTCUA, receipt_key_file=key_file)
    assert again.pending_update() is None  # handled once
    assert again.last_result()["outcome"] == "installed"
    # Root trusts only its own anchor: with another key the command is refused.
    other = tmp_path / "other.pub"
    other.write_text(b64e(public_key_raw(Ed25519PrivateKey.generate().public_key())))
    with Store.open(box_settings) as store:
        store.write(lambda conn: record_command(store, conn, _command(hub, station, "c" * 32, "0.3.0"),
                                                station_id=station, receipt_key=pub))
    from sync.errors import SignatureError

    with pytest.raises(SignatureError):
        RunuserBox(user="root", motcua=MOTCUA, receipt_key_file=other).pending_update()
    with pytest.raises(UpdateError, match="unreadable"):
        RunuserBox(user="root", motcua=MOTCUA, receipt_key_file=tmp_path / "missing").pending_update()
    migrated = box._call("migrate")
    assert "store migrated: 0 step(s)" in migrated
