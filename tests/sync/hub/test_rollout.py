"""A staged rollout over simulated boxes: a real hub on 127.0.0.1 (SQLite and PostgreSQL), real
box stores enrolled with it and their sync clients; the updater with a package installer and a
health check that implement the real interfaces (tests/edge/updater covers dpkg for real).

One rollout goes through every wave; another one's second wave fails its health check: those
boxes roll back to the version they ran, the rollout halts, the last wave is never told, and
every store keeps its dossiers intact.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))

from boxkit import add_dossier, make_box

from edge.updater import StoreBox, Updater
from sync.client import SyncClient, enroll_async
from sync.errors import HubError
from sync.hub._rollout import (
    RolloutPlan,
    parse_waves,
    rollout_status,
    start_rollout,
    station_updates,
)


class FakeInstaller:
    """The PackageInstaller interface over a variable (which version the box 'runs')."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.history: list[str] = []

    def installed_version(self) -> str | None:
        return self.version

    def install(self, version: str) -> None:
        self.history.append(version)
        self.version = version


class FakeHealth:
    """The HealthCheck interface: unhealthy while running a version listed as bad for this box."""

    def __init__(self, installer: FakeInstaller) -> None:
        self.installer = installer
        self.bad: set[str] = set()

    def problems(self, *, since: str) -> list[str]:
        return [f"motcua-edge.service did not send READY on {self.installer.version}"] \
            if self.installer.version in self.bad else []


class SimBox:
    def __init__(self, station_id: str, settings, store, client: SyncClient) -> None:
        self.station_id, self.settings, self.store, self.client = station_id, settings, store, client
        self.installer = FakeInstaller("0.1.0")
        self.health = FakeHealth(self.installer)

    async def cycle(self):
        """What the daemon and the nightly updater do: pull the feed, then run the updater."""
        await self.client.pull()
        updater = Updater(box=StoreBox(self.settings, self.store), installer=self.installer, health=self.health)
        return await asyncio.to_thread(updater.run)

    def dossiers(self) -> dict[str, list[str]]:
        return {r["id"]: [p.blob for p in self.store.pages(r["id"])]
                for r in self.store.query("SELECT id FROM dossiers ORDER BY id")}


@pytest.fixture
async def fleet(tmp_path, hub):
    boxes: list[SimBox] = []
    for i in range(9):  # partitions 0..8 of 1000 numbers
        sid = f"HN-{i:04d}"
        settings, store = make_box(tmp_path, name=f"box{i}")
        await enroll_async(store, hub.url, hub.add_station(sid, partition_index=i), station_id=sid)
        client = SyncClient(settings=settings, store=store)
        add_dossier(store, pages=1, page_bytes=20_000)
        await client.sync_once()
        boxes.append(SimBox(sid, settings, store, client))
    yield boxes
    for b in boxes:
        await b.client.stop()
        b.store.close()


async def _round(fleet):
    return {b.station_id: await b.cycle() for b in fleet}


def test_waves_parse_and_refuse_bad_input():
    assert parse_waves("1,10,50,100") == (1, 10, 50, 100)
    for bad in ("", "10,5,100", "1,10,50", "0,100", "a,100", "50,50,100"):
        with pytest.raises(HubError):
            parse_waves(bad)


async def test_healthy_waves_advance_and_a_bad_wave_rolls_back_and_halts(hub, fleet):
    by_id = {b.station_id: b for b in fleet}
    before = {b.station_id: b.dossiers() for b in fleet}
    canary = "HN-0003"

    # 1. A healthy release: wave 1 (the canary), then 50 %, then everyone.
    status = start_rollout(hub.storage, hub.keys, RolloutPlan(version="0.2.0", waves=(10, 50, 100),
                                                              canaries=(canary,)), now=hub.now_ms())
    assert [w["boxes"] for w in status["waves"]] == [1, 4, 4]
    assert status["waves"][0]["sent"] == 1 and status["waves"][1]["waiting"] == 4
    with pytest.raises(HubError, match="still running"):
        start_rollout(hub.storage, hub.keys, RolloutPlan(version="0.2.1", waves=(100,)), now=hub.now_ms())
    others = [b for b in fleet if b.station_id != canary]
    assert [(await b.cycle()).outcome for b in others] == [None] * 8  # nobody else was told yet
    assert (await by_id[canary].cycle()).outcome == "installed"
    rid = status["rollout_id"]
    assert rollout_status(hub.storage, rid)["current_wave"] == 2  # the canary's report sent wave 2
    for _ in range(3):
        await _round(fleet)
    done = rollout_status(hub.storage)
    assert done["state"] == "done", done
    assert [w["installed"] for w in done["waves"]] == [1, 4, 4]
    assert {b.installer.version for b in fleet} == {"0.2.0"}

    # 2. A bad release: healthy on the canary, not on the others.
    for b in fleet:
        if b.station_id != canary:
            b.health.bad.add("0.3.0")
    status = start_rollout(hub.storage, hub.keys, RolloutPlan(version="0.3.0", waves=(10, 50, 100), canaries=(canary,),
                                                              failure_threshold_pct=25), now=hub.now_ms())
    wave2 = set()
    for _ in range(3):
        results = await _round(fleet)
        wave2 |= {sid for sid, r in results.items() if r.outcome == "rolled_back"}
    halted = rollout_status(hub.storage)
    assert halted["state"] == "halted", halted
    assert "wave 2" in halted["reason"]
    w1, w2, w3 = halted["waves"]
    assert w1["installed"] == 1 and w2["rolled_back"] == 4 and w2["boxes"] == 4
    assert w3["sent"] == 0 and w3["waiting"] == 4  # the last wave was never told
    assert set(w2["failed_stations"]) == wave2
    for sid in wave2:
        b = by_id[sid]
        assert b.installer.version == "0.2.0" and b.installer.history[-2:] == ["0.3.0", "0.2.0"]
        result = StoreBox(b.settings, b.store).last_result()
        assert result["outcome"] == "rolled_back" and result["reported"] is True
    untouched = [b for b in fleet if b.station_id not in wave2 | {canary}]
    assert len(untouched) == 4 and all(b.installer.version == "0.2.0" for b in untouched)
    assert by_id[canary].installer.version == "0.3.0"
    # The hub keeps each box's last outcome (the fleet view's update-failed gauge).
    failed = {u["station_id"] for u in station_updates(hub.storage) if u["update_failed"]}
    assert failed == wave2
    # ... and its GET /metrics says so per box (motcua_station_update_failed, the alert's input).
    scraped = await asyncio.to_thread(_scrape_update_failed, hub.url)
    assert {sid for sid, v in scraped.items() if v == 1} == wave2
    assert all(scraped[b.station_id] == 0 for b in fleet if b.station_id not in wave2)
    # Nothing lost: every store holds the same dossiers and pages, and checks clean.
    for b in fleet:
        assert b.dossiers() == before[b.station_id]
        assert b.store.check().ok, b.station_id
    # A run after the halt does nothing more (the command was handled once).
    again = await _round(fleet)
    assert all(r.outcome is None for r in again.values())


def _scrape_update_failed(url: str) -> dict[str, float]:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    return {s.labels["station"]: s.value for fam in text_string_to_metric_families(text)
            for s in fam.samples if s.name == "motcua_station_update_failed"}


async def test_a_forged_or_foreign_report_is_refused(hub, fleet):

    from sync.errors import ApiError

    b = fleet[0]
    start_rollout(hub.storage, hub.keys, RolloutPlan(version="0.2.0", waves=(100,)), now=hub.now_ms())
    box = StoreBox(b.settings, b.store)
    with pytest.raises(ApiError) as bad:
        await box.areport({"rollout_id": "0" * 32, "version": "0.2.0", "outcome": "installed"})
    assert bad.value.status == 404
    with pytest.raises(ApiError) as bad:
        await box.areport({"version": "0.2.0", "outcome": "exploded"})
    assert bad.value.status == 400


def test_the_cli_starts_shows_and_aborts_a_rollout(hub_factory):
    import json

    from click.testing import CliRunner
    from hubclient import Station

    from edge.cli import cli

    hub = hub_factory("sqlite")
    dd = ["--data-dir", str(hub.data_dir)]

    def run(*args, ok=True):
        result = CliRunner().invoke(cli, ["hub", "rollout", *args, *dd])
        assert (result.exit_code == 0) == ok, result.output
        return result.output + (str(result.exception) if result.exception and not ok else "")

    assert "no rollout yet" in run("status")
    assert "no enrolled" in run("start", "0.2.0", ok=False)  # nobody enrolled yet: refused, nothing stored
    assert "no rollout yet" in run("status")
    for i in range(4):
        sid = f"HN-{i:04d}"
        assert Station(hub.url, sid).enroll(hub.add_station(sid, partition_index=i)).status == 200
    assert "last wave must be 100" in run("start", "0.2.0", "--waves", "1,10", ok=False)
    assert "not a package version" in run("start", "0.2.0;rm", ok=False)
    assert "not enrolled boxes" in run("start", "0.2.0", "--canary", "HN-0404", ok=False)
    assert "no enrolled" in run("start", "0.2.0", "--kind", "mobile", ok=False)  # all four are branches
    assert "no enrolled" in run("start", "0.2.0", "--agency", "000.00.06.H99", ok=False)
    assert "--kind must be one of" in run("start", "0.2.0", "--kind", "spaceship", ok=False)
    started = json.loads(run("start", "0.2.0", "--waves", "25,100", "--canary", "HN-0002", "--kind", "branch",
                             "--agency", "000.00.06.H56", "--json"))
    assert [w["boxes"] for w in started["waves"]] == [1, 3] and started["waves"][0]["sent"] == 1
    text = run("status")
    assert "version 0.2.0  running  wave 1/2  4 box(es)" in text and "wave 2 (100 %):    3 box(es)" in text
    assert "still running" in run("start", "0.3.0", ok=False)
    assert "aborted" in run("abort", started["rollout_id"])
    assert json.loads(run("status", started["rollout_id"], "--json"))["state"] == "aborted"
    assert "already aborted" in run("abort", started["rollout_id"], ok=False)
