"""`GET /metrics` on the hub: real heartbeats in, Prometheus text out, read back by
prometheus-client's parser and checked by `promtool check metrics`; the bounded history."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from types import SimpleNamespace

import pytest
from fleet_sim import GB, beat, enroll, populate
from hubclient import Station, fake_manifest
from prometheus_client.parser import text_string_to_metric_families

from sync.errors import HubError
from sync.hub._metrics import HubMetrics, _CountingStorage
from sync.hub.storage._fleet import HISTORY_DAYS, HOUR_MS


def scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return resp.read().decode()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def promtool_check(text: str) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_heartbeat_fields_reach_the_metrics(hub):
    token = hub.add_station("HN-0001")
    st = Station(hub.url, "HN-0001")
    assert st.enroll(token).status == 200
    reply = st.heartbeat(pending=4, oldest_unsynced_age_s=7200, disk_free_bytes=3 * GB, disk_total_bytes=32 * GB,
                         versions={"motcua": "0.3.1"}, devices={"scanner": "error", "card_reader": "ready"},
                         clock_offset_ms=-2500, sync_errors={"transport": 5, "clock_skew": 1})
    assert reply.status == 200, reply.body
    m = manifest = fake_manifest("HN-0001", blobs=[b"x" * 100])
    assert st.put(manifest).status == 201
    st.upload(m["dossier_id"], b"x" * 100)
    assert st.commit(manifest).status == 200

    text = scrape(hub.url)
    promtool_check(text)
    got = samples(text)
    sid = (("station", "HN-0001"),)
    assert got[("motcua_station_backlog_dossiers", sid)] == 4
    assert got[("motcua_station_oldest_unsynced_age_seconds", sid)] == 7200
    assert got[("motcua_station_disk_free_bytes", sid)] == 3 * GB
    assert got[("motcua_station_disk_total_bytes", sid)] == 32 * GB
    assert got[("motcua_station_clock_offset_seconds", sid)] == -2.5
    assert 0 <= got[("motcua_station_last_contact_age_seconds", sid)] < 60
    assert got[("motcua_station_info", (("agency", "000.00.06.H56"), ("kind", "branch"), ("station", "HN-0001"),
                                        ("version", "0.3.1")))] == 1
    assert got[("motcua_station_device_state", (("device", "scanner"), ("state", "error"), ("station", "HN-0001")))] == 1
    assert got[("motcua_station_sync_errors_total", (("code", "transport"), ("station", "HN-0001")))] == 5
    assert got[("motcua_station_update_failed", sid)] == 0
    assert got[("motcua_stations", (("state", "warning"),))] == 1
    # the hub's own: requests by route and code, one commit observed, storage errors at zero
    assert got[("motcua_hub_requests_total", (("code", "200"), ("route", "/v1/heartbeat")))] == 1
    assert got[("motcua_hub_commit_latency_seconds_count", ())] == 1
    assert got[("motcua_hub_storage_errors_total", (("kind", "unavailable"),))] == 0


def test_a_bad_heartbeat_is_refused_and_changes_nothing(hub):
    token = hub.add_station("HN-0002")
    st = Station(hub.url, "HN-0002")
    assert st.enroll(token).status == 200
    for bad, field in (({"sync_errors": {"transport": -1}}, "sync_errors.transport"),
                       ({"sync_errors": ["transport"]}, "sync_errors"),
                       ({"disk_total_bytes": "32G"}, "disk_total_bytes")):
        reply = st.heartbeat(**bad)
        assert reply.status == 400 and reply.json["field"] == field, reply.body
    assert hub.storage.get_station("HN-0002").last_heartbeat is None
    assert hub.storage.station_history("HN-0002", since=0) == []


def test_a_fleet_of_200_passes_promtool_and_names_the_problem_boxes(hub_factory):
    h = hub_factory("sqlite")
    fleet = populate(h.storage, 200, now=h.now_ms())
    text = scrape(h.url)
    promtool_check(text)
    got = samples(text)
    ages = {labels[0][1]: v for (name, labels), v in got.items() if name == "motcua_station_last_contact_age_seconds"}
    assert len(ages) == 200 and [s for s, v in ages.items() if v > 86400] == [fleet.silent]
    broken = [dict(labels)["station"] for (name, labels), v in got.items()
              if name == "motcua_station_device_state" and dict(labels)["state"] == "error"]
    assert broken == [fleet.scanner_broken]


def test_update_failed_comes_from_the_rollouts_source(hub_factory):
    from sync.hub._metrics import UPDATE_STATUS

    h = hub_factory("sqlite", start=False)
    populate(h.storage, 3, now=h.now_ms())
    h.start()
    app = h._running.runner.app  # the rollout registers its source on the application
    app._state[UPDATE_STATUS] = lambda: {"st-0001": True}
    got = samples(scrape(h.url))
    assert got[("motcua_station_update_failed", (("station", "st-0001"),))] == 1
    assert got[("motcua_station_update_failed", (("station", "st-0000"),))] == 0


def test_history_is_bounded_to_the_window(hub_factory):
    h = hub_factory("sqlite", start=False)
    now = h.now_ms()
    enroll(h.storage, "st-0000", agency="000.00.06.H56", kind="branch", now=now, index=0)
    start = now - 40 * 86400_000
    for k in range(40 * 24 // 3):  # a heartbeat every three hours for forty days
        h.storage.touch("st-0000", now=start + k * 3 * HOUR_MS, heartbeat=beat(pending=k % 9))
    h.storage.touch("st-0000", now=now, heartbeat=beat(pending=1))
    rows = h.storage.history_rows("st-0000")
    assert rows <= HISTORY_DAYS * 24 // 3 + 2
    points = h.storage.station_history("st-0000", since=0)
    assert points[0].bucket >= now - now % HOUR_MS - HISTORY_DAYS * 86400_000
    assert points[-1].pending == 1


def test_history_keeps_the_hours_largest_backlog(hub):
    now = hub.now_ms()
    hour = now - now % HOUR_MS
    enroll(hub.storage, "HN-0003", agency="000.00.06.H56", kind="branch", now=now, index=5)
    for pending in (3, 9, 2):
        hub.storage.touch("HN-0003", now=hour + 1000 + pending, heartbeat=beat(pending=pending))
    (point,) = hub.storage.station_history("HN-0003", since=hour)
    assert (point.pending, point.pending_max) == (2, 9)


def _request(remote: str, auth: str | None = None):
    return SimpleNamespace(remote=remote, headers={"Authorization": auth} if auth else {})


def test_metrics_elsewhere_than_loopback_need_the_token(tmp_path):
    import hashlib

    metrics = HubMetrics(data_dir=tmp_path, clock=lambda: 0)
    assert metrics.allowed(_request("127.0.0.1")) and metrics.allowed(_request("::1"))
    assert not metrics.allowed(_request("10.1.2.3"))  # no token configured: nobody else
    (tmp_path / "metrics-token.sha256").write_text(hashlib.sha256(b"s3cret-token").hexdigest() + "\n")
    assert metrics.allowed(_request("10.1.2.3", "Bearer s3cret-token"))
    assert not metrics.allowed(_request("10.1.2.3", "Bearer wrong"))
    assert not metrics.allowed(_request("10.1.2.3", "Basic s3cret-token"))


def test_failed_storage_calls_are_counted():
    class Broken:
        def list_stations(self):
            raise HubError("hub storage unavailable")

        def feed(self):
            raise OSError(28, "No space left on device")

    metrics = HubMetrics(data_dir=".", clock=lambda: 0)
    storage = _CountingStorage(Broken(), metrics)
    with pytest.raises(HubError):
        storage.list_stations()
    with pytest.raises(OSError):
        storage.feed()
    assert metrics.storage_errors.labels("unavailable")._value.get() == 1
    assert metrics.storage_errors.labels("disk_full")._value.get() == 1


def test_guardrail_warnings_are_exported_per_station_and_code(hub):
    token = hub.add_station("HN-0009")
    st = Station(hub.url, "HN-0009")
    assert st.enroll(token).status == 200
    reply = st.heartbeat(pending=3, oldest_unsynced_age_s=9 * 86400, disk_free_bytes=3 * GB, disk_total_bytes=32 * GB,
                         versions={"motcua": "0.3.1"}, warnings=["unsynced_old", "disk_forecast"])
    assert reply.status == 200, reply.body
    quiet = hub.add_station("HN-0010")
    other = Station(hub.url, "HN-0010")
    assert other.enroll(quiet).status == 200
    assert other.heartbeat(pending=0, versions={"motcua": "0.3.1"}).status == 200

    text = scrape(hub.url)
    promtool_check(text)
    got = samples(text)
    warned = {k: v for k, v in got.items() if k[0] == "motcua_station_warning"}
    assert warned == {("motcua_station_warning", (("code", "unsynced_old"), ("station", "HN-0009"))): 1,
                      ("motcua_station_warning", (("code", "disk_forecast"), ("station", "HN-0009"))): 1}
    # the next heartbeat without warnings clears them: the series is gone, not left at 1
    assert st.heartbeat(pending=0, versions={"motcua": "0.3.1"}).status == 200
    assert not any(k[0] == "motcua_station_warning" for k in samples(scrape(hub.url)))
