"""The updater's decisions over fakes of its three interfaces, and the real store pieces it relies
on: the schema floor a rolled-back release respects, intake detection, command verification."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.errors import StoreError
from edge.store import SCHEMA_MIN_VERSION, Store, app_version, version_key
from edge.updater import InstallError, PendingUpdate, Updater, intake_in_progress, verify_update
from sync.errors import SignatureError
from sync.protocol import COMMAND_TYPE, public_key_raw, sign_object


class Installer:
    def __init__(self, version: str | None = "0.1.0", *, broken: set[str] = frozenset()) -> None:
        self.version, self.broken, self.calls = version, set(broken), []

    def installed_version(self) -> str | None:
        return self.version

    def install(self, version: str) -> None:
        self.calls.append(version)
        if version in self.broken:
            raise InstallError(f"dpkg: error processing motcua_{version}")
        self.version = version


class Health:
    def __init__(self, installer: Installer, bad: set[str] = frozenset()) -> None:
        self.installer, self.bad = installer, set(bad)

    def problems(self, *, since: str) -> list[str]:
        return ["web app answered 502"] if self.installer.version in self.bad else []


class FakeBox:
    def __init__(self, pending: PendingUpdate | None, *, busy: str | None = None, floor: str | None = None,
                 hub_up: bool = True) -> None:
        self.pending, self.busy, self.floor, self.hub_up = pending, busy, floor, hub_up
        self.stored: dict[str, Any] | None = None
        self.reports: list[dict[str, Any]] = []

    def pending_update(self):
        if self.pending and self.stored and self.stored["command_id"] == self.pending.command_id:
            return None
        return self.pending

    def intake_busy(self):
        return self.busy

    def schema_min_version(self):
        return self.floor

    def record(self, result):
        self.stored = dict(result)

    def last_result(self):
        return self.stored

    def report(self, result):
        if not self.hub_up:
            raise ConnectionError("hub unreachable")
        self.reports.append(dict(result))


UPDATE = PendingUpdate(command_id="c" * 32, rollout_id="r" * 32, version="0.2.0", wave=0)


def run(box, installer, health):
    return Updater(box=box, installer=installer, health=health).run()


def test_healthy_install_is_kept_and_reported_once():
    inst = Installer()
    box = FakeBox(UPDATE)
    res = run(box, inst, Health(inst))
    assert res.outcome == "installed" and inst.version == "0.2.0" and res.reported
    assert box.reports[0]["outcome"] == "installed" and box.stored["reported"] is True
    assert run(box, inst, Health(inst)).outcome is None  # handled once
    assert len(box.reports) == 1


def test_unhealthy_release_is_rolled_back_to_the_previous_version():
    inst = Installer()
    box = FakeBox(UPDATE)
    res = run(box, inst, Health(inst, bad={"0.2.0"}))
    assert res.outcome == "rolled_back" and inst.version == "0.1.0" and inst.calls == ["0.2.0", "0.1.0"]
    assert box.reports[0]["running_version"] == "0.1.0" and "502" in box.reports[0]["detail"]


def test_failed_install_is_rolled_back_and_a_failed_rollback_is_failed():
    inst = Installer(broken={"0.2.0"})
    assert run(FakeBox(UPDATE), inst, Health(inst)).outcome == "rolled_back"
    inst = Installer(broken={"0.1.0"})
    res = run(FakeBox(UPDATE), inst, Health(inst, bad={"0.2.0"}))
    assert res.outcome == "failed" and "rollback to 0.1.0 failed" in res.result["detail"]


def test_no_rollback_below_the_store_floor():
    inst = Installer()
    res = run(FakeBox(UPDATE, floor="0.2.0"), inst, Health(inst, bad={"0.2.0"}))
    assert res.outcome == "failed" and inst.version == "0.2.0" and inst.calls == ["0.2.0"]
    assert "needs motcua 0.2.0" in res.result["detail"]


def test_waits_while_a_clerk_is_mid_intake():
    inst = Installer()
    box = FakeBox(UPDATE, busy="a draft dossier was touched 2 min ago (intake in progress)")
    res = run(box, inst, Health(inst))
    assert res.outcome is None and "waits" in res.message and inst.calls == [] and box.reports == []


def test_a_lost_report_is_sent_at_the_next_run():
    inst = Installer()
    box = FakeBox(UPDATE, hub_up=False)
    res = run(box, inst, Health(inst))
    assert res.outcome == "installed" and not res.reported and box.stored["reported"] is False
    box.hub_up = True
    again = run(box, inst, Health(inst))
    assert again.outcome is None and [r["outcome"] for r in box.reports] == ["installed"]
    assert box.stored["reported"] is True


def _signed(key, **over):
    cmd = {"type": COMMAND_TYPE, "command_id": "c" * 32, "station_id": "HN-0001", "kind": "update",
           "args": {"version": "0.2.0", "rollout_id": "r" * 32, "wave": 1}, "issued_at": "2026-12-02T00:00:00Z",
           "key_id": "k", **over}
    return {"command": cmd, "signature": sign_object(key, cmd)}


def test_update_commands_are_verified():
    hub = Ed25519PrivateKey.generate()
    pub = public_key_raw(hub.public_key())
    assert verify_update(_signed(hub), pub, station_id="HN-0001").version == "0.2.0"
    with pytest.raises(SignatureError):
        verify_update(_signed(Ed25519PrivateKey.generate()), pub, station_id="HN-0001")
    with pytest.raises(SignatureError):
        verify_update(_signed(hub), pub, station_id="HN-0002")
    with pytest.raises(Exception, match="not an update"):
        verify_update(_signed(hub, kind="wipe"), pub, station_id="HN-0001")
    with pytest.raises(Exception, match="no valid version"):
        verify_update(_signed(hub, args={"version": "../../x"}), pub, station_id="HN-0001")


def test_intake_in_progress_is_a_recent_draft(box_store: Store):
    assert intake_in_progress(box_store) is None
    box_store.create_draft(procedure_code="1.001612", applicant={"full_name": "Nguyễn Văn An",
                                                                 "id_number": "001099001234"}, actor="clerk")
    assert "intake in progress" in intake_in_progress(box_store)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert intake_in_progress(box_store, now=later) is None


def test_version_key_orders_releases():
    assert version_key("0.10.0") > version_key("0.9.9") > version_key("0.9.0-1") == (0, 9, 0)
    assert version_key("1.0.0~rc1") == (1, 0, 0)


def test_a_release_older_than_the_store_floor_refuses_it(box_settings, box_store: Store):
    # A floor at this release (what a contract step of this release writes) opens as before.
    box_store.meta_set(SCHEMA_MIN_VERSION, app_version())
    box_store.close()
    Store.open(box_settings).close()
    # A floor above it (a newer release contracted the schema): a clear refusal, nothing changed.
    newer = ".".join(str(n + 1) for n in version_key(app_version()))
    store = Store.open(box_settings)
    store.meta_set(SCHEMA_MIN_VERSION, newer)
    store.close()
    with pytest.raises(StoreError, match=f"install motcua {newer} or newer") as refused:
        Store.open(box_settings)
    assert "phiên bản" in refused.value.message_vi
