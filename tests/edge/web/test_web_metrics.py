"""``GET /metrics`` on the box: loopback-only, or an admin's session; real Prometheus text
(prometheus-client's parser and `promtool check metrics`), with the sync client's figures."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from web_helpers import api_token

from edge.web import create_app


def parse(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def promtool_check(text: str) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


async def test_loopback_reads_the_boxs_metrics(aiohttp_client, settings, store):
    from sync.client import SyncClient

    sync = SyncClient(settings=settings, store=store)  # not started: its status and counters only
    sync.errors.add(OSError("link down"))
    client = await aiohttp_client(create_app(settings=settings, store=store, sync=sync))
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await resp.text()
    promtool_check(text)
    got = parse(text)
    assert got["motcua_box_backlog_dossiers"] == [({}, 0.0)]
    assert got["motcua_box_disk_total_bytes"][0][1] > got["motcua_box_disk_free_bytes"][0][1] > 0
    assert got["motcua_box_sync_errors_total"] == [({"code": "other"}, 1.0)]
    assert got["motcua_box_info"][0][0]["agency"] == settings.station.agency_code


def _from_elsewhere(app: web.Application) -> web.Application:
    """The same app, seen from another host (the peer address is what aiohttp reports)."""
    @web.middleware
    async def remote(request: web.Request, handler):
        return await handler(request.clone(remote="10.20.30.40"))

    app.middlewares.insert(0, remote)
    return app


async def test_elsewhere_only_an_admins_session_reads_them(aiohttp_client, settings, store):
    client = await aiohttp_client(_from_elsewhere(create_app(settings=settings, store=store)))
    assert (await client.get("/metrics")).status == 401
    clerk = await api_token(client, "clerk")
    assert (await client.get("/metrics", headers=clerk)).status == 403
    admin = await api_token(client, "admin")
    resp = await client.get("/metrics", headers=admin)
    assert resp.status == 200 and "motcua_box_disk_free_bytes" in await resp.text()
